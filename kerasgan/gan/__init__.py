"""Adversarial models: the GAN base (:mod:`.base`), one file per variant, the network
builders (:mod:`.networks`) and GAN layers (:mod:`.layers`).

Example:
    >>> import kerasgan
    >>> from kerasgan.gan import networks
    >>> g = networks.build_mlp_generator(latent_dim=2, output_dim=2)
    >>> d = networks.build_mlp_discriminator(input_dim=2)
    >>> model = kerasgan.gan.WGANGP(g, d, latent_dim=2)
"""

from kerasgan._internal.jit import default_jit_compile
from kerasgan.gan import layers, networks
from kerasgan.gan.acgan import ACGAN
from kerasgan.gan.base import GAN
from kerasgan.gan.conditional import ConditionalGAN
from kerasgan.gan.dcgan import DCGAN
from kerasgan.gan.hinge import HingeGAN
from kerasgan.gan.lsgan import LSGAN
from kerasgan.gan.networks import *  # noqa: F403  (the builders, as kerasgan.models had them)
from kerasgan.gan.wgan import WGAN, WGANGP

__all__ = [
    "ACGAN",
    "ConditionalGAN",
    "DCGAN",
    "GAN",
    "HingeGAN",
    "LSGAN",
    "WGAN",
    "WGANGP",
    "default_jit_compile",
    "layers",
    "networks",
    *networks.__all__,
]
