"""The request decoder's fast path (NumPy's own conversion) against the checked path."""

import numpy as np
import orjson
import pytest
import tensorflow as tf

from kerasgan.export.server import codec
from kerasgan.export.server.errors import RequestError

F32 = tf.TensorSpec([None, 3], tf.float32)
F64 = tf.TensorSpec([None, 3], tf.float64)
I32 = tf.TensorSpec([None, 2], tf.int32)
I64 = tf.TensorSpec([None, 2], tf.int64)
B = tf.TensorSpec([None, 2], tf.bool)


def both(body, spec):
    """(checked result, fast result): arrays, or the RequestError message."""
    out = []
    for no_bools in (False, codec.no_bools(body)):
        value = codec.decode_json(body)["instances"]
        try:
            out.append(codec.json_to_array(value, spec, "z", True, no_bools))
        except RequestError as e:
            out.append(e.message)
    return out


GOOD = [
    (b'{"instances": [[0.5, -1.25, 3.0e38], [1, 2, 3]]}', F32),
    (b'{"instances": [[0.1, 0.2, 0.3]]}', F64),
    (b'{"instances": [[1, -2], [2147483647, -2147483648]]}', I32),
    (b'{"instances": [[1, -2], [9223372036854775807, 0]]}', I64),
    (b'{"instances": [[1e-50, 2, 3]]}', F32),  # underflows to 0 in float32, as before
]

BAD = [
    (b'{"instances": [[1.0, true, 3.0]]}', F32),  # a boolean among numbers
    (b'{"instances": [[1, 2.5]]}', I32),  # a non-integer for an integer input
    (b'{"instances": [[1, 2147483648]]}', I32),  # out of int32's range
    (b'{"instances": [[1e39, 0, 0]]}', F32),  # overflows float32
    (b'{"instances": [[1, 2, 3], [4, 5]]}', F32),  # ragged
    (b'{"instances": [[1, "2", 3]]}', F32),  # a string
    (b'{"instances": [[1, null, 3]]}', F32),  # null
    (b'{"instances": [[1, 2, 100000000000000000000000]]}', I64),  # beyond int64
    (b'{"instances": [[true, false]]}', B),
]


@pytest.mark.parametrize("body,spec", GOOD)
def test_fast_path_gives_the_checked_arrays(body, spec):
    checked, fast = both(body, spec)
    assert codec.no_bools(body)
    assert isinstance(checked, np.ndarray), checked
    assert fast.dtype == checked.dtype == spec.dtype.as_numpy_dtype
    np.testing.assert_array_equal(fast, checked)
    # and the values are the JSON numbers cast once to the input's dtype
    values = orjson.loads(body)["instances"]
    wide = np.int64 if spec.dtype.is_integer else np.float64
    expected = np.array(values, dtype=wide).astype(spec.dtype.as_numpy_dtype)
    np.testing.assert_array_equal(checked, expected)


@pytest.mark.parametrize("body,spec", BAD)
def test_fast_path_refuses_what_the_checked_path_refuses(body, spec):
    checked, fast = both(body, spec)
    if spec is B:  # booleans are the one input the fast path never takes
        assert not codec.no_bools(body)
        np.testing.assert_array_equal(fast, checked)
        return
    assert isinstance(checked, str), f"the checked path accepted {body!r}"
    assert fast == checked  # the same 400 message, word for word


def test_one_level_too_deep_is_left_to_the_shape_check():
    body = b'{"instances": [[[1, 2, 3]]]}'
    checked, fast = both(body, F32)
    assert fast.shape == checked.shape == (1, 1, 3)  # refused later by the shape check


def test_a_boolean_among_numbers_disables_the_fast_path():
    body = b'{"instances": [[1.0, true, 3.0]]}'
    assert not codec.no_bools(body)
    # NumPy alone would have turned the boolean into 1.0: the scan is what refuses it
    assert np.array(orjson.loads(body)["instances"]).dtype == np.float64


def test_nan_and_infinity_take_the_checked_path_unchanged():
    body = b'{"instances": [[NaN, Infinity, -Infinity]]}'
    checked, fast = both(body, F32)
    np.testing.assert_array_equal(fast, checked)
    assert np.isnan(fast[0, 0]) and fast[0, 1] == np.inf and fast[0, 2] == -np.inf
