"""Layers: a batch normalization that runs TensorFlow's fused kernel in training, and the
label layers of the conditional GANs (conditional batch norm, one-hot maps, projection).

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

__all__ = [
    "BatchNormalization",
    "ConditionalBatchNormalization",
    "OneHot",
    "OneHotMaps",
    "RowDot",
]


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


@keras.saving.register_keras_serializable(package="kerasgan")
class ConditionalBatchNormalization(keras.layers.Layer):
    """Class-conditional batch norm: ``y = gamma[c] * BN(x) + beta[c]``.

    A batch normalization without its own scale and shift, followed by a per-class
    scale and shift looked up from the label ``c`` (initialized to 1 and 0, so that
    it starts as plain batch norm).

    Args:
        num_classes: number of labels.
        momentum: moving-statistics momentum of the batch norm.
        epsilon: variance epsilon.
        **kwargs: layer arguments (``name``, ``dtype``).

    Returns:
        ``layer([x, labels])`` with ``x`` channels-last ``[B, ..., C]`` and ``labels``
        int ``[B]``: the same shape as ``x``.

    Example:
        >>> import numpy as np
        >>> cbn = ConditionalBatchNormalization(3)
        >>> cbn([np.ones((2, 4, 4, 5), "float32"), np.array([0, 2])]).shape
        TensorShape([2, 4, 4, 5])

    Reference:
        Modulating early visual processing by language, de Vries et al., 2017;
        cGANs with Projection Discriminator, Miyato and Koyama, 2018.
    """

    def __init__(self, num_classes, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"num_classes must be an int >= 1. Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.bn = BatchNormalization(
            center=False,
            scale=False,
            momentum=self.momentum,
            epsilon=self.epsilon,
            dtype=self.dtype_policy,
            name="bn",
        )

    def build(self, input_shape):
        x_shape, _ = input_shape
        channels = x_shape[-1]
        self.bn.build(x_shape)
        self.gamma = self.add_weight(
            shape=(self.num_classes, channels), initializer="ones", name="gamma"
        )
        self.beta = self.add_weight(
            shape=(self.num_classes, channels), initializer="zeros", name="beta"
        )

    def call(self, inputs, training=None):
        x, labels = inputs
        h = self.bn(x, training=training)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        gamma = tf.gather(tf.cast(self.gamma, h.dtype), labels)  # [B, C]
        beta = tf.gather(tf.cast(self.beta, h.dtype), labels)
        shape = tf.concat(
            [tf.shape(gamma)[:1], tf.ones([len(x.shape) - 2], tf.int32), tf.shape(gamma)[1:]], 0
        )
        return h * tf.reshape(gamma, shape) + tf.reshape(beta, shape)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="kerasgan")
class OneHot(keras.layers.Layer):
    """Integer labels ``[B]`` -> one-hot ``[B, num_classes]`` (float).

    Example:
        >>> OneHot(3)(np.array([2])).numpy().tolist()  # doctest: +SKIP
        [[0.0, 0.0, 1.0]]
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def call(self, labels):
        return tf.one_hot(
            tf.cast(tf.reshape(labels, [-1]), tf.int32), self.num_classes, dtype=self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="kerasgan")
class OneHotMaps(OneHot):
    """Labels ``[B]`` -> one-hot maps ``[B, H, W, num_classes]`` (the label as channels).

    Args:
        num_classes: number of labels.
        size: ``(H, W)``.
    """

    def __init__(self, num_classes, size, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.size = tuple(int(s) for s in size)

    def call(self, labels):
        h = super().call(labels)[:, None, None, :]
        return tf.tile(h, [1, self.size[0], self.size[1], 1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, self.num_classes)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size)}


@keras.saving.register_keras_serializable(package="kerasgan")
class RowDot(keras.layers.Layer):
    """``[a, b] -> sum(a * b, axis=-1, keepdims=True)``: the projection term ``<embed(y), phi(x)>``."""

    def call(self, inputs):
        a, b = inputs
        return tf.reduce_sum(tf.cast(a, tf.float32) * tf.cast(b, tf.float32), -1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)
