"""Planar and radial flows (Rezende and Mohamed, 2015): forward map and log-det only.

They have no analytic inverse, so a flow built from them can sample and score
its *own* samples (TFP caches the noise when both happen in one traced
function: :meth:`FlowModel.sample_and_log_prob`), which is what fitting an
unnormalized target by reverse KL needs (:class:`DensityDistiller` with an
:class:`EnergyTarget`). ``log_prob`` of arbitrary points raises
``NotImplementedError``. TFP has no planar or radial bijector, hence the two
small ``tfb.Bijector`` subclasses here.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.layers import FlowLayer

tfb = tfp.bijectors

__all__ = ["EnergyTarget", "Planar", "Radial", "energy_names", "potential"]


class _PlanarBijector(tfb.Bijector):
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


class _RadialBijector(tfb.Bijector):
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
        return _PlanarBijector(
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
        return _RadialBijector(tf.convert_to_tensor(self.z0), alpha, beta)

    def get_config(self):
        config = super().get_config()
        config["init_scale"] = self.init_scale
        return config


def _w1(z):
    return tf.sin(2.0 * np.pi * z[..., 0] / 4.0)


def _gauss(t, s):
    return tf.exp(-0.5 * (t / s) ** 2)


def _u1(z):
    r = tf.norm(z, axis=-1)
    return 0.5 * ((r - 2.0) / 0.4) ** 2 - tf.math.log(
        _gauss(z[..., 0] - 2.0, 0.6) + _gauss(z[..., 0] + 2.0, 0.6) + 1e-30
    )


def _u2(z):
    return 0.5 * ((z[..., 1] - _w1(z)) / 0.4) ** 2


def _u3(z):
    w2 = 3.0 * _gauss(z[..., 0] - 1.0, 0.6)
    return -tf.math.log(
        _gauss(z[..., 1] - _w1(z), 0.35) + _gauss(z[..., 1] - _w1(z) + w2, 0.35) + 1e-30
    )


def _u4(z):
    w3 = 3.0 * tf.sigmoid((z[..., 0] - 1.0) / 0.3)
    return -tf.math.log(
        _gauss(z[..., 1] - _w1(z), 0.4) + _gauss(z[..., 1] - _w1(z) + w3, 0.35) + 1e-30
    )


_POTENTIALS = {"u1": _u1, "u2": _u2, "u3": _u3, "u4": _u4}


def energy_names():
    """Names of the 2-D energy targets: ``u1`` (ring), ``u2`` (wave), ``u3``, ``u4`` (split waves)."""
    return sorted(_POTENTIALS)


def potential(name, z):
    """``U(z)`` of Rezende and Mohamed (2015), Table 1; the target density is ``exp(-U) / Z``.

    ``w1 = sin(2 pi z1 / 4)``, ``w2 = 3 exp(-((z1 - 1) / 0.6)^2 / 2)``,
    ``w3 = 3 sigmoid((z1 - 1) / 0.3)``::

        U1 = ((|z| - 2) / 0.4)^2 / 2 - log(exp(-((z1-2)/0.6)^2/2) + exp(-((z1+2)/0.6)^2/2))
        U2 = ((z2 - w1) / 0.4)^2 / 2
        U3 = -log(exp(-((z2-w1)/0.35)^2/2) + exp(-((z2-w1+w2)/0.35)^2/2))
        U4 = -log(exp(-((z2-w1)/0.4)^2/2) + exp(-((z2-w1+w3)/0.35)^2/2))

    Args:
        name: one of :func:`energy_names`.
        z: ``[..., 2]`` points.

    Returns:
        ``U(z)``, shape ``[...]``.
    """
    if name not in _POTENTIALS:
        raise ValueError(f"Unknown energy {name!r}. Expected one of {energy_names()}.")
    return _POTENTIALS[name](tf.convert_to_tensor(z))


@keras.saving.register_keras_serializable(package="kerasgan")
class EnergyTarget(keras.layers.Layer):
    """An unnormalized 2-D target density ``log p~(x) = -U(x)`` (no weights).

    Use as the ``teacher`` of :class:`DensityDistiller` to fit a flow by
    reverse KL; the logged ``kl`` is then ``KL(q || p) - log Z``.

    Args:
        energy: one of :func:`energy_names`.

    Returns:
        A layer; ``target.log_prob(x) = -U(x)``.

    Example:
        >>> target = EnergyTarget("u1")
        >>> float(target.log_prob(np.array([[2.0, 0.0]], "float32"))[0]) > -1
        True
    """

    def __init__(self, energy="u1", **kwargs):
        super().__init__(**kwargs)
        if energy not in _POTENTIALS:
            raise ValueError(f"Unknown energy {energy!r}. Expected one of {energy_names()}.")
        self.energy = energy
        self.event_shape = (2,)
        self.context_size = 0
        self.built = True

    def log_prob(self, x):
        return -potential(self.energy, x)

    def call(self, x):
        return self.log_prob(x)

    def log_normalizer(self, limit=8.0, points=801):
        """``log Z`` by the trapezoid rule on ``[-limit, limit]^2`` (float64)."""
        g = np.linspace(-limit, limit, points)
        w = np.full(points, g[1] - g[0])
        w[[0, -1]] *= 0.5
        xx, yy = np.meshgrid(g, g)
        z = tf.constant(np.stack([xx.ravel(), yy.ravel()], 1))
        lp = self.log_prob(z).numpy()
        m = lp.max()
        weights = np.outer(w, w).ravel()
        return float(m + np.log(np.sum(np.exp(lp - m) * weights)))

    def get_config(self):
        config = super().get_config()
        config["energy"] = self.energy
        return config
