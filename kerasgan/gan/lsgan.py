"""Least-squares GAN."""

from __future__ import annotations

import keras

from kerasgan.gan.base import GAN

__all__ = ["LSGAN"]


@keras.saving.register_keras_serializable(package="kerasgan")
class LSGAN(GAN):
    """Least Squares GAN (0-1 coding: a=0, b=c=1).

    ``L_D = 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2``, ``L_G = 0.5 (D(G(z)) - 1)^2``
    on the discriminator's raw (linear) output. Minimizing it minimizes a
    Pearson chi^2 divergence and gives gradients to fakes far from the
    decision boundary.

    Args:
        generator: generator model.
        discriminator: discriminator with a linear output.
        latent_dim: latent size.
        **kwargs: passed to :class:`GAN`.

    Returns:
        A :class:`GAN` with ``loss="least_squares"``.

    Example:
        >>> import kerasgan
        >>> g = kerasgan.models.build_mlp_generator(2, 2)
        >>> d = kerasgan.models.build_mlp_discriminator(2)
        >>> kerasgan.LSGAN(g, d, latent_dim=2).loss_name
        'least_squares'

    Reference:
        Least Squares Generative Adversarial Networks, Mao et al., 2017.
    """

    default_loss = "least_squares"
