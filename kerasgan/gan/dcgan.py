"""DCGAN: the GAN game with the paper's all-convolutional networks and optimizer."""

from __future__ import annotations

import keras

from kerasgan.gan.base import GAN
from kerasgan.gan.networks.dcgan import build_dcgan_discriminator, build_dcgan_generator

__all__ = ["DCGAN"]


@keras.saving.register_keras_serializable(package="kerasgan")
class DCGAN(GAN):
    """Deep convolutional GAN with the paper's architecture and optimizer.

    Builds :func:`build_dcgan_generator` / :func:`build_dcgan_discriminator`
    when they are not given; trains with the non-saturating loss and
    Adam(2e-4, beta_1=0.5) (see :class:`GAN` for the game).

    Args:
        generator: optional generator; built from ``image_shape`` if None.
        discriminator: optional discriminator; built if None.
        latent_dim: latent size (default 100).
        image_shape: ``(S, S, C)``, S in 16, 28, 32, 64 (default 28x28x1).
        base_filters: width of the built networks.
        **kwargs: passed to :class:`GAN`.

    Returns:
        A :class:`GAN`.

    Example:
        >>> import kerasgan
        >>> model = kerasgan.DCGAN(latent_dim=8, image_shape=(16, 16, 1), base_filters=8)
        >>> model.compile()

    Reference:
        Radford, Metz and Chintala, 2015.
    """

    def __init__(
        self,
        generator=None,
        discriminator=None,
        latent_dim=100,
        image_shape=(28, 28, 1),
        base_filters=64,
        **kwargs,
    ):
        image_shape = tuple(int(s) for s in image_shape)
        if generator is None:
            generator = build_dcgan_generator(latent_dim, image_shape, base_filters)
        if discriminator is None:
            discriminator = build_dcgan_discriminator(image_shape, base_filters)
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.image_shape = image_shape
        self.base_filters = int(base_filters)

    def get_config(self):
        config = super().get_config()
        config.update({"image_shape": list(self.image_shape), "base_filters": self.base_filters})
        return config
