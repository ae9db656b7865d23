"""Batch normalization as a bijector, over the Keras 3 weights of a layer.

``tfb.BatchNormalization`` only accepts a tf_keras (Keras 2) layer, whose
variables a Keras 3 model neither trains nor saves, so the bijector is
written here; it reads the weights of :class:`kerasgan.flows.BatchNorm`.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.bijectors.memo import memo

tfb = tfp.bijectors

__all__ = ["BatchNormBijector"]


class BatchNormBijector(tfb.Bijector):
    """``inverse``: ``z = (x - mu) / sqrt(var + eps) * exp(log_gamma) + beta``.

    ``log|det dz/dx| = sum(log_gamma - 0.5 * log(var + eps))`` per event, with
    ``(mu, var)`` the batch statistics of ``x`` in training (treated as
    constants in the log-det, as in RealNVP and MAF) and the moving averages
    otherwise. ``forward`` (sampling) uses the moving averages, except on a
    value this bijector produced by a training-mode ``inverse``.

    Args:
        layer: the owner of the weights: ``log_gamma``, ``beta``,
            ``moving_mean``, ``moving_variance`` (``[D]``), ``epsilon``,
            ``compute_dtype`` and a ``_pending`` list that receives the batch
            moments of training-mode calls (folded into the moving averages
            by the layer after the step).
        training: use batch statistics.
        name: bijector name.

    Returns:
        A ``tfb.Bijector`` on ``[..., D]`` (per feature; per channel on images).

    Example:
        >>> from kerasgan import flows
        >>> layer = flows.BatchNorm()
        >>> layer.build((None, 2))
        >>> BatchNormBijector(layer, training=False).inverse(tf.ones([1, 2])).shape
        TensorShape([1, 2])

    Reference:
        Dinh, Sohl-Dickstein and Bengio, 2017 (RealNVP); Papamakarios, Pavlakou
        and Murray, 2017 (MAF).
    """

    def __init__(self, layer, training, name="batch_norm"):
        parameters = dict(locals())
        self._layer = layer
        self._training = bool(training)
        self._stats = memo(self._batch_stats)
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
