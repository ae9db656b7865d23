"""The feature-extractor interface and its input handling; extractors built from a Keras model.

An extractor maps images to feature vectors (``features``) and, when it has a
classifier head, to class probabilities (``probabilities``, for the Inception
Score). Its ``name`` is part of every metric computed from it: an FID from one
network is not comparable to an FID from another.

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
    >>> inp = keras.Input((8, 8, 1))
    >>> h = keras.layers.Dense(4, name="feat")(keras.layers.Flatten()(inp))
    >>> model = keras.Model(inp, keras.layers.Dense(3, name="logits")(h))
    >>> ext = KerasFeatureExtractor(model, "fid_toy", "feat", "logits")
    >>> ext.features(np.zeros((5, 8, 8, 1))).shape, ext.probabilities(np.zeros((5, 8, 8, 1))).shape
    ((5, 4), (5, 3))
"""

from __future__ import annotations

import abc
import hashlib
import numbers
from collections.abc import Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

__all__ = ["FeatureExtractor", "KerasFeatureExtractor", "WeightsNotFoundError"]

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

    Any trained classifier plugs in this way (see
    :func:`~kerasgan.metrics.extractors.registry.register_extractor`).
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
