"""Adversarial loss pairs.

Every pair is two pure functions taking discriminator *logits* (the raw output
of a discriminator with no sigmoid at the end) and returning **per-example**
losses of shape ``[B]``:

- ``<name>_generator_loss(fake_logits)``
- ``<name>_discriminator_loss(real_logits, fake_logits)``

Sigmoid cross-entropies are written with ``softplus`` so that they stay finite
for any logit: ``-log(sigmoid(l)) = softplus(-l)`` and
``-log(1 - sigmoid(l)) = softplus(l)``.

Logits of rank > 1 (for example a PatchGAN's ``[B, H, W, 1]``) are averaged
over all but the batch axis, so every loss is one number per example.

Reduce per-example losses with :func:`global_batch_mean`, which divides by the
*global* batch size: under ``tf.distribute.MirroredStrategy`` the gradients of
each replica are summed, so a per-replica ``reduce_mean`` would give gradients
``num_replicas`` times too large.

Example:
    >>> import numpy as np
    >>> from kerasgan import losses
    >>> g_loss, d_loss = losses.get("non_saturating")
    >>> d_loss(np.array([0.0]), np.array([0.0])).numpy()  # 2 log 2
    array([1.3862944], dtype=float32)
"""

from __future__ import annotations

import collections

import tensorflow as tf

__all__ = [
    "LossPair",
    "get",
    "global_batch_mean",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "names",
    "non_saturating_discriminator_loss",
    "non_saturating_generator_loss",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
]


def _per_example(logits) -> tf.Tensor:
    """Casts to float32 (mixed precision safe) and averages non-batch axes."""
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        logits = tf.cast(logits, tf.float32)
    if logits.dtype in (tf.float16, tf.bfloat16):
        logits = tf.cast(logits, tf.float32)
    if logits.shape.rank == 0:
        raise ValueError(
            "Discriminator logits must have a batch axis. "
            f"Received: logits with shape {logits.shape}"
        )
    if logits.shape.rank == 1:
        return logits
    return tf.reduce_mean(tf.reshape(logits, [tf.shape(logits)[0], -1]), axis=-1)


# --- minimax (Goodfellow et al. 2014) -----------------------------------------


def minimax_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Discriminator loss of the original minimax game.

    ``L_D = -log D(x) - log(1 - D(G(z))) = softplus(-real) + softplus(fake)``

    Args:
        real_logits: discriminator logits on real data, ``[B]`` or ``[B, ...]``.
        fake_logits: discriminator logits on generated data, same batch size.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> minimax_discriminator_loss([0.0], [0.0]).numpy()  # 2 log 2
        array([1.3862944], dtype=float32)

    Reference:
        Generative Adversarial Nets, Goodfellow et al., 2014.
    """
    real, fake = _per_example(real_logits), _per_example(fake_logits)
    return tf.nn.softplus(-real) + tf.nn.softplus(fake)


def minimax_generator_loss(fake_logits) -> tf.Tensor:
    """Generator loss of the original (saturating) minimax game.

    ``L_G = log(1 - D(G(z))) = -softplus(fake)``: the generator minimizes the
    value the discriminator maximizes. Its gradient vanishes when D confidently
    rejects fakes, which is why the non-saturating loss is used in practice.

    Args:
        fake_logits: discriminator logits on generated data, ``[B]`` or ``[B, ...]``.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> minimax_generator_loss([0.0]).numpy()  # -log 2
        array([-0.6931472], dtype=float32)

    Reference:
        Generative Adversarial Nets, Goodfellow et al., 2014.
    """
    return -tf.nn.softplus(_per_example(fake_logits))


# --- non-saturating -----------------------------------------------------------


def non_saturating_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Discriminator loss of the non-saturating GAN (same as minimax).

    ``L_D = softplus(-real) + softplus(fake)``

    Args:
        real_logits: discriminator logits on real data.
        fake_logits: discriminator logits on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> non_saturating_discriminator_loss([0.0], [0.0]).numpy()
        array([1.3862944], dtype=float32)

    Reference:
        Generative Adversarial Nets, Goodfellow et al., 2014.
    """
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits) -> tf.Tensor:
    """Non-saturating generator loss.

    ``L_G = -log D(G(z)) = softplus(-fake)``: strong gradients exactly when the
    discriminator rejects the fakes.

    Args:
        fake_logits: discriminator logits on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> non_saturating_generator_loss([0.0]).numpy()  # log 2
        array([0.6931472], dtype=float32)

    Reference:
        Generative Adversarial Nets, Goodfellow et al., 2014.
    """
    return tf.nn.softplus(-_per_example(fake_logits))


# --- Wasserstein ----------------------------------------------------------------


def wasserstein_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Critic loss of the Wasserstein GAN.

    ``L_D = D(G(z)) - D(x)``: minimizing it maximizes the Kantorovich-Rubinstein
    estimate of W1 over a (clipped or penalized) 1-Lipschitz critic.

    Args:
        real_logits: critic outputs on real data.
        fake_logits: critic outputs on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> wasserstein_discriminator_loss([2.0], [0.5]).numpy()
        array([-1.5], dtype=float32)

    Reference:
        Wasserstein GAN, Arjovsky, Chintala and Bottou, 2017.
    """
    return _per_example(fake_logits) - _per_example(real_logits)


def wasserstein_generator_loss(fake_logits) -> tf.Tensor:
    """Generator loss of the Wasserstein GAN: ``L_G = -D(G(z))``.

    Args:
        fake_logits: critic outputs on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> wasserstein_generator_loss([0.5]).numpy()
        array([-0.5], dtype=float32)

    Reference:
        Wasserstein GAN, Arjovsky, Chintala and Bottou, 2017.
    """
    return -_per_example(fake_logits)


# --- hinge ----------------------------------------------------------------------


def hinge_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Hinge discriminator loss.

    ``L_D = relu(1 - D(x)) + relu(1 + D(G(z)))``

    Args:
        real_logits: discriminator outputs on real data.
        fake_logits: discriminator outputs on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> hinge_discriminator_loss([0.5], [-2.0]).numpy()
        array([0.5], dtype=float32)

    Reference:
        Geometric GAN, Lim and Ye, 2017; Spectral Normalization for GANs,
        Miyato et al., 2018.
    """
    real, fake = _per_example(real_logits), _per_example(fake_logits)
    return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)


def hinge_generator_loss(fake_logits) -> tf.Tensor:
    """Hinge generator loss: ``L_G = -D(G(z))``.

    Args:
        fake_logits: discriminator outputs on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> hinge_generator_loss([0.5]).numpy()
        array([-0.5], dtype=float32)

    Reference:
        Geometric GAN, Lim and Ye, 2017.
    """
    return -_per_example(fake_logits)


# --- least squares (LSGAN) -----------------------------------------------------


def least_squares_discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """LSGAN discriminator loss with the 0-1 coding (a=0, b=1).

    ``L_D = 0.5 * (D(x) - 1)^2 + 0.5 * D(G(z))^2``

    Args:
        real_logits: raw discriminator outputs on real data.
        fake_logits: raw discriminator outputs on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> least_squares_discriminator_loss([1.0], [1.0]).numpy()
        array([0.5], dtype=float32)

    Reference:
        Least Squares Generative Adversarial Networks, Mao et al., 2017.
    """
    real, fake = _per_example(real_logits), _per_example(fake_logits)
    return 0.5 * tf.square(real - 1.0) + 0.5 * tf.square(fake)


def least_squares_generator_loss(fake_logits) -> tf.Tensor:
    """LSGAN generator loss with c=1: ``L_G = 0.5 * (D(G(z)) - 1)^2``.

    Args:
        fake_logits: raw discriminator outputs on generated data.

    Returns:
        Per-example loss ``[B]``.

    Example:
        >>> least_squares_generator_loss([0.0]).numpy()
        array([0.5], dtype=float32)

    Reference:
        Least Squares Generative Adversarial Networks, Mao et al., 2017.
    """
    return 0.5 * tf.square(_per_example(fake_logits) - 1.0)


LossPair = collections.namedtuple("LossPair", ["generator", "discriminator"])

_PAIRS = {
    "minimax": LossPair(minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": LossPair(non_saturating_generator_loss, non_saturating_discriminator_loss),
    "wasserstein": LossPair(wasserstein_generator_loss, wasserstein_discriminator_loss),
    "hinge": LossPair(hinge_generator_loss, hinge_discriminator_loss),
    "least_squares": LossPair(least_squares_generator_loss, least_squares_discriminator_loss),
}


def names() -> list[str]:
    """Returns the names accepted by :func:`get`."""
    return sorted(_PAIRS)


def get(name: str) -> LossPair:
    """Returns the ``(generator_loss, discriminator_loss)`` pair called ``name``.

    Args:
        name: one of ``"minimax"``, ``"non_saturating"``, ``"wasserstein"``,
            ``"hinge"``, ``"least_squares"``.

    Returns:
        A :class:`LossPair` ``(generator, discriminator)`` of functions.

    Raises:
        ValueError: if ``name`` is not a known loss.

    Example:
        >>> g_loss, d_loss = get("hinge")
    """
    if not isinstance(name, str) or name not in _PAIRS:
        raise ValueError(f"Unknown GAN loss. Expected one of {names()}. Received: loss={name!r}")
    return _PAIRS[name]


def global_batch_mean(per_example_loss, global_batch_size=None) -> tf.Tensor:
    """Averages a per-example loss over the *global* batch.

    ``sum(per_example_loss) / global_batch_size`` where, by default,
    ``global_batch_size = local_batch_size * num_replicas_in_sync``. Inside a
    replica of ``MirroredStrategy`` the optimizer sums the replicas' gradients,
    so this gives exactly the gradient of the mean over the global batch; on
    one device it is the plain mean.

    Args:
        per_example_loss: ``[B]`` tensor of per-example losses on this replica.
        global_batch_size: optional override of the global batch size.

    Returns:
        Scalar float32 loss.

    Example:
        >>> global_batch_mean([1.0, 3.0]).numpy()
        2.0
    """
    per_example_loss = tf.cast(tf.convert_to_tensor(per_example_loss), tf.float32)
    return tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)
