"""The GAN model: the game's updates, round trips, distribution and bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import models

LATENT = 3


def _mlp_pair(width=16, batch_norm=False, seed=0):
    keras.utils.set_random_seed(seed)
    g = models.build_mlp_generator(LATENT, 2, (width, width), batch_norm=batch_norm)
    d = models.build_mlp_discriminator(2, (width, width))
    return g, d


def _data(n=256, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


def _variants():
    g, d = _mlp_pair()
    yield "gan", kerasgan.GAN(g, d, LATENT, seed=1)
    g, d = _mlp_pair()
    yield "minimax", kerasgan.GAN(g, d, LATENT, loss="minimax", seed=1)
    g, d = _mlp_pair()
    yield "lsgan", kerasgan.LSGAN(g, d, LATENT, seed=1)
    g, d = _mlp_pair()
    yield "hinge", kerasgan.HingeGAN(g, d, LATENT, seed=1)
    g, d = _mlp_pair()
    yield "wgan", kerasgan.WGAN(g, d, LATENT, seed=1)
    g, d = _mlp_pair()
    yield "wgan_gp", kerasgan.WGANGP(g, d, LATENT, seed=1)
    yield (
        "dcgan",
        kerasgan.DCGAN(latent_dim=LATENT, image_shape=(16, 16, 1), base_filters=4, seed=1),
    )


def _fit_data(model, n=64):
    shape = model.generator.output_shape[1:]
    return np.random.default_rng(0).uniform(-1, 1, size=(n, *shape)).astype("float32")


@pytest.mark.parametrize(
    "name, model", list(_variants()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_fit_save_load_round_trip(name, model, tmp_path):
    model.compile()
    history = model.fit(_fit_data(model), batch_size=16, epochs=1, verbose=0)
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), (name, key)
    expected = {"d_loss", "g_loss", "d_real", "d_fake"} | ({"gp"} if name == "wgan_gp" else set())
    assert set(history.history) == expected

    z = np.random.default_rng(1).normal(size=(7, LATENT)).astype("float32")
    # get_config round trip
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.generate(z), model.generate(z), rtol=1e-6, atol=1e-6)
    # .keras round trip with safe_mode
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    nets = ("generator", "discriminator")
    strip = lambda c: {k: v for k, v in c.items() if k not in nets}  # noqa: E731
    assert strip(loaded.get_config()) == strip(model.get_config())
    np.testing.assert_array_equal(loaded.generate(z), model.generate(z))
    # both optimizers' state restored
    for attr in ("g_optimizer", "d_optimizer"):
        ours, theirs = getattr(model, attr), getattr(loaded, attr)
        assert int(theirs.iterations.numpy()) == int(ours.iterations.numpy()) > 0
        for a, b in zip(ours.variables, theirs.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def _values(variables):
    return [v.numpy().copy() for v in variables]


def test_generator_step_leaves_discriminator_unchanged_and_vice_versa():
    # Batch norm in both players: moving statistics must not move either.
    keras.utils.set_random_seed(0)
    model = kerasgan.DCGAN(latent_dim=LATENT, image_shape=(16, 16, 1), base_filters=4, seed=3)
    model.compile(jit_compile=False)
    real = tf.constant(_fit_data(model, 8))
    g_before, d_before = _values(model.generator.variables), _values(model.discriminator.variables)

    model.generator_step(8)
    for before, v in zip(d_before, model.discriminator.variables):
        np.testing.assert_array_equal(before, v.numpy(), err_msg=v.path)
    assert any(
        not np.array_equal(b, v.numpy())
        for b, v in zip(g_before, model.generator.trainable_variables)
    )

    g_before, d_before = _values(model.generator.variables), _values(model.discriminator.variables)
    model.discriminator_step(real)
    for before, v in zip(g_before, model.generator.variables):
        np.testing.assert_array_equal(before, v.numpy(), err_msg=v.path)
    assert any(
        not np.array_equal(b, v.numpy())
        for b, v in zip(d_before, model.discriminator.trainable_variables)
    )


@pytest.mark.parametrize("d_steps", [1, 3])
def test_d_steps_honoured(d_steps):
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT, d_steps=d_steps)
    model.compile()
    model.fit(_data(80), batch_size=16, epochs=1, verbose=0)  # 5 steps
    assert int(model.g_optimizer.iterations.numpy()) == 5
    assert int(model.d_optimizer.iterations.numpy()) == 5 * d_steps


def test_wgan_clipping_and_defaults():
    g, d = _mlp_pair()
    model = kerasgan.WGAN(g, d, LATENT)
    assert model.d_steps == 5 and model.clip_value == 0.01
    model.compile()
    assert isinstance(model.d_optimizer, keras.optimizers.RMSprop)
    assert model.d_optimizer.learning_rate.numpy() == pytest.approx(5e-5)
    model.fit(_data(64), batch_size=32, epochs=1, verbose=0)
    for w in model.discriminator.trainable_weights:
        assert np.max(np.abs(w.numpy())) <= 0.01 + 1e-7


def test_wgan_gp_defaults_and_refuses_batch_norm_critic():
    g, d = _mlp_pair()
    model = kerasgan.WGANGP(g, d, LATENT)
    model.compile()
    assert (model.d_steps, model.gp_weight) == (5, 10.0)
    cfg = model.d_optimizer.get_config()
    assert (cfg["learning_rate"], cfg["beta_1"], cfg["beta_2"]) == pytest.approx((1e-4, 0.0, 0.9))
    bn_critic = models.build_dcgan_discriminator((16, 16, 1), 4, normalization="batch")
    gen = models.build_dcgan_generator(LATENT, (16, 16, 1), 4)
    with pytest.raises(ValueError, match="BatchNormalization"):
        kerasgan.WGANGP(gen, bn_critic, LATENT)


def test_optimal_discriminator_on_1d_gaussians():
    """With G fixed, a trained D approaches p_data / (p_data + p_g) (Goodfellow et al., Prop. 1)."""
    keras.utils.set_random_seed(0)
    # Fixed generator G(z) = z + 1: p_g = N(1, 1); data p_data = N(0, 1).
    z = keras.Input((1,))
    g = keras.Model(z, keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="ones")(z))
    d = models.build_mlp_discriminator(1, (32, 32))
    model = kerasgan.GAN(g, d, latent_dim=1, seed=0)
    model.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.Adam(3e-3))
    x = np.random.default_rng(0).normal(size=(512 * 400, 1)).astype("float32")
    model.fit(x, batch_size=512, epochs=1, verbose=0)
    np.testing.assert_array_equal(g.get_weights()[0], [[1.0]])  # G did not move

    grid = np.linspace(-2.0, 3.0, 51, dtype="float32")[:, None]
    d_star = 1.0 / (1.0 + np.exp(-(0.5 - grid[:, 0])))  # sigmoid(log p_data - log p_g)
    d_hat = 1.0 / (1.0 + np.exp(-d.predict(grid, verbose=0)[:, 0]))
    assert np.max(np.abs(d_hat - d_star)) < 0.05


def _same_initial_pair(model_cls, seed, **kwargs):
    g, d = _mlp_pair(width=8, seed=seed)
    return model_cls(g, d, LATENT, seed=7, **kwargs)


@pytest.mark.parametrize(
    "model_cls, kwargs",
    [
        (kerasgan.GAN, {}),
        (kerasgan.GAN, {"loss": "minimax"}),
        (kerasgan.LSGAN, {}),
        (kerasgan.HingeGAN, {}),
        (kerasgan.WGAN, {"d_steps": 2}),
        (kerasgan.WGANGP, {"d_steps": 2}),
    ],
)
def test_mirrored_strategy_same_update_as_one_device(two_cpu_strategy, model_cls, kwargs):
    """2 logical CPUs vs 1 device, same global batch: the same update (SGD shows scale errors)."""
    x = _data(32, seed=3)

    def train(strategy):
        with strategy.scope():
            model = _same_initial_pair(model_cls, seed=11, **kwargs)
            model.compile(
                g_optimizer=keras.optimizers.SGD(0.1),
                d_optimizer=keras.optimizers.SGD(0.1),
                jit_compile=False,
            )
        history = model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
        return model, history.history

    one, h_one = train(tf.distribute.get_strategy())
    two, h_two = train(two_cpu_strategy)
    assert two.distribute_strategy.num_replicas_in_sync == 2
    for a, b in zip(one.get_weights(), two.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    for key in h_one:
        np.testing.assert_allclose(h_one[key], h_two[key], rtol=1e-4, atol=1e-5)


def test_dcgan_with_synchronized_batch_norm_same_update_as_one_device(two_cpu_strategy):
    """Batch norm in G and D over the global batch: 2 replicas give one device's update,
    moving statistics included (unsynchronized, each replica would normalize by half a batch)."""
    x = np.random.default_rng(5).uniform(-1, 1, size=(16, 16, 16, 1)).astype("float32")

    def train(strategy, sync):
        keras.utils.set_random_seed(21)
        with strategy.scope():
            g = kerasgan.models.build_dcgan_generator(4, (16, 16, 1), 4, sync_batch_norm=sync)
            d = kerasgan.models.build_dcgan_discriminator((16, 16, 1), 4, sync_batch_norm=sync)
            model = kerasgan.GAN(g, d, latent_dim=4, seed=7)
            model.compile(
                g_optimizer=keras.optimizers.SGD(0.1),
                d_optimizer=keras.optimizers.SGD(0.1),
                jit_compile=False,
            )
        model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return model.get_weights()

    one = train(tf.distribute.get_strategy(), sync=False)
    two = train(two_cpu_strategy, sync=True)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    unsynced = train(two_cpu_strategy, sync=False)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(one, unsynced)) > 1e-4


def test_replicas_draw_different_latents(two_cpu_strategy):
    with two_cpu_strategy.scope():
        g, d = _mlp_pair()
        model = kerasgan.GAN(g, d, LATENT, seed=5)
    out = two_cpu_strategy.run(tf.function(lambda: model.draw_latents(4)))
    a, b = (t.numpy() for t in two_cpu_strategy.experimental_local_results(out))
    assert not np.allclose(a, b)
    one = kerasgan.GAN(*_mlp_pair(), LATENT, seed=5).draw_latents(8).numpy()
    np.testing.assert_allclose(np.concatenate([a, b]), one, rtol=1e-6)


def test_jit_compile_defaults(two_cpu_strategy):
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT)
    model.compile()
    assert model.jit_compile is True
    # Convolutional models stay on oneDNN graph mode on CPU (faster than XLA:CPU here).
    dcgan = kerasgan.DCGAN(latent_dim=8, image_shape=(16, 16, 1), base_filters=4)
    dcgan.compile()
    assert dcgan.jit_compile is False
    dcgan.compile(jit_compile=True)
    assert dcgan.jit_compile is True
    with two_cpu_strategy.scope():
        g, d = _mlp_pair()
        model = kerasgan.GAN(g, d, LATENT)
        with pytest.warns(UserWarning, match="falling back"):
            model.compile(jit_compile=True)
    assert model.jit_compile is False


def test_explicit_xla_wgan_gp_trains():
    g, d = _mlp_pair()
    model = kerasgan.WGANGP(g, d, LATENT)
    model.compile(jit_compile=True)
    history = model.fit(_data(64), batch_size=32, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["gp"]))


def test_accepts_tf_data_and_labels():
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT)
    model.compile()
    x = _data(64)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(64, "int32"))).batch(16)
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])


def test_sample_and_generate_shapes():
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT)
    assert model.sample(5, seed=0).shape == (5, 2)
    np.testing.assert_array_equal(model.sample(5, seed=0), model.sample(5, seed=0))
    assert model(np.zeros((2, LATENT), "float32")).shape == (2, 2)


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("d_steps", [-1, 0, 2.5])
def test_bad_d_steps(d_steps):
    g, d = _mlp_pair()
    with pytest.raises(ValueError, match=f"Received: d_steps={d_steps}"):
        kerasgan.GAN(g, d, LATENT, d_steps=d_steps)


def test_unknown_loss():
    g, d = _mlp_pair()
    with pytest.raises(ValueError, match="Received: loss='nope'"):
        kerasgan.GAN(g, d, LATENT, loss="nope")


def test_bad_latent_dim_and_networks():
    g, d = _mlp_pair()
    with pytest.raises(ValueError, match="latent_dim=0"):
        kerasgan.GAN(g, d, 0)
    with pytest.raises(ValueError, match="generator must be a keras.Model"):
        kerasgan.GAN(lambda z: z, d, LATENT)


def test_wrong_data_rank():
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT)
    model.compile()
    with pytest.raises(ValueError, match=r"rank 2.*Received: x with shape \(8, 2, 1\)"):
        model.fit(np.zeros((8, 2, 1), "float32"), batch_size=4, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((8, 2, 1), "float32")).batch(4)
    with pytest.raises(ValueError, match="rank 2"):
        model.fit(ds, verbose=0)


def test_nan_in_data():
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT)
    model.compile()
    x = _data(32)
    x[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN/Inf.*\(5, 1\)"):
        model.fit(x, batch_size=8, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.fit(ds, verbose=0)
    for v in model.variables:  # training stopped before any update used the bad data
        assert np.all(np.isfinite(v.numpy())), v.path


def test_bad_generate_input():
    g, d = _mlp_pair()
    model = kerasgan.GAN(g, d, LATENT)
    with pytest.raises(ValueError, match=r"Received: z.shape=\(4, 2\)"):
        model.generate(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="n=0"):
        model.sample(0)


def test_packing_groups_consecutive_samples():
    g, _ = _mlp_pair()
    d = models.build_mlp_discriminator(2, (8,), pack=3)
    model = kerasgan.GAN(g, d, LATENT, pack=3)
    x = np.arange(12, dtype="float32").reshape(6, 2)
    np.testing.assert_array_equal(model.pack_samples(tf.constant(x)).numpy(), x.reshape(2, 6))
    img = np.arange(2 * 2 * 2 * 1, dtype="float32").reshape(2, 2, 2, 1)
    dc = kerasgan.GAN(
        models.build_dcgan_generator(LATENT, (16, 16, 1), 4),
        models.build_dcgan_discriminator((16, 16, 2), 4),
        LATENT,
        pack=2,
    )
    packed = dc.pack_samples(tf.constant(img)).numpy()
    assert packed.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(packed[0, ..., 0], img[0, ..., 0])
    np.testing.assert_array_equal(packed[0, ..., 1], img[1, ..., 0])
    model.compile()
    history = model.fit(_data(48), batch_size=12, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    with pytest.raises(ValueError, match="pack=0"):
        kerasgan.GAN(g, d, LATENT, pack=0)


@pytest.mark.slow
def test_mixed_precision_wraps_both_optimizers_and_trains():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        g, d = _mlp_pair()
        model = kerasgan.WGANGP(g, d, LATENT, d_steps=2)
        model.compile()
        assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.optimizer is None  # no unused default optimizer
        history = model.fit(_data(64), batch_size=32, epochs=1, verbose=0)
        assert all(np.isfinite(v[0]) for v in history.history.values())
        assert model.generate(np.zeros((2, LATENT), "float32")).dtype == np.float32
        # dynamic loss scaling may skip an overflowing first step
        assert 1 <= int(model.d_optimizer.iterations.numpy()) <= 4
        assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    finally:
        keras.mixed_precision.set_global_policy("float32")
