"""The GAN core's conditioning, named players and penalty objects; ConditionalGAN and ACGAN."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import callbacks as cbs
from kerasgan import cli, export
from kerasgan.gan import layers
from kerasgan.gan import networks as cond
from kerasgan.gan.base import _BASE_PLAYERS
from kerasgan.losses import penalties

K = 3  # classes


def _cgan(mode="projection", **kwargs):
    keras.utils.set_random_seed(0)
    g = cond.build_conditional_mlp_generator(4, 2, K, hidden_units=(32,))
    d = cond.build_conditional_mlp_discriminator(2, K, hidden_units=(32,), mode=mode)
    return kerasgan.ConditionalGAN(g, d, latent_dim=4, num_classes=K, seed=1, **kwargs)


def _acgan(**kwargs):
    keras.utils.set_random_seed(0)
    g = cond.build_conditional_mlp_generator(4, 2, K, hidden_units=(32,))
    d = cond.build_conditional_mlp_discriminator(2, K, hidden_units=(32,), mode="acgan")
    return kerasgan.ACGAN(g, d, latent_dim=4, num_classes=K, seed=1, **kwargs)


def _class_data(n=600, seed=0):
    """Three well separated classes: class c is N(mu_c, 0.05^2 I) on a circle of radius 2."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    angles = 2 * np.pi * np.arange(K) / K
    mu = 2 * np.stack([np.cos(angles), np.sin(angles)], 1)
    x = mu[y] + 0.05 * rng.standard_normal((n, 2))
    return x.astype("float32"), y.astype("int32"), mu


# --- penalties -------------------------------------------------------------------------


def _linear_conditional_critic(w, offsets):
    """D([x, y]) = w.x + offsets[y]: gradient w for every label."""
    x = keras.Input((2,))
    y = keras.Input((), dtype="int32")
    dense = keras.layers.Dense(1)
    emb = keras.layers.Embedding(K, 1)
    out = keras.layers.Add()([dense(x), keras.layers.Reshape((1,))(emb(y))])
    model = keras.Model([x, y], out)
    dense.set_weights([np.array(w, "float32").reshape(2, 1), np.zeros(1, "float32")])
    emb.set_weights([np.array(offsets, "float32").reshape(K, 1)])
    return model


def test_gradient_penalty_of_a_linear_conditional_critic_is_closed_form():
    g = cond.build_conditional_mlp_generator(4, 2, K, hidden_units=(8,))
    d = _linear_conditional_critic([3.0, 4.0], [10.0, -5.0, 0.0])  # |w| = 5
    model = kerasgan.ConditionalGAN(g, d, latent_dim=4, num_classes=K, gp_weight=10.0)
    real = tf.random.normal([6, 2])
    fake = tf.random.normal([6, 2])
    labels = tf.constant([0, 1, 2, 0, 1, 2])
    per_example, logs = model.discriminator_loss(real, fake, labels=labels)
    np.testing.assert_allclose(logs["gp"].numpy(), (5.0 - 1.0) ** 2, rtol=1e-5)
    # the loss pair plus 10 * gp, per example
    pair = kerasgan.losses.non_saturating_discriminator_loss(
        d([real, labels]), d([fake, labels])
    ).numpy()
    np.testing.assert_allclose(per_example.numpy(), pair + 10.0 * 16.0, rtol=1e-5)


def test_r1_enters_with_half_gamma_and_logs_the_raw_penalty():
    g = cond.build_conditional_mlp_generator(4, 2, K, hidden_units=(8,))
    d = _linear_conditional_critic([1.0, 2.0], [0.0, 0.0, 0.0])  # |grad|^2 = 5
    model = kerasgan.ConditionalGAN(g, d, latent_dim=4, num_classes=K, r1_weight=4.0)
    real, fake, labels = tf.zeros([3, 2]), tf.ones([3, 2]), tf.constant([0, 1, 2])
    per_example, logs = model.discriminator_loss(real, fake, labels=labels)
    np.testing.assert_allclose(logs["r1"].numpy(), 5.0, rtol=1e-6)
    pair = kerasgan.losses.non_saturating_discriminator_loss(
        d([real, labels]), d([fake, labels])
    ).numpy()
    np.testing.assert_allclose(per_example.numpy(), pair + 2.0 * 5.0, rtol=1e-6)


def test_auxiliary_classification_is_the_class_cross_entropy_of_each_player():
    aux = penalties.AuxiliaryClassification(weight=2.0)
    real_logits = tf.constant([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    fake_logits = tf.constant([[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    labels = tf.constant([0, 1])
    fake_labels = tf.constant([2, 0])

    def ce(logits, y):
        p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y])

    step = penalties.Step(
        None,
        tf.zeros([2, 2]),
        tf.zeros([2, 2]),
        labels,
        fake_labels,
        (real_logits,),
        (fake_logits,),
    )
    d_value = aux(step, "discriminator").numpy()
    np.testing.assert_allclose(
        d_value, ce(real_logits.numpy(), [0, 1]) + ce(fake_logits.numpy(), [2, 0]), rtol=1e-6
    )
    g_step = penalties.Step(None, None, tf.zeros([2, 2]), labels, fake_labels, (), (fake_logits,))
    np.testing.assert_allclose(
        aux(g_step, "generator").numpy(), ce(fake_logits.numpy(), [2, 0]), rtol=1e-6
    )
    assert aux.coefficient == 2.0
    assert (aux.log_key("d"), aux.log_key("g")) == ("d_cls", "g_cls")
    # Real samples only in the discriminator's class loss; the generator's is unchanged.
    real_only = penalties.AuxiliaryClassification(2.0, fake_in_discriminator=False)
    np.testing.assert_allclose(
        real_only(step, "discriminator").numpy(), ce(real_logits.numpy(), [0, 1]), rtol=1e-6
    )
    np.testing.assert_allclose(
        real_only(g_step, "generator").numpy(), ce(fake_logits.numpy(), [2, 0]), rtol=1e-6
    )
    with pytest.raises(ValueError, match="fake_in_discriminator=1"):
        penalties.AuxiliaryClassification(fake_in_discriminator=1)


def test_penalties_round_trip_and_refuse_bad_arguments():
    for p in (
        penalties.GradientPenalty(5.0, target=0.0),
        penalties.R1Penalty(0.1, name="r1_real"),
        penalties.WeightClipping(0.05),
        penalties.AuxiliaryClassification(0.5, players=["discriminator"]),
        penalties.AuxiliaryClassification(0.5, fake_in_discriminator=False),
    ):
        q = penalties.deserialize(penalties.serialize(p))
        assert type(q) is type(p) and q.get_config() == p.get_config()
    with pytest.raises(ValueError, match=r"weight=-1"):
        penalties.GradientPenalty(-1.0)
    with pytest.raises(ValueError, match=r"clip_value=0"):
        penalties.WeightClipping(0)
    with pytest.raises(ValueError, match=r"name='a b'"):
        penalties.R1Penalty(1.0, name="a b")
    with pytest.raises(ValueError, match=r"player 'encoder'"):
        _cgan(penalties=[penalties.R1Penalty(1.0, players=["encoder"])])
    with pytest.raises(ValueError, match=r"log under 'gp'"):
        _cgan(gp_weight=1.0, penalties=[penalties.GradientPenalty(2.0)])
    with pytest.raises(ValueError, match=r"penalties must hold"):
        _cgan(penalties=["gp"])


def test_a_penalty_added_as_an_object_enters_the_loss_without_touching_train_step():
    a = _cgan(gp_weight=3.0)
    b = _cgan(penalties=[penalties.GradientPenalty(3.0)])
    x, y, _ = _class_data(64)
    for m in (a, b):
        m.compile(optimizers={"generator": "sgd", "discriminator": keras.optimizers.SGD(0.1)})
        m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    # the shorthand and the object are the same penalty: the same updates
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    assert "gp" in b.get_metrics_result()


# --- conditioning ----------------------------------------------------------------------


def test_labels_reach_the_generator_and_the_discriminator():
    model = _cgan()
    z = np.random.default_rng(0).standard_normal((4, 4)).astype("float32")
    a, b = model.generate(z, labels=[0, 0, 0, 0]), model.generate(z, labels=[1, 1, 1, 1])
    assert np.abs(a - b).max() > 1e-4
    np.testing.assert_allclose(model.generate(z, labels=1), b)
    x = tf.constant(a)
    l0, _ = model.run_discriminator(x, tf.constant([0, 0, 0, 0]), training=False)
    l1, _ = model.run_discriminator(x, tf.constant([1, 1, 1, 1]), training=False)
    assert np.abs(l0.numpy() - l1.numpy()).max() > 1e-5


def test_fit_takes_arrays_datasets_and_dict_batches_alike():
    x, y, _ = _class_data(64)
    weights = []
    for data in (
        dict(x=x, y=y),
        dict(x=tf.data.Dataset.from_tensor_slices((x, y)).batch(32)),
        dict(x=tf.data.Dataset.from_tensor_slices({"x": x, "y": y}).batch(32)),
        dict(x={"image": x, "label": y}),
    ):
        model = _cgan()
        model.compile(optimizers={"generator": "sgd", "discriminator": "sgd"})
        kwargs = {"batch_size": 32} if not isinstance(data["x"], tf.data.Dataset) else {}
        model.fit(**data, epochs=1, verbose=0, shuffle=False, **kwargs)
        weights.append(model.get_weights())
    for w in weights[1:]:
        for u, v in zip(weights[0], w):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_conditional_inputs_are_checked():
    model = _cgan()
    model.compile()
    x, y, _ = _class_data(32)
    with pytest.raises(ValueError, match=r"needs labels.*Received: y=None"):
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"in \[0, 3\)\. Received: a label 3"):
        model.fit(x, np.full(32, 3), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"shape \[32\]"):
        model.fit(x, y[:10], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"dtype <U1"):
        model.fit(x, np.array(["a"] * 32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"must yield \(x, labels\)"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"given twice"):
        model.fit({"x": x, "y": y}, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"labels=None"):
        model.generate(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"a label -1"):
        model.sample(2, labels=-1)
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(4, 2), kerasgan.models.build_mlp_discriminator(2), 4
    )
    with pytest.raises(ValueError, match=r"unconditional.*takes no labels"):
        gan.generate(np.zeros((2, 4)), labels=[0, 1])
    with pytest.raises(ValueError, match=r"num_classes=1"):
        kerasgan.ConditionalGAN(model.generator, model.discriminator, 4, num_classes=1)
    with pytest.raises(ValueError, match=r"pack=2"):
        kerasgan.GAN(model.generator, model.discriminator, 4, num_classes=K, pack=2)


def test_unconditional_models_ignore_y():
    g = kerasgan.models.build_mlp_generator(2, 2, (16,))
    d = kerasgan.models.build_mlp_discriminator(2, (16,))
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    out = []
    for y in (None, np.arange(64)):
        keras.utils.set_random_seed(0)
        model = kerasgan.GAN(keras.models.clone_model(g), keras.models.clone_model(d), 2, seed=3)
        model.set_weights([w * 0 + 0.1 for w in model.get_weights()])
        model.compile(optimizers={"generator": "sgd", "discriminator": "sgd"})
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
        out.append(model.get_weights())
    for u, v in zip(*out):
        np.testing.assert_array_equal(u, v)


# --- players and optimizers -------------------------------------------------------------


def test_optimizers_mapping_keyword_forms_and_errors():
    model = _cgan()
    sgd = keras.optimizers.SGD(0.5)
    model.compile(g_optimizer=sgd, optimizers={"discriminator": "rmsprop"})
    assert model.optimizers["generator"] is sgd is model.g_optimizer
    assert isinstance(model.optimizers["discriminator"], keras.optimizers.RMSprop)
    with pytest.raises(ValueError, match=r"players are \['generator', 'discriminator'\]"):
        _cgan().compile(optimizers={"critic": "sgd"})
    with pytest.raises(ValueError, match=r"given twice"):
        _cgan().compile(g_optimizer="sgd", optimizers={"generator": "adam"})
    with pytest.raises(ValueError, match=r"unexpected argument 'q_optimizer'"):
        _cgan().compile(q_optimizer="sgd")
    with pytest.raises(ValueError, match=r"two different optimizer instances"):
        _cgan().compile(optimizers={"generator": sgd, "discriminator": sgd})


@keras.saving.register_keras_serializable(package="kerasgan_tests")
class ThreePlayerGAN(kerasgan.GAN):
    """A GAN with an encoder E trained to recover z from G(z): a third player, own optimizer."""

    players = {**_BASE_PLAYERS, "encoder": ("encoder", "e")}

    def __init__(self, generator, discriminator, encoder, latent_dim, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.encoder = encoder
        self._build_if_ready()

    def train_step(self, data):
        logs = super().train_step(data)
        z = self.draw_latents(tf.shape(self._unpack(data)[0])[0])
        fake = self.generator(z, training=False)
        opt = self.optimizers["encoder"]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.encoder(fake, training=True) - z))
        grads = tape.gradient(loss, self.encoder.trainable_variables)
        opt.apply(grads, self.encoder.trainable_variables)
        return {**logs, "e_loss": loss}

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return super().from_config(config)


def _three_player():
    keras.utils.set_random_seed(0)
    g = kerasgan.models.build_mlp_generator(2, 2, (16,))
    d = kerasgan.models.build_mlp_discriminator(2, (16,))
    e = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, "relu"), keras.layers.Dense(2)])
    model = ThreePlayerGAN(g, d, e, latent_dim=2, seed=5)
    model.compile(e_optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_three_player_model_resumes_every_player_exactly(tmp_path):
    x = np.random.default_rng(0).normal(size=(128, 2)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(32).repeat()
    model = _three_player()
    assert set(model.optimizers) == {"generator", "discriminator", "encoder"}
    backup = cbs.ResumableBackup(tmp_path / "bk", steps_per_epoch=4)
    model.fit(ds, steps_per_epoch=4, epochs=2, callbacks=[backup], verbose=0)
    fresh = _three_player()
    assert cbs.ResumableBackup(tmp_path / "bk", steps_per_epoch=4).restore(fresh) == 8
    for player in model.optimizers:
        a, b = model.optimizers[player], fresh.optimizers[player]
        assert int(a.iterations) == int(b.iterations) == 8
        for u, v in zip(a.variables, b.variables):
            np.testing.assert_array_equal(u.numpy(), v.numpy())
    for u, v in zip(model.encoder.get_weights(), fresh.encoder.get_weights()):
        np.testing.assert_array_equal(u, v)
    # and both continue identically: one more epoch each
    model.fit(ds, steps_per_epoch=4, epochs=1, verbose=0)
    fresh.fit(ds, steps_per_epoch=4, epochs=1, verbose=0)
    for u, v in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(u, v)


# --- saving, layers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [_cgan, _acgan, functools.partial(_acgan, aux_weight=0.5, aux_fake_in_discriminator=False)],
    ids=["ConditionalGAN", "ACGAN", "ACGAN-real-only"],
)
def test_keras_file_round_trip_with_safe_mode(make, tmp_path):
    model = make()
    model.compile()
    x, y, _ = _class_data(64)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    z = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    np.testing.assert_array_equal(
        model.generate(z, labels=[0, 1, 2, 0, 1]), loaded.generate(z, labels=[0, 1, 2, 0, 1])
    )
    assert [type(p) for p in loaded.penalties] == [type(p) for p in model.penalties]
    assert loaded.num_classes == K
    def settings(m):  # the model's own config (the networks are compared by their outputs)
        return {k: v for k, v in m.get_config().items() if k not in ("generator", "discriminator")}

    assert settings(loaded) == settings(model)
    for u, v in zip(
        model.optimizers["discriminator"].variables, loaded.optimizers["discriminator"].variables
    ):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_projection_discriminator_is_psi_plus_inner_product():
    d = cond.build_conditional_mlp_discriminator(2, K, hidden_units=(5,), mode="projection")
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    y = np.array([0, 1, 2, 1])
    w0, b0 = d.get_layer("dense_0").get_weights()
    h = x @ w0 + b0
    h = np.where(h > 0, h, 0.2 * h)
    w, b = d.get_layer("logit_dense").get_weights()
    emb = d.get_layer("projection").get_weights()[0]
    expected = h @ w + b + np.sum(emb[y] * h, -1, keepdims=True)
    np.testing.assert_allclose(d([x, y]).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_conditional_batch_norm_scales_and_shifts_per_class():
    cbn = layers.ConditionalBatchNormalization(K)
    x = np.random.default_rng(0).normal(size=(6, 3, 3, 2)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    cbn([x, y], training=True)  # builds
    gamma = np.array([[1, 1], [2, 3], [0.5, 1]], "float32")
    beta = np.array([[0, 0], [1, -1], [0, 2]], "float32")
    cbn.gamma.assign(gamma)
    cbn.beta.assign(beta)
    out = cbn([x, y], training=True).numpy()
    mu = x.mean((0, 1, 2))
    var = x.var((0, 1, 2))
    normed = (x - mu) / np.sqrt(var + cbn.epsilon)
    expected = normed * gamma[y][:, None, None, :] + beta[y][:, None, None, :]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


# --- learning, export, CLI -----------------------------------------------------------------


def _distance_to_class_means(model, mu, n=300):
    labels = np.arange(n) % K
    samples = model.sample(n, labels=labels, seed=0)
    return float(np.mean(np.linalg.norm(samples - mu[labels], axis=-1)))


@pytest.mark.parametrize("make", [_cgan, _acgan], ids=["ConditionalGAN", "ACGAN"])
def test_it_learns_to_draw_the_requested_class(make):
    x, y, mu = _class_data(2048)
    model = make()
    model.compile(
        optimizers={
            "generator": keras.optimizers.Adam(2e-3, beta_1=0.5),
            "discriminator": keras.optimizers.Adam(2e-3, beta_1=0.5),
        },
        jit_compile=True,
    )
    before = _distance_to_class_means(model, mu)
    model.fit(x, y, batch_size=128, epochs=15, verbose=0)
    after = _distance_to_class_means(model, mu)
    # classes are 3.46 apart; a sample of the wrong class or of the mixture mean is far
    assert before > 1.0
    assert after < 0.5, (before, after)


def test_sample_cli_draws_the_requested_label(tmp_path):
    model = _cgan()
    base = tmp_path / "exp"
    export.export_generator(model, str(base), version=1)
    out = tmp_path / "s.npy"
    assert (
        cli.main(["sample", str(base), "-n", "6", "--label", "2", "--seed", "7", "-o", str(out)])
        == 0
    )
    loaded = tf.saved_model.load(str(base / "1"))
    expected = loaded.signatures["sample_seeded"](
        labels=tf.fill([6], 2), seed=tf.constant(7, tf.int64)
    )["samples"]
    np.testing.assert_array_equal(np.load(out), expected.numpy())
    assert cli.main(["sample", str(base), "-n", "6", "-o", str(out)]) == 2
    assert cli.main(["sample", str(base), "-n", "6", "--label", "3", "-o", str(out)]) == 2


def test_tensorboard_grid_has_one_row_per_class(tmp_path):
    from kerasgan.callbacks import ImageGrid
    from kerasgan.callbacks.monitoring import image_grid

    keras.utils.set_random_seed(0)
    g = cond.build_conditional_dcgan_generator(4, K, (16, 16, 1), base_filters=4)
    d = cond.build_conditional_dcgan_discriminator((16, 16, 1), K, base_filters=4)
    model = kerasgan.ConditionalGAN(g, d, latent_dim=4, num_classes=K)
    cb = ImageGrid(str(tmp_path), num_images=6)
    cb.set_model(model)
    cb.on_train_begin()
    images = cb._images()
    # rows of 2: the same two latents in every row, the row's class as the label
    np.testing.assert_array_equal(cb._labels, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(cb._z[:2], cb._z[4:])
    np.testing.assert_allclose(images[2:4], model.generate(cb._z[:2], labels=1), atol=1e-6)
    grid = image_grid(images, rows=cb._rows(), pad=2)
    assert grid.shape == (3 * 18 - 2, 2 * 18 - 2, 1)
    assert np.all(grid[16:18] == 128)  # grey separator between the rows of classes 0 and 1
    cb.on_epoch_end(0)
    cb.on_train_end()
    assert list((tmp_path / "samples").glob("events.out.tfevents.*"))
