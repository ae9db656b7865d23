"""Batch normalization as a flow layer (RealNVP / MAF), with Keras 3 variables.

``tfb.BatchNormalization`` only accepts a tf_keras (Keras 2) layer, whose
variables a Keras 3 model neither trains nor saves, so the bijector is
written here over this layer's own weights.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.layers import FlowLayer, _memo

tfb = tfp.bijectors

__all__ = ["BatchNorm"]


class _BatchNormBijector(tfb.Bijector):
    """``inverse``: ``z = (x - mu) / sqrt(var + eps) * exp(log_gamma) + beta``.

    ``log|det dz/dx| = sum(log_gamma - 0.5 * log(var + eps))`` per event, with
    ``(mu, var)`` the batch statistics of ``x`` in training (treated as
    constants in the log-det, as in RealNVP and MAF) and the moving averages
    otherwise. ``forward`` (sampling) uses the moving averages, except on a
    value this bijector produced by a training-mode ``inverse``.
    """

    def __init__(self, layer, training, name="batch_norm"):
        parameters = dict(locals())
        self._layer = layer
        self._training = bool(training)
        self._stats = _memo(self._batch_stats)
        self._outputs = {}  # id(z) -> (z, moments of the x it came from), training only
        super().__init__(
            forward_min_event_ndims=1,
            dtype=tf.as_dtype(layer.compute_dtype),
            parameters=parameters,
            name=name,
        )

    def _batch_stats(self, x):
        mean, var = tf.nn.moments(x, axes=list(range(x.shape.rank - 1)))
        self._layer._pending.append((mean, var))
        return mean, var

    def _moments(self, x=None):
        if self._training and x is not None:
            return self._stats(x)
        layer = self._layer
        return tf.convert_to_tensor(layer.moving_mean), tf.convert_to_tensor(layer.moving_variance)

    def _moments_of_output(self, z):
        """The moments that produced ``z`` in a training-mode ``inverse``, else the moving ones.

        TFP's ``Chain`` scores ``log_prob`` with ``-forward_log_det_jacobian``
        at the noise-side value ``z = inverse(x)``; in training that log-det
        must use the batch statistics of ``x``, not the moving averages.
        """
        hit = self._outputs.get(id(z))
        if self._training and hit is not None and hit[0] is z:
            return hit[1]
        return self._moments()

    def _log_scale(self, var):
        return tf.convert_to_tensor(self._layer.log_gamma) - 0.5 * tf.math.log(
            var + self._layer.epsilon
        )

    def _inverse(self, x):
        mean, var = self._moments(x)
        z = (x - mean) * tf.exp(self._log_scale(var)) + tf.convert_to_tensor(self._layer.beta)
        if self._training:
            self._outputs[id(z)] = (z, (mean, var))
        return z

    def _inverse_log_det_jacobian(self, x):
        _, var = self._moments(x)
        return tf.reduce_sum(self._log_scale(var), axis=-1)

    def _forward(self, z):
        mean, var = self._moments_of_output(z)
        beta = tf.convert_to_tensor(self._layer.beta)
        return (z - beta) * tf.exp(-self._log_scale(var)) + mean

    def _forward_log_det_jacobian(self, z):
        _, var = self._moments_of_output(z)
        return -tf.reduce_sum(self._log_scale(var), axis=-1)


@keras.saving.register_keras_serializable(package="kerasgan")
class BatchNorm(FlowLayer):
    """Batch normalization flow layer (per feature; per channel on images).

    Density direction ``z = (x - mu) / sqrt(var + eps) * exp(log_gamma) + beta``
    with ``log|det dz/dx| = sum(log_gamma - 0.5 log(var + eps))``. In training
    (``fit``) ``(mu, var)`` are the batch's moments and the moving averages are
    updated after each step (``moving = momentum * moving + (1 - momentum) *
    batch``); otherwise (``log_prob``, ``sample``, export) the moving averages
    are used, so the layer is then a fixed affine map.

    Args:
        momentum: moving-average momentum.
        epsilon: added to the variance.

    Returns:
        A flow layer.

    Example:
        >>> layer = BatchNorm()
        >>> layer.build((None, 2))

    Reference:
        Dinh, Sohl-Dickstein and Bengio, 2017 (RealNVP); Papamakarios, Pavlakou
        and Murray, 2017 (MAF).
    """

    takes_training = True

    def __init__(self, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1). Received: momentum={momentum!r}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        # Batch moments recorded while tracing a training step (plain list: not tracked).
        object.__setattr__(self, "_pending", [])

    def build_flow(self, event_size):
        self.log_gamma = self.add_weight(shape=(event_size,), initializer="zeros", name="log_gamma")
        self.beta = self.add_weight(shape=(event_size,), initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=(event_size,), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(event_size,), initializer="ones", trainable=False, name="moving_variance"
        )

    def bijector(self, context=None, training=False):
        return _BatchNormBijector(self, training)

    def update_moving_statistics(self):
        """Folds the batch moments recorded by training-mode bijectors into the moving averages."""
        m = self.momentum
        for mean, var in self._pending:
            self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
            self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * var)
        self._pending.clear()

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config
