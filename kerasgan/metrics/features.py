"""Feature extractors for sample-based image metrics (FID, KID, IS, PRDC), by name.

An extractor maps images to feature vectors (``features``) and, when it has a
classifier head, to class probabilities (``probabilities``, for the Inception
Score). Its ``name`` is part of every metric computed from it: an FID from one
network is not comparable to an FID from another.

- ``"fid_digits"``: a small CNN trained on the offline scikit-learn digits at
  16x16 (``recipes/train_digits_classifier.py``, shipped in
  ``saved_models/fid_digits/``). Features: its 64-unit penultimate layer;
  probabilities: its softmax over the 10 digits.
- ``"fid_mnist"``: the same architecture trained on TFDS MNIST at 28x28
  (``saved_models/fid_mnist/``; train it with
  ``python recipes/train_digits_classifier.py --dataset mnist``).
- ``"fid_inception_v3"``: ``keras.applications.InceptionV3`` with ImageNet
  weights read from a local file (never downloaded). Features: the 2048-d
  global average pool; probabilities: the 1000-class softmax when the
  with-top weights are used. This is Keras's InceptionV3, not the TF-slim graph
  of the original FID code, so its FIDs are *not comparable with published
  FIDs*.

Input convention (all extractors): channels-last images ``[N, H, W, C]`` in
``[-1, 1]`` (a generator's tanh output), any ``H, W``, ``C`` = 1 or 3. Each
extractor converts to its own input: grey -> RGB by repeating the channel,
RGB -> grey by ``tf.image.rgb_to_grayscale`` (ITU-R 601 luma weights), then a
bilinear resize (antialiased when shrinking) to the network's side length,
then a clip to ``[-1, 1]``. Values within ``[-2, 2]`` are accepted and clipped
(as saving to PNG would); values beyond that are rejected as a likely
``[0, 255]`` scale mistake (convert with
:func:`kerasgan.data.images.from_uint8`). Images run in batches of
``batch_size``; ``images`` may be one array / tensor or an iterable of batches
(e.g. a ``tf.data.Dataset`` yielding images or ``(images, labels)``), so 50,000
images never need one forward pass.

Example:
    >>> ext = get_extractor("fid_digits")
    >>> from kerasgan.data import images
    >>> x, _ = images.digits(size=16, split="test")
    >>> ext.features(x).shape, ext.probabilities(x).shape
    ((359, 64), (359, 10))
"""

from __future__ import annotations

import abc
import hashlib
import json
import numbers
import os
import pathlib
from collections.abc import Callable, Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

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

#: File name of a digits / MNIST classifier inside its ``saved_models/<name>/`` directory.
DIGITS_CLASSIFIER_FILE = "classifier.keras"
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

# Pixel values beyond this magnitude are rejected rather than clipped: they
# point at images in [0, 255] (or another wrong scale), not at a generator
# overshooting [-1, 1] a little.
_MAX_ABS = 2.0


class WeightsNotFoundError(FileNotFoundError):
    """The weights / model file an extractor needs is not on this machine.

    The message lists the paths tried and how to provide the file; nothing is
    ever downloaded.
    """


def _check_batch_size(batch_size, default: int) -> int:
    if batch_size is None:
        return default
    if (
        isinstance(batch_size, numbers.Integral)
        and not isinstance(batch_size, bool)
        and int(batch_size) > 0
    ):
        return int(batch_size)
    raise ValueError(
        f"batch_size must be a positive int or None. Received: batch_size={batch_size!r}"
    )


def _softmax64(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --- the extractor interface ---------------------------------------------------------------------


class FeatureExtractor(abc.ABC):
    """Base class: images in ``[-1, 1]`` -> float64 features and class probabilities.

    Subclasses set ``name``, ``feature_dim``, ``num_classes`` (``None`` without
    a classifier head), ``image_size`` (``(height, width)`` the network takes),
    ``channels`` (1 or 3) and ``default_batch_size``, and implement
    :meth:`_forward`. The base class validates, converts, resizes and batches
    (see the module docstring for the input convention).

    Attributes:
        name: the extractor's registry name, e.g. ``"fid_digits"``; metric names
            are ``<kind>_<suffix>`` for an extractor ``fid_<suffix>``.
        feature_dim: length of a feature vector.
        num_classes: number of classes of the probabilities, or ``None``.
        image_size: ``(height, width)`` the images are resized to.
        channels: channels the network takes (1 or 3).
        default_batch_size: images per forward pass when ``batch_size=None``.

    Example:
        >>> class Mean(FeatureExtractor):
        ...     name, feature_dim, num_classes = "fid_mean", 1, None
        ...     image_size, channels, default_batch_size = (8, 8), 1, 64
        ...     def _forward(self, x):
        ...         return tf.reduce_mean(x, axis=[1, 2]), None
        >>> Mean().features(np.zeros((3, 16, 16, 3), "float32")).shape
        (3, 1)
    """

    name: str = ""
    feature_dim: int = 0
    num_classes: int | None = None
    image_size: tuple[int, int] = (0, 0)
    channels: int = 1
    default_batch_size: int = 64

    @abc.abstractmethod
    def _forward(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``[B, h, w, c]`` float32 network input -> ``(features [B, d], logits [B, K] or None)``."""

    # -- public API ------------------------------------------------------------------------------

    def features(self, images, batch_size: int | None = None) -> np.ndarray:
        """Feature vectors of images.

        Args:
            images: ``[N, H, W, C]`` array or tensor in ``[-1, 1]`` (``C`` = 1 or
                3, any ``H, W``), or an iterable of such batches (a
                ``tf.data.Dataset`` may yield ``(images, labels)`` tuples; the
                first item is used).
            batch_size: images per forward pass (``None``: ``default_batch_size``).
                The result does not depend on it beyond float32 rounding.

        Returns:
            float64 ``np.ndarray`` ``[N, feature_dim]``.

        Raises:
            ValueError: if ``images`` is not a rank-4 numeric batch with 1 or 3
                channels, holds NaN / Inf or values beyond ``[-2, 2]``, or is
                empty; or if ``batch_size`` is not a positive int.

        Example:
            >>> ext = get_extractor("fid_digits")
            >>> ext.features(np.zeros((2, 16, 16, 1), "float32")).shape
            (2, 64)
        """
        return self._run(images, batch_size, want_probs=False)[0]

    def probabilities(self, images, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (softmax of the classifier head, in float64) of images.

        Args:
            images: as for :meth:`features`.
            batch_size: as for :meth:`features`.

        Returns:
            float64 ``np.ndarray`` ``[N, num_classes]``; rows sum to 1.

        Raises:
            ValueError: if the extractor has no classifier head
                (``num_classes is None``), or bad input as for :meth:`features`.

        Example:
            >>> ext = get_extractor("fid_digits")
            >>> ext.probabilities(np.zeros((2, 16, 16, 1), "float32")).shape
            (2, 10)
        """
        self._check_has_head()
        return self._run(images, batch_size, want_probs=True)[1]

    def features_and_probabilities(
        self, images, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features and class probabilities from one forward pass.

        Args:
            images: as for :meth:`features`.
            batch_size: as for :meth:`features`.

        Returns:
            ``(features [N, feature_dim], probabilities [N, num_classes])``, float64.

        Raises:
            ValueError: as for :meth:`probabilities`.

        Example:
            >>> ext = get_extractor("fid_digits")
            >>> f, p = ext.features_and_probabilities(np.zeros((2, 8, 8, 1)))
            >>> f.shape, p.shape
            ((2, 64), (2, 10))
        """
        self._check_has_head()
        return self._run(images, batch_size, want_probs=True)

    def preprocess(self, images) -> tf.Tensor:
        """Validates one batch and converts it to the network's input.

        Channels are converted (grey -> RGB by repetition, RGB -> grey by luma
        weights), the images resized bilinearly (antialiased when shrinking) to
        ``image_size`` when their size differs, and clipped to ``[-1, 1]``.

        Args:
            images: ``[N, H, W, C]`` array or tensor in ``[-1, 1]``, ``C`` in {1, 3}.

        Returns:
            float32 ``tf.Tensor`` ``[N, image_size[0], image_size[1], channels]``.

        Raises:
            ValueError: bad rank, channels, dtype, non-finite values or values
                beyond ``[-2, 2]``.

        Example:
            >>> ext = get_extractor("fid_digits")
            >>> ext.preprocess(np.zeros((2, 8, 8, 3))).shape
            TensorShape([2, 16, 16, 1])
        """
        x = _as_image_batch(images, "images")
        _check_values(x, "images")
        x = tf.convert_to_tensor(x, tf.float32)
        c = int(x.shape[-1])
        if c != self.channels:
            x = tf.image.grayscale_to_rgb(x) if c == 1 else tf.image.rgb_to_grayscale(x)
        if tuple(int(s) for s in x.shape[1:3]) != tuple(self.image_size):
            x = tf.image.resize(x, self.image_size, method="bilinear", antialias=True)
        return tf.clip_by_value(x, -1.0, 1.0)

    @property
    def fingerprint(self) -> str | None:
        """A short digest of the network's weights, or ``None`` for an extractor without any.

        Reference statistics are cached under the extractor's name *and* this
        digest, so retraining the network behind a name (e.g. rerunning
        ``recipes/train_digits_classifier.py``) never reuses statistics computed
        with the old weights. Subclasses with weights override it.
        """
        return None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} feature_dim={self.feature_dim} "
            f"num_classes={self.num_classes} image_size={tuple(self.image_size)} "
            f"channels={self.channels}>"
        )

    # -- internals -------------------------------------------------------------------------------

    def _check_has_head(self):
        if self.num_classes is None:
            raise ValueError(
                f"The feature extractor {self.name!r} has no classifier head, so it gives no "
                f"class probabilities (needed for the Inception Score). {self._no_head_hint()}"
            )

    def _no_head_hint(self) -> str:
        return "Use an extractor with a classifier head."

    def _run(self, images, batch_size, want_probs: bool):
        batch_size = _check_batch_size(batch_size, self.default_batch_size)
        feats, probs = [], []
        for chunk in _chunks(images, batch_size):
            f, logits = self._forward(self.preprocess(chunk))
            feats.append(np.asarray(f, dtype=np.float64))
            if want_probs:
                probs.append(_softmax64(np.asarray(logits)))
        if not feats:
            raise ValueError("images holds no images. Received: an empty array or iterable")
        f = np.concatenate(feats, axis=0)
        return f, (np.concatenate(probs, axis=0) if want_probs else None)


def _as_image_batch(images, what: str) -> np.ndarray:
    x = images.numpy() if tf.is_tensor(images) else np.asarray(images)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(
            f"{what} must be a numeric (float) array of images. Received: {what} with "
            f"dtype={x.dtype}"
        )
    if x.ndim != 4:
        raise ValueError(
            f"{what} must be a rank-4 channels-last batch [N, H, W, C] (a tf.data.Dataset "
            f"must be batched, e.g. ds.batch(64)). Received: {what}.shape={x.shape}"
        )
    if x.shape[-1] not in (1, 3):
        raise ValueError(
            f"{what} must have 1 (grey) or 3 (RGB) channels in the last axis. Received: "
            f"{what}.shape={x.shape}"
        )
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"{what} must have a non-empty height and width. Received: {x.shape}")
    return x


def _check_values(x: np.ndarray, what: str):
    if x.size == 0:
        return
    finite = np.isfinite(x)
    if not finite.all():
        raise ValueError(
            f"{what} must be finite. Received: {what} with {int(x.size - finite.sum())} NaN "
            "or Inf values"
        )
    lo, hi = float(x.min()), float(x.max())
    if lo < -_MAX_ABS or hi > _MAX_ABS:
        raise ValueError(
            f"{what} must be scaled to [-1, 1] (values within [-{_MAX_ABS:g}, {_MAX_ABS:g}] are "
            "clipped); images in [0, 255] convert with kerasgan.data.images.from_uint8. "
            f"Received: {what} with min={lo:g}, max={hi:g}"
        )


def _chunks(images, batch_size: int) -> Iterator[np.ndarray]:
    """Splits one array, or each batch of an iterable, into pieces of ``batch_size``."""
    if isinstance(images, np.ndarray) or tf.is_tensor(images):
        x = _as_image_batch(images, "images")
        for i in range(0, x.shape[0], batch_size):
            yield x[i : i + batch_size]
        return
    if isinstance(images, (str, bytes, dict)) or not isinstance(images, Iterable):
        raise ValueError(
            "images must be an array / tensor [N, H, W, C] or an iterable of such batches "
            f"(e.g. a batched tf.data.Dataset). Received: images of type {type(images).__name__}"
        )
    for element in images:
        if isinstance(element, tuple):  # (images, labels) from a supervised dataset
            if not element:
                raise ValueError("images yielded an empty tuple. Received: ()")
            element = element[0]
        x = _as_image_batch(element, "a batch of images")
        for i in range(0, x.shape[0], batch_size):
            yield x[i : i + batch_size]


# --- extractors built from a Keras model ---------------------------------------------------------


class KerasFeatureExtractor(FeatureExtractor):
    """A feature extractor from a Keras model: one layer's output as features, one as logits.

    Any trained classifier plugs in this way (see :func:`register_extractor`).
    The image size and channels come from ``model.input_shape``.

    Args:
        model: a ``keras.Model`` with one image input ``[None, h, w, c]``, c in {1, 3}.
        name: the extractor's name, e.g. ``"fid_digits"``.
        features_layer: name of the layer whose output ``[B, d]`` are the features;
            ``None``: the model's output.
        logits_layer: name of the layer giving pre-softmax class scores
            ``[B, K]``; ``None``: no classifier head (no probabilities).
        default_batch_size: images per forward pass when ``batch_size=None``.
        metadata: free-form dict kept as ``self.metadata`` (e.g. how the model was made).

    Raises:
        ValueError: if the model's input is not an image batch, a named layer does
            not exist, or an output is not rank 2.

    Example:
        >>> inp = keras.Input((8, 8, 1))
        >>> h = keras.layers.Dense(4, name="feat")(keras.layers.Flatten()(inp))
        >>> model = keras.Model(inp, keras.layers.Dense(3, name="logits")(h))
        >>> ext = KerasFeatureExtractor(model, "fid_toy", "feat", "logits")
        >>> ext.features(np.zeros((5, 8, 8, 1))).shape, ext.num_classes
        ((5, 4), 3)
    """

    def __init__(
        self,
        model: keras.Model,
        name: str,
        features_layer: str | None = None,
        logits_layer: str | None = None,
        default_batch_size: int = 64,
        metadata: dict | None = None,
    ):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string. Received: name={name!r}")
        shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
        if shape is None or len(shape) != 4 or None in shape[1:] or shape[-1] not in (1, 3):
            raise ValueError(
                "model must take one image batch [None, h, w, c] with fixed h, w and c in "
                f"{{1, 3}}. Received: model.input_shape={model.input_shape}"
            )
        feat_out = model.outputs[0] if features_layer is None else _layer(model, features_layer)
        outputs = [feat_out]
        if logits_layer is not None:
            outputs.append(_layer(model, logits_layer))
        for out, what in zip(outputs, ("features_layer", "logits_layer")):
            if len(out.shape) != 2 or out.shape[1] is None:
                raise ValueError(
                    f"{what} must output [batch, d]. Received: output shape {tuple(out.shape)} "
                    f"for {what}={features_layer if what == 'features_layer' else logits_layer!r}"
                )
        self.model = model
        self.name = name
        self.image_size = (int(shape[1]), int(shape[2]))
        self.channels = int(shape[3])
        self.feature_dim = int(outputs[0].shape[1])
        self.num_classes = int(outputs[1].shape[1]) if logits_layer is not None else None
        self.default_batch_size = _check_batch_size(default_batch_size, 64)
        self.metadata = dict(metadata or {})
        self._submodel = keras.Model(model.inputs, outputs, name=f"{name}_extractor")
        self._fingerprint = None
        spec = tf.TensorSpec([None, *self.image_size, self.channels], tf.float32)
        self._call = tf.function(self._call_submodel, input_signature=[spec])

    @property
    def fingerprint(self) -> str:
        """SHA-256 (first 12 hex digits) of the extractor network's weights: names, shapes, values.

        Computed once, on first use (about 0.2 s for InceptionV3's 22M weights).
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for w in self._submodel.weights:
                value = np.ascontiguousarray(keras.ops.convert_to_numpy(w))
                digest.update(f"{w.path}:{value.dtype}:{value.shape};".encode())
                digest.update(value.tobytes())
            self._fingerprint = digest.hexdigest()[:12]
        return self._fingerprint

    def _call_submodel(self, x):
        out = self._submodel(x, training=False)
        if not isinstance(out, (list, tuple)):
            out = [out]
        return tuple(out)

    def _forward(self, x):
        out = self._call(x)
        return out[0], (out[1] if len(out) > 1 else None)


def _layer(model, name):
    try:
        return model.get_layer(name).output
    except ValueError as e:
        raise ValueError(
            f"The model has no layer named {name!r}; its layers are "
            f"{[layer.name for layer in model.layers]}. Received: layer name {name!r}"
        ) from e


# --- the digits / MNIST classifier ---------------------------------------------------------------


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
    if not isinstance(feature_dim, numbers.Integral) or isinstance(feature_dim, bool):
        raise ValueError(
            f"feature_dim must be a positive int. Received: feature_dim={feature_dim!r}"
        )
    if feature_dim < 1:
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
    repo = pathlib.Path(__file__).resolve().parent.parent.parent / "saved_models"
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


# --- InceptionV3 ---------------------------------------------------------------------------------


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


# --- registry ------------------------------------------------------------------------------------

_REGISTRY: dict[str, Callable[..., FeatureExtractor]] = {
    "fid_digits": lambda **kw: digits_classifier_extractor(dataset="digits", **kw),
    "fid_mnist": lambda **kw: digits_classifier_extractor(dataset="mnist", **kw),
    "fid_inception_v3": inception_v3_extractor,
}


def extractor_names() -> list[str]:
    """Names accepted by :func:`get_extractor`, sorted.

    Returns:
        e.g. ``['fid_digits', 'fid_inception_v3', 'fid_mnist']``.

    Example:
        >>> "fid_digits" in extractor_names()
        True
    """
    return sorted(_REGISTRY)


def register_extractor(
    name: str, factory: Callable[..., FeatureExtractor], overwrite: bool = False
) -> None:
    """Adds a feature extractor to the registry.

    Metrics find an extractor named ``fid_<suffix>`` under ``<kind>_<suffix>``
    (``fid_x``, ``kid_x``, ``is_x``, ``prdc_x``), so name it ``fid_<suffix>``.

    Args:
        name: a non-empty name without whitespace.
        factory: callable ``factory(**kwargs) -> FeatureExtractor`` (called by
            :func:`get_extractor`).
        overwrite: replace an existing entry of that name.

    Raises:
        ValueError: bad name or factory, or the name is taken and not ``overwrite``.

    Example:
        >>> register_extractor("fid_toy", lambda: None, overwrite=True)
        >>> "fid_toy" in extractor_names()
        True
    """
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        raise ValueError(f"name must be a non-empty string without spaces. Received: name={name!r}")
    if not callable(factory):
        raise ValueError(f"factory must be callable. Received: factory={factory!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"A feature extractor named {name!r} is already registered; pass overwrite=True "
            f"to replace it. Received: name={name!r}"
        )
    _REGISTRY[name] = factory


def get_extractor(name: str, **kwargs) -> FeatureExtractor:
    """Builds a feature extractor by name.

    Args:
        name: one of :func:`extractor_names` (``"fid_digits"``, ``"fid_mnist"``,
            ``"fid_inception_v3"``, or a registered one).
        **kwargs: forwarded to the factory (``path=`` for the classifiers,
            ``weights_path=`` / ``include_top=`` for InceptionV3).

    Returns:
        A :class:`FeatureExtractor`.

    Raises:
        ValueError: if ``name`` is unknown (the message lists the known names).
        WeightsNotFoundError: if the extractor's model file is missing.

    Example:
        >>> get_extractor("fid_digits").feature_dim
        64
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"Unknown feature extractor; known names are {extractor_names()}. Received: "
            f"name={name!r}"
        )
    return _REGISTRY[name](**kwargs)
