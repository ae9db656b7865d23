"""``check_flow_layer``: the harness every flow layer passes, and the registry of layer cases.

One call checks a :class:`kerasgan.flows.FlowLayer` in float64 (Jacobians) and
through Keras (config, ``.keras`` files)::

    round_trip      inverse(forward(z)) == z and forward(inverse(x)) == x, shapes included
    log_det         forward (and inverse) log-det == log|det J| of an autodiff Jacobian
    autoregressive  J[i, j] == 0 unless i == j or order[j] < order[i] (declared layers only)
    context         a conditional layer's maps depend on the context; no context raises
    gradients       every trainable variable gets a finite, non-zero gradient of a
                    log-prob loss (training mode, as in ``fit``)
    config          ``from_config(get_config())`` has an equal config and, with the same
                    weights, an equal bijector
    save_load       a ``FlowModel`` holding the layer, saved as ``.keras`` and loaded with
                    ``safe_mode=True``, has equal weights and an equal ``log_prob``
    bad_arguments   each declared bad constructor argument (and ``context_size=-1``)
                    raises ``ValueError`` naming the argument and the value

:data:`FLOW_LAYERS` is the one registry of layer cases (vector, image and
special: bounded data, forward only, moving statistics, context); the tests in
``tests/flows`` draw their layer tables from it and ``tests/testing`` checks
that every exported ``FlowLayer`` subclass is registered and passes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan import flows
from kerasgan.flows.base import FlowLayer, initialize_layers, layer_bijector

tfd = tfp.distributions

__all__ = [
    "FLOW_CHECKS",
    "FLOW_LAYERS",
    "FlowLayerCase",
    "FlowLayerCheckResult",
    "check_flow_layer",
    "flow_layer_factories",
    "perturb_weights",
]

FLOW_CHECKS = (
    "round_trip",
    "log_det",
    "autoregressive",
    "context",
    "gradients",
    "config",
    "save_load",
    "bad_arguments",
)


@dataclasses.dataclass
class FlowLayerCheckResult:
    """What :func:`check_flow_layer` did.

    Attributes:
        layer_class: the checked layer's class name.
        event_shape: the data-side event shape it was checked on.
        ran: the checks that ran and passed, in order.
        skipped: check name -> why it did not apply.
    """

    layer_class: str
    event_shape: tuple
    ran: list = dataclasses.field(default_factory=list)
    skipped: dict = dataclasses.field(default_factory=dict)


class _Failed(AssertionError):
    pass


def _made_under(make_layer, dtype):
    """Calls ``make_layer`` under the global dtype policy ``dtype`` (restored afterwards)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        return make_layer()
    finally:
        keras.config.set_dtype_policy(previous)


def _make_float64(make_layer):
    layer = _made_under(make_layer, "float64")
    if not isinstance(layer, FlowLayer):
        raise ValueError(
            "make_layer must return a kerasgan.flows.FlowLayer. Received: "
            f"{type(layer).__name__}"
        )
    if layer.compute_dtype != "float64":
        raise ValueError(
            "check_flow_layer checks Jacobians in float64: make_layer must not fix another "
            f"dtype. Received: a layer with compute dtype {layer.compute_dtype}"
        )
    return layer


def perturb_weights(layer, rng, scale=0.2):
    """Adds ``N(0, scale^2)`` noise to every trainable variable (zero-initialized heads too).

    Args:
        layer: a built layer.
        rng: ``np.random.Generator``.
        scale: noise standard deviation.

    Returns:
        None.
    """
    for v in layer.trainable_variables:
        v.assign(v.numpy() + rng.normal(0.0, scale, v.shape))


class _Fresh:
    """A new bijector per call, applied to a new tensor (``tf.identity``) per call.

    TFP caches ``forward``/``inverse`` results by input tensor, shared between
    bijector objects with equal parameters (e.g. every ``tfb.Sigmoid()``):
    without fresh inputs a round trip can return the cached input and a
    Jacobian can come back zero.
    """

    def __init__(self, bijector):
        self._bijector = bijector

    def __getattr__(self, name):
        method = getattr(self._bijector, name)

        def call(x, *args, **kwargs):
            return method(tf.identity(x), *args, **kwargs)

        return call


def _bijector(layer, context, training=False):
    return _Fresh(layer_bijector(layer, context, training=training))


def _log_abs_det(fn, x, context=None):
    """``(sign, log|det|)`` per example and the ``[N, size, size]`` Jacobian of ``fn`` at ``x``.

    Each example is repeated ``size`` times and copy ``k`` back-propagates only output
    ``k``: one forward and one backward pass give every row (examples are independent;
    ``batch_jacobian``'s pfor is far slower on TFP's spline and while-loop ops in eager).
    """
    n, size = x.shape[0], math.prod(x.shape[1:])
    repeated = tf.repeat(x, size, axis=0)  # row b * size + k: example b, output k
    if context is not None:
        context = tf.repeat(context, size, axis=0)
    with tf.GradientTape() as tape:
        tape.watch(repeated)
        y = tf.reshape(fn(repeated, context), [n, size, -1])
        if y.shape[-1] != size:
            raise _Failed(f"the map changes the event size: {size} -> {y.shape[-1]}")
        picked = tf.reduce_sum(y * tf.eye(size, dtype=y.dtype)[None])
    jac = tape.gradient(picked, repeated).numpy().reshape(n, size, size)
    sign, log_det = np.linalg.slogdet(jac)
    return sign, log_det, jac


def _close(got, want, what, rtol, atol):
    got, want = np.asarray(got), np.asarray(want)
    try:
        np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, rtol=rtol, atol=atol)
    except AssertionError as e:
        raise _Failed(f"{what}: {e}") from None


def _check_round_trip(layer, data, noise, context, event_shape, noise_shape, tol):
    n = data.shape[0]
    x = _bijector(layer, context).forward(noise)
    if tuple(x.shape) != (n, *event_shape):
        raise _Failed(f"forward(z) has shape {tuple(x.shape)}, expected {(n, *event_shape)}")
    _close(_bijector(layer, context).inverse(x), noise, "inverse(forward(z)) != z", tol, tol)
    z = _bijector(layer, context).inverse(data)
    if tuple(z.shape) != (n, *noise_shape):
        raise _Failed(f"inverse(x) has shape {tuple(z.shape)}, expected {(n, *noise_shape)}")
    _close(_bijector(layer, context).forward(z), data, "forward(inverse(x)) != x", tol, tol)


class _Jacobians:
    """Autodiff Jacobians of the forward map at the noise points and of the inverse at the
    data points, computed once for the log-det and the autoregressive checks."""

    def __init__(self, layer, data, noise, context):
        self._args = layer, data, noise, context

    @functools.cached_property
    def forward(self):
        layer, _, noise, context = self._args
        return _log_abs_det(lambda t, c: _bijector(layer, c).forward(t), noise, context)

    @functools.cached_property
    def inverse(self):
        layer, data, _, context = self._args
        return _log_abs_det(lambda t, c: _bijector(layer, c).inverse(t), data, context)


def _check_log_det(layer, data, noise, context, invertible, event_ndims, noise_ndims, tol, jacs):
    sign, want, _ = jacs.forward
    if not np.all(sign != 0):
        raise _Failed("the forward Jacobian is singular at some test points")
    got = _bijector(layer, context).forward_log_det_jacobian(noise, event_ndims=noise_ndims)
    _close(got, want, "forward_log_det_jacobian != log|det dx/dz|", tol, tol)
    if not invertible:
        return
    _, want_inv, _ = jacs.inverse
    got_inv = _bijector(layer, context).inverse_log_det_jacobian(data, event_ndims=event_ndims)
    _close(got_inv, want_inv, "inverse_log_det_jacobian != log|det dz/dx|", tol, tol)
    x = _bijector(layer, context).forward(noise)
    back = _bijector(layer, context).inverse_log_det_jacobian(x, event_ndims=event_ndims)
    _close(back, -want, "inverse_log_det_jacobian(forward(z)) != -forward log-det", tol, tol)


def _check_structure(jac, order, direction):
    """``jac[b, i, j] == 0`` unless ``i == j`` or ``order[j] < order[i]``; dependence present."""
    size = order.size
    eye = np.eye(size, dtype=bool)
    allowed = eye | (order[None, :] < order[:, None])
    if np.any(jac[:, ~allowed] != 0.0):
        b, i, j = np.argwhere(np.where(allowed[None], 0.0, jac) != 0.0)[0]
        raise _Failed(
            f"{direction} Jacobian entry [{i}, {j}] = {jac[b, i, j]:.3g} (example {b}) must be 0: "
            f"output {i} (order {order[i]}) may not depend on input {j} (order {order[j]})"
        )
    if np.any(jac[:, eye] == 0.0):
        raise _Failed(f"{direction} Jacobian has a zero diagonal entry: not invertible")
    off = allowed & ~eye
    if off.any() and not np.any(jac[:, off] != 0.0):
        raise _Failed(
            f"{direction} Jacobian: no output depends on an earlier input (the layer does not "
            "condition; are the weights all zero?)"
        )


def _check_autoregressive(invertible, order, jacs):
    _check_structure(jacs.forward[2], order, "forward")
    if invertible:
        _check_structure(jacs.inverse[2], order, "inverse")


def _check_context(layer, data, noise, context, invertible):
    def dependence(fn, x):
        c = tf.identity(context)
        with tf.GradientTape() as tape:
            tape.watch(c)
            y = tf.reshape(fn(x, c), [x.shape[0], -1])
        return tape.batch_jacobian(y, c).numpy()

    per_example = np.abs(dependence(lambda x, c: _bijector(layer, c).forward(x), noise))
    if not np.all(per_example.reshape(len(per_example), -1).max(axis=1) > 0):
        raise _Failed("forward(z) does not depend on the context")
    if invertible:
        per_example = np.abs(dependence(lambda x, c: _bijector(layer, c).inverse(x), data))
        if not np.all(per_example.reshape(len(per_example), -1).max(axis=1) > 0):
            raise _Failed("inverse(x) does not depend on the context")
    try:
        _bijector(layer, None).forward(noise)
    except ValueError as e:
        if "context" not in str(e):
            raise _Failed(f"the ValueError for a missing context does not say so: {e}") from None
    else:
        raise _Failed(
            f"context_size={layer.context_size} but forward(z) without a context did not "
            "raise ValueError"
        )


def _log_prob_loss(layer, data, noise, context, invertible, noise_shape):
    dtype = tf.float64
    zeros = tf.zeros(noise_shape, dtype)
    base = tfd.Independent(
        tfd.Normal(zeros, tf.ones_like(zeros)), reinterpreted_batch_ndims=len(noise_shape)
    )
    if invertible:
        dist = tfd.TransformedDistribution(base, layer_bijector(layer, context, training=True))
        return -tf.reduce_mean(dist.log_prob(tf.identity(data)))
    bij = _bijector(layer, context, training=True)
    # Forward-only layers score their own samples: reverse KL to N(0, I) up to a constant.
    x = bij.forward(noise)
    log_q = base.log_prob(noise) - bij.forward_log_det_jacobian(
        noise, event_ndims=len(noise_shape)
    )
    axes = list(range(1, x.shape.rank))
    return tf.reduce_mean(log_q + 0.5 * tf.reduce_sum(x**2, axis=axes))


def _check_gradients(layer, data, noise, context, invertible, noise_shape):
    variables = layer.trainable_variables
    with tf.GradientTape() as tape:
        loss = _log_prob_loss(layer, data, noise, context, invertible, noise_shape)
    grads = tape.gradient(loss, variables)
    # Fold the batch statistics recorded in training mode, as FlowModel.train_step does.
    for sub in layer._flatten_layers():
        if hasattr(sub, "update_moving_statistics"):
            sub.update_moving_statistics()
    if not np.isfinite(float(loss)):
        raise _Failed(f"the log-prob loss is not finite: {float(loss)}")
    for v, g in zip(variables, grads):
        if g is None:
            raise _Failed(f"variable {v.path} gets no gradient from the log-prob loss")
        g = np.asarray(tf.convert_to_tensor(g))
        if not np.all(np.isfinite(g)):
            raise _Failed(f"variable {v.path} has a non-finite gradient")
        if not np.any(g != 0.0):
            raise _Failed(f"variable {v.path} has an all-zero gradient")


def _config_json(config):
    return json.dumps(config, sort_keys=True, default=repr)


def _check_config(layer, data, noise, context, invertible, event_shape, noise_ndims, tol):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    clone.build((None, *event_shape))
    if _config_json(clone.get_config()) != _config_json(config):
        raise _Failed(
            f"from_config(get_config()) changes the config:\n  {_config_json(config)}\n  "
            f"{_config_json(clone.get_config())}"
        )
    weights = layer.get_weights()
    if len(clone.weights) != len(weights):
        raise _Failed(f"the clone has {len(clone.weights)} weights, the layer {len(weights)}")
    clone.set_weights(weights)
    a, b = _bijector(layer, context), _bijector(clone, context)
    _close(b.forward(noise), a.forward(noise), "the clone's forward differs", tol, tol)
    _close(
        b.forward_log_det_jacobian(noise, event_ndims=noise_ndims),
        a.forward_log_det_jacobian(noise, event_ndims=noise_ndims),
        "the clone's forward log-det differs",
        tol,
        tol,
    )
    if invertible:
        _close(b.inverse(data), a.inverse(data), "the clone's inverse differs", tol, tol)


def _check_save_load(layer, data, context, invertible, event_shape, noise_shape, tmp_dir, tol):
    model = flows.FlowModel(
        event_shape, [layer], context_size=layer.context_size, seed=0, dtype="float64"
    )
    with tempfile.TemporaryDirectory(dir=tmp_dir) as directory:
        path = os.path.join(directory, "flow.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    if type(loaded.flow_layers[0]) is not type(layer):
        raise _Failed(f"the loaded layer is a {type(loaded.flow_layers[0]).__name__}")
    if len(loaded.weights) != len(model.weights):
        raise _Failed(f"{len(model.weights)} weights came back as {len(loaded.weights)}")
    for want, got in zip(model.weights, loaded.weights):
        if tuple(want.shape) != tuple(got.shape):
            raise _Failed(f"weight {want.path} {tuple(want.shape)} came back as {got.path}")
        _close(got.numpy(), want.numpy(), f"loaded weight {want.path}", 0.0, 0.0)
    # Eager maths through the models' public pieces: the compiled log_prob would trace two
    # tf.functions per layer for no extra coverage of what was saved.
    if invertible:
        kwargs = {} if context is None else {"context": context}
        want, got = model(data, **kwargs), loaded(data, **kwargs)
    else:
        noise = tf.constant(np.random.default_rng(7).normal(size=(data.shape[0], *noise_shape)))
        samples, want, got = [], [], []
        for m, out in ((model, want), (loaded, got)):
            bij = m.bijector(context)
            samples.append(bij.forward(tf.identity(noise)).numpy())
            out.append(
                m.base_distribution().log_prob(noise)
                - bij.forward_log_det_jacobian(tf.identity(noise), event_ndims=len(noise_shape))
            )
        _close(samples[1], samples[0], "the loaded model's samples", tol, tol)
        want, got = want[0], got[0]
    if not np.all(np.isfinite(np.asarray(want))):
        raise _Failed("log_prob of the test points is not finite")
    _close(got, want, "the loaded model's log_prob", tol, tol)


def _value_forms(value):
    forms = {repr(value), str(value)}
    if isinstance(value, (list, tuple)):
        forms |= {repr(list(value)), repr(tuple(value))}
    return forms


def _check_bad_arguments(layer, event_shape, bad_arguments):
    config = layer.get_config()
    for overrides in [{"context_size": -1}, *bad_arguments]:
        bad = dict(config)
        bad.update(overrides)
        try:
            try:
                clone = type(layer).from_config(bad)
            except TypeError as e:
                # Keras's Layer.from_config re-raises the constructor's error as a TypeError.
                if isinstance(e.__context__, ValueError):
                    raise e.__context__ from None
                raise
            clone.build((None, *event_shape))
        except ValueError as e:
            message = str(e)
            for name, value in overrides.items():
                if name not in message or not any(f in message for f in _value_forms(value)):
                    raise _Failed(
                        f"the ValueError for {name}={value!r} must name the argument and the "
                        f"value received. Got: {message}"
                    ) from None
        except Exception as e:  # noqa: BLE001 - any other type is the failure reported
            raise _Failed(
                f"{overrides} raised {type(e).__name__} instead of ValueError: {e}"
            ) from None
        else:
            raise _Failed(f"{type(layer).__name__} accepted the bad argument(s) {overrides}")


def _check_options(event_shape, checks, batch_size, max_jacobian_size):
    shape = tuple(event_shape) if isinstance(event_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) not in (1, 3)
        or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in shape)
    ):
        raise ValueError(
            "event_shape must be (D,) or (H, W, C) with positive ints. Received: "
            f"event_shape={event_shape!r}"
        )
    checks = FLOW_CHECKS if checks is None else tuple(checks)
    unknown = [c for c in checks if c not in FLOW_CHECKS]
    if unknown or not checks:
        raise ValueError(
            f"checks must be a non-empty subset of {FLOW_CHECKS}. Received: checks={checks!r}"
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2. Received: batch_size={batch_size!r}")
    if not isinstance(max_jacobian_size, (int, np.integer)) or max_jacobian_size < 1:
        raise ValueError(
            f"max_jacobian_size must be a positive int. Received: "
            f"max_jacobian_size={max_jacobian_size!r}"
        )
    return tuple(int(d) for d in shape), checks


def check_flow_layer(
    make_layer: Callable[[], FlowLayer],
    event_shape: Sequence[int],
    *,
    invertible: bool = True,
    sample_data: Callable | None = None,
    autoregressive_order: Callable | np.ndarray | None = None,
    bad_arguments: Sequence[Mapping] = (),
    randomize: Callable | None = None,
    checks: Sequence[str] | None = None,
    batch_size: int = 4,
    max_jacobian_size: int = 64,
    seed: int = 0,
    tol: float = 1e-8,
    tmp_dir: str | None = None,
) -> FlowLayerCheckResult:
    """Checks a flow layer's maths (float64) and its Keras plumbing; raises on the first failure.

    The layer is made by ``make_layer()`` under a float64 dtype policy, built on
    ``(None, *event_shape)``, initialized from data when it needs it (ActNorm),
    and its trainable weights are perturbed (zero-initialized heads would make
    the maths trivial). The checks are listed in the module docstring and
    :data:`FLOW_CHECKS`.

    Args:
        make_layer: zero-argument callable returning a new, unbuilt layer.
        event_shape: data-side event shape, ``(D,)`` or ``(H, W, C)``.
        invertible: ``False`` for layers with a forward map and log-det only
            (planar, radial): the inverse-direction checks are skipped and the
            gradient and save/load checks score the layer's own samples.
        sample_data: ``fn(rng, shape) -> array`` of data-side points (default
            ``N(0, 1)``; e.g. values in ``(0, 1)`` for a logit transform).
        autoregressive_order: per-dimension orders of the event (an array of
            ``event_shape`` or flat, or ``fn(built_layer) -> array``): output
            ``i`` may depend on input ``j`` only if ``i == j`` or
            ``order[j] < order[i]`` (MADE degrees; coupling halves; all equal
            for elementwise layers). ``None``: not checked.
        bad_arguments: constructor-argument overrides (dicts) that must raise
            ``ValueError`` naming the argument and the value, at construction
            or when built on ``event_shape``; ``{"context_size": -1}`` is
            always checked.
        randomize: ``fn(layer, rng)`` replacing the default weight
            perturbation (e.g. to set moving statistics too).
        checks: subset of :data:`FLOW_CHECKS` to run (default: all).
        batch_size: test points per check.
        max_jacobian_size: larger events skip the Jacobian checks.
        seed: seeds the test points and the perturbation.
        tol: absolute and relative tolerance of the float64 comparisons.
        tmp_dir: where the ``.keras`` file goes (a temporary directory inside).

    Returns:
        :class:`FlowLayerCheckResult` listing the checks that ran and why the
        others were skipped.

    Raises:
        AssertionError: a check failed (the message names the check).
        ValueError: bad arguments to the harness itself.

    Example:
        >>> from kerasgan import flows
        >>> result = check_flow_layer(lambda: flows.MAF([8]), (3,), checks=["round_trip"])
        >>> result.ran
        ['round_trip']
    """
    if not callable(make_layer):
        raise ValueError(f"make_layer must be callable. Received: {make_layer!r}")
    event_shape, checks = _check_options(event_shape, checks, batch_size, max_jacobian_size)
    layer = _make_float64(make_layer)
    result = FlowLayerCheckResult(type(layer).__name__, event_shape)
    rng = np.random.default_rng(seed)
    layer.build((None, *event_shape))
    noise_shape = tuple(int(d) for d in layer.output_event_shape(event_shape))
    n = int(batch_size)
    draw = sample_data or (lambda r, shape: r.normal(0.0, 1.0, shape))
    data = tf.constant(np.asarray(draw(rng, (n, *event_shape)), "float64"))
    noise = tf.constant(rng.normal(0.0, 1.0, (n, *noise_shape)))
    context = None
    if layer.context_size:
        context = tf.constant(rng.normal(0.0, 1.0, (n, layer.context_size)))
    if getattr(layer, "needs_data_init", False):
        initialize_layers([layer], data, context)
    (randomize or perturb_weights)(layer, rng)

    small = math.prod(noise_shape) <= max_jacobian_size
    order = autoregressive_order
    if callable(order):
        order = order(layer)
    reasons = {
        "round_trip": None if invertible else "declared forward-only (invertible=False)",
        "log_det": None if small else f"event size > max_jacobian_size={max_jacobian_size}",
        "autoregressive": (
            "no autoregressive order declared"
            if order is None
            else None
            if small
            else f"event size > max_jacobian_size={max_jacobian_size}"
        ),
        "context": None if layer.context_size else "unconditional layer (context_size=0)",
        "gradients": None if layer.trainable_variables else "no trainable variables",
    }
    if order is not None:
        order = np.asarray(order).reshape(-1)
        if order.size != math.prod(event_shape) or noise_shape != event_shape:
            raise ValueError(
                f"autoregressive_order must have {math.prod(event_shape)} entries and the "
                f"layer must keep the event shape. Received: {order.size} entries, event "
                f"shape {event_shape} -> {noise_shape}"
            )
    jacs = _Jacobians(layer, data, noise, context)
    runs = {
        "round_trip": lambda: _check_round_trip(
            layer, data, noise, context, event_shape, noise_shape, tol
        ),
        "log_det": lambda: _check_log_det(
            layer, data, noise, context, invertible, len(event_shape), len(noise_shape), tol, jacs
        ),
        "autoregressive": lambda: _check_autoregressive(invertible, order, jacs),
        "context": lambda: _check_context(layer, data, noise, context, invertible),
        "gradients": lambda: _check_gradients(
            layer, data, noise, context, invertible, noise_shape
        ),
        "config": lambda: _check_config(
            layer, data, noise, context, invertible, event_shape, len(noise_shape), tol
        ),
        "save_load": lambda: _check_save_load(
            layer, data, context, invertible, event_shape, noise_shape, tmp_dir, tol
        ),
        "bad_arguments": lambda: _check_bad_arguments(layer, event_shape, bad_arguments),
    }
    for name in FLOW_CHECKS:
        if name not in checks:
            continue
        if reasons.get(name):
            result.skipped[name] = reasons[name]
            continue
        try:
            runs[name]()
        except AssertionError as e:
            raise AssertionError(
                f"check_flow_layer({result.layer_class}, event_shape={event_shape}): "
                f"check {name!r} failed: {e}"
            ) from e
        except Exception as e:
            raise AssertionError(
                f"check_flow_layer({result.layer_class}, event_shape={event_shape}): "
                f"check {name!r} raised {type(e).__name__}: {e}"
            ) from e
        result.ran.append(name)
    return result


# --- the registry -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlowLayerCase:
    """One registered flow-layer configuration and the harness options it needs.

    Attributes:
        make: zero-argument factory of a new, unbuilt layer.
        event_shape: data-side event shape it is checked on.
        group: ``"vector"`` / ``"image"``: plain bijections of ``R^D`` /
            ``R^(H, W, C)`` (the tables of ``tests/flows/test_layers.py`` /
            ``test_image.py``); ``"special"``: needs harness options (bounded
            data, forward only, moving statistics, a context).
        options: keyword arguments for :func:`check_flow_layer`.
    """

    make: Callable
    event_shape: tuple
    group: str
    options: Mapping = dataclasses.field(default_factory=dict)

    def check(self, **overrides):
        """Runs :func:`check_flow_layer` on this case (``overrides`` replace options)."""
        return check_flow_layer(self.make, self.event_shape, **{**self.options, **overrides})


def _made_order(layer):
    return np.asarray(layer.made.input_order)


def _coupling_order(layer):
    """Channel (last-axis) orders: 0 for the conditioning part, 1 for the transformed one."""
    size = layer.event_size
    masked = size // 2 if layer.num_masked is None else layer.num_masked
    channels = np.ones(size, int)
    if layer.parity == 0:
        channels[:masked] = 0
    else:
        channels[size - masked :] = 0
    return np.broadcast_to(channels, layer.input_event_shape)


def _checkerboard_order(layer):
    h, w, c = layer.input_event_shape
    mask = flows.checkerboard_mask(h, w, layer.parity)
    return np.broadcast_to(1 - mask, (h, w, c))


def _elementwise_order(layer):
    return np.zeros(layer.input_event_shape, int)


def _batch_norm_state(layer, rng):
    perturb_weights(layer, rng)
    layer.moving_mean.assign(rng.normal(0.0, 1.0, layer.moving_mean.shape))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))


def _unit_interval(rng, shape):
    return rng.uniform(0.02, 0.98, shape)


_V = (4,)
_I = (4, 4, 2)


def _case(make, event_shape, group, **options):
    return FlowLayerCase(make, event_shape, group, options)


FLOW_LAYERS: dict[str, FlowLayerCase] = {
    # Vectors, R^4.
    "maf": _case(
        lambda: flows.MAF([8, 8]),
        _V,
        "vector",
        autoregressive_order=_made_order,
        bad_arguments=[{"hidden_units": [0]}, {"input_order": "sideways"}],
    ),
    "maf_r2l": _case(
        lambda: flows.MAF([8], input_order="right-to-left"),
        _V,
        "vector",
        autoregressive_order=_made_order,
    ),
    "iaf": _case(
        lambda: flows.IAF([8]),
        _V,
        "vector",
        autoregressive_order=_made_order,
        bad_arguments=[{"input_order": [1, 1, 2, 3]}],
    ),
    "affine_coupling": _case(
        lambda: flows.AffineCoupling([8]),
        _V,
        "vector",
        autoregressive_order=_coupling_order,
        bad_arguments=[{"parity": 2}, {"num_masked": 4}, {"network": "transformer"}],
    ),
    "affine_coupling_parity1": _case(
        lambda: flows.AffineCoupling([8], parity=1),
        _V,
        "vector",
        autoregressive_order=_coupling_order,
    ),
    "additive_coupling": _case(
        lambda: flows.AdditiveCoupling([8], num_masked=1),
        _V,
        "vector",
        autoregressive_order=_coupling_order,
        bad_arguments=[{"num_masked": 0}, {"hidden_units": [0]}],
    ),
    "spline_coupling": _case(
        lambda: flows.NeuralSplineCoupling([8], num_bins=5),
        _V,
        "vector",
        autoregressive_order=_coupling_order,
        bad_arguments=[{"num_bins": 1}, {"bound": 0.0}],
    ),
    "spline_ar": _case(
        lambda: flows.NeuralSplineAutoregressive(num_bins=5, hidden_units=[8]),
        _V,
        "vector",
        autoregressive_order=_made_order,
        bad_arguments=[{"num_bins": 1}, {"bound": -1.0}],
    ),
    "permute": _case(
        lambda: flows.Permute("random", seed=3),
        _V,
        "vector",
        bad_arguments=[{"permutation": "sideways"}, {"permutation": [0, 0, 1, 2]}],
    ),
    "actnorm": _case(
        lambda: flows.ActNorm(),
        _V,
        "vector",
        autoregressive_order=_elementwise_order,
        bad_arguments=[{"epsilon": -1.0}],
    ),
    "invertible_linear": _case(lambda: flows.InvertibleLinear(seed=2), _V, "vector"),
    # Images, R^(4, 4, 2).
    "squeeze": _case(
        lambda: flows.Squeeze(),
        _I,
        "image",
        bad_arguments=[{"factor": 1}, {"factor": 3}],
    ),
    "checkerboard": _case(
        lambda: flows.CheckerboardCoupling([8]),
        _I,
        "image",
        autoregressive_order=_checkerboard_order,
        bad_arguments=[{"parity": 2}, {"hidden_channels": [0]}],
    ),
    "checkerboard_parity1_resnet": _case(
        lambda: flows.CheckerboardCoupling([8, 8], parity=1, residual=True),
        _I,
        "image",
        autoregressive_order=_checkerboard_order,
    ),
    "channel_coupling": _case(
        lambda: flows.AffineCoupling([8], network="cnn"),
        _I,
        "image",
        autoregressive_order=_coupling_order,
    ),
    "channel_coupling_resnet": _case(
        lambda: flows.AffineCoupling([8, 8], parity=1, network="resnet"),
        _I,
        "image",
        autoregressive_order=_coupling_order,
    ),
    "actnorm_image": _case(
        lambda: flows.ActNorm(),
        _I,
        "image",
        autoregressive_order=_elementwise_order,
        bad_arguments=[{"epsilon": 0.0}],
    ),
    "invertible_1x1": _case(lambda: flows.InvertibleLinear(seed=1), _I, "image"),
    "multiscale": _case(
        lambda: flows.MultiScale(
            [flows.Squeeze(), flows.ActNorm(), flows.CheckerboardCoupling([8])]
        ),
        _I,
        "image",
        bad_arguments=[{"split": 2}],
    ),
    # Layers that need harness options.
    "batch_norm": _case(
        lambda: flows.BatchNorm(momentum=0.5),
        _V,
        "special",
        randomize=_batch_norm_state,
        autoregressive_order=_elementwise_order,
        bad_arguments=[{"momentum": 1.0}, {"epsilon": 0.0}],
    ),
    "batch_norm_image": _case(
        lambda: flows.BatchNorm(), _I, "special", randomize=_batch_norm_state
    ),
    "logit": _case(
        lambda: flows.LogitTransform(0.05),
        _V,
        "special",
        sample_data=_unit_interval,
        autoregressive_order=_elementwise_order,
        bad_arguments=[{"alpha": 0.5}],
    ),
    "planar": _case(
        lambda: flows.Planar(),
        _V,
        "special",
        invertible=False,
        bad_arguments=[{"init_scale": float("nan")}],
    ),
    "radial": _case(
        lambda: flows.Radial(),
        _V,
        "special",
        invertible=False,
        bad_arguments=[{"init_scale": -1.0}],
    ),
    "maf_context": _case(
        lambda: flows.MAF([8], context_size=2),
        _V,
        "special",
        autoregressive_order=_made_order,
    ),
    "checkerboard_context": _case(
        lambda: flows.CheckerboardCoupling([8], context_size=2),
        _I,
        "special",
        autoregressive_order=_checkerboard_order,
    ),
}


def flow_layer_factories(group, dtype="float64"):
    """``{name: make}`` of the registered cases of one group (``"vector"``, ``"image"``, ...).

    Args:
        group: a :class:`FlowLayerCase` group.
        dtype: dtype policy the factories build their layers with.

    Returns:
        dict of zero-argument factories of new, unbuilt layers.

    Example:
        >>> sorted(flow_layer_factories("vector"))[:2]
        ['actnorm', 'additive_coupling']
    """
    groups = sorted({case.group for case in FLOW_LAYERS.values()})
    if group not in groups:
        raise ValueError(f"group must be one of {groups}. Received: group={group!r}")
    return {
        name: (lambda make=case.make: _made_under(make, dtype))
        for name, case in FLOW_LAYERS.items()
        if case.group == group
    }
