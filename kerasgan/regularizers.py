"""Discriminator regularizers: WGAN-GP gradient penalty, R1 penalty, weight clipping.

Spectral normalization is ``keras.layers.SpectralNormalization``; it is not
repeated here.

Example:
    >>> import numpy as np, keras
    >>> from kerasgan import regularizers
    >>> critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> real = np.ones((4, 2), "float32"); fake = np.zeros((4, 2), "float32")
    >>> alpha = regularizers.interpolation_weights(4, 2, seed=[0, 1])
    >>> regularizers.gradient_penalty(critic, real, fake, alpha).shape
    TensorShape([4])
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "clip_weights",
    "gradient_penalty",
    "interpolation_weights",
    "r1_penalty",
]


def interpolation_weights(batch_size, rank: int, seed) -> tf.Tensor:
    """Draws WGAN-GP interpolation weights ``alpha ~ U[0, 1]``, one per example.

    Args:
        batch_size: number of examples ``B`` (int or scalar tensor).
        rank: rank of the data tensors (2 for ``[B, D]``, 4 for images).
        seed: a stateless seed, shape ``[2]`` integer tensor.

    Returns:
        float32 tensor of shape ``[B, 1, ..., 1]`` (``rank`` axes) in ``[0, 1)``.

    Example:
        >>> interpolation_weights(3, 4, seed=[1, 2]).shape
        TensorShape([3, 1, 1, 1])
    """
    if rank < 1:
        raise ValueError(f"Data rank must be >= 1. Received: rank={rank}")
    shape = tf.concat([tf.reshape(batch_size, [1]), tf.ones([rank - 1], tf.int32)], 0)
    return tf.random.stateless_uniform(shape, seed=seed, dtype=tf.float32)


def _flat_norm(grads: tf.Tensor, epsilon: float) -> tf.Tensor:
    grads = tf.cast(tf.reshape(grads, [tf.shape(grads)[0], -1]), tf.float32)
    # epsilon inside the square root: d sqrt(s)/ds is infinite at s = 0, which
    # would turn the critic's update into NaN when a gradient vanishes.
    return tf.sqrt(tf.reduce_sum(tf.square(grads), axis=-1) + epsilon)


def gradient_penalty(
    critic,
    real,
    fake,
    alpha,
    target: float = 1.0,
    epsilon: float = 1e-12,
    training: bool = True,
) -> tf.Tensor:
    """WGAN-GP two-sided gradient penalty, per example.

    ``x_hat = alpha * real + (1 - alpha) * fake`` with ``alpha ~ U[0, 1]`` per
    example, and ``gp = (sqrt(|grad_x D(x_hat)|^2 + epsilon) - target)^2``.

    For a linear critic ``D(x) = w.x + b`` the penalty is ``(|w| - target)^2``
    for every example. Computed in float32 (under ``mixed_float16`` an fp16
    penalty tends to collapse the loss scale).

    Args:
        critic: callable ``critic(x, training=...) -> [B, ...]`` scores.
        real: real batch ``[B, ...]``.
        fake: generated batch with the same shape.
        alpha: interpolation weights ``[B, 1, ..., 1]`` from
            :func:`interpolation_weights`.
        target: the gradient norm the penalty pulls towards (1 in WGAN-GP;
            e.g. 750 in progressive GAN's variant).
        epsilon: small constant inside the square root.
        training: passed to the critic.

    Returns:
        Per-example penalty ``[B]`` (float32).

    Example:
        See the module docstring.

    Reference:
        Improved Training of Wasserstein GANs, Gulrajani et al., 2017.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    alpha = tf.cast(alpha, tf.float32)
    interpolated = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated, training=training)
        scores = tf.reduce_sum(tf.cast(scores, tf.float32))
    grads = tape.gradient(scores, interpolated)
    return tf.square(_flat_norm(grads, epsilon) - target)


def r1_penalty(critic, real, training: bool = True) -> tf.Tensor:
    """R1 penalty on real data, per example: ``|grad_x D(x)|^2``.

    Multiply by ``gamma / 2`` for the usual weighting.

    Args:
        critic: callable ``critic(x, training=...) -> [B, ...]``.
        real: real batch ``[B, ...]``.
        training: passed to the critic.

    Returns:
        Per-example squared gradient norm ``[B]`` (float32).

    Example:
        >>> import keras, numpy as np
        >>> d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> r1_penalty(d, np.zeros((3, 2), "float32")).shape
        TensorShape([3])

    Reference:
        Which Training Methods for GANs do actually Converge?, Mescheder,
        Geiger and Nowozin, 2018.
    """
    real = tf.cast(real, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = tf.reduce_sum(tf.cast(critic(real, training=training), tf.float32))
    grads = tape.gradient(scores, real)
    grads = tf.reshape(grads, [tf.shape(grads)[0], -1])
    return tf.reduce_sum(tf.square(grads), axis=-1)


def clip_weights(variables, clip_value: float) -> None:
    """Clips every variable to ``[-clip_value, clip_value]`` in place (WGAN).

    Args:
        variables: iterable of variables (typically a critic's trainable ones).
        clip_value: positive bound ``c``.

    Returns:
        None.

    Raises:
        ValueError: if ``clip_value`` is not positive.

    Example:
        >>> import keras
        >>> d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> clip_weights(d.trainable_variables, 0.01)

    Reference:
        Wasserstein GAN, Arjovsky, Chintala and Bottou, 2017.
    """
    if not clip_value > 0:
        raise ValueError(f"clip_value must be > 0. Received: clip_value={clip_value}")
    for v in variables:
        v.assign(tf.clip_by_value(v, -clip_value, clip_value))
