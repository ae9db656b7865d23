"""Losses: adversarial loss pairs (:mod:`.adversarial`) and penalty objects (:mod:`.penalties`).

``kerasgan.losses.get(name)`` returns a loss pair ``(generator_loss, discriminator_loss)``;
``kerasgan.losses.penalties`` holds the gradient penalty, R1, weight clipping and the
auxiliary classification loss as small serializable objects a GAN takes in a list.
"""

from kerasgan.losses import penalties
from kerasgan.losses.adversarial import (
    LossPair,
    get,
    global_batch_mean,
    hinge_discriminator_loss,
    hinge_generator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    minimax_generator_loss,
    names,
    non_saturating_discriminator_loss,
    non_saturating_generator_loss,
    wasserstein_discriminator_loss,
    wasserstein_generator_loss,
)
from kerasgan.losses.penalties import (
    AuxiliaryClassification,
    GradientPenalty,
    Penalty,
    R1Penalty,
    WeightClipping,
)

__all__ = [
    "AuxiliaryClassification",
    "GradientPenalty",
    "LossPair",
    "Penalty",
    "R1Penalty",
    "WeightClipping",
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
    "penalties",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
]
