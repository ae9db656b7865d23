"""Evaluation metrics for generative models.

Pure functions on features / probabilities (float64, checked against NumPy /
SciPy references in the tests):

- :func:`frechet_distance`, :func:`fid_from_features`: FID's Fréchet distance.
- :func:`kernel_inception_distance`: KID, unbiased polynomial-kernel MMD^2 over subsets.
- :func:`inception_score`: IS from class probabilities.
- :func:`mmd2_unbiased`, :func:`mmd_permutation_test`: RBF / multi-scale kernel
  MMD^2 and its permutation two-sample test.
- :func:`classifier_two_sample_test`: C2ST accuracy and binomial p-value.
- :func:`precision_recall_density_coverage`: k-NN manifold precision/recall and
  density/coverage.
- :class:`StreamingMoments`, :func:`reference_statistics`: streaming float64
  feature statistics and their on-disk cache.
- :mod:`~kerasgan.metrics.extractors`: named feature extractors (``fid_digits``,
  ``fid_inception_v3``, ...); :class:`Evaluator`: ``fid_digits``-style named
  image metrics of generated samples (metric kinds registered in
  :mod:`~kerasgan.metrics.evaluation`).
- :func:`mode_coverage`: modes captured, high-quality fraction and reverse KL
  on Gaussian-mixture toy data (the VEEGAN / PacGAN protocol).

Example:
    >>> from kerasgan.data import toy
    >>> from kerasgan.metrics import mode_coverage
    >>> mix = toy.ring8()
    >>> mode_coverage(mix.sample(2500, seed=0), mix.modes, mix.std).modes_captured
    8
"""

from kerasgan.metrics.evaluation import Evaluator, parse_metric
from kerasgan.metrics.extractors import (
    FeatureExtractor,
    extractor_names,
    get_extractor,
    register_extractor,
)
from kerasgan.metrics.fid import fid_from_features, frechet_distance, trace_sqrt_product
from kerasgan.metrics.inception_score import inception_score
from kerasgan.metrics.kid import kernel_inception_distance, polynomial_mmd2_unbiased
from kerasgan.metrics.mmd import (
    MMDTestResult,
    median_bandwidth,
    mmd2_unbiased,
    mmd_permutation_test,
    rbf_kernel,
)
from kerasgan.metrics.mode_coverage import NUM_SAMPLES, ModeCoverage, mode_coverage
from kerasgan.metrics.prdc import PRDC, precision_recall_density_coverage
from kerasgan.metrics.statistics import (
    FeatureStatistics,
    StreamingMoments,
    cache_dir,
    reference_statistics,
)
from kerasgan.metrics.two_sample import C2STResult, classifier_two_sample_test

__all__ = [
    "C2STResult",
    "Evaluator",
    "FeatureExtractor",
    "FeatureStatistics",
    "MMDTestResult",
    "ModeCoverage",
    "NUM_SAMPLES",
    "PRDC",
    "StreamingMoments",
    "cache_dir",
    "classifier_two_sample_test",
    "extractor_names",
    "fid_from_features",
    "frechet_distance",
    "get_extractor",
    "inception_score",
    "kernel_inception_distance",
    "median_bandwidth",
    "mmd2_unbiased",
    "mmd_permutation_test",
    "mode_coverage",
    "parse_metric",
    "polynomial_mmd2_unbiased",
    "precision_recall_density_coverage",
    "rbf_kernel",
    "reference_statistics",
    "register_extractor",
    "trace_sqrt_product",
]
