"""The ``fid_digits`` / ``fid_mnist`` extractors: a small CNN classifier shipped in ``saved_models/``.

- ``"fid_digits"``: a small CNN trained on the offline scikit-learn digits at
  16x16 (``recipes/train_digits_classifier.py``, shipped in
  ``saved_models/fid_digits/``). Features: its 64-unit penultimate layer;
  probabilities: its softmax over the 10 digits.
- ``"fid_mnist"``: the same architecture trained on TFDS MNIST at 28x28
  (``saved_models/fid_mnist/``; train it with
  ``python recipes/train_digits_classifier.py --dataset mnist``).

Inputs follow the convention of :mod:`kerasgan.metrics.extractors.base`.

Example:
    >>> ext = digits_classifier_extractor()
    >>> from kerasgan.data import images
    >>> x, _ = images.digits(size=16, split="test")
    >>> ext.features(x).shape, ext.probabilities(x).shape
    ((359, 64), (359, 10))
"""

from __future__ import annotations

import json
import numbers
import os
import pathlib

import keras

from kerasgan.metrics.extractors.base import KerasFeatureExtractor, WeightsNotFoundError

__all__ = [
    "DIGITS_CLASSIFIER_FILE",
    "build_digits_classifier",
    "digits_classifier_extractor",
    "saved_models_dirs",
]

#: File name of a digits / MNIST classifier inside its ``saved_models/<name>/`` directory.
DIGITS_CLASSIFIER_FILE = "classifier.keras"


def build_digits_classifier(
    image_size: int = 16, num_classes: int = 10, feature_dim: int = 64, dropout: float = 0.3
) -> keras.Model:
    """The small CNN behind ``fid_digits`` / ``fid_mnist`` (untrained).

    ``[2 x conv3x3(32), maxpool, 2 x conv3x3(64), maxpool, flatten, dropout,
    dense(feature_dim, relu) = "features", dropout, dense(num_classes) = "logits",
    softmax = "probabilities"]``. Only built-in layers, so the saved ``.keras``
    file loads with ``safe_mode=True``.

    Args:
        image_size: side of the square grey input images (16 for digits, 28 for MNIST).
        num_classes: number of classes.
        feature_dim: width of the penultimate "features" layer.
        dropout: dropout rate before and after the features layer (training only).

    Returns:
        An uncompiled ``keras.Model`` ``[B, image_size, image_size, 1] -> [B, num_classes]``
        probabilities.

    Raises:
        ValueError: if an argument is out of range.

    Example:
        >>> build_digits_classifier().output_shape
        (None, 10)
    """
    for value, arg, low in ((image_size, "image_size", 4), (num_classes, "num_classes", 2)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{arg} must be an int >= {low}. Received: {arg}={value!r}")
    if (
        not isinstance(feature_dim, numbers.Integral)
        or isinstance(feature_dim, bool)
        or feature_dim < 1
    ):
        raise ValueError(
            f"feature_dim must be a positive int. Received: feature_dim={feature_dim!r}"
        )
    if not isinstance(dropout, numbers.Real) or not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1). Received: dropout={dropout!r}")
    layers = keras.layers
    inputs = keras.Input((int(image_size), int(image_size), 1), name="images")
    x = inputs
    for i, filters in enumerate((32, 32, 64, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        if i % 2 == 1:
            x = layers.MaxPooling2D(2, name=f"pool{i // 2 + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(float(dropout), name="dropout1")(x)
    x = layers.Dense(int(feature_dim), activation="relu", name="features")(x)
    x = layers.Dropout(float(dropout), name="dropout2")(x)
    x = layers.Dense(int(num_classes), name="logits")(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digits_classifier")


def saved_models_dirs() -> list[pathlib.Path]:
    """Where shipped models are looked up: ``./saved_models``, then the source checkout's.

    Returns:
        Existing or not, ``[cwd/saved_models, <repo>/saved_models]`` without duplicates.

    Example:
        >>> saved_models_dirs()[0].name
        'saved_models'
    """
    dirs = [pathlib.Path.cwd() / "saved_models"]
    repo = pathlib.Path(__file__).resolve().parents[3] / "saved_models"
    if repo.resolve() != dirs[0].resolve():
        dirs.append(repo)
    return dirs


_CLASSIFIERS = {
    # name: (dataset, env var, recipe command)
    "fid_digits": (
        "digits",
        "KERASGAN_DIGITS_CLASSIFIER",
        "python recipes/train_digits_classifier.py",
    ),
    "fid_mnist": (
        "mnist",
        "KERASGAN_MNIST_CLASSIFIER",
        "python recipes/train_digits_classifier.py --dataset mnist (needs TFDS mnist prepared "
        "locally: `tfds build mnist` on a machine with network access)",
    ),
}


def _model_file(path: pathlib.Path) -> pathlib.Path:
    # A directory (existing or not) stands for the classifier file inside it.
    return path if path.suffix == ".keras" else path / DIGITS_CLASSIFIER_FILE


def digits_classifier_extractor(
    path: str | os.PathLike | None = None, dataset: str = "digits"
) -> KerasFeatureExtractor:
    """The ``fid_digits`` (or ``fid_mnist``) extractor: the shipped small CNN classifier.

    Features are its 64-d penultimate ("features", post-ReLU) layer, probabilities
    its softmax over 10 digits. Inputs of any size are resized to the model's
    (16x16 for digits, 28x28 for MNIST); RGB is converted to grey. The file is
    looked up in order: ``path``; ``$KERASGAN_DIGITS_CLASSIFIER``
    (``$KERASGAN_MNIST_CLASSIFIER``); ``./saved_models/fid_<dataset>/``; the source
    checkout's ``saved_models/fid_<dataset>/`` (a directory means its
    ``classifier.keras``). The model loads with ``safe_mode=True``; a
    ``metadata.json`` next to it (how it was trained, its test accuracy) becomes
    ``extractor.metadata``.

    Args:
        path: a ``classifier.keras`` file or the directory holding it; if given,
            nothing else is tried.
        dataset: ``"digits"`` (``fid_digits``) or ``"mnist"`` (``fid_mnist``).

    Returns:
        A :class:`KerasFeatureExtractor` named ``fid_<dataset>``.

    Raises:
        ValueError: if ``dataset`` is unknown.
        WeightsNotFoundError: (a ``FileNotFoundError``) if no model file exists;
            the message lists the paths tried and the command that trains it.

    Example:
        >>> ext = digits_classifier_extractor()
        >>> ext.name, ext.feature_dim, ext.num_classes
        ('fid_digits', 64, 10)
    """
    name = f"fid_{dataset}" if isinstance(dataset, str) else None
    if name not in _CLASSIFIERS:
        raise ValueError(f"dataset must be 'digits' or 'mnist'. Received: dataset={dataset!r}")
    _, env, command = _CLASSIFIERS[name]
    tried = []
    if path is not None:
        candidates = [("path argument", pathlib.Path(os.fspath(path)))]
    elif os.environ.get(env):
        candidates = [(f"${env}", pathlib.Path(os.environ[env]))]
    else:
        candidates = [("saved_models", d / name) for d in saved_models_dirs()]
    for source, candidate in candidates:
        file = _model_file(candidate)
        if file.is_file():
            break
        tried.append(f"{file} ({source})")
    else:
        raise WeightsNotFoundError(
            f"No trained classifier for the {name!r} feature extractor. Tried: "
            f"{'; '.join(tried)}. Train it with `{command}` from the repository root (it writes "
            f"saved_models/{name}/{DIGITS_CLASSIFIER_FILE}), or pass path=... / set ${env}."
        )
    model = keras.saving.load_model(file, safe_mode=True, compile=False)
    meta_file = file.parent / "metadata.json"
    metadata = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    metadata.setdefault("path", str(file))
    return KerasFeatureExtractor(
        model,
        name,
        features_layer="features",
        logits_layer="logits",
        default_batch_size=256,
        metadata=metadata,
    )
