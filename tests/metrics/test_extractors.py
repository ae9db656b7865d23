"""Feature extractors: the shipped digits classifier, input handling, registry, InceptionV3."""

import json
import pathlib
import runpy

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.data import images
from kerasgan.metrics import extractors
from kerasgan.metrics.extractors import digits, registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "saved_models" / "fid_digits"
# Measured 0.9944 (357/359) by the shipped run; the threshold allows no more than 3 more errors.
MIN_TEST_ACCURACY = 0.985


@pytest.fixture(scope="module")
def digits_test():
    return images.digits(size=16, split="test")


@pytest.fixture(scope="module")
def ext():
    return extractors.digits_classifier_extractor(path=SHIPPED)


# --- the shipped classifier ----------------------------------------------------------------------


def test_shipped_classifier_loads_safely_and_has_its_recorded_accuracy(ext, digits_test):
    x, y = digits_test
    metadata = json.loads((SHIPPED / "metadata.json").read_text())
    model_file = SHIPPED / "classifier.keras"
    assert model_file.stat().st_size < 1_000_000
    assert metadata["classifier_bytes"] == model_file.stat().st_size
    assert metadata["test_size"] == len(y) == 359 and not metadata["smoke"]
    model = keras.saving.load_model(model_file, safe_mode=True, compile=False)

    probs = ext.probabilities(x)
    accuracy = float((probs.argmax(1) == y).mean())
    assert accuracy >= MIN_TEST_ACCURACY
    assert accuracy == pytest.approx(metadata["test_accuracy"], abs=1e-6)
    # The extractor's float64 softmax of the logits equals the model's own softmax output.
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), atol=1e-5)


def test_default_lookup_finds_the_shipped_classifier(monkeypatch, tmp_path):
    monkeypatch.delenv("KERASGAN_DIGITS_CLASSIFIER", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./saved_models: falls through to the checkout's
    found = extractors.get_extractor("fid_digits")
    assert pathlib.Path(found.metadata["path"]) == SHIPPED / "classifier.keras"
    assert (found.name, found.feature_dim, found.num_classes) == ("fid_digits", 64, 10)
    assert (found.image_size, found.channels) == ((16, 16), 1)
    monkeypatch.setenv("KERASGAN_DIGITS_CLASSIFIER", str(SHIPPED))
    assert extractors.get_extractor("fid_digits").metadata["test_accuracy"] >= MIN_TEST_ACCURACY


def test_missing_classifiers_say_how_to_train_them(monkeypatch, tmp_path):
    monkeypatch.delenv("KERASGAN_DIGITS_CLASSIFIER", raising=False)
    monkeypatch.delenv("KERASGAN_MNIST_CLASSIFIER", raising=False)
    monkeypatch.setattr(digits, "saved_models_dirs", lambda: [tmp_path / "saved_models"])
    with pytest.raises(FileNotFoundError, match="python recipes/train_digits_classifier.py`"):
        extractors.get_extractor("fid_digits")
    with pytest.raises(extractors.WeightsNotFoundError) as info:
        extractors.get_extractor("fid_mnist")
    message = str(info.value)
    assert "--dataset mnist" in message and "tfds build mnist" in message
    assert str(tmp_path / "saved_models" / "fid_mnist" / "classifier.keras") in message
    # An explicit path or env var that does not exist is an error, never a silent fallback.
    with pytest.raises(extractors.WeightsNotFoundError, match="nowhere"):
        extractors.get_extractor("fid_digits", path=tmp_path / "nowhere")
    monkeypatch.setenv("KERASGAN_DIGITS_CLASSIFIER", str(tmp_path / "nowhere2"))
    with pytest.raises(extractors.WeightsNotFoundError, match="KERASGAN_DIGITS_CLASSIFIER"):
        extractors.digits_classifier_extractor()
    with pytest.raises(ValueError, match="dataset='cifar10'"):
        extractors.digits_classifier_extractor(dataset="cifar10")


# --- features and probabilities ------------------------------------------------------------------


def test_features_shape_dtype_determinism_and_batch_independence(ext, digits_test):
    x = digits_test[0][:100]
    f = ext.features(x)
    assert f.shape == (100, 64) and f.dtype == np.float64
    assert np.all(f >= 0) and f.std() > 0  # post-ReLU features that vary
    np.testing.assert_array_equal(ext.features(x), f)
    # Other batch sizes take other oneDNN blockings: equal to float32 rounding of the
    # accumulations (features up to ~10: a few 1e-6 absolute; seen 1.8e-6 on an AMD EPYC).
    np.testing.assert_allclose(
        ext.features(x, batch_size=7), ext.features(x, batch_size=64), rtol=1e-5, atol=1e-5
    )
    # One image per call takes another oneDNN path: equal to float32 rounding (~1e-6 relative).
    np.testing.assert_allclose(ext.features(x[:5], batch_size=1), f[:5], rtol=1e-5, atol=1e-5)
    p = ext.probabilities(x, batch_size=7)
    assert p.shape == (100, 10) and p.dtype == np.float64 and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    f2, p2 = ext.features_and_probabilities(x)
    np.testing.assert_allclose(f2, f, rtol=1e-5, atol=1e-5)
    # Softmax of float32 logits computed in other batch sizes (seen 6e-8 absolute).
    np.testing.assert_allclose(p2, p, rtol=1e-5, atol=1e-7)
    # Tensor input is an array too.
    np.testing.assert_allclose(ext.features(tf.constant(x)), f, rtol=1e-6, atol=1e-6)


def test_dataset_and_iterable_inputs_equal_array_input(ext, digits_test):
    x, y = digits_test
    expected = ext.features(x)
    labelled = tf.data.Dataset.from_tensor_slices((x, y)).batch(50)  # (images, labels) batches
    # float32 rounding across batch sizes (seen 7.6e-6 on features up to ~10, AMD EPYC).
    np.testing.assert_allclose(ext.features(labelled, batch_size=32), expected, atol=2e-5)
    unlabelled = tf.data.Dataset.from_tensor_slices(x).batch(100)
    np.testing.assert_allclose(ext.probabilities(unlabelled), ext.probabilities(x), atol=1e-7)
    np.testing.assert_allclose(ext.features(iter([x[:10], x[10:]])), expected, atol=2e-5)
    np.testing.assert_allclose(ext.features([x[:200], x[200:]]), expected, atol=2e-5)


def test_other_sizes_and_channels_are_converted(ext, digits_test):
    x16, y = digits_test
    f16 = ext.features(x16)
    # 8x8 originals are upsampled exactly as images.digits makes the 16x16 ones.
    x8, _ = images.digits(size=8, split="test")
    np.testing.assert_allclose(ext.features(x8), f16, atol=1e-4)
    # 28x28 (MNIST-sized) inputs are shrunk (antialiased) and still classified well.
    x28, _ = images.digits(size=28, split="test")
    f28, p28 = ext.features_and_probabilities(x28)
    assert f28.shape == (len(y), 64)
    assert (p28.argmax(1) == y).mean() >= 0.98
    # RGB with equal channels becomes (almost exactly) the grey image: luma weights sum to 0.9999.
    rgb = np.repeat(x16, 3, axis=-1)
    assert ext.preprocess(rgb).shape == (len(y), 16, 16, 1)
    np.testing.assert_allclose(ext.features(rgb), f16, rtol=0, atol=1e-2)
    assert (ext.probabilities(rgb).argmax(1) == ext.probabilities(x16).argmax(1)).mean() >= 0.99
    # Slight overshoot beyond [-1, 1] is clipped, as saving to PNG would.
    np.testing.assert_allclose(
        ext.features(1.5 * x16[:20]), ext.features(np.clip(1.5 * x16[:20], -1, 1)), atol=1e-6
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((4, 16, 16)), r"rank-4 .*images.shape=\(4, 16, 16\)"),
        (np.zeros((4, 16, 16, 2)), r"1 \(grey\) or 3 \(RGB\) channels.*\(4, 16, 16, 2\)"),
        (np.full((2, 16, 16, 1), np.nan), "must be finite.*512 NaN"),
        (np.full((2, 16, 16, 1), 255.0), "from_uint8.*max=255"),
        (np.zeros((0, 16, 16, 1)), "holds no images"),
        (np.array([["a"]]), "dtype"),
        ("images.png", "type str"),
    ],
)
def test_bad_images_raise_value_errors(ext, bad, match):
    with pytest.raises(ValueError, match=match):
        ext.features(bad)


def test_bad_batches_and_batch_sizes_raise_value_errors(ext, digits_test):
    x = digits_test[0][:8]
    unbatched = tf.data.Dataset.from_tensor_slices(x)
    with pytest.raises(ValueError, match=r"ds.batch\(64\).*\(16, 16, 1\)"):
        ext.features(unbatched)
    with pytest.raises(ValueError, match="batch_size=0"):
        ext.features(x, batch_size=0)
    with pytest.raises(ValueError, match="holds no images"):
        ext.features([])


# --- registry ------------------------------------------------------------------------------------


def test_registry_lists_names_and_registers_new_extractors(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ValueError, match=r"\['fid_digits', 'fid_inception_v3', 'fid_mnist'\]"):
        extractors.get_extractor("fid_cifar")

    def factory(units=3):
        inputs = keras.Input((8, 8, 1))
        hidden = keras.layers.Flatten()(inputs)
        model = keras.Model(inputs, keras.layers.Dense(units, name="mean", use_bias=False)(hidden))
        model.get_layer("mean").set_weights([np.full((64, units), 1 / 64, "float32")])
        return extractors.KerasFeatureExtractor(model, "fid_mean", features_layer="mean")

    extractors.register_extractor("fid_mean", factory)
    assert "fid_mean" in extractors.extractor_names()
    toy = extractors.get_extractor("fid_mean", units=2)
    x = np.random.default_rng(0).uniform(-1, 1, (5, 8, 8, 1))
    np.testing.assert_allclose(toy.features(x), np.repeat(x.mean(axis=(1, 2)), 2, 1), atol=1e-6)
    with pytest.raises(ValueError, match="no classifier head"):
        toy.probabilities(x)
    with pytest.raises(ValueError, match="already registered"):
        extractors.register_extractor("fid_mean", factory)
    extractors.register_extractor("fid_mean", lambda: "replaced", overwrite=True)
    assert extractors.get_extractor("fid_mean") == "replaced"
    with pytest.raises(ValueError, match="name='fid mean'"):
        extractors.register_extractor("fid mean", factory)
    with pytest.raises(ValueError, match="factory must be callable"):
        extractors.register_extractor("fid_x", 3)


# --- InceptionV3 ---------------------------------------------------------------------------------


def test_inception_constants_match_keras():
    from keras.src.applications import inception_v3

    assert extractors.INCEPTION_V3_URL == inception_v3.WEIGHTS_PATH
    assert extractors.INCEPTION_V3_NOTOP_URL == inception_v3.WEIGHTS_PATH_NO_TOP


def _offline_home(monkeypatch, tmp_path, keras_home):
    monkeypatch.delenv("KERASGAN_INCEPTION_WEIGHTS", raising=False)
    (tmp_path / "home").mkdir()  # Keras (and the lookup) use /tmp/.keras if home is read-only
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if keras_home:
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    else:
        monkeypatch.delenv("KERAS_HOME", raising=False)


@pytest.mark.parametrize("keras_home", [True, False])
def test_inception_without_weights_says_where_to_put_them(monkeypatch, tmp_path, keras_home):
    _offline_home(monkeypatch, tmp_path, keras_home)
    cache = tmp_path / ("kh" if keras_home else "home/.keras") / "models"
    with pytest.raises(FileNotFoundError) as info:
        extractors.get_extractor("fid_inception_v3")
    message = str(info.value)
    for name in (extractors.INCEPTION_V3_WEIGHTS, extractors.INCEPTION_V3_NOTOP_WEIGHTS):
        assert str(cache / name) in message
    assert extractors.INCEPTION_V3_URL in message and extractors.INCEPTION_V3_NOTOP_URL in message
    assert "KERASGAN_INCEPTION_WEIGHTS" in message and "never downloads" in message
    with pytest.raises(extractors.WeightsNotFoundError, match="missing.h5"):
        extractors.inception_v3_extractor(weights_path=tmp_path / "missing.h5")


def test_untrained_inception_plumbing_with_top():
    # Random weights: only the shapes and the softmax are meaningful here.
    ext = extractors.inception_v3_extractor(untrained=True)
    assert ext.name == "fid_inception_v3_untrained"
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 1)).astype("float32")
    f, p = ext.features_and_probabilities(x)
    assert f.shape == (3, 2048) and p.shape == (3, 1000) and f.dtype == p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert ext.preprocess(x).shape == (3, 299, 299, 3)


def test_inception_weights_load_from_the_keras_cache(monkeypatch, tmp_path):
    """A no-top weights file in $KERAS_HOME/models is found, loaded, and has no head."""
    from keras.src.legacy.saving import legacy_h5_format

    source = extractors.inception_v3_extractor(untrained=True, include_top=False)
    _offline_home(monkeypatch, tmp_path, keras_home=True)
    path = tmp_path / "kh" / "models" / extractors.INCEPTION_V3_NOTOP_WEIGHTS
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as f:  # the format of the published Keras weight files
        legacy_h5_format.save_weights_to_hdf5_group(f, source.model)

    ext = extractors.get_extractor("fid_inception_v3")
    assert (ext.name, ext.feature_dim, ext.num_classes) == ("fid_inception_v3", 2048, None)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ext.features(x), source.features(x), atol=1e-5)
    with pytest.raises(ValueError, match=extractors.INCEPTION_V3_WEIGHTS):
        ext.probabilities(x)
    path.unlink()


# --- the recipe ----------------------------------------------------------------------------------


def test_recipe_smoke_writes_a_loadable_classifier(tmp_path, capsys):
    recipe = runpy.run_path(str(ROOT / "recipes" / "train_digits_classifier.py"), run_name="x")
    out = tmp_path / "fid_digits"
    assert recipe["main"](["--smoke", "--quiet", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    line = next(s for s in printed.splitlines() if s.startswith("Test accuracy: "))
    accuracy = float(line.split()[2])
    model = keras.saving.load_model(out / "classifier.keras", safe_mode=True)
    assert model.output_shape == (None, 10)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["smoke"] and metadata["train_size"] == 64 and metadata["test_size"] == 359
    assert metadata["test_accuracy"] == pytest.approx(accuracy, abs=5e-5)
    x, y = images.digits(size=16, split="test")
    probs = extractors.digits_classifier_extractor(path=out).probabilities(x)
    assert float((probs.argmax(1) == y).mean()) == pytest.approx(metadata["test_accuracy"])
    assert "--smoke" in metadata["command"]


def test_recipe_smoke_refuses_to_overwrite_the_shipped_model(capsys):
    recipe = runpy.run_path(str(ROOT / "recipes" / "train_digits_classifier.py"), run_name="x")
    assert recipe["main"](["--smoke", "--quiet"]) == 2
    assert "--output-dir" in capsys.readouterr().err
    assert recipe["main"](["--epochs", "0"]) == 2
    assert recipe["main"](["--dry-run"]) == 0
    settings = json.loads(capsys.readouterr().out)
    assert (settings["epochs"], settings["image_size"]) == (60, 16)
    assert settings["output_dir"] == str(SHIPPED)


def test_recipe_mnist_path_builds_a_28x28_fid_mnist(tmp_path, capsys, monkeypatch):
    # TFDS mnist is not available offline: a stand-in load_tfds serves the digits at 28x28
    # with their labels, so the --dataset mnist code path (28x28 model, fid_mnist) runs.
    def fake_load_tfds(name, split, batch_size, shuffle, drop_remainder, data_dir):
        assert (name, shuffle, drop_remainder) == ("mnist", False, False)
        x, y = images.digits(size=28, split=split)
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    monkeypatch.setattr(images, "load_tfds", fake_load_tfds)
    recipe = runpy.run_path(str(ROOT / "recipes" / "train_digits_classifier.py"), run_name="x")
    out = tmp_path / "fid_mnist"
    argv = ["--dataset", "mnist", "--smoke", "--quiet", "--output-dir", str(out)]
    assert recipe["main"](argv) == 0
    assert "Test accuracy: " in capsys.readouterr().out
    metadata = json.loads((out / "metadata.json").read_text())
    assert (metadata["dataset"], metadata["image_size"], metadata["test_size"]) == (
        "mnist",
        28,
        359,
    )
    monkeypatch.setenv("KERASGAN_MNIST_CLASSIFIER", str(out))
    ext = extractors.get_extractor("fid_mnist")
    assert (ext.name, ext.image_size, ext.feature_dim, ext.num_classes) == (
        "fid_mnist",
        (28, 28),
        64,
        10,
    )
    assert ext.features(images.digits(size=16, split="test")[0][:4]).shape == (4, 64)
