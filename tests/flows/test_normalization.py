"""The batch-normalization flow layer: closed forms in both modes, moving statistics, save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows

D = 3


def _layer(shape=(D,), seed=0):
    layer = flows.BatchNorm(momentum=0.5, dtype="float64")
    layer.build((None, *shape))
    rng = np.random.default_rng(seed)
    c = shape[-1]
    layer.log_gamma.assign(rng.normal(0, 0.3, c))
    layer.beta.assign(rng.normal(0, 0.3, c))
    layer.moving_mean.assign(rng.normal(0, 1.0, c))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, c))
    return layer


def _data(n=64, seed=1, shape=(D,)):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.normal(2.0, 3.0, (n, *shape)))


def test_inference_mode_is_the_affine_map_of_the_moving_statistics():
    layer = _layer()
    x = _data()
    bij = layer.bijector()
    mean, var, eps = layer.moving_mean.numpy(), layer.moving_variance.numpy(), layer.epsilon
    scale = np.exp(layer.log_gamma.numpy()) / np.sqrt(var + eps)
    np.testing.assert_allclose(
        bij.inverse(x).numpy(), (x.numpy() - mean) * scale + layer.beta.numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(bij.forward(bij.inverse(x)).numpy(), x.numpy(), atol=1e-10)
    # log|det| against an autodiff Jacobian.
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = layer.bijector().inverse(x)
    jac = tape.batch_jacobian(z, x).numpy()
    want = np.linalg.slogdet(jac)[1]
    got = layer.bijector().inverse_log_det_jacobian(x, event_ndims=1).numpy()
    np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, atol=1e-10)
    fwd = layer.bijector().forward_log_det_jacobian(z, event_ndims=1).numpy()
    np.testing.assert_allclose(np.broadcast_to(fwd, want.shape), -want, atol=1e-10)


def test_training_mode_uses_batch_statistics_and_ignores_moving_ones():
    layer = _layer()
    x = _data()
    z = layer.bijector(training=True).inverse(x).numpy()
    np.testing.assert_allclose(z.mean(axis=0), layer.beta.numpy(), atol=1e-10)
    np.testing.assert_allclose(
        z.std(axis=0),
        np.exp(layer.log_gamma.numpy()) / np.sqrt(1 + 1e-5 / x.numpy().var(0)),
        rtol=1e-9,
    )
    var = x.numpy().var(axis=0)
    want = np.sum(layer.log_gamma.numpy() - 0.5 * np.log(var + layer.epsilon))
    got = layer.bijector(training=True).inverse_log_det_jacobian(x, event_ndims=1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_training_log_prob_of_a_chain_does_not_depend_on_moving_statistics():
    # A flow with batch norm between MAF layers: in training mode only the batch counts.
    keras.utils.set_random_seed(0)
    model = flows.FlowModel(
        (D,),
        [
            flows.MAF([8], dtype="float64"),
            flows.BatchNorm(dtype="float64"),
            flows.MAF([8], dtype="float64"),
        ],
        dtype="float64",
    )
    rng = np.random.default_rng(0)
    for v in model.trainable_weights:
        v.assign(rng.normal(0, 0.2, v.shape))
    x = _data()
    bn = model.flow_layers[1]
    first = model._log_prob(x, training=True).numpy()
    bn.moving_mean.assign([5.0, -5.0, 1.0])
    bn.moving_variance.assign([9.0, 0.1, 4.0])
    np.testing.assert_array_equal(model._log_prob(x, training=True).numpy(), first)
    bn._pending.clear()
    # ... while inference mode does use them.
    assert not np.allclose(model._log_prob(x).numpy(), first)


def test_fit_moves_the_moving_statistics_to_the_data_moments():
    keras.utils.set_random_seed(0)
    model = flows.FlowModel((D,), [flows.BatchNorm(momentum=0.5)], seed=0)
    model.compile(keras.optimizers.SGD(0.0))  # statistics only: no weight change
    x = np.random.default_rng(3).normal([1.0, -2.0, 0.5], [2.0, 0.5, 1.0], (4096, D))
    model.fit(x.astype("float32"), batch_size=512, epochs=3, verbose=0, shuffle=False)
    bn = model.flow_layers[0]
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(0), atol=0.1)
    np.testing.assert_allclose(bn.moving_variance.numpy(), x.var(0), rtol=0.1)
    assert not bn._pending


def test_images_are_normalized_per_channel_and_log_det_counts_pixels():
    layer = _layer(shape=(4, 4, 2))
    x = _data(16, shape=(4, 4, 2))
    z = layer.bijector(training=True).inverse(x).numpy()
    np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), layer.beta.numpy(), atol=1e-10)
    # Inference mode: the per-channel log-det is counted once per pixel (16 pixels).
    per_channel = layer.log_gamma.numpy() - 0.5 * np.log(
        layer.moving_variance.numpy() + layer.epsilon
    )
    got = layer.bijector().inverse_log_det_jacobian(x, event_ndims=3).numpy()
    np.testing.assert_allclose(got, 16 * per_channel.sum(), rtol=1e-12)


def test_log_gamma_and_beta_get_gradients_and_save_load_keeps_statistics(tmp_path):
    keras.utils.set_random_seed(0)
    model = flows.FlowModel((D,), [flows.MAF([8]), flows.BatchNorm(), flows.MAF([8])], seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).normal(1.0, 2.0, (1024, D)).astype("float32")
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model._log_prob(tf.constant(x), training=True))
    bn = model.flow_layers[1]
    grads = tape.gradient(loss, [bn.log_gamma, bn.beta])
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)
    bn._pending.clear()
    before = -np.mean(model.log_prob(x).numpy())
    model.fit(x, batch_size=256, epochs=5, verbose=0)
    after = -np.mean(model.log_prob(x).numpy())
    assert after < before
    path = str(tmp_path / "bn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.flow_layers[1].moving_variance.numpy(), bn.moving_variance.numpy()
    )
    np.testing.assert_allclose(
        loaded.log_prob(x[:32]).numpy(), model.log_prob(x[:32]).numpy(), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match", [({"momentum": 1.0}, "momentum"), ({"epsilon": 0}, "epsilon")]
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        flows.BatchNorm(**kwargs)
