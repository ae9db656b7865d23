"""Image data sets as ``tf.data`` pipelines, scaled to ``[-1, 1]``.

- :func:`load_tfds`: MNIST, Fashion-MNIST, CIFAR-10 and CelebA from
  TensorFlow Datasets. Nothing is downloaded unless ``download=True``: offline,
  a missing data set fails at once with :class:`DatasetUnavailableError`
  instead of retrying the network for minutes.
- :func:`digits` / :func:`digits_dataset`: scikit-learn's bundled 8x8
  handwritten digits (1,797 images), which work offline.
- :func:`to_uint8` / :func:`from_uint8`: the one place where images move
  between ``uint8 [0, 255]`` and ``float32 [-1, 1]``:
  ``x = u / 127.5 - 1`` and ``u = round((x + 1) * 127.5)``.

Example:
    >>> from kerasgan.data import images
    >>> x, y = images.digits(size=16, split="test")
    >>> x.shape[1:], float(x.min()) >= -1.0
    ((16, 16, 1), True)
"""

from __future__ import annotations

import numbers
import os

import numpy as np
import tensorflow as tf

from kerasgan._internal.checks import check_positive_int as _check_positive_int

__all__ = [
    "CELEB_A_SIZE",
    "TFDS_NAMES",
    "DatasetUnavailableError",
    "digits",
    "digits_dataset",
    "from_uint8",
    "load",
    "load_tfds",
    "names",
    "to_uint8",
]

#: TFDS data sets understood by :func:`load_tfds`.
TFDS_NAMES = ("celeb_a", "cifar10", "fashion_mnist", "mnist")
#: CelebA images are centre-cropped to a square and resized to this side length.
CELEB_A_SIZE = 64
_OFFLINE_NAMES = ("digits",)
_DIGITS_SPLITS = ("all", "train", "test")


class DatasetUnavailableError(RuntimeError):
    """A TFDS data set is not prepared locally and could not be downloaded."""


# --- argument checks -------------------------------------------------------------


def _check_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0:
        return int(seed)
    raise ValueError(f"seed must be a non-negative int or None. Received: seed={seed!r}")


def names() -> list[str]:
    """Names accepted by :func:`load`.

    Returns:
        Sorted list: ``"digits"`` (offline) and the TFDS names.

    Example:
        >>> names()
        ['celeb_a', 'cifar10', 'digits', 'fashion_mnist', 'mnist']
    """
    return sorted([*_OFFLINE_NAMES, *TFDS_NAMES])


# --- conversions -----------------------------------------------------------------


def to_uint8(images):
    """Converts images from ``[-1, 1]`` floats to ``uint8`` in ``[0, 255]``.

    ``u = clip(round((x + 1) * 127.5), 0, 255)``

    Args:
        images: float array or tensor, values nominally in ``[-1, 1]`` (values
            outside are clipped).

    Returns:
        A ``np.uint8`` array for array input, a ``tf.uint8`` tensor for tensor input.

    Raises:
        ValueError: if ``images`` is not numeric.

    Example:
        >>> to_uint8(np.array([-1.0, 0.0, 1.0])).tolist()
        [0, 128, 255]
    """
    if tf.is_tensor(images):
        x = tf.cast(images, tf.float32)
        return tf.cast(tf.clip_by_value(tf.round((x + 1.0) * 127.5), 0.0, 255.0), tf.uint8)
    x = np.asarray(images)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"images must be numeric. Received: images with dtype {x.dtype}")
    x = x.astype(np.float64)
    return np.clip(np.round((x + 1.0) * 127.5), 0.0, 255.0).astype(np.uint8)


def from_uint8(images):
    """Converts images from ``[0, 255]`` (uint8 or float) to float32 in ``[-1, 1]``.

    ``x = u / 127.5 - 1``

    Args:
        images: array or tensor with values in ``[0, 255]``.

    Returns:
        float32 ``np.ndarray`` for array input, float32 ``tf.Tensor`` for tensor input.

    Raises:
        ValueError: if ``images`` is not numeric.

    Example:
        >>> from_uint8(np.array([0, 255], np.uint8)).tolist()
        [-1.0, 1.0]
    """
    if tf.is_tensor(images):
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    x = np.asarray(images)
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"images must be numeric. Received: images with dtype {x.dtype}")
    return (x.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


# --- TFDS ------------------------------------------------------------------------


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            "kerasgan.data.images.load_tfds needs tensorflow-datasets. Install it with "
            "`pip install tensorflow-datasets` (or `pip install kerasgan`). Offline "
            "alternatives: kerasgan.data.images.digits() and kerasgan.data.toy."
        ) from e
    return tfds


def _unavailable_message(name: str, split: str, data_dir, download: bool, error) -> str:
    where = (
        data_dir
        if data_dir is not None
        else (os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets (the TFDS default)")
    )
    return (
        f"The TFDS dataset {name!r} (split={split!r}) is not downloaded in {where} and could "
        f"not be loaded with download={download}; this machine may be offline. To prepare "
        f"it, run `tfds build {name}` (or call load_tfds({name!r}, download=True)) on a "
        "machine with network access, then point to the data with data_dir=... or the "
        "TFDS_DATA_DIR environment variable. Data sets available offline: 'digits' "
        "(kerasgan.data.images.digits / digits_dataset, scikit-learn's 8x8 handwritten "
        "digits) and the 2-D toy sets in kerasgan.data.toy "
        "(ring8, grid25, two_moons, swiss_roll, checkerboard, pinwheel, two_spirals). "
        f"Original error: {type(error).__name__}: {error}"
    )


def _celeb_a_image(example) -> tf.Tensor:
    """Centre-crops a CelebA image to a square and resizes it to ``CELEB_A_SIZE``."""
    image = example["image"]
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.resize_with_crop_or_pad(image, side, side)
    image = tf.image.resize(image, [CELEB_A_SIZE, CELEB_A_SIZE], antialias=True)
    return tf.clip_by_value(from_uint8(image), -1.0, 1.0)


def _image_label(image, label) -> tuple[tf.Tensor, tf.Tensor]:
    return from_uint8(image), tf.cast(label, tf.int32)


def load_tfds(
    name: str,
    split: str = "train",
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    drop_remainder: bool = True,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Loads a TFDS image data set as batches scaled to ``[-1, 1]``.

    ``x = u / 127.5 - 1`` for ``uint8`` pixels ``u``. MNIST / Fashion-MNIST give
    ``[B, 28, 28, 1]``, CIFAR-10 ``[B, 32, 32, 3]`` with int32 labels. CelebA
    images are centre-cropped to a square, resized to 64x64 and returned
    without labels (``[B, 64, 64, 3]``).

    Args:
        name: one of ``TFDS_NAMES``: ``"mnist"``, ``"fashion_mnist"``,
            ``"cifar10"``, ``"celeb_a"``.
        split: TFDS split string, e.g. ``"train"``, ``"test"``, ``"train[:10%]"``.
        batch_size: examples per batch, a positive int.
        shuffle: shuffle the files and the examples (seeded by ``seed``).
        seed: non-negative int for a reproducible order, or ``None``.
        data_dir: TFDS data directory; ``None`` uses ``TFDS_DATA_DIR`` or
            ``~/tensorflow_datasets``.
        download: download and prepare the data set if missing. Off by default
            so that an offline machine fails at once instead of retrying.
        drop_remainder: drop the last incomplete batch (static batch shape).
        shuffle_buffer: examples in the shuffle buffer; default 10,000 (2,048
            for CelebA, whose images are larger).

    Returns:
        A prefetched ``tf.data.Dataset`` of ``(images, labels)`` batches
        (``images`` only for CelebA).

    Raises:
        ValueError: if ``name`` is unknown (the message lists the valid names)
            or another argument is invalid.
        DatasetUnavailableError: (a ``RuntimeError``) if the data set is not
            prepared locally and cannot be downloaded, e.g. offline.
        ImportError: if tensorflow-datasets is not installed.

    Example:
        >>> ds = load_tfds("mnist", batch_size=128)  # doctest: +SKIP
        >>> images, labels = next(iter(ds))  # doctest: +SKIP
    """
    if not isinstance(name, str) or name not in TFDS_NAMES:
        raise ValueError(
            f"name must be one of the TFDS data sets {sorted(TFDS_NAMES)} (offline: "
            f"'digits', see kerasgan.data.images.digits_dataset). Received: name={name!r}"
        )
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty TFDS split string. Received: split={split!r}")
    batch_size = _check_positive_int(batch_size, "batch_size")
    seed = _check_seed(seed)
    if shuffle_buffer is None:
        shuffle_buffer = 2048 if name == "celeb_a" else 10_000
    shuffle_buffer = _check_positive_int(shuffle_buffer, "shuffle_buffer")
    if data_dir is not None:
        data_dir = os.fspath(data_dir)

    tfds = _import_tfds()
    supervised = name != "celeb_a"
    try:
        ds = tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            download=bool(download),
            as_supervised=supervised,
            shuffle_files=bool(shuffle),
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # tfds raises AssertionError, OSError, network errors...
        raise DatasetUnavailableError(
            _unavailable_message(name, split, data_dir, bool(download), e)
        ) from e

    autotune = tf.data.AUTOTUNE
    if supervised:
        ds = ds.map(_image_label, num_parallel_calls=autotune)
    else:
        ds = ds.map(_celeb_a_image, num_parallel_calls=autotune)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=bool(drop_remainder)).prefetch(autotune)


# --- scikit-learn digits (offline) -----------------------------------------------


def digits(
    size: int = 16,
    split: str = "all",
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits, scaled to ``[-1, 1]`` and resized.

    Pixels ``v in {0..16}`` become ``x = v / 8 - 1``; images are resized to
    ``size x size`` (bilinear) and clipped to ``[-1, 1]``. The train / test
    split is a seeded random permutation: the first
    ``round(test_fraction * 1797)`` indices are the test set; both parts keep
    the original order.

    Args:
        size: output side length, an int >= 8.
        split: ``"all"`` (1,797 images), ``"train"`` or ``"test"``.
        test_fraction: fraction of images in the test split, in ``(0, 1)``.
        seed: non-negative int seeding the split.

    Returns:
        ``(images, labels)``: float32 ``[N, size, size, 1]`` in ``[-1, 1]`` and
        int32 ``[N]`` in ``0..9``.

    Raises:
        ValueError: if an argument is invalid.
        ImportError: if scikit-learn is not installed.

    Example:
        >>> x, y = digits(size=8)
        >>> x.shape, y.dtype
        ((1797, 8, 8, 1), dtype('int32'))

    Reference:
        Optical Recognition of Handwritten Digits (UCI), Alpaydin and Kaynak, 1998.
    """
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size must be an int >= 8. Received: size={size!r}")
    if split not in _DIGITS_SPLITS:
        raise ValueError(f"split must be one of {list(_DIGITS_SPLITS)}. Received: split={split!r}")
    if (
        not isinstance(test_fraction, numbers.Real)
        or isinstance(test_fraction, bool)
        or not 0.0 < float(test_fraction) < 1.0
    ):
        raise ValueError(
            f"test_fraction must be a number in (0, 1). Received: test_fraction={test_fraction!r}"
        )
    seed = _check_seed(seed)
    if seed is None:
        raise ValueError(f"seed must be a non-negative int. Received: seed={seed!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            "kerasgan.data.images.digits needs scikit-learn, which ships the 8x8 digits. "
            "Install it with `pip install kerasgan[data]` or `pip install scikit-learn`."
        ) from e

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 8.0 - 1.0
    labels = bunch.target.astype(np.int32)
    num = images.shape[0]
    if split != "all":
        perm = np.random.default_rng(seed).permutation(num)
        num_test = int(round(float(test_fraction) * num))
        idx = np.sort(perm[:num_test] if split == "test" else perm[num_test:])
        images, labels = images[idx], labels[idx]

    images = images[..., None]
    if int(size) != 8:
        images = tf.image.resize(images, [int(size), int(size)], method="bilinear").numpy()
    images = np.clip(images, -1.0, 1.0).astype(np.float32)
    return images, labels


def digits_dataset(
    batch_size: int = 64,
    size: int = 16,
    split: str = "train",
    shuffle: bool = True,
    seed: int = 0,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """The offline :func:`digits` as a ``tf.data.Dataset`` of ``(images, labels)`` batches.

    Args:
        batch_size: examples per batch, a positive int.
        size: image side length, an int >= 8.
        split: ``"all"``, ``"train"`` or ``"test"`` (see :func:`digits`).
        shuffle: reshuffle the examples every epoch (seeded by ``seed``).
        seed: non-negative int seeding the split and the shuffle.
        drop_remainder: drop the last incomplete batch.

    Returns:
        A prefetched dataset of float32 ``[B, size, size, 1]`` images in
        ``[-1, 1]`` and int32 ``[B]`` labels.

    Raises:
        ValueError: if an argument is invalid, or ``drop_remainder`` is true and
            ``batch_size`` exceeds the split size (the dataset would be empty).
        ImportError: if scikit-learn is not installed.

    Example:
        >>> x, y = next(iter(digits_dataset(batch_size=32)))
        >>> tuple(x.shape)
        (32, 16, 16, 1)
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    images, labels = digits(size=size, split=split, seed=seed)
    if drop_remainder and batch_size > images.shape[0]:
        raise ValueError(
            f"batch_size must be <= the {images.shape[0]} examples of split={split!r} when "
            f"drop_remainder=True. Received: batch_size={batch_size!r}"
        )
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(images.shape[0], seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=bool(drop_remainder))
    return ds.prefetch(tf.data.AUTOTUNE)


def load(name: str, **kwargs) -> tf.data.Dataset:
    """Loads an image data set by name.

    ``"digits"`` goes to :func:`digits_dataset`, the TFDS names to :func:`load_tfds`.

    Args:
        name: one of :func:`names`.
        **kwargs: forwarded to :func:`digits_dataset` or :func:`load_tfds`.

    Returns:
        A batched, prefetched ``tf.data.Dataset``.

    Raises:
        ValueError: if ``name`` is unknown (the message lists the valid names).
        DatasetUnavailableError: if a TFDS data set is not available locally.

    Example:
        >>> ds = load("digits", batch_size=16)
        >>> tuple(next(iter(ds))[0].shape)
        (16, 16, 16, 1)
    """
    if name == "digits":
        return digits_dataset(**kwargs)
    if isinstance(name, str) and name in TFDS_NAMES:
        return load_tfds(name, **kwargs)
    raise ValueError(f"Unknown image data set; valid names are {names()}. Received: name={name!r}")
