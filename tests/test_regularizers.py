"""Gradient penalty closed forms, R1 and clipping."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import regularizers


def _linear_critic(w, b=0.3):
    critic = keras.Sequential([keras.Input((len(w),)), keras.layers.Dense(1)])
    critic.layers[-1].set_weights([np.asarray(w, "float32")[:, None], np.array([b], "float32")])
    return critic


@pytest.mark.parametrize(
    "w, target", [([3.0, 4.0], 1.0), ([0.6, 0.8], 1.0), ([1.0, 2.0, 2.0], 2.0)]
)
def test_linear_critic_penalty_is_closed_form(w, target):
    critic = _linear_critic(w)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(16, len(w))).astype("float32")
    fake = rng.normal(size=(16, len(w))).astype("float32")
    alpha = regularizers.interpolation_weights(16, 2, seed=[1, 2])
    gp = regularizers.gradient_penalty(critic, real, fake, alpha, target=target)
    assert gp.shape == (16,)
    expected = (np.linalg.norm(w) - target) ** 2
    np.testing.assert_allclose(gp.numpy(), np.full(16, expected), rtol=1e-5, atol=1e-6)


def test_interpolation_weights_shape_and_range():
    alpha = regularizers.interpolation_weights(1000, 4, seed=[3, 4]).numpy()
    assert alpha.shape == (1000, 1, 1, 1)
    assert alpha.min() >= 0.0 and alpha.max() < 1.0
    # Uniform, not normal: mean 1/2, variance 1/12.
    assert abs(alpha.mean() - 0.5) < 0.03
    assert abs(alpha.var() - 1 / 12) < 0.01


def test_penalty_and_its_gradient_finite_at_zero_gradient():
    critic = _linear_critic([0.0, 0.0])
    x = np.ones((4, 2), "float32")
    alpha = regularizers.interpolation_weights(4, 2, seed=[0, 0])
    with tf.GradientTape() as tape:
        gp = regularizers.gradient_penalty(critic, x, -x, alpha)
        total = tf.reduce_sum(gp)
    kernel = critic.layers[-1].kernel
    grad = tape.gradient(total, kernel)  # the bias does not enter grad_x D
    np.testing.assert_allclose(gp.numpy(), np.ones(4), rtol=1e-5)  # (0 - 1)^2
    assert grad is not None and np.all(np.isfinite(grad.numpy()))


def test_penalty_images_interpolates_per_example():
    critic = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    real = np.zeros((3, 4, 4, 1), "float32")
    fake = np.ones((3, 4, 4, 1), "float32")
    alpha = regularizers.interpolation_weights(3, 4, seed=[5, 6])
    gp = regularizers.gradient_penalty(critic, real, fake, alpha)
    w = critic.layers[-1].get_weights()[0]
    np.testing.assert_allclose(gp.numpy(), np.full(3, (np.linalg.norm(w) - 1) ** 2), rtol=1e-5)


def test_r1_penalty_linear_closed_form():
    critic = _linear_critic([3.0, 4.0])
    r1 = regularizers.r1_penalty(critic, np.zeros((5, 2), "float32"))
    np.testing.assert_allclose(r1.numpy(), np.full(5, 25.0), rtol=1e-6)


def test_clip_weights():
    critic = _linear_critic([3.0, -4.0], b=0.001)
    regularizers.clip_weights(critic.trainable_variables, 0.01)
    w, b = critic.get_weights()
    np.testing.assert_allclose(w[:, 0], [0.01, -0.01])
    np.testing.assert_allclose(b, [0.001])
    with pytest.raises(ValueError, match="clip_value=-1"):
        regularizers.clip_weights(critic.trainable_variables, -1)
