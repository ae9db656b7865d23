"""Feature extractors for sample-based image metrics (FID, KID, IS, PRDC), by name.

An extractor maps images ``[N, H, W, C]`` in ``[-1, 1]`` to float64 feature
vectors and, with a classifier head, to class probabilities (for the Inception
Score). Its name is part of every metric computed from it: an FID from one
network is not comparable to an FID from another.

- :mod:`~kerasgan.metrics.extractors.base`: :class:`FeatureExtractor` (input
  checks, channel conversion, resizing, batching) and
  :class:`KerasFeatureExtractor` (any Keras classifier: one layer as features,
  one as logits).
- :mod:`~kerasgan.metrics.extractors.digits`: ``"fid_digits"`` / ``"fid_mnist"``,
  the small CNN shipped in ``saved_models/``.
- :mod:`~kerasgan.metrics.extractors.inception`: ``"fid_inception_v3"``,
  Keras's InceptionV3 from local ImageNet weights (its FIDs are *not comparable
  with published FIDs*).
- :mod:`~kerasgan.metrics.extractors.registry`: :func:`register_extractor`,
  :func:`get_extractor`, :func:`extractor_names`.

Example:
    >>> ext = get_extractor("fid_digits")
    >>> from kerasgan.data import images
    >>> x, _ = images.digits(size=16, split="test")
    >>> ext.features(x).shape, ext.probabilities(x).shape
    ((359, 64), (359, 10))
"""

from kerasgan.metrics.extractors.base import (
    FeatureExtractor,
    KerasFeatureExtractor,
    WeightsNotFoundError,
)
from kerasgan.metrics.extractors.digits import (
    DIGITS_CLASSIFIER_FILE,
    build_digits_classifier,
    digits_classifier_extractor,
    saved_models_dirs,
)
from kerasgan.metrics.extractors.inception import (
    INCEPTION_V3_NOTOP_URL,
    INCEPTION_V3_NOTOP_WEIGHTS,
    INCEPTION_V3_URL,
    INCEPTION_V3_WEIGHTS,
    inception_v3_extractor,
    inception_v3_weight_candidates,
)
from kerasgan.metrics.extractors.registry import (
    extractor_names,
    get_extractor,
    register_extractor,
)

__all__ = [
    "DIGITS_CLASSIFIER_FILE",
    "INCEPTION_V3_NOTOP_URL",
    "INCEPTION_V3_NOTOP_WEIGHTS",
    "INCEPTION_V3_URL",
    "INCEPTION_V3_WEIGHTS",
    "FeatureExtractor",
    "KerasFeatureExtractor",
    "WeightsNotFoundError",
    "build_digits_classifier",
    "digits_classifier_extractor",
    "extractor_names",
    "get_extractor",
    "inception_v3_extractor",
    "inception_v3_weight_candidates",
    "register_extractor",
    "saved_models_dirs",
]
