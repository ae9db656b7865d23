"""Discrete data for flows: uniform dequantization, the logit transform and bits per dimension."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.base import FlowLayer

tfb = tfp.bijectors

__all__ = ["LogitTransform", "bits_per_dim", "dequantize"]


def dequantize(x, num_levels=256, seed=None):
    """Uniform dequantization: integer levels ``k`` -> ``(k + u) / num_levels``, ``u ~ U[0, 1)``.

    A continuous density fit to dequantized data lower-bounds the discrete
    log-likelihood (Theis et al., 2016).

    Args:
        x: integer-valued array in ``[0, num_levels)``.
        num_levels: number of levels (256 for 8-bit images).
        seed: int seed.

    Returns:
        float32 array in ``[0, 1)``.
    """
    x = np.asarray(x)
    if x.size and (np.min(x) < 0 or np.max(x) >= num_levels):
        raise ValueError(
            f"x must hold levels in [0, {num_levels}). Received values in "
            f"[{np.min(x)}, {np.max(x)}]"
        )
    u = np.random.default_rng(seed).uniform(size=x.shape)
    return ((x + u) / num_levels).astype("float32")


def bits_per_dim(nll, num_dims, num_levels=256):
    """Bits per dimension of discrete data from the NLL (nats) of its dequantized ``[0,1)`` version.

    ``bpd = (nll + D log(num_levels)) / (D log 2)``: the ``D log(num_levels)``
    undoes the ``1/num_levels`` scaling to ``[0, 1)``.

    Args:
        nll: mean negative log-likelihood in nats per example (on ``[0, 1)^D``).
        num_dims: ``D``.
        num_levels: levels per dimension.

    Returns:
        float.

    Example:
        >>> bits_per_dim(0.0, 64)  # uniform density on [0, 1)^64
        8.0
    """
    d = int(num_dims)
    if d < 1:
        raise ValueError(f"num_dims must be >= 1. Received: num_dims={num_dims!r}")
    return float((nll + d * math.log(num_levels)) / (d * math.log(2.0)))


@keras.saving.register_keras_serializable(package="kerasgan")
class LogitTransform(FlowLayer):
    """Logit transform of data in ``[0, 1]`` (RealNVP's preprocessing), as a flow layer.

    Density direction ``z = logit(alpha + (1 - 2 alpha) x)``; sampling
    direction ``x = (sigmoid(z) - alpha) / (1 - 2 alpha)``; the log-det is
    counted in ``log_prob``, so likelihoods stay those of ``x``. Put it first
    (data side) in the layer list.

    Args:
        alpha: keeps the logit away from 0 and 1.

    Returns:
        A flow layer (no weights).

    Example:
        >>> layer = LogitTransform(0.05)
        >>> layer.build((None, 2))
    """

    def __init__(self, alpha=0.05, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(alpha) < 0.5:
            raise ValueError(f"alpha must be in [0, 0.5). Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def bijector(self, context=None):
        dtype = tf.as_dtype(self.compute_dtype)
        a = self.alpha
        return tfb.Chain(
            [
                tfb.Scale(tf.constant(1.0 / (1.0 - 2.0 * a), dtype)),
                tfb.Shift(tf.constant(-a, dtype)),
                tfb.Sigmoid(),
            ]
        )

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
