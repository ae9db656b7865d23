"""RealNVP's masked affine coupling with a fixed binary mask (the checkerboard coupling)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.bijectors.memo import memo

tfb = tfp.bijectors

__all__ = ["MaskedAffineBijector"]


class MaskedAffineBijector(tfb.Bijector):
    """RealNVP's masked affine coupling with a fixed binary mask ``b`` over ``[H, W, C]``.

    ``forward``: ``x = b*z + (1-b) * (z * exp(s(b*z)) + t(b*z))``;
    ``inverse``: ``z = b*x + (1-b) * (x - t(b*x)) * exp(-s(b*x))``;
    ``log|det dx/dz| = sum (1-b) * s(b*z)``. TFP's ``tfb.RealNVP`` only splits
    the last axis, hence this bijector for spatial masks.

    Args:
        shift_and_log_scale_fn: ``fn(b * x) -> (t, s)``, each ``[..., H, W, C]``.
        mask: ``b``, broadcastable to ``[H, W, C]`` (e.g. ``[H, W, 1]``).
        name: bijector name.

    Returns:
        A ``tfb.Bijector`` on events ``[H, W, C]``.

    Example:
        >>> mask = tf.constant([[[0.0], [1.0]], [[1.0], [0.0]]])
        >>> bij = MaskedAffineBijector(lambda h: (h, tf.zeros_like(h)), mask)
        >>> bij.forward(tf.ones([1, 2, 2, 1])).shape
        TensorShape([1, 2, 2, 1])

    Reference:
        Density estimation using Real NVP, Dinh, Sohl-Dickstein and Bengio, 2017.
    """

    def __init__(self, shift_and_log_scale_fn, mask, name="masked_affine"):
        parameters = dict(locals())
        self._mask = mask
        # One network evaluation per input tensor (transform and log-det share it).
        self._params = memo(lambda x: shift_and_log_scale_fn(x * mask))
        super().__init__(
            forward_min_event_ndims=3, dtype=mask.dtype, parameters=parameters, name=name
        )

    def _forward(self, z):
        shift, log_scale = self._params(z)
        b = self._mask
        return b * z + (1.0 - b) * (z * tf.exp(log_scale) + shift)

    def _inverse(self, x):
        shift, log_scale = self._params(x)
        b = self._mask
        return b * x + (1.0 - b) * (x - shift) * tf.exp(-log_scale)

    def _forward_log_det_jacobian(self, z):
        _, log_scale = self._params(z)
        return tf.reduce_sum((1.0 - self._mask) * log_scale, axis=[-3, -2, -1])

    def _inverse_log_det_jacobian(self, x):
        _, log_scale = self._params(x)
        return -tf.reduce_sum((1.0 - self._mask) * log_scale, axis=[-3, -2, -1])
