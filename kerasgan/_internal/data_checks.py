"""Checks of training data shared by the GAN, flow and distiller ``fit``.

Arrays are checked once, vectorized, before training; a ``tf.data.Dataset``
is checked as it streams (an in-graph assertion per batch). Finiteness is
checked *after* the casts the data goes through on its way into the model
(NumPy floats to ``floatx`` by Keras's array adapter, then to the model's
compute dtype): a float64 ``1e300`` passes ``isfinite`` but is ``inf`` in
float32, and ``7e4`` is ``inf`` in float16 under mixed precision.
"""

from __future__ import annotations

import contextlib
import inspect
import re

import keras
import numpy as np
import tensorflow as tf

DATA_CHECK = "kerasgan: training data contains NaN or Inf"

_EXPECTED = (
    "Expected: a NumPy array (or a nested list) of numbers with one row per example, "
    "or a tf.data.Dataset of batches"
)


def _float_dtypes(dtypes):
    """The floating ``tf.DType``s of ``dtypes`` (names or dtypes), in order."""
    out = []
    for d in dtypes:
        if d is None:
            continue
        d = tf.as_dtype(d)
        if d.is_floating:
            out.append(d)
    return out


def narrowest(dtypes):
    """The floating dtype of ``dtypes`` with the smallest range (``None`` if none is floating)."""
    chain = _float_dtypes(dtypes)
    return min(chain, key=lambda d: float(d.max)) if chain else None


def require_data(x, owner):
    """Raises a ``ValueError`` when ``fit`` got no training data.

    Args:
        x: the ``x`` given to ``fit``.
        owner: the model class name, for the message.

    Returns:
        None.
    """
    if x is None:
        raise ValueError(f"{owner}.fit needs training data. Received: x=None. {_EXPECTED}.")


def numeric_array(value, name="x"):
    """``value`` (array, list, tensor) as a NumPy array of numbers.

    Object arrays of numbers are converted to float64; strings, bytes,
    complex numbers, ragged lists and other objects raise a ``ValueError``.

    Args:
        value: array-like training data.
        name: the argument's name, for the message.

    Returns:
        ``np.ndarray`` of kind bool, int, uint or float.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:  # e.g. ragged nested lists
        raise ValueError(
            f"Training data {name} must be an array of numbers. Received: a "
            f"{type(value).__name__} that NumPy cannot turn into an array ({e}). {_EXPECTED}."
        ) from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"Training data {name} must be numeric (float, int or bool). Received: "
                f"{name} with dtype object and shape {arr.shape} holding non-numbers, e.g. "
                f"{arr.flat[0]!r}"
            ) from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"Training data {name} must be numeric (float, int or bool). Received: {name} "
            f"with dtype {arr.dtype.name} and shape {arr.shape}"
        )
    return arr


def require_rows(arr, name="x"):
    """Raises a ``ValueError`` when ``arr`` has no examples (0 rows)."""
    if arr.ndim >= 1 and arr.shape[0] == 0:
        raise ValueError(
            f"Training data {name} is empty. Received: {name} with shape {arr.shape} "
            "(0 examples). Expected: at least one example"
        )


def array_dtypes(arr, compute_dtypes):
    """The dtypes an array passes through on its way into the model.

    Keras's array adapter casts NumPy floats (and float tensors) to
    ``keras.config.floatx()``; the model then casts to its compute dtype(s).

    Args:
        arr: the NumPy array.
        compute_dtypes: the dtype(s) the model casts the data to.

    Returns:
        A list of dtypes, in the order they are applied.
    """
    chain = [keras.config.floatx()] if arr.dtype.kind == "f" else []
    return chain + list(compute_dtypes)


def check_finite(arr, dtypes, name="x"):
    """Raises a ``ValueError`` if ``arr`` holds NaN/Inf after the casts to ``dtypes``.

    The common case costs two reductions (min and max, no copy): the casts are
    monotonic, so every value is finite in the target dtypes if the extremes
    are. Counting and locating the bad values happens only on failure.

    Args:
        arr: NumPy array of numbers.
        dtypes: the dtypes the values are cast to, in order (non-float ones
            are ignored).
        name: the argument's name, for the message.

    Returns:
        None.
    """
    chain = _float_dtypes(dtypes)
    if arr.size == 0 or arr.dtype.kind == "b":
        return
    if arr.dtype.kind in "iu" and all(
        float(d.max) > float(np.iinfo(arr.dtype).max) for d in chain
    ):
        return  # no target float can overflow on these ints

    def cast(values):
        with np.errstate(over="ignore", invalid="ignore"):
            for d in chain:
                values = values.astype(d.as_numpy_dtype)
        return values

    ends = cast(np.array([arr.min(), arr.max()]))  # NaN propagates through min/max
    if np.all(np.isfinite(ends)):
        return
    bad = ~np.isfinite(cast(arr))
    count = int(np.count_nonzero(bad))
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    if arr.dtype.kind == "f":
        already = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        finite = np.abs(arr[np.isfinite(arr)])
        peak = f"{float(finite.max()):.6g}" if finite.size else "none (no finite values)"
    else:
        already, peak = 0, f"{int(np.abs(arr).max())}"
    target = narrowest(chain) or tf.as_dtype(arr.dtype)
    where = f"the model compute dtype {target.name}"
    if chain and target != chain[-1]:
        where = f"{target.name} (on the way to the model compute dtype {chain[-1].name})"
    raise ValueError(
        f"Training data contains NaN or Inf values in {where} (expected finite values "
        f"with |{name}| <= {target.max:.6g}). "
        f"Received: {name} with dtype {arr.dtype.name} and shape {arr.shape}: {count} "
        f"NaN/Inf values in {target.name} ({already} already NaN/Inf, {count - already} "
        f"overflowing), largest finite |{name}| = {peak}, the first at index {first}"
    )


def check_array(value, compute_dtypes, name="x"):
    """``numeric_array``, ``require_rows`` and ``check_finite`` in one call.

    Args:
        value: array-like training data.
        compute_dtypes: the dtype(s) the model casts the data to.
        name: the argument's name, for the messages.

    Returns:
        The data as a NumPy array.
    """
    arr = numeric_array(value, name)
    require_rows(arr, name)
    check_finite(arr, array_dtypes(arr, compute_dtypes), name)
    return arr


def require_batches(dataset, owner):
    """Raises a ``ValueError`` for a dataset known to yield no batches.

    A dataset of fewer examples than the batch size, batched with
    ``drop_remainder=True``, has cardinality 0 and ``fit`` would return
    without training. (Unknown cardinality, e.g. after ``filter``, is caught
    after ``fit`` by :func:`require_history`.)
    """
    if int(dataset.cardinality()) == 0:
        raise ValueError(
            f"{owner}.fit got a dataset that yields no batches. Received: a tf.data.Dataset "
            f"with cardinality 0 (element_spec={dataset.element_spec}); it is empty, or has "
            "fewer examples than the batch size and was batched with drop_remainder=True. "
            "Expected: at least one batch"
        )


def require_history(history, owner, args, kwargs):
    """Raises a ``ValueError`` when ``fit`` should have run epochs but ran no step.

    Args:
        history: what ``keras.Model.fit`` returned.
        owner: the model class name, for the message.
        args, kwargs: the arguments given to ``fit`` after ``x, y``.

    Returns:
        ``history``.
    """
    bound = inspect.signature(keras.Model.fit).bind(None, None, None, *args, **kwargs)
    epochs = bound.arguments.get("epochs", 1)
    initial_epoch = bound.arguments.get("initial_epoch", 0)
    if getattr(history, "history", None) == {} and epochs > initial_epoch:
        raise ValueError(
            f"{owner}.fit ran no training step: the data yielded no batches. Received: "
            f"epochs={epochs}, initial_epoch={initial_epoch} and data without a batch (an "
            "empty dataset, or fewer examples than the batch size with drop_remainder=True). "
            "Expected: at least one batch"
        )
    return history


def checked(dataset, first_only=True, dtype=None, names=("x", "context")):
    """``dataset`` with an in-graph finiteness assertion on its numeric tensors.

    Each checked tensor is cast to ``dtype`` (the model's compute dtype) and
    must be finite there; the element itself is passed on unchanged. The
    details of a failure (dtype, shape, count of NaN/Inf, largest finite
    magnitude) are computed only when the check fails.

    Args:
        dataset: a ``tf.data.Dataset``.
        first_only: check only the first component of each element (the data,
            not labels); else every numeric tensor (data and context).
        dtype: the dtype the model casts the data to (``None``: each tensor's
            own dtype).
        names: names of the element's positional components, for messages.

    Returns:
        The checked ``tf.data.Dataset``.
    """
    target = None if dtype is None else tf.as_dtype(dtype)
    if target is not None and not target.is_floating:
        target = None

    def check(path, t):
        if not isinstance(t, tf.Tensor) or not (t.dtype.is_floating or t.dtype.is_integer):
            return t
        to = target or (t.dtype if t.dtype.is_floating else None)
        if to is None or (t.dtype.is_integer and float(to.max) > float(t.dtype.max)):
            return t  # ints cannot overflow this float
        name = _path_name(path, names)
        cast = tf.cast(t, to)
        ok = tf.reduce_all(tf.math.is_finite(cast))

        def fail():
            as64 = tf.cast(t, tf.float64)
            finite = tf.math.is_finite(as64)
            peak = tf.reduce_max(tf.where(finite, tf.abs(as64), tf.zeros_like(as64)))
            count = tf.reduce_sum(tf.cast(~tf.math.is_finite(cast), tf.int64))
            message = [
                f"{DATA_CHECK} in the model compute dtype {to.name} (expected finite "
                f"values with |{name}| <= {to.max:.6g}). Received: a batch of {name} with "
                f"dtype {t.dtype.name} and shape",
                tf.shape(t),
                "with",
                count,
                f"NaN/Inf values in {to.name}, largest finite |{name}| =",
                peak,
            ]
            with tf.control_dependencies([tf.debugging.Assert(False, message, summarize=8)]):
                return tf.constant(False)

        passed = tf.cond(ok, lambda: tf.constant(True), fail)
        with tf.control_dependencies([passed]):
            return tf.identity(t)

    @tf.autograph.experimental.do_not_convert
    def assert_finite(*element):
        if first_only:
            out = (check((), element[0]),) + tuple(element[1:])
        elif len(element) == 1:
            out = (_map_with_path(check, element[0], ()),)
        else:
            out = tuple(_map_with_path(check, e, (i,)) for i, e in enumerate(element))
        return out if len(out) > 1 else out[0]

    return dataset.map(assert_finite)


def _map_with_path(fn, structure, path):
    """``fn(path, leaf)`` over dicts, tuples and lists (``tf.nest`` without paths)."""
    if isinstance(structure, dict):
        return {k: _map_with_path(fn, v, path + (k,)) for k, v in structure.items()}
    if isinstance(structure, (tuple, list)):
        return type(structure)(_map_with_path(fn, v, path + (i,)) for i, v in enumerate(structure))
    return fn(path, structure)


def _path_name(path, names):
    """A readable name of an element component: ``x``, ``context``, ``x/0``, ``images``."""
    parts = [str(p) for p in path]
    if not path:
        return names[0]
    if isinstance(path[0], int) and path[0] < len(names):
        parts[0] = names[path[0]]
    return "/".join(parts)


@contextlib.contextmanager
def as_value_error():
    """Turns the failed streaming assertion into a ``ValueError`` (other errors pass)."""
    try:
        yield
    except tf.errors.InvalidArgumentError as e:
        message = str(e)
        if DATA_CHECK not in message:
            raise
        # "assertion failed: [text] [3 2] [with] [2] [text] [1e+300]" -> one sentence
        line = message[message.index(DATA_CHECK) - 1 :].split("\n")[0]
        parts = re.findall(r"\[([^\[\]]*)\]", line)
        if len(parts) == 6:
            dims = parts[1].split()
            parts[1] = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
        detail = " ".join(parts) if parts else DATA_CHECK
        detail = detail.replace(DATA_CHECK, "Training data contains NaN or Inf values", 1)
        raise ValueError(f"{detail} (found while streaming the dataset)") from None
