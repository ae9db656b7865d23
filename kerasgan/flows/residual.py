"""Residual flows ``f(z) = z + g(z)``: planar and radial flows (Rezende and Mohamed, 2015).

They have no analytic inverse, so a flow built from them can sample and score
its *own* samples (TFP caches the noise when both happen in one traced
function: :meth:`FlowModel.sample_and_log_prob`), which is what fitting an
unnormalized target by reverse KL needs (:class:`DensityDistiller` with an
:class:`EnergyTarget`). ``log_prob`` of arbitrary points raises
``NotImplementedError``. The maths is in :mod:`kerasgan.flows.bijectors`
(TFP has no planar or radial bijector).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasgan.flows.base import FlowLayer
from kerasgan.flows.bijectors import PlanarBijector, RadialBijector

__all__ = ["Planar", "Radial"]


@keras.saving.register_keras_serializable(package="kerasgan")
class Planar(FlowLayer):
    """Planar flow ``f(z) = z + u_hat * tanh(w . z + b)``.

    ``log|det df/dz| = log|1 + (1 - tanh^2(w . z + b)) w . u_hat|``. The
    reparameterization ``u_hat = u + (m(w . u) - w . u) w / |w|^2`` with
    ``m(a) = -1 + 10^-3 + softplus(a)`` keeps ``w . u_hat > -1``, so ``f`` is
    invertible (the paper's ``m`` plus a margin that survives float32 rounding).

    Args:
        init_scale: standard deviation of the initial ``w`` and ``u``.

    Returns:
        A flow layer whose bijector has ``forward`` and log-det only.

    Example:
        >>> layer = Planar()
        >>> layer.build((None, 2))

    Reference:
        Variational Inference with Normalizing Flows, Rezende and Mohamed, 2015.
    """

    def __init__(self, init_scale=0.1, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(init_scale) < np.inf:
            raise ValueError(
                f"init_scale must be finite and >= 0. Received: init_scale={init_scale!r}"
            )
        self.init_scale = float(init_scale)

    def build_flow(self, event_size):
        init = keras.initializers.RandomNormal(stddev=self.init_scale)
        self.w = self.add_weight(shape=(event_size,), initializer=init, name="w")
        self.u = self.add_weight(shape=(event_size,), initializer=init, name="u")
        self.b = self.add_weight(shape=(), initializer="zeros", name="b")

    def u_hat(self):
        """The constrained ``u`` (``w . u_hat > -1``)."""
        w, u = tf.convert_to_tensor(self.w), tf.convert_to_tensor(self.u)
        wu = tf.reduce_sum(w * u)
        # The paper's m(a) = -1 + softplus(a), kept 1e-3 above -1: in float32 softplus
        # underflows to 0 for very negative a and the determinant could reach 0.
        m = -1.0 + 1e-3 + tf.nn.softplus(wu)
        return u + (m - wu) * w / (tf.reduce_sum(w * w) + 1e-12)

    def bijector(self, context=None):
        return PlanarBijector(
            tf.convert_to_tensor(self.w), self.u_hat(), tf.convert_to_tensor(self.b)
        )

    def get_config(self):
        config = super().get_config()
        config["init_scale"] = self.init_scale
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class Radial(FlowLayer):
    """Radial flow ``f(z) = z + beta_hat / (alpha + r) * (z - z0)``, ``r = |z - z0|``.

    ``alpha = softplus(a) > 0`` and ``beta_hat = -alpha + softplus(b) >= -alpha``
    keep ``f`` invertible; ``log|det| = (D-1) log(1 + beta h) + log(1 + beta h
    - beta r h^2)`` with ``h = 1 / (alpha + r)``.

    Args:
        init_scale: standard deviation of the initial centre ``z0``.

    Returns:
        A flow layer whose bijector has ``forward`` and log-det only.

    Example:
        >>> layer = Radial()
        >>> layer.build((None, 2))

    Reference:
        Variational Inference with Normalizing Flows, Rezende and Mohamed, 2015.
    """

    def __init__(self, init_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(init_scale) < np.inf:
            raise ValueError(
                f"init_scale must be finite and >= 0. Received: init_scale={init_scale!r}"
            )
        self.init_scale = float(init_scale)

    def build_flow(self, event_size):
        self.z0 = self.add_weight(
            shape=(event_size,),
            initializer=keras.initializers.RandomNormal(stddev=self.init_scale),
            name="z0",
        )
        self.alpha_raw = self.add_weight(shape=(), initializer="zeros", name="alpha_raw")
        self.beta_raw = self.add_weight(shape=(), initializer="zeros", name="beta_raw")

    def alpha_beta(self):
        alpha = tf.nn.softplus(tf.convert_to_tensor(self.alpha_raw))
        return alpha, -alpha + tf.nn.softplus(tf.convert_to_tensor(self.beta_raw))

    def bijector(self, context=None):
        alpha, beta = self.alpha_beta()
        return RadialBijector(tf.convert_to_tensor(self.z0), alpha, beta)

    def get_config(self):
        config = super().get_config()
        config["init_scale"] = self.init_scale
        return config
