"""Unnormalized 2-D target densities ``exp(-U(z)) / Z`` (Rezende and Mohamed, 2015, Table 1).

:class:`EnergyTarget` is the ``teacher`` of :class:`DensityDistiller` when a
flow (e.g. planar or radial) is fitted to an energy by reverse KL.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = ["EnergyTarget", "energy_names", "potential"]


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
