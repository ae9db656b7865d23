"""Evaluation metrics for generative models.

- :func:`mode_coverage`: modes captured, high-quality fraction and reverse KL
  on Gaussian-mixture toy data (the VEEGAN / PacGAN protocol).

Example:
    >>> from kerasgan.data import toy
    >>> from kerasgan.metrics import mode_coverage
    >>> mix = toy.ring8()
    >>> mode_coverage(mix.sample(2500, seed=0), mix.modes, mix.std).modes_captured
    8
"""

from kerasgan.metrics.mode_coverage import NUM_SAMPLES, ModeCoverage, mode_coverage

__all__ = ["NUM_SAMPLES", "ModeCoverage", "mode_coverage"]
