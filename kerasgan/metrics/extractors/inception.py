"""The ``fid_inception_v3`` extractor: ``keras.applications.InceptionV3`` with local weights.

ImageNet weights are read from a local file (never downloaded). Features: the
2048-d global average pool; probabilities: the 1000-class softmax when the
with-top weights are used. This is Keras's InceptionV3, not the TF-slim graph
of the original FID code, so its FIDs are *not comparable with published
FIDs*. Inputs follow the convention of :mod:`kerasgan.metrics.extractors.base`.

Example:
    >>> [p.name for p in inception_v3_weight_candidates("/w")][1]
    'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5'
"""

from __future__ import annotations

import os
import pathlib

import keras

from kerasgan.metrics.extractors.base import KerasFeatureExtractor, WeightsNotFoundError

__all__ = [
    "INCEPTION_V3_NOTOP_URL",
    "INCEPTION_V3_NOTOP_WEIGHTS",
    "INCEPTION_V3_URL",
    "INCEPTION_V3_WEIGHTS",
    "inception_v3_extractor",
    "inception_v3_weight_candidates",
]

#: Keras cache file names and origins of the InceptionV3 ImageNet weights
#: (as in ``keras/src/applications/inception_v3.py``).
INCEPTION_V3_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_V3_NOTOP_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_V3_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + INCEPTION_V3_WEIGHTS
)
INCEPTION_V3_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + INCEPTION_V3_NOTOP_WEIGHTS
)
INCEPTION_V3_ENV = "KERASGAN_INCEPTION_WEIGHTS"


def _keras_models_dirs() -> list[pathlib.Path]:
    # Mirrors keras.src.backend.config / file_utils.get_file, evaluated now (not at
    # import): $KERAS_HOME, else ~/.keras (/tmp/.keras when home is not writable).
    if os.environ.get("KERAS_HOME"):
        return [pathlib.Path(os.environ["KERAS_HOME"]).expanduser() / "models"]
    home = os.path.expanduser("~")
    base = home if os.access(home, os.W_OK) else "/tmp"
    return [pathlib.Path(base) / ".keras" / "models"]


def inception_v3_weight_candidates(
    weights_path: str | os.PathLike | None = None,
) -> list[pathlib.Path]:
    """The InceptionV3 weight files looked for, in order (existing or not).

    ``weights_path`` if given (a directory means the two standard file names in
    it); else ``$KERASGAN_INCEPTION_WEIGHTS`` if set (same rule); else the Keras
    cache ``$KERAS_HOME/models/`` or ``~/.keras/models/``: first the with-top
    file (``inception_v3_weights_tf_dim_ordering_tf_kernels.h5``, features and
    1000-class probabilities), then the no-top one (``..._notop.h5``, features only).

    Args:
        weights_path: an ``.h5`` weights file or a directory, or ``None``.

    Returns:
        List of ``pathlib.Path``.

    Example:
        >>> [p.name.endswith("_notop.h5") for p in inception_v3_weight_candidates("/w")]
        [False, True]
    """
    if weights_path is not None:
        roots = [pathlib.Path(os.fspath(weights_path)).expanduser()]
    elif os.environ.get(INCEPTION_V3_ENV):
        roots = [pathlib.Path(os.environ[INCEPTION_V3_ENV]).expanduser()]
    else:
        roots = _keras_models_dirs()
    out = []
    for root in roots:
        if root.suffix == ".h5" or root.is_file():
            out.append(root)
        else:
            out += [root / INCEPTION_V3_WEIGHTS, root / INCEPTION_V3_NOTOP_WEIGHTS]
    return out


def _weights_missing_message(tried) -> str:
    cache = _keras_models_dirs()[0]
    return (
        "No InceptionV3 ImageNet weights for the 'fid_inception_v3' feature extractor "
        "(kerasgan never downloads them). Tried: "
        f"{', '.join(str(p) for p in tried)}. Put {INCEPTION_V3_WEIGHTS} (features and the "
        f"1000-class head for the Inception Score) or {INCEPTION_V3_NOTOP_WEIGHTS} (features "
        f"only) in {cache} (the Keras cache), or pass weights_path=... or set "
        f"${INCEPTION_V3_ENV} to the file. On a machine with network access they come from "
        f'{INCEPTION_V3_URL} and {INCEPTION_V3_NOTOP_URL} (or run `python -c "import keras; '
        'keras.applications.InceptionV3()"` there and copy ~/.keras/models/).'
    )


class _InceptionV3Extractor(KerasFeatureExtractor):
    def _no_head_hint(self) -> str:
        return (
            f"It was built from {self.metadata.get('weights', 'weights without the top')}; "
            f"use {INCEPTION_V3_WEIGHTS} ({INCEPTION_V3_URL}) for probabilities."
        )


def inception_v3_extractor(
    weights_path: str | os.PathLike | None = None,
    include_top: bool | None = None,
    untrained: bool = False,
) -> KerasFeatureExtractor:
    """The ``fid_inception_v3`` extractor: ``keras.applications.InceptionV3``, local weights.

    Images are converted to RGB (grey repeated) and resized bilinearly to
    299x299; ``[-1, 1]`` is already InceptionV3's input range
    (``keras.applications.inception_v3.preprocess_input`` maps ``[0, 255]`` to
    it: ``x / 127.5 - 1``). Features are the 2048-d global average pool; with the
    with-top weights, probabilities are the 1000-class ImageNet softmax.

    This is Keras's InceptionV3, not the TF-slim Inception graph (pool_3) of the
    original FID / IS code: its FID and IS are not comparable with published
    numbers, only with others computed by this extractor.

    The weights are never downloaded; see :func:`inception_v3_weight_candidates`
    for the lookup order.

    Args:
        weights_path: an ``.h5`` weights file or a directory holding the Keras
            file names; ``None``: ``$KERASGAN_INCEPTION_WEIGHTS`` or the Keras cache.
        include_top: build the 1000-class head. ``None``: from the weights file
            (its name contains ``notop`` -> no head).
        untrained: build randomly initialized weights instead (name
            ``"fid_inception_v3_untrained"``). Only for testing the plumbing;
            its numbers mean nothing. ``include_top=None`` means a head.

    Returns:
        A :class:`KerasFeatureExtractor` named ``fid_inception_v3``
        (``feature_dim`` 2048; ``num_classes`` 1000 or ``None``).

    Raises:
        WeightsNotFoundError: (a ``FileNotFoundError``) if no weights file exists;
            the message lists the paths tried, where to put the file and its URL.

    Example:
        >>> ext = inception_v3_extractor()  # doctest: +SKIP
        >>> ext.features(np.zeros((2, 32, 32, 3), "float32")).shape  # doctest: +SKIP
        (2, 2048)
    """
    if include_top is not None and not isinstance(include_top, bool):
        raise ValueError(
            f"include_top must be a bool or None. Received: include_top={include_top!r}"
        )
    if untrained:
        file, top, name = None, (True if include_top is None else include_top), None
    else:
        tried = inception_v3_weight_candidates(weights_path)
        existing = [p for p in tried if p.is_file()]
        if not existing:
            raise WeightsNotFoundError(_weights_missing_message(tried))
        file = existing[0]
        top = ("notop" not in file.name) if include_top is None else include_top
    model = keras.applications.InceptionV3(
        include_top=top,
        weights=None if file is None else str(file),
        input_shape=(299, 299, 3),
        pooling=None if top else "avg",
        classifier_activation=None,  # logits; the softmax is taken in float64
    )
    name = "fid_inception_v3_untrained" if untrained else "fid_inception_v3"
    return _InceptionV3Extractor(
        model,
        name,
        features_layer="avg_pool" if top else None,
        logits_layer="predictions" if top else None,
        default_batch_size=32,
        metadata={"weights": "random (untrained)" if file is None else str(file)},
    )
