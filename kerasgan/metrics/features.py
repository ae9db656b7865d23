"""Moved: the feature extractors now live in :mod:`kerasgan.metrics.extractors`.

``base`` (the interface, input checks, :class:`KerasFeatureExtractor`), ``digits``
(``fid_digits`` / ``fid_mnist``), ``inception`` (``fid_inception_v3``) and
``registry`` (``register_extractor``, ``get_extractor``, ``extractor_names``).
This module only re-exports the package's public names (the same ones it always
had) so that existing ``kerasgan.metrics.features`` imports keep working; import
from ``kerasgan.metrics.extractors`` in new code.
"""

from kerasgan.metrics.extractors import *  # noqa: F403
from kerasgan.metrics.extractors import __all__  # noqa: F401
