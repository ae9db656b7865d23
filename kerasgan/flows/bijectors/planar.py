"""The planar flow's map: forward and log-det only (no analytic inverse)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["PlanarBijector"]


class PlanarBijector(tfb.Bijector):
    """``f(z) = z + u_hat * tanh(w . z + b)``, a residual map with a rank-one update.

    ``log|det df/dz| = log|1 + (1 - tanh^2(w . z + b)) w . u_hat|``; ``f`` is
    invertible when ``w . u_hat >= -1`` (the layer constrains ``u_hat``), but
    the inverse has no closed form, so only ``forward`` and its log-det exist.
    TFP has no planar bijector.

    Args:
        w: ``[D]``.
        u_hat: ``[D]``, with ``w . u_hat >= -1``.
        b: scalar.
        name: bijector name.

    Returns:
        A ``tfb.Bijector`` on vectors ``[..., D]`` (forward only).

    Example:
        >>> bij = PlanarBijector(tf.ones([2]), tf.zeros([2]), tf.constant(0.0))
        >>> bij.forward(tf.ones([1, 2])).numpy().tolist()
        [[1.0, 1.0]]

    Reference:
        Variational Inference with Normalizing Flows, Rezende and Mohamed, 2015.
    """

    def __init__(self, w, u_hat, b, name="planar"):
        parameters = dict(locals())
        self._w, self._u_hat, self._b = w, u_hat, b
        super().__init__(forward_min_event_ndims=1, dtype=w.dtype, parameters=parameters, name=name)

    def _forward(self, z):
        a = tf.reduce_sum(z * self._w, -1, keepdims=True) + self._b
        return z + self._u_hat * tf.tanh(a)

    def _forward_log_det_jacobian(self, z):
        a = tf.reduce_sum(z * self._w, -1) + self._b
        psi_u = (1.0 - tf.tanh(a) ** 2) * tf.reduce_sum(self._w * self._u_hat)
        return tf.math.log(tf.abs(1.0 + psi_u))
