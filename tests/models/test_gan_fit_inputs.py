"""GAN.fit input checks: finite in the model's compute dtype, numeric, non-empty, present."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import models

LATENT = 3
CLASSES = [kerasgan.GAN, kerasgan.LSGAN, kerasgan.HingeGAN, kerasgan.WGAN, kerasgan.WGANGP]


def _model(cls=kerasgan.GAN):
    keras.utils.set_random_seed(0)
    g = models.build_mlp_generator(LATENT, 2, (8,))
    d = models.build_mlp_discriminator(2, (8,))
    model = cls(g, d, LATENT, seed=1)
    model.compile(jit_compile=False)  # the checks do not depend on XLA; tracing is faster
    return model


def _data(n=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


def _weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def _assert_untouched(model, before):
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_float64_beyond_float32_range_is_rejected_before_training(cls):
    model = _model(cls)
    before = _weights(model)
    x = _data().astype("float64")
    x[3, 1] = 1e300  # finite in float64, inf in float32
    x[7, 0] = -1e300
    with pytest.raises(
        ValueError,
        match=r"NaN or Inf values in the model compute dtype float32 .*\|x\| <= 3\.40282e\+38.*"
        r"Received: x with dtype float64 and shape \(16, 2\): 2 NaN/Inf values in float32 "
        r"\(0 already NaN/Inf, 2 overflowing\), largest finite \|x\| = 1e\+300, "
        r"the first at index \(3, 1\)",
    ):
        model.fit(x, batch_size=8, epochs=1, verbose=0)
    _assert_untouched(model, before)


def test_float64_overflow_in_a_dataset_is_caught_while_streaming():
    model = _model()
    x = _data().astype("float64")
    x[9, 0] = 1e300
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(
        ValueError,
        match=r"NaN or Inf values in the model compute dtype float32.*Received: a batch of x "
        r"with dtype float64 and shape \(8, 2\) with 1 NaN/Inf values in float32, largest "
        r"finite \|x\| = 1e\+300 \(found while streaming",
    ):
        model.fit(ds, epochs=1, verbose=0)
    # the check runs before the batch reaches the model: the first (clean) batch may have
    # trained, the bad one did not (an inf batch would turn the weights NaN)
    assert all(np.all(np.isfinite(w)) for w in _weights(model))


def test_labels_in_x_y_pairs_are_passed_through_and_only_x_is_checked():
    model = _model()
    x, y = _data(), np.arange(16) % 3
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(v[0]) for v in history.history.values())
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = model.fit(ds, epochs=1, verbose=0)
    assert all(np.isfinite(v[0]) for v in history.history.values())
    bad = x.astype("float64")
    bad[0, 0] = 1e300
    with pytest.raises(ValueError, match=r"x with dtype float64.*float32"):
        model.fit(bad, y, batch_size=8, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices((bad, y)).batch(8)
    with pytest.raises(ValueError, match=r"a batch of x with dtype float64"):
        model.fit(ds, verbose=0)


def test_mixed_precision_checks_against_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _model()
        before = _weights(model)
        x = _data()
        x[2, 0] = 7e4  # finite in float32, inf in float16
        with pytest.raises(
            ValueError,
            match=r"compute dtype float16 \(expected finite values with \|x\| <= 65504\).*"
            r"dtype float32 and shape \(16, 2\): 1 NaN/Inf values in float16",
        ):
            model.fit(x, batch_size=8, verbose=0)
        ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
        with pytest.raises(ValueError, match=r"compute dtype float16.*dtype float32"):
            model.fit(ds, verbose=0)
        ints = np.full((16, 2), 70000, "int32")
        with pytest.raises(ValueError, match=r"float16.*dtype int32"):
            model.fit(ints, batch_size=8, verbose=0)
        _assert_untouched(model, before)
        x[2, 0] = 6e4  # within float16's range: trains
        history = model.fit(x, batch_size=8, verbose=0)
        assert all(np.isfinite(v[0]) for v in history.history.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_dcgan_images_beyond_float32_range_are_rejected():
    model = kerasgan.DCGAN(latent_dim=LATENT, image_shape=(16, 16, 1), base_filters=4, seed=1)
    model.compile()
    x = np.zeros((4, 16, 16, 1))
    x[1, 2, 3, 0] = 1e39
    with pytest.raises(ValueError, match=r"shape \(4, 16, 16, 1\).*index \(1, 2, 3, 0\)"):
        model.fit(x, batch_size=4, verbose=0)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((0, 2), "float32"), r"x is empty\. Received: x with shape \(0, 2\)"),
        (np.array([["a", "b"]] * 8), r"numeric.*Received: x with dtype str32 and shape \(8, 2\)"),
        (np.array([["a", 1.0]] * 8, dtype=object), r"numeric.*dtype object.*'a'"),
        (None, r"GAN\.fit needs training data\. Received: x=None"),
        ([[1.0, 2.0], [3.0]], r"array of numbers\. Received: a list"),
        # dict batches are {"x"|"image": ..., "y"|"label": ...} (issue 12); other keys are refused
        ({"pixels": np.zeros((8, 2))}, r"Received: a dict with keys \['pixels'\]"),
    ],
    ids=["empty", "str", "object", "none", "ragged", "dict"],
)
def test_bad_inputs_raise_value_errors_naming_what_was_received(x, match):
    model = _model()
    with pytest.raises(ValueError, match=match):
        model.fit(x, batch_size=8, verbose=0)


def test_lists_object_ints_bool_and_float16_train():
    model = _model()
    x = _data(8)
    for data in (
        x.tolist(),
        x.astype(object),
        x.astype("float16"),
        np.rint(x).astype("int64"),
        x > 0,
    ):
        history = model.fit(data, batch_size=8, epochs=1, verbose=0)
        assert all(np.isfinite(v[0]) for v in history.history.values())
    bad = x.tolist()
    bad[0][0] = 1e300
    with pytest.raises(ValueError, match=r"dtype float64 and shape \(8, 2\).*float32"):
        model.fit(bad, batch_size=8, verbose=0)


def test_dataset_without_batches_raises_instead_of_returning_empty_logs():
    model = _model()
    ds = tf.data.Dataset.from_tensor_slices(_data(5)).batch(8, drop_remainder=True)
    with pytest.raises(ValueError, match=r"yields no batches.*cardinality 0.*drop_remainder"):
        model.fit(ds, epochs=1, verbose=0)
    unknown = tf.data.Dataset.from_tensor_slices(_data(8)).filter(lambda x: x[0] > 1e9).batch(4)
    with pytest.raises(ValueError, match=r"ran no training step.*Received: epochs=2"):
        model.fit(unknown, epochs=2, verbose=0)
    # nothing to run is not an error (a resumed run that is already complete)
    assert model.fit(unknown, epochs=1, initial_epoch=1, verbose=0).history == {}
