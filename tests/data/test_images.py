"""Tests for kerasgan.data.images (offline only)."""

import importlib.util
import sys
import time

import numpy as np
import pytest

from kerasgan.data import images


@pytest.fixture(scope="module")
def all_digits():
    return images.digits(size=16, split="all")


def test_import_does_not_need_tfds(monkeypatch):
    import kerasgan.data

    assert kerasgan.data.images is images
    # A fresh copy of the module, imported while tensorflow_datasets cannot be imported.
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    spec = importlib.util.spec_from_file_location("_images_copy", images.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ImportError, match="pip install tensorflow-datasets"):
        module.load_tfds("mnist")


def test_digits_shapes_range_labels(all_digits):
    x, y = all_digits
    assert x.shape == (1797, 16, 16, 1) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.min() == -1.0 and x.max() > 0.9
    assert set(np.unique(y).tolist()) == set(range(10))


def test_digits_size_8_is_exact_scaling():
    from sklearn.datasets import load_digits

    x, _ = images.digits(size=8)
    np.testing.assert_allclose(x[..., 0], load_digits().images / 8.0 - 1.0, atol=1e-6)


def test_digits_split_disjoint_and_covering(all_digits):
    x_all, y_all = all_digits
    x_tr, y_tr = images.digits(split="train", seed=0)
    x_te, y_te = images.digits(split="test", seed=0)
    assert len(x_te) == round(0.2 * 1797) and len(x_tr) + len(x_te) == 1797

    def keys(x, y):
        return sorted(r.tobytes() + bytes([int(c)]) for r, c in zip(x.reshape(len(x), -1), y))

    # As multisets of (image, label), train + test == all: a partition.
    assert keys(np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])) == keys(x_all, y_all)
    perm = np.random.default_rng(0).permutation(1797)
    test_idx, train_idx = np.sort(perm[:359]), np.sort(perm[359:])
    assert set(test_idx.tolist()).isdisjoint(train_idx.tolist())
    assert sorted([*test_idx, *train_idx]) == list(range(1797))
    np.testing.assert_array_equal(x_te, x_all[test_idx])
    np.testing.assert_array_equal(y_tr, y_all[train_idx])
    # Deterministic given the seed, different for another seed.
    np.testing.assert_array_equal(images.digits(split="test", seed=0)[1], y_te)
    assert not np.array_equal(images.digits(split="test", seed=1)[1], y_te)


def test_digits_dataset_batches():
    ds = images.digits_dataset(batch_size=100, size=16, split="train", seed=0)
    batches = list(ds)
    assert len(batches) == (1797 - 359) // 100
    x, y = batches[0]
    assert tuple(x.shape) == (100, 16, 16, 1) and x.dtype.name == "float32"
    assert tuple(y.shape) == (100,) and y.dtype.name == "int32"
    first = next(iter(images.digits_dataset(batch_size=100, seed=0)))[1].numpy()
    np.testing.assert_array_equal(first, y.numpy())
    kept = list(images.digits_dataset(batch_size=1000, split="test", drop_remainder=False))
    assert sum(int(b[0].shape[0]) for b in kept) == 359
    assert tuple(next(iter(images.load("digits", batch_size=8)))[0].shape) == (8, 16, 16, 1)


def test_unknown_names_raise_value_error():
    with pytest.raises(ValueError, match=r"mnist.*Received: name='imagenet'"):
        images.load_tfds("imagenet")
    with pytest.raises(ValueError, match="digits"):
        images.load("imagenet")


def test_load_tfds_offline_fails_fast_with_actionable_message(tmp_path):
    start = time.monotonic()
    with pytest.raises(images.DatasetUnavailableError) as info:
        images.load_tfds("mnist", data_dir=tmp_path)
    assert time.monotonic() - start < 10.0
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    for part in (
        "'mnist'",
        "not downloaded",
        "offline",
        "tfds build mnist",
        "TFDS_DATA_DIR",
        "digits",
        "kerasgan.data.toy",
    ):
        assert part in message
    assert "tensorflow_datasets" in sys.modules  # imported lazily, on demand


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: images.digits(size=4), r"size=4"),
        (lambda: images.digits(split="val"), r"split='val'"),
        (lambda: images.digits(split="test", test_fraction=1.5), r"test_fraction=1\.5"),
        (lambda: images.digits_dataset(batch_size=0), r"batch_size=0"),
        (lambda: images.digits_dataset(batch_size=5000), r"batch_size=5000"),
        (lambda: images.load_tfds("mnist", batch_size=-1), r"batch_size=-1"),
        (lambda: images.load_tfds("mnist", seed=-2), r"seed=-2"),
    ],
)
def test_bad_arguments(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_uint8_round_trip():
    u = np.arange(256, dtype=np.uint8).reshape(16, 16)
    x = images.from_uint8(u)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(images.to_uint8(x), u)
    f = np.random.default_rng(0).uniform(-1, 1, (50,)).astype(np.float32)
    np.testing.assert_allclose(images.from_uint8(images.to_uint8(f)), f, atol=0.5 / 127.5 + 1e-6)
    np.testing.assert_array_equal(images.to_uint8(np.array([-3.0, 3.0])), [0, 255])

    import tensorflow as tf

    t = images.to_uint8(tf.constant(x))
    assert t.dtype == tf.uint8
    np.testing.assert_array_equal(t.numpy(), u)
    np.testing.assert_array_equal(images.from_uint8(tf.constant(u)).numpy(), x)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("mnist", (4, 28, 28, 1)), ("cifar10", (4, 32, 32, 3)), ("celeb_a", (4, 64, 64, 3))],
)
def test_load_tfds_pipeline_on_mock_data(name, shape):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=10, policy=tfds.testing.MockPolicy.USE_CODE):
        batches = list(images.load_tfds(name, batch_size=4, seed=0))
    assert len(batches) == 2  # 10 examples, drop_remainder=True
    batch = batches[0]
    x = batch[0] if name != "celeb_a" else batch
    assert tuple(x.shape) == shape and x.dtype.name == "float32"
    assert float(x.numpy().min()) >= -1.0 and float(x.numpy().max()) <= 1.0
    if name != "celeb_a":
        assert batch[1].dtype.name == "int32" and tuple(batch[1].shape) == (4,)
