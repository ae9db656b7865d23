"""Layers of the GAN networks: class-conditional batch norm and the label layers of the
conditional discriminators (one-hot vectors and maps, the projection's inner product).
"""

from __future__ import annotations

import keras
import numpy as np  # noqa: F401  (doctest namespace)
import tensorflow as tf

from kerasgan.layers import BatchNormalization

__all__ = ["ConditionalBatchNormalization", "OneHot", "OneHotMaps", "RowDot"]


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
