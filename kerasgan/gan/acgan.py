"""AC-GAN (Odena, Olah and Shlens, 2017): a discriminator with a source and a class head."""

from __future__ import annotations

import keras
import numpy as np

from kerasgan.gan.base import GAN
from kerasgan.gan.networks.conditional import check_classes
from kerasgan.losses import penalties as penalties_lib

__all__ = ["ACGAN"]


@keras.saving.register_keras_serializable(package="kerasgan")
class ACGAN(GAN):
    """AC-GAN: a discriminator with a source head and a class head.

    ``D(x) = [s(x), c(x)]`` (source logit, class logits); ``G(z, y)``. With
    ``L_S`` the adversarial loss pair and ``L_C`` the class cross-entropy
    (:class:`~kerasgan.losses.AuxiliaryClassification`):

        D step:  minimize mean_i [ L_D(s(x_i), s(G(z_i, y_i)))
                                   + w * (CE(c(x_i), y_i) + CE(c(G(z_i, y_i)), y_i)) ]
        G step:  minimize mean_i [ L_G(s(G(z_i, y_i))) + w * CE(c(G(z_i, y_i)), y_i) ]

    i.e. D maximizes ``L_S + L_C`` and G maximizes ``L_C - L_S`` (Odena et al.).
    Logs ``d_cls`` and ``g_cls`` besides the losses.

    Args:
        generator: ``keras.Model`` on ``[z, labels]``.
        discriminator: ``keras.Model`` ``x -> [logit [B, 1], class logits
            [B, num_classes]]`` (e.g. ``build_conditional_dcgan_discriminator(...,
            mode="acgan")``).
        latent_dim: size of ``z``.
        num_classes: number of labels.
        aux_weight: ``w``, the weight of the class loss (1 in the paper).
        aux_fake_in_discriminator: False: D's class loss is ``CE(c(x_i), y_i)`` on
            real samples only (see :class:`~kerasgan.losses.AuxiliaryClassification`).
        **kwargs: passed to :class:`GAN`.

    Returns:
        A model whose ``fit`` takes ``(x, y)``.

    Example:
        >>> import kerasgan
        >>> from kerasgan.gan import networks as c
        >>> g = c.build_conditional_mlp_generator(2, 2, num_classes=3)
        >>> d = c.build_conditional_mlp_discriminator(2, num_classes=3, mode="acgan")
        >>> model = kerasgan.ACGAN(g, d, latent_dim=2, num_classes=3)
        >>> model.compile()

    Reference:
        Conditional Image Synthesis with Auxiliary Classifier GANs, Odena, Olah and
        Shlens, 2017.
    """

    discriminator_takes_labels = False

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        num_classes,
        aux_weight=1.0,
        aux_fake_in_discriminator=True,
        penalties=None,
        **kwargs,
    ):
        num_classes = check_classes(num_classes)
        aux = penalties_lib.AuxiliaryClassification(
            aux_weight, fake_in_discriminator=aux_fake_in_discriminator
        )
        outputs = getattr(discriminator, "outputs", None)
        if outputs is not None and (len(outputs) != 2 or outputs[1].shape[-1] != num_classes):
            raise ValueError(
                "ACGAN's discriminator must output [source_logits [B, 1], class_logits "
                f"[B, {num_classes}]]. Received: outputs with shapes "
                f"{[tuple(o.shape) for o in outputs]}"
            )
        super().__init__(
            generator,
            discriminator,
            latent_dim,
            num_classes=num_classes,
            penalties=[aux, *(penalties or [])],
            **kwargs,
        )
        self.aux_weight = aux.weight
        self.aux_fake_in_discriminator = aux.fake_in_discriminator

    def get_config(self):
        config = super().get_config()
        config["penalties"] = config["penalties"][1:]  # the first is aux_weight's
        config["aux_weight"] = self.aux_weight
        config["aux_fake_in_discriminator"] = self.aux_fake_in_discriminator
        return config

    def classify(self, x, batch_size=256):
        """The class head's logits on samples ``x``: numpy ``[N, num_classes]``."""
        return self.discriminator.predict(
            np.asarray(x, "float32"), batch_size=batch_size, verbose=0
        )[1]
