"""Adversarial models and network builders."""

from kerasgan.models.conditional import (
    ACGAN,
    ConditionalGAN,
    build_conditional_dcgan_discriminator,
    build_conditional_dcgan_generator,
    build_conditional_mlp_discriminator,
    build_conditional_mlp_generator,
)
from kerasgan.models.dcgan import DCGAN, build_dcgan_discriminator, build_dcgan_generator
from kerasgan.models.gan import GAN, default_jit_compile
from kerasgan.models.hinge import HingeGAN
from kerasgan.models.lsgan import LSGAN
from kerasgan.models.mlp import build_mlp_discriminator, build_mlp_generator
from kerasgan.models.wgan import WGAN, WGANGP

__all__ = [
    "ACGAN",
    "ConditionalGAN",
    "DCGAN",
    "GAN",
    "HingeGAN",
    "LSGAN",
    "WGAN",
    "WGANGP",
    "build_conditional_dcgan_discriminator",
    "build_conditional_dcgan_generator",
    "build_conditional_mlp_discriminator",
    "build_conditional_mlp_generator",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "build_mlp_discriminator",
    "build_mlp_generator",
    "default_jit_compile",
]
