"""Layers: a batch normalization that runs TensorFlow's fused kernel in training.

(The GAN-specific layers, such as conditional batch norm, are in :mod:`kerasgan.gan.layers`.)

Why our own: Keras 3's ``BatchNormalization`` computes the batch moments on
the TensorFlow backend with separate reductions (``Mean``,
``SquaredDifference``, ``Mean``) and normalizes with element-wise ops, so a
training step runs about ten kernels forward and as many backward per layer.
TensorFlow has one fused kernel for each direction (``FusedBatchNormV3`` and
its gradient; oneDNN on CPU, cuDNN on GPU). In the DCGAN step of
``benchmarks/gan_step.py`` that is ~8% of the step on CPU. The math, weights,
config and inference path are Keras's; only the training-mode computation
differs, and it falls back to Keras's code wherever the fused kernel does not
apply.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["BatchNormalization"]


@keras.saving.register_keras_serializable(package="kerasgan")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` using the fused kernel when training.

    In training mode, for a channels-last input of rank 2 or 4::

        mu = mean(x), var = mean((x - mu)^2)            (over all axes but the last)
        y = gamma * (x - mu) / sqrt(var + epsilon) + beta
        moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu
        moving_variance <- momentum * moving_variance + (1 - momentum) * var

    exactly as Keras (the biased batch variance in the moving average), but
    computed by ``FusedBatchNormV3`` and its fused gradient. Every other case
    (inference, ``axis`` not last, other ranks, ``synchronized``, ``renorm``,
    masks, frozen layers) runs Keras's implementation unchanged.

    Args:
        **kwargs: those of ``keras.layers.BatchNormalization``.

    Returns:
        A layer; ``layer(x, training=True)`` has the shape and dtype Keras's
        layer would give.

    Example:
        >>> import numpy as np
        >>> bn = BatchNormalization()
        >>> y = bn(np.random.rand(8, 4, 4, 3).astype("float32"), training=True)
        >>> tuple(y.shape)
        (8, 4, 4, 3)
    """

    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (
            bool(training)
            and self.trainable
            and mask is None
            and not self.renorm
            and not self.synchronized
            and rank in (2, 4)
            and self.axis in (-1, rank - 1)
            and inputs.shape[-1] is not None
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        # As Keras: compute in float32 even for float16/bfloat16 inputs.
        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        x4 = x if len(x.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        empty = tf.zeros([0], tf.float32)
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x4,
            scale=gamma,
            offset=beta,
            mean=empty,
            variance=empty,
            epsilon=float(self.epsilon),
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the Bessel-corrected variance; Keras averages the biased one.
        n = tf.cast(tf.size(x4) // channels, tf.float32)
        variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
        momentum = float(self.momentum)
        self.moving_mean.assign(
            tf.cast(self.moving_mean, tf.float32) * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            tf.cast(self.moving_variance, tf.float32) * momentum + variance * (1.0 - momentum)
        )
        if len(x.shape) != 4:
            y = tf.reshape(y, tf.shape(x))
        return tf.cast(y, self.compute_dtype)
