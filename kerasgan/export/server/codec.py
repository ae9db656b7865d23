"""JSON request bodies to NumPy arrays, and NumPy outputs back to JSON, in bounded memory.

``json.loads`` turns every number into a Python object (32 bytes or more for a float and
its list slot), so a body of short numbers can take 16 times its size once parsed. Before
parsing, :func:`count_values` bounds the number of values a body can hold from its commas
and brackets (a scan of the bytes, no allocation); the server refuses bodies that hold more
values than its largest valid request could (``max_batch`` rows of the largest signature),
so an oversized body costs its own bytes and nothing more.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import orjson

from kerasgan.export.server.errors import RequestError

__all__ = [
    "count_values",
    "decode_json",
    "encode_json",
    "format_shape",
    "json_to_array",
    "json_type",
    "no_bools",
    "to_json",
]

# NumPy arrays have at most 64 dimensions; inputs of unknown rank are read up to this depth.
_MAX_UNKNOWN_RANK = 32

_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "list",
    type(None): "null",
}


def json_type(value) -> str:
    """The JSON name of a decoded value's type (``"number"``, ``"list"``, ...)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def count_values(body) -> int:
    """An upper bound on the number of values (numbers, strings, lists, ...) in a JSON text.

    A container of n > 0 elements holds n - 1 commas, so the elements of all containers
    number at most ``commas + opening brackets``; commas inside strings only raise the bound.

    Args:
        body: the raw request body (bytes or bytearray).

    Returns:
        The bound (1 for a body without containers).
    """
    return body.count(b",") + body.count(b"[") + body.count(b"{") + 1


def no_bools(body) -> bool:
    """True if a JSON text holds no ``true``/``false`` token (a byte scan; strings that
    contain the words only make the answer False, which is always safe)."""
    return b"true" not in body and b"false" not in body


def decode_json(body, max_values=None):
    """Parses a request body as UTF-8 JSON, refusing it first if it holds too many values.

    Args:
        body: bytes or bytearray.
        max_values: refuse (400) a body whose :func:`count_values` bound exceeds this
            before any Python object is built; None: no limit.

    Returns:
        The decoded JSON value. ``NaN``, ``Infinity`` and ``-Infinity`` are accepted.

    Raises:
        RequestError: 400 for a body that is not UTF-8, not JSON, nested too deeply, holds
            an integer literal above Python's 4,300-digit limit, or too many values.
    """
    if max_values is not None:
        bound = count_values(body)
        if bound > max_values:
            raise RequestError(
                400,
                f"the request body holds up to {bound} JSON values, more than the {max_values} "
                "that the largest valid request (max_batch rows of the served signatures) "
                "needs; send fewer rows per request",
            )
    # orjson is 5-10x faster than json on numbers. It reads an integer beyond 64 bits as a
    # float (json: an int); either way such a value is refused for integer inputs and gives
    # the same float for float inputs.
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # NaN/Infinity tokens, infinities, errors: the json path decides and words it
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "the request body is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError(400, f"malformed JSON in the request body: {e}") from None
    except RecursionError:
        raise RequestError(400, "the request body's JSON is nested too deeply") from None
    except ValueError as e:  # an integer literal above sys.get_int_max_str_digits() digits
        raise RequestError(400, f"a number in the request body is too long: {e}") from None


def encode_json(payload, finite=True) -> bytes:
    """The response body: JSON with the bare tokens ``NaN``/``Infinity`` as TF Serving writes.

    Args:
        payload: JSON-ready Python values.
        finite: the payload holds no NaN or infinity (then the fast encoder is used; it
            would write them as ``null``).

    Returns:
        UTF-8 bytes.
    """
    if finite:
        try:
            return orjson.dumps(payload)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(payload, allow_nan=True).encode("utf-8")


def to_json(arr, non_finite="nan"):
    """A NumPy output as JSON-ready Python lists and numbers.

    Args:
        arr: the array.
        non_finite: ``"nan"`` keeps NaN and infinities (written as bare tokens);
            ``"null"`` replaces them with None.

    Returns:
        Nested lists (or a scalar).
    """
    if non_finite == "null" and arr.dtype.kind in "fc":
        finite = np.isfinite(arr)
        if not finite.all():
            obj = arr.astype(object)
            obj[~finite] = None
            return obj.tolist()
    return arr.tolist()


def format_shape(shape) -> str:
    """``[None, 2]``-style text of a ``tf.TensorShape`` (``<unknown rank>`` without a rank)."""
    if shape.rank is None:
        return "<unknown rank>"
    return "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"


def _too_deep(name, spec, row_format, limit):
    if row_format:
        return RequestError(
            400,
            f"input {name!r}: each instance must have shape {format_shape(spec.shape[1:])}; "
            f"received instances nested more than {limit - 1} lists deep "
            f"(the signature's input is {format_shape(spec.shape)}, None = any size)",
        )
    return RequestError(
        400,
        f"input {name!r} expects shape {format_shape(spec.shape)} (None = any size); "
        f"received lists nested more than {limit} deep",
    )


def _out_of_range(name, dtype, value):
    if isinstance(value, int):
        digits = int(value.bit_length() * 0.30103) + 1
        received = f"an integer of about {digits} digits"
    else:
        received = f"{value:g}"
    return RequestError(
        400,
        f"input {name!r} expects {dtype.name} values; received {received}, out of range"
        f" for {dtype.name}",
    )


class _SpecInfo:
    """What the decoder needs of a ``tf.TensorSpec``, read once (TF's properties are slow)."""

    __slots__ = ("spec", "rank", "dims", "np_dtype", "kind", "top", "int_range")

    def __init__(self, spec):
        self.spec = spec
        self.rank = spec.shape.rank
        self.dims = None if self.rank is None else tuple(spec.shape.as_list())
        dtype = spec.dtype
        self.kind = "f" if dtype.is_floating else "i" if dtype.is_integer else None
        self.np_dtype = np.dtype(dtype.as_numpy_dtype) if self.kind else None
        self.top = None
        if self.kind == "f" and np.issubdtype(self.np_dtype, np.floating):
            self.top = float(np.finfo(self.np_dtype).max)
        self.int_range = None
        if self.kind == "i":
            info = np.iinfo(self.np_dtype)
            self.int_range = (int(info.min), int(info.max))


_SPEC_INFOS: dict = {}


def spec_info(spec) -> _SpecInfo:
    """The cached facts of ``spec``: ``rank``, ``dims`` (None = any size), NumPy dtype."""
    info = _SPEC_INFOS.get(id(spec))
    if info is None or info.spec is not spec:
        if len(_SPEC_INFOS) > 4096:  # specs of versions no longer served
            _SPEC_INFOS.clear()
        info = _SPEC_INFOS[id(spec)] = _SpecInfo(spec)
    return info


def _fast_numeric(value, info):
    """The array for a well-formed numeric input, else None (the checked path decides).

    NumPy infers float64 or int64 for nested lists of Python floats and ints of one
    rectangular shape, and another dtype (object, str, bool) or an error for everything the
    checked path refuses, except booleans mixed with numbers (``[1.0, true]`` becomes
    ``[1.0, 1.0]``); the caller rules those out by scanning the body for ``true``/``false``.
    """
    try:
        arr = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None
    kind = arr.dtype.kind
    if arr.size == 0 or arr.ndim != info.rank or kind not in "fi" or arr.dtype.itemsize != 8:
        return None
    if info.kind == "i":
        if kind != "i":
            return None
        lo, hi = info.int_range
        if arr.dtype == info.np_dtype or lo <= arr.min() and arr.max() <= hi:
            return arr.astype(info.np_dtype, copy=False)
        return None
    if info.top is None or arr.dtype == info.np_dtype:
        return arr.astype(info.np_dtype, copy=False)
    if np.abs(arr).max() <= info.top:  # in range, no NaN (NaN compares False): cast is exact
        return arr.astype(info.np_dtype)
    return None


def json_to_array(value, spec, name, row_format=False, no_bools=False):
    """A nested JSON list (or a scalar) as a NumPy array of ``spec``'s dtype, checked.

    Refuses (400) ragged lists, lists nested deeper than the input's rank, elements of the
    wrong JSON type (strings, objects, booleans for numbers, non-integers for integer
    dtypes), integers outside the dtype's range, and finite numbers that overflow the
    dtype (``1e39`` for float32). NaN and infinities written as such are accepted.

    Args:
        value: the decoded JSON for one input (all rows).
        spec: the input's ``tf.TensorSpec``.
        name: the input's name, for the messages.
        row_format: word the shape messages for the row format (``instances``).
        no_bools: the request body holds no ``true``/``false`` token, so that a numeric
            input of known rank may take a fast path through NumPy's own conversion
            (same result; anything unusual still goes through the element checks).

    Returns:
        The array (its shape is not yet checked against ``spec``).
    """
    if no_bools and type(value) is list:
        info = spec_info(spec)
        if info.kind is not None and info.rank is not None:
            arr = _fast_numeric(value, info)
            if arr is not None:
                return arr
    dtype = spec.dtype
    limit = (_MAX_UNKNOWN_RANK if spec.shape.rank is None else spec.shape.rank) + 1
    shape = []
    level = [value]
    while level and type(level[0]) is list:
        if len(shape) == limit:
            raise _too_deep(name, spec, row_format, limit)
        n = len(level[0])
        if set(map(type, level)) != {list} or set(map(len, level)) != {n}:
            raise RequestError(
                400,
                f"input {name!r} is ragged: nested lists of different lengths (or lists "
                f"mixed with values) at depth {len(shape)}",
            )
        shape.append(n)
        level = list(itertools.chain.from_iterable(level))
    if dtype.is_floating:
        allowed, expected = {float, int}, "JSON numbers"
    elif dtype.is_integer:
        allowed, expected = {int}, "JSON integers"
    elif dtype.is_bool:
        allowed, expected = {bool}, "JSON booleans"
    else:
        raise RequestError(
            400, f"input {name!r} has dtype {dtype.name}, which this server cannot decode from JSON"
        )
    if not set(map(type, level)) <= allowed:  # exact types: a JSON boolean is not a number
        v = next(v for v in level if type(v) not in allowed)
        what = "a nested list (the input is ragged)" if isinstance(v, list) else json_type(v)
        shown = json.dumps(v)[:60] if not isinstance(v, int) or abs(v) < 10**50 else "<integer>"
        raise RequestError(
            400,
            f"input {name!r} expects {dtype.name} values ({expected}); received {shown} ({what})",
        )
    np_dtype = dtype.as_numpy_dtype
    if dtype.is_floating:
        try:
            wide = np.array(level, dtype=np.float64)
        except OverflowError:  # an integer literal beyond float64 (~1.8e308)
            big = next(v for v in level if isinstance(v, int) and abs(v) > 2**1023)
            raise _out_of_range(name, dtype, big) from None
        if np_dtype == np.float64:
            return wide.reshape(shape)
        top = np.finfo(np_dtype).max if np.issubdtype(np_dtype, np.floating) else None
        if wide.size and top is not None and -top <= wide.min() and wide.max() <= top:
            return wide.astype(np_dtype).reshape(shape)  # in range (and no NaN): no check
        with np.errstate(over="ignore"):  # overflow to inf is checked just below
            arr = wide.astype(np_dtype)
        overflow = np.isfinite(wide) & ~np.isfinite(arr)
        if overflow.any():
            raise _out_of_range(name, dtype, float(wide[overflow][0]))
        return arr.reshape(shape)
    if dtype.is_integer and level:
        info = np.iinfo(np_dtype)
        lo, hi = min(level), max(level)
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            shown = bad if abs(bad) < 10**50 else "an integer of more than 50 digits"
            raise RequestError(
                400,
                f"input {name!r} expects {dtype.name} values in [{info.min}, {info.max}]; "
                f"received {shown}",
            )
    return np.array(level, dtype=np_dtype).reshape(shape)
