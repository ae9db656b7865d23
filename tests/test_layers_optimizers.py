"""kerasgan.layers.BatchNormalization and kerasgan.optimizers.Adam equal Keras's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.layers import BatchNormalization
from kerasgan.optimizers import Adam


def _bn_pair(shape, **kwargs):
    rng = np.random.default_rng(0)
    ours, ref = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours.build(shape)
    ref.build(shape)
    for a, b in zip(ours.weights, ref.weights):
        value = rng.uniform(0.5, 1.5, a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    return ours, ref


def _forward_backward(layer, x, training):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.sin(y) * y)
    grads = tape.gradient(loss, [x] + layer.trainable_weights)
    return [y.numpy()] + [g.numpy() for g in grads] + [w.numpy() for w in layer.weights]


@pytest.mark.parametrize("shape", [(32, 7), (8, 5, 5, 3)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9, "center": False, "epsilon": 1e-5}])
def test_batch_norm_matches_keras(shape, training, kwargs):
    ours, ref = _bn_pair(shape, **kwargs)
    x = np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32")
    for _ in range(2):  # twice: the moving averages compound
        got, want = _forward_backward(ours, x, training), _forward_backward(ref, x, training)
    # outputs, gradients (x, gamma[, beta]) and the four statistics/weights
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-4)


def test_batch_norm_moving_variance_is_biased_like_keras():
    bn = BatchNormalization(momentum=0.0)
    x = np.array([[0.0], [2.0]], "float32")  # biased variance 1, unbiased 2
    bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [1.0])
    np.testing.assert_allclose(bn.moving_variance.numpy(), [1.0], rtol=1e-6)


def test_batch_norm_channels_first_falls_back_to_keras():
    ours, ref = _bn_pair((4, 3, 5, 5), axis=1)
    x = np.random.default_rng(2).normal(size=(4, 3, 5, 5)).astype("float32")
    np.testing.assert_allclose(
        ours(x, training=True).numpy(), ref(x, training=True).numpy(), rtol=1e-5, atol=1e-5
    )


def test_batch_norm_mixed_precision_and_xla():
    bn = BatchNormalization(dtype="mixed_float16")
    x = tf.random.normal((4, 3, 3, 2))
    y = tf.function(lambda x: bn(x, training=True), jit_compile=True)(x)
    assert y.dtype == tf.float16
    assert bn.moving_mean.dtype == "float32"


def test_batch_norm_saves_and_loads(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, BatchNormalization(momentum=0.5)(inputs))
    model(np.ones((2, 3), "float32") * [[1.0], [3.0]], training=True)
    path = str(tmp_path / "bn.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[-1], BatchNormalization)
    assert loaded.layers[-1].get_config() == model.layers[-1].get_config()
    x = np.random.default_rng(3).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)


def _adam_run(optimizer, steps=6, jit_compile=False, strategy=None):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        if callable(optimizer) and not isinstance(optimizer, keras.optimizers.Optimizer):
            optimizer = optimizer()  # a factory: built under the strategy
        w = keras.Variable(np.linspace(-1.0, 1.0, 6, dtype="float32").reshape(2, 3))
        optimizer.build([w])

    @tf.function(jit_compile=jit_compile)
    def step(i):
        def fn():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(1.3 * w.value + tf.cast(i, tf.float32)) ** 2)
            optimizer.apply([tape.gradient(loss, w.value)], [w])

        strategy.run(fn)

    for i in range(steps):
        step(tf.constant(i))
    return w.numpy()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.1, "beta_1": 0.5},
        {"learning_rate": 0.05, "beta_1": 0.0, "beta_2": 0.9, "epsilon": 1e-3},
        {"learning_rate": 0.1, "clipnorm": 0.1, "weight_decay": 0.1},
        {"learning_rate": 0.1, "amsgrad": True},
    ],
)
def test_adam_matches_keras(kwargs):
    want = _adam_run(keras.optimizers.Adam(**kwargs))
    np.testing.assert_allclose(_adam_run(Adam(**kwargs)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        _adam_run(Adam(**kwargs), jit_compile=True), want, rtol=1e-5, atol=1e-5
    )


def test_adam_schedule_and_closed_form_first_step():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    np.testing.assert_allclose(
        _adam_run(Adam(schedule)), _adam_run(keras.optimizers.Adam(schedule)), atol=1e-5
    )
    # First Adam step moves every weight by lr * g / (|g| + eps') = lr * sign(g).
    w = keras.Variable([1.0, -2.0])
    opt = Adam(0.5)
    opt.apply([tf.constant([3.0, -0.25])], [w])
    np.testing.assert_allclose(w.numpy(), [0.5, -1.5], rtol=1e-5)


def test_adam_under_mirrored_strategy(two_cpu_strategy):
    want = _adam_run(keras.optimizers.Adam(0.1, beta_1=0.5))
    got = _adam_run(lambda: Adam(0.1, beta_1=0.5), strategy=two_cpu_strategy)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_adam_serializes():
    opt = Adam(2e-4, beta_1=0.5)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(restored) is Adam
    assert restored.get_config() == opt.get_config()
