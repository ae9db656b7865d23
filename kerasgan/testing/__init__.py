"""Test harnesses: the checks every kerasgan model passes, for the library's tests and yours.

:func:`check_gan_model` runs the structural checks of a GAN class (``.keras`` and config
round trips, player isolation, MirroredStrategy, XLA, SavedModel export, bad arguments)
and a short learning run; :func:`check_gan_learns` is the learning run alone, and
:func:`run_learning` measures one without asserting. Problems for the learning run:
:func:`ring8_problem`, :func:`class_gaussians_problem`, :func:`image_patterns_problem`.

Example:
    >>> import kerasgan
    >>> from kerasgan import testing
    >>> def make_model():
    ...     g = kerasgan.models.build_mlp_generator(2, 2, (16,))
    ...     d = kerasgan.models.build_mlp_discriminator(2, (16,))
    ...     return kerasgan.GAN(g, d, latent_dim=2, seed=0)
    >>> x = testing.ring8_problem().x[:64]
    >>> result = testing.check_gan_model(make_model, x, checks=["bad_arguments"])
    >>> sorted(result.ran)
    ['bad_arguments']
"""

from kerasgan.testing.flows import (
    FLOW_CHECKS,
    FLOW_LAYERS,
    FlowLayerCase,
    FlowLayerCheckResult,
    check_flow_layer,
    flow_layer_factories,
    perturb_weights,
)
from kerasgan.testing.gan import (
    GAN_CHECKS,
    GanCheckResult,
    LearningCheckFailed,
    LearningProblem,
    LearningResult,
    check_gan_learns,
    check_gan_model,
    class_gaussians_problem,
    flip_generator_loss,
    image_patterns_problem,
    ring8_problem,
    run_learning,
    sliced_wasserstein,
)

__all__ = [
    "FLOW_CHECKS",
    "FLOW_LAYERS",
    "FlowLayerCase",
    "FlowLayerCheckResult",
    "GAN_CHECKS",
    "GanCheckResult",
    "LearningCheckFailed",
    "LearningProblem",
    "LearningResult",
    "check_flow_layer",
    "check_gan_learns",
    "check_gan_model",
    "class_gaussians_problem",
    "flip_generator_loss",
    "flow_layer_factories",
    "image_patterns_problem",
    "perturb_weights",
    "ring8_problem",
    "run_learning",
    "sliced_wasserstein",
]
