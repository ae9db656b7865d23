"""Network builders for the GANs: MLPs for vectors, DCGAN convolutional networks for
images, and their class-conditional versions."""

from kerasgan.gan.networks.conditional import (
    build_conditional_dcgan_discriminator,
    build_conditional_dcgan_generator,
    build_conditional_mlp_discriminator,
    build_conditional_mlp_generator,
)
from kerasgan.gan.networks.dcgan import build_dcgan_discriminator, build_dcgan_generator
from kerasgan.gan.networks.mlp import build_mlp_discriminator, build_mlp_generator

__all__ = [
    "build_conditional_dcgan_discriminator",
    "build_conditional_dcgan_generator",
    "build_conditional_mlp_discriminator",
    "build_conditional_mlp_generator",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "build_mlp_discriminator",
    "build_mlp_generator",
]
