"""Wasserstein GANs: weight clipping (WGAN) and gradient penalty (WGAN-GP)."""

from __future__ import annotations

import keras

from kerasgan import optimizers
from kerasgan.gan.base import GAN

__all__ = ["WGAN", "WGANGP"]


@keras.saving.register_keras_serializable(package="kerasgan")
class WGAN(GAN):
    """Wasserstein GAN with weight clipping.

    ``L_D = D(G(z)) - D(x)`` (the critic maximizes the Kantorovich-Rubinstein
    estimate of W1), ``L_G = -D(G(z))``; after every critic update its weights
    are clipped to ``[-clip_value, clip_value]`` to keep it Lipschitz.
    Defaults follow the paper: ``n_critic = d_steps = 5``, ``clip_value = 0.01``,
    RMSprop(5e-5) for both players.

    Args:
        generator: generator model.
        discriminator: critic model (one unbounded score per example).
        latent_dim: latent size.
        d_steps: critic updates per generator update (default 5).
        clip_value: clipping bound ``c`` (default 0.01).
        **kwargs: passed to :class:`GAN`.

    Returns:
        A :class:`GAN` whose ``fit`` logs ``d_loss`` (minus the W1 estimate).

    Example:
        >>> import kerasgan
        >>> g = kerasgan.models.build_mlp_generator(2, 2)
        >>> d = kerasgan.models.build_mlp_discriminator(2)
        >>> wgan = kerasgan.WGAN(g, d, latent_dim=2)
        >>> wgan.compile()

    Reference:
        Wasserstein GAN, Arjovsky, Chintala and Bottou, 2017.
    """

    default_loss = "wasserstein"

    def __init__(self, generator, discriminator, latent_dim, d_steps=5, clip_value=0.01, **kwargs):
        super().__init__(
            generator, discriminator, latent_dim, d_steps=d_steps, clip_value=clip_value, **kwargs
        )

    def default_optimizers(self):
        """RMSprop(5e-5) for both players, as in the paper."""
        return keras.optimizers.RMSprop(5e-5), keras.optimizers.RMSprop(5e-5)


@keras.saving.register_keras_serializable(package="kerasgan")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty.

    ``L_D = D(G(z)) - D(x) + lambda * (|grad D(x_hat)| - 1)^2`` with
    ``x_hat = alpha x + (1 - alpha) G(z)``, ``alpha ~ U[0, 1]`` per example;
    ``L_G = -D(G(z))``. Defaults follow the paper: ``lambda = gp_weight = 10``,
    ``n_critic = d_steps = 5``, Adam(1e-4, beta_1=0, beta_2=0.9). The critic
    must not use batch normalization (the penalty is per example).

    Args:
        generator: generator model.
        discriminator: critic model without batch normalization.
        latent_dim: latent size.
        d_steps: critic updates per generator update (default 5).
        gp_weight: ``lambda`` (default 10).
        **kwargs: passed to :class:`GAN` (e.g. ``gp_target``).

    Returns:
        A :class:`GAN` whose ``fit`` logs ``gp`` besides the losses.

    Example:
        >>> import kerasgan
        >>> g = kerasgan.models.build_mlp_generator(2, 2)
        >>> d = kerasgan.models.build_mlp_discriminator(2)
        >>> model = kerasgan.WGANGP(g, d, latent_dim=2)
        >>> model.compile()

    Reference:
        Improved Training of Wasserstein GANs, Gulrajani et al., 2017.
    """

    default_loss = "wasserstein"

    def __init__(self, generator, discriminator, latent_dim, d_steps=5, gp_weight=10.0, **kwargs):
        for layer in discriminator._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                raise ValueError(
                    "WGAN-GP's critic must not use BatchNormalization (the gradient "
                    "penalty is per example); use LayerNormalization or none. "
                    f"Received: discriminator with layer {layer.name!r}"
                )
        super().__init__(
            generator, discriminator, latent_dim, d_steps=d_steps, gp_weight=gp_weight, **kwargs
        )

    def default_optimizers(self):
        """Adam(1e-4, beta_1=0, beta_2=0.9) for both players, as in the paper."""
        return (
            optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
            optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
        )
