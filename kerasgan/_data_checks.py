"""Streaming NaN/Inf check of ``tf.data`` training data, shared by the GAN and flow ``fit``."""

from __future__ import annotations

import contextlib

import tensorflow as tf

DATA_CHECK = "kerasgan: training data contains NaN or Inf"


def checked(dataset, first_only=True):
    """``dataset`` with an in-graph finiteness assertion on its floating tensors.

    Args:
        dataset: a ``tf.data.Dataset``.
        first_only: check only the first component of each element (the data,
            not labels); else every floating tensor (data and context).
    """

    def check(t):
        if isinstance(t, tf.Tensor) and t.dtype.is_floating:
            return tf.debugging.assert_all_finite(t, DATA_CHECK)
        return t

    def assert_finite(*element):
        if first_only:
            out = (check(element[0]),) + tuple(element[1:])
        else:
            out = tf.nest.map_structure(check, element)
        return out if len(out) > 1 else out[0]

    return dataset.map(assert_finite)


@contextlib.contextmanager
def as_value_error():
    """Turns the failed streaming assertion into a ``ValueError`` (other errors pass)."""
    try:
        yield
    except tf.errors.InvalidArgumentError as e:
        if DATA_CHECK in str(e):
            raise ValueError(
                "Training data contains NaN or Inf values (found while streaming the "
                "dataset). Received: a tf.data.Dataset with non-finite entries"
            ) from None
        raise
