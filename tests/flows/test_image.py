"""Image flows (float64): squeeze, checkerboard/channel couplings, 1x1 convolution, multi-scale,
RealNVP and Glow: round trips, log-dets against autodiff, gradients, likelihood, save/export."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan import export, flows
from kerasgan.testing.flows import flow_layer_factories

tfb = tfp.bijectors

SHAPE = (4, 4, 2)


def _randomize(layer, seed=0, scale=0.2):
    rng = np.random.default_rng(seed)
    for v in layer.trainable_weights:
        if "lower_upper" in v.path:  # keep the 1x1 convolution well conditioned
            v.assign(v.numpy() + rng.normal(0.0, 0.05, v.shape))
        else:
            v.assign(rng.normal(0.0, scale, v.shape))


def _f64(**kw):
    return dict(dtype="float64", **kw)


# The image cases of the one registry that check_flow_layer also runs (float64 factories).
LAYERS = flow_layer_factories("image")


def _built(name):
    layer = LAYERS[name]()
    layer.build((None, *SHAPE))
    _randomize(layer)
    return layer


def _images(n=3, seed=1, shape=SHAPE):
    return tf.constant(np.random.default_rng(seed).normal(0.0, 1.0, (n, *shape)))


def _log_abs_det(z_fn, x):
    """log|det dz/dx| per example from an autodiff Jacobian of the flattened map."""
    n = x.shape[0]
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.reshape(z_fn(x), [n, -1])
    jac = tape.batch_jacobian(z, x).numpy().reshape(n, z.shape[1], -1)
    return np.linalg.slogdet(jac)[1], z.numpy()


def _assert_round_trip(layer, x):
    """``forward(inverse(x)) == x`` and ``inverse(forward(z)) == z``, each map computed anew.

    TFP caches a bijector's results by input tensor: ``bij.forward(bij.inverse(x))``
    hands ``x`` back from the cache whatever the forward map computes. A new bijector
    on a new tensor (``tf.identity``) recomputes it.
    """
    z = layer.bijector().inverse(x)
    back = layer.bijector().forward(tf.identity(z))
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-10)
    noise = _images(seed=2, shape=layer.output_event_shape(SHAPE))
    x2 = layer.bijector().forward(noise)
    back = layer.bijector().inverse(tf.identity(x2))
    np.testing.assert_allclose(back.numpy(), noise.numpy(), atol=1e-10)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_round_trip(name):
    _assert_round_trip(_built(name), _images())


class _WrongForward(tfb.Bijector):
    """A layer's bijector with its forward map shifted by ``error``: a deliberately broken
    layer (image events, any noise-side shape)."""

    def __init__(self, inner, error):
        parameters = dict(locals())
        self._inner, self._error = inner, error
        super().__init__(
            forward_min_event_ndims=3, dtype=inner.dtype, parameters=parameters, name="wrong"
        )

    def _forward(self, z):
        return self._inner.forward(z) + self._error

    def _inverse(self, x):
        return self._inner.inverse(x)

    def _inverse_log_det_jacobian(self, x):
        return self._inner.inverse_log_det_jacobian(x, event_ndims=3)

    def _forward_event_shape_tensor(self, s):
        return self._inner.forward_event_shape_tensor(s)

    def _inverse_event_shape_tensor(self, s):
        return self._inner.inverse_event_shape_tensor(s)


@pytest.mark.parametrize("name", ["checkerboard", "squeeze", "multiscale"])
def test_round_trip_fails_for_a_layer_with_a_wrong_forward_map(name, monkeypatch):
    layer = _built(name)
    right = layer.bijector
    monkeypatch.setattr(layer, "bijector", lambda context=None: _WrongForward(right(context), 1e-3))
    x = _images()
    bij = layer.bijector()
    # The same object's round trip reads as exact: TFP returns the cached input.
    np.testing.assert_array_equal(bij.forward(bij.inverse(x)).numpy(), x.numpy())
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        _assert_round_trip(layer, x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_log_det_matches_autodiff_jacobian(name):
    layer = _built(name)
    x = _images()
    # A fresh bijector inside the tape: TFP's cache must not hide the computation.
    want, _ = _log_abs_det(lambda t: layer.bijector().inverse(t), x)
    bij = layer.bijector()
    got = bij.inverse_log_det_jacobian(x, event_ndims=3).numpy()
    np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, atol=1e-9)
    z = layer.bijector().inverse(x)
    event_ndims = len(layer.output_event_shape(SHAPE))
    # A new tensor, so the forward log-det is computed, not looked up next to z.
    fwd = layer.bijector().forward_log_det_jacobian(tf.identity(z), event_ndims=event_ndims)
    fwd = fwd.numpy()
    np.testing.assert_allclose(np.broadcast_to(fwd, want.shape), -want, atol=1e-9)


@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"squeeze"}))
def test_every_variable_gets_a_gradient(name):
    layer = _built(name)
    x = _images()
    with tf.GradientTape() as tape:
        bij = layer.bijector()
        loss = tf.reduce_sum(bij.inverse(x) ** 2) + tf.reduce_sum(
            bij.inverse_log_det_jacobian(x, event_ndims=3)
        )
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == len(layer.trainable_variables) > 0
    for v, g in zip(layer.trainable_variables, grads):
        assert g is not None, v.path
        assert np.any(np.asarray(g) != 0), v.path


def test_squeeze_is_space_to_depth():
    layer = flows.Squeeze(**_f64())
    layer.build((None, 4, 4, 1))
    x = np.arange(16, dtype="float64").reshape(1, 4, 4, 1)
    z = layer.bijector().inverse(tf.constant(x)).numpy()
    assert z.shape == (1, 2, 2, 4)
    # Top-left 2x2 block [[0, 1], [4, 5]] becomes the 4 channels of the first pixel.
    np.testing.assert_array_equal(z[0, 0, 0], [0, 1, 4, 5])
    np.testing.assert_array_equal(z[0, 1, 1], [10, 11, 14, 15])
    assert layer.output_event_shape((4, 4, 1)) == (2, 2, 4)


def test_checkerboard_mask_is_one_where_coordinate_sum_is_odd():
    mask = flows.checkerboard_mask(3, 4)[..., 0]
    i, j = np.meshgrid(range(3), range(4), indexing="ij")
    np.testing.assert_array_equal(mask, (i + j) % 2 == 1)
    np.testing.assert_array_equal(flows.checkerboard_mask(3, 4, parity=1)[..., 0], 1 - mask)


def test_checkerboard_coupling_keeps_masked_pixels_and_moves_the_others():
    layer = _built("checkerboard")
    x = _images()
    z = layer.bijector().inverse(x).numpy()
    keep = flows.checkerboard_mask(4, 4).astype(bool)[..., 0]
    np.testing.assert_array_equal(z[:, keep], x.numpy()[:, keep])
    assert np.abs(z[:, ~keep] - x.numpy()[:, ~keep]).max() > 1e-3


def test_channel_coupling_conditions_on_first_half_of_channels():
    layer = _built("channel_coupling")
    x = _images()
    z = layer.bijector().inverse(x).numpy()
    np.testing.assert_array_equal(z[..., :1], x.numpy()[..., :1])
    assert np.abs(z[..., 1:] - x.numpy()[..., 1:]).max() > 1e-3


def test_invertible_1x1_log_det_is_pixels_times_log_det_w():
    layer = _built("invertible_1x1")
    lu = layer.lower_upper.numpy()
    log_det_w = np.sum(np.log(np.abs(np.diag(lu))))
    got = layer.bijector().forward_log_det_jacobian(_images(), event_ndims=3).numpy()
    np.testing.assert_allclose(got, 16 * log_det_w, rtol=1e-12)


def test_multiscale_passes_factored_out_channels_through():
    layer = _built("multiscale")
    x = _images()
    z = layer.bijector().inverse(x).numpy()
    np.testing.assert_array_equal(z[..., 1:], x.numpy()[..., 1:])


def test_actnorm_data_init_standardizes_each_channel_of_images():
    layer = flows.ActNorm(**_f64())
    layer.build((None, *SHAPE))
    x = np.random.default_rng(0).normal([1.0, -3.0], [2.0, 0.5], (64, *SHAPE))
    layer.initialize(x)
    z = layer.bijector().inverse(tf.constant(x)).numpy()
    np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), 0.0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=(0, 1, 2)), 1.0, atol=1e-5)


def _model(kind, shape=(8, 8, 1), dtype="float64"):
    if kind == "glow":
        layers = flows.glow(
            shape, num_levels=2, steps_per_level=2, hidden_channels=[8], dtype=dtype
        )
    else:
        layers = flows.realnvp_image(shape, num_scales=2, hidden_channels=[8], dtype=dtype)
    return flows.FlowModel(shape, layers, seed=0, dtype=dtype)


@pytest.mark.parametrize("kind", ["glow", "realnvp"])
def test_image_flow_log_prob_is_the_change_of_variables(kind):
    model = _model(kind)
    for layer in model.flow_layers:
        _randomize(layer, scale=0.05)
    x = _images(4, seed=2, shape=(8, 8, 1))
    log_det, z = _log_abs_det(lambda t: model.bijector().inverse(t), x)
    want = log_det - 0.5 * np.sum(z**2, axis=1) - 32.0 * np.log(2.0 * np.pi)
    got = model.log_prob(x.numpy()).numpy()
    assert got.shape == (4,)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-8)
    assert model.noise_shape == (4, 4, 4)
    assert model.sample(3, seed=1).shape == (3, 8, 8, 1)


def _digits_unit_interval(n=256):
    from kerasgan.data import images

    x, _ = images.digits(size=8, split="train")
    levels = np.rint((x[:n] + 1.0) * 8.0)
    return flows.dequantize(levels, num_levels=17, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["glow", "realnvp"])
def test_image_flow_fit_lowers_nll_and_round_trips_through_keras_file(kind, tmp_path):
    keras.utils.set_random_seed(0)
    x = _digits_unit_interval()
    layers = [flows.LogitTransform(0.05)]
    if kind == "glow":
        layers += flows.glow((8, 8, 1), num_levels=2, steps_per_level=2, hidden_channels=[16])
    else:
        layers += flows.realnvp_image((8, 8, 1), num_scales=2, hidden_channels=[16])
    model = flows.FlowModel((8, 8, 1), layers, seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    before = -float(np.mean(model.log_prob(x).numpy()))
    model.fit(x, batch_size=64, epochs=4, verbose=0)
    after = -float(np.mean(model.log_prob(x).numpy()))
    assert np.isfinite(after) and after < before - 5.0, (before, after)
    # ActNorm was initialized from the data by fit.
    assert not model._needs_init()

    path = str(tmp_path / f"{kind}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.log_prob(x[:16]).numpy(), model.log_prob(x[:16]).numpy(), rtol=1e-5
    )
    assert loaded.noise_shape == model.noise_shape


@pytest.mark.slow
def test_image_flow_export_has_log_prob_and_sample_signatures(tmp_path):
    model = _model("glow", dtype="float32")
    model.initialize(np.random.default_rng(0).normal(size=(32, 8, 8, 1)).astype("float32"))
    path = export.export_flow(model, str(tmp_path / "glow"), version=1)
    loaded = tf.saved_model.load(path)
    x = np.random.default_rng(1).normal(size=(5, 8, 8, 1)).astype("float32")
    got = loaded.signatures["log_prob"](x=tf.constant(x))["log_prob"].numpy()
    np.testing.assert_allclose(got, model.log_prob(x).numpy(), rtol=1e-4, atol=1e-4)
    samples = loaded.signatures["sample"](num_samples=tf.constant(7))["samples"]
    assert samples.shape == (7, 8, 8, 1)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: flows.Squeeze(factor=1), "factor"),
        (lambda: flows.CheckerboardCoupling(parity=2), "parity"),
        (lambda: flows.AffineCoupling(network="transformer"), "network"),
        (lambda: flows.MultiScale([]), "layers"),
        (lambda: flows.glow((6, 6, 1), num_levels=2), "divisible"),
        (lambda: flows.glow((8, 8, 1), num_levels=0), "num_levels"),
        (lambda: flows.realnvp_image((8, 8), num_scales=2), "event_shape"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_image_layers_reject_vectors_and_bad_inputs():
    with pytest.raises(ValueError, match="images"):
        flows.FlowModel((4,), [flows.Squeeze()])
    with pytest.raises(ValueError, match="channels of images"):
        flows.FlowModel((4,), [flows.AffineCoupling([8], network="cnn")])
    model = _model("realnvp", dtype="float32")
    with pytest.raises(ValueError, match=r"\[N, 8, 8, 1\]"):
        model.log_prob(np.zeros((2, 8, 8), "float32"))
    bad = np.zeros((2, 8, 8, 1), "float32")
    bad[1, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.log_prob(bad)
    with pytest.raises(ValueError, match=r"\[N, 8, 8, 1\]"):
        model.fit(np.zeros((4, 16, 16, 1), "float32"), epochs=1, verbose=0)


@pytest.mark.parametrize("kind", ["glow", "realnvp"])
def test_image_flow_mirrored_strategy_same_update_as_one_device(kind, two_cpu_strategy):
    """2 logical CPUs vs 1 device, same global batch: the same SGD update (ActNorm's
    data-dependent initialization included, done by fit on the first global batch)."""
    x = _digits_unit_interval()[:128]

    def run(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            layers = [flows.LogitTransform(0.05)]
            if kind == "glow":
                layers += flows.glow(
                    (8, 8, 1), num_levels=2, steps_per_level=1, hidden_channels=[8]
                )
            else:
                layers += flows.realnvp_image((8, 8, 1), num_scales=2, hidden_channels=[8])
            model = flows.FlowModel((8, 8, 1), layers, seed=0)
            model.compile(keras.optimizers.SGD(1e-3), jit_compile=False)
        history = model.fit(x, batch_size=64, epochs=1, shuffle=False, verbose=0)
        return [v.numpy() for v in model.trainable_variables], history.history["nll"]

    one, nll_one = run(tf.distribute.get_strategy())
    two, nll_two = run(two_cpu_strategy)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nll_one, nll_two, rtol=1e-5)
