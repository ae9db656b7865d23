"""Hinge-loss GAN."""

from __future__ import annotations

import keras

from kerasgan.gan.base import GAN

__all__ = ["HingeGAN"]


@keras.saving.register_keras_serializable(package="kerasgan")
class HingeGAN(GAN):
    """GAN with the hinge loss.

    ``L_D = relu(1 - D(x)) + relu(1 + D(G(z)))``, ``L_G = -D(G(z))``. Usually
    paired with spectral normalization in D
    (``keras.layers.SpectralNormalization``; see
    ``build_mlp_discriminator(spectral_norm=True)``).

    Args:
        generator: generator model.
        discriminator: discriminator with a linear output.
        latent_dim: latent size.
        **kwargs: passed to :class:`GAN`.

    Returns:
        A :class:`GAN` with ``loss="hinge"``.

    Example:
        >>> import kerasgan
        >>> g = kerasgan.models.build_mlp_generator(2, 2)
        >>> d = kerasgan.models.build_mlp_discriminator(2, spectral_norm=True)
        >>> kerasgan.HingeGAN(g, d, latent_dim=2).loss_name
        'hinge'

    Reference:
        Geometric GAN, Lim and Ye, 2017; Spectral Normalization for Generative
        Adversarial Networks, Miyato et al., 2018.
    """

    default_loss = "hinge"
