"""Conditional GAN (Mirza and Osindero, 2014) with a concatenating or projection discriminator."""

from __future__ import annotations

import keras

from kerasgan.gan.base import GAN
from kerasgan.gan.networks.conditional import check_classes

__all__ = ["ConditionalGAN"]


@keras.saving.register_keras_serializable(package="kerasgan")
class ConditionalGAN(GAN):
    """Conditional GAN: ``G(z, y)`` and ``D(x, y)`` for labels ``y`` in ``[0, num_classes)``.

    The game of :class:`GAN` with every real batch's labels given to both players;
    fakes are generated for the labels of the real batch, so that D compares
    ``D(x, y)`` with ``D(G(z, y), y)``. Any loss pair; the gradient penalty and R1
    differentiate ``D(., y)`` with the label held fixed.

        D step:  minimize mean_i [ L_D(D(x_i, y_i), D(G(z_i, y_i), y_i)) + penalties ]
        G step:  minimize mean_i L_G(D(G(z_i, y_i), y_i))

    Args:
        generator: ``keras.Model`` on ``[z, labels]`` (e.g.
            :func:`build_conditional_dcgan_generator`).
        discriminator: ``keras.Model`` on ``[x, labels]`` (e.g.
            :func:`build_conditional_dcgan_discriminator` with ``mode="projection"``
            or ``"concat"``).
        latent_dim: size of ``z``.
        num_classes: number of labels.
        **kwargs: passed to :class:`GAN` (``loss``, ``d_steps``, ``gp_weight``,
            ``penalties``, ``seed``...).

    Returns:
        A model whose ``fit`` takes ``(x, y)``; ``sample(n, labels=3)``.

    Example:
        >>> import numpy as np, kerasgan
        >>> from kerasgan.gan import networks as c
        >>> g = c.build_conditional_mlp_generator(2, 2, num_classes=3)
        >>> d = c.build_conditional_mlp_discriminator(2, num_classes=3)
        >>> model = kerasgan.ConditionalGAN(g, d, latent_dim=2, num_classes=3, loss="hinge")
        >>> model.compile()
        >>> x = np.random.normal(size=(64, 2)).astype("float32")
        >>> y = np.arange(64) % 3
        >>> _ = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        >>> model.sample(4, labels=1).shape
        (4, 2)

    Reference:
        Conditional Generative Adversarial Nets, Mirza and Osindero, 2014;
        cGANs with Projection Discriminator, Miyato and Koyama, 2018.
    """

    def __init__(self, generator, discriminator, latent_dim, num_classes, **kwargs):
        super().__init__(
            generator, discriminator, latent_dim, num_classes=check_classes(num_classes), **kwargs
        )
