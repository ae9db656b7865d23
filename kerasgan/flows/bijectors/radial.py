"""The radial flow's map: forward and log-det only (no analytic inverse)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["RadialBijector"]


class RadialBijector(tfb.Bijector):
    """``f(z) = z + beta / (alpha + r) * (z - z0)``, ``r = |z - z0|``: a residual radial map.

    With ``h = 1 / (alpha + r)``::

        log|det df/dz| = (D - 1) log(1 + beta h) + log(1 + beta h - beta r h^2)

    ``f`` is invertible when ``alpha > 0`` and ``beta >= -alpha`` (the layer
    constrains them); only ``forward`` and its log-det exist. TFP has no radial
    bijector.

    Args:
        z0: ``[D]`` centre.
        alpha: scalar ``> 0``.
        beta: scalar ``>= -alpha``.
        name: bijector name.

    Returns:
        A ``tfb.Bijector`` on vectors ``[..., D]`` (forward only).

    Example:
        >>> bij = RadialBijector(tf.zeros([2]), tf.constant(1.0), tf.constant(0.0))
        >>> bij.forward(tf.ones([1, 2])).numpy().tolist()
        [[1.0, 1.0]]

    Reference:
        Variational Inference with Normalizing Flows, Rezende and Mohamed, 2015.
    """

    def __init__(self, z0, alpha, beta, name="radial"):
        parameters = dict(locals())
        self._z0, self._alpha, self._beta = z0, alpha, beta
        super().__init__(
            forward_min_event_ndims=1, dtype=z0.dtype, parameters=parameters, name=name
        )

    def _forward(self, z):
        diff = z - self._z0
        r = tf.norm(diff, axis=-1, keepdims=True)
        return z + self._beta / (self._alpha + r) * diff

    def _forward_log_det_jacobian(self, z):
        d = tf.cast(tf.shape(z)[-1], z.dtype)
        r = tf.norm(z - self._z0, axis=-1)
        h = 1.0 / (self._alpha + r)
        bh = self._beta * h
        # d/dr [beta h(r)] * r = -beta r / (alpha + r)^2
        return (d - 1.0) * tf.math.log1p(bh) + tf.math.log1p(bh - self._beta * r * h**2)
