"""Squeeze: space-to-depth between the data side and the noise side of an image flow."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["SqueezeBijector", "apply_to_images"]


def apply_to_images(fn, x):
    """Runs a rank-4 op ``fn`` on ``x`` ``[..., H, W, C]`` with any number of batch dims.

    Args:
        fn: ``fn(t)`` on ``[N, H, W, C]`` returning ``[N, H', W', C']``.
        x: ``[..., H, W, C]``.

    Returns:
        ``[..., H', W', C']``.

    Example:
        >>> apply_to_images(lambda t: t * 2.0, tf.ones([2, 3, 4, 4, 1])).shape
        TensorShape([2, 3, 4, 4, 1])
    """
    shape = tf.shape(x)
    lead = shape[:-3]
    out = fn(tf.reshape(x, tf.concat([[-1], shape[-3:]], 0)))
    return tf.reshape(out, tf.concat([lead, tf.shape(out)[1:]], 0))


class SqueezeBijector(tfb.Bijector):
    """``forward``: depth-to-space ``[h, w, f*f*c] -> [f*h, f*w, c]``; ``inverse``: space-to-depth.

    A permutation of the entries, so ``log|det J| = 0``. TFP has no squeeze bijector.

    Args:
        factor: spatial factor ``f``.
        dtype: the bijector's dtype.
        name: bijector name.

    Returns:
        A ``tfb.Bijector`` on events ``[H, W, C]`` that changes the event shape.

    Example:
        >>> SqueezeBijector(2).inverse(tf.zeros([1, 4, 4, 1])).shape
        TensorShape([1, 2, 2, 4])

    Reference:
        Density estimation using Real NVP, Dinh, Sohl-Dickstein and Bengio, 2017.
    """

    def __init__(self, factor=2, dtype=tf.float32, name="squeeze"):
        parameters = dict(locals())
        self._factor = int(factor)
        super().__init__(
            forward_min_event_ndims=3,
            is_constant_jacobian=True,
            dtype=dtype,
            parameters=parameters,
            name=name,
        )

    def _forward(self, z):
        return apply_to_images(lambda t: tf.nn.depth_to_space(t, self._factor), z)

    def _inverse(self, x):
        return apply_to_images(lambda t: tf.nn.space_to_depth(t, self._factor), x)

    def _forward_log_det_jacobian(self, z):
        return tf.zeros([], self.dtype)

    def _forward_event_shape(self, s):
        f = self._factor
        if s.rank is None or any(d is None for d in s.as_list()):
            return tf.TensorShape([None, None, None])
        h, w, c = s.as_list()
        return tf.TensorShape([h * f, w * f, c // (f * f)])

    def _forward_event_shape_tensor(self, s):
        f = self._factor
        return tf.stack([s[0] * f, s[1] * f, s[2] // (f * f)])

    def _inverse_event_shape(self, s):
        f = self._factor
        if s.rank is None or any(d is None for d in s.as_list()):
            return tf.TensorShape([None, None, None])
        h, w, c = s.as_list()
        return tf.TensorShape([h // f, w // f, c * f * f])

    def _inverse_event_shape_tensor(self, s):
        f = self._factor
        return tf.stack([s[0] // f, s[1] // f, s[2] * f * f])
