"""Golden values, shapes and gradients of the loss pairs."""

import math

import numpy as np
import pytest
import tensorflow as tf

from kerasgan import losses

REAL = np.array([2.0, -1.0, 0.0, 0.5], "float32")
FAKE = np.array([-3.0, 0.5, 0.0, 1.0], "float32")


def _sp(x):
    return np.log1p(np.exp(x))


def test_golden_values_by_hand():
    # Hand-computed: D loss = -log s(r) - log(1 - s(f)) for r=0, f=0: 2 log 2.
    np.testing.assert_allclose(
        losses.minimax_discriminator_loss([0.0], [0.0]), [2 * math.log(2)], rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.non_saturating_generator_loss([0.0]), [math.log(2)], rtol=1e-6
    )
    np.testing.assert_allclose(losses.minimax_generator_loss([0.0]), [-math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(losses.wasserstein_discriminator_loss([2.0], [0.5]), [-1.5])
    np.testing.assert_allclose(losses.hinge_discriminator_loss([0.5], [-2.0]), [0.5])
    np.testing.assert_allclose(losses.hinge_discriminator_loss([2.0], [0.5]), [1.5])
    np.testing.assert_allclose(losses.least_squares_discriminator_loss([1.0], [1.0]), [0.5])
    np.testing.assert_allclose(losses.least_squares_generator_loss([0.0]), [0.5])


@pytest.mark.parametrize(
    "name, g_ref, d_ref",
    [
        ("minimax", lambda f: -_sp(f), lambda r, f: _sp(-r) + _sp(f)),
        ("non_saturating", lambda f: _sp(-f), lambda r, f: _sp(-r) + _sp(f)),
        ("wasserstein", lambda f: -f, lambda r, f: f - r),
        ("hinge", lambda f: -f, lambda r, f: np.maximum(0, 1 - r) + np.maximum(0, 1 + f)),
        (
            "least_squares",
            lambda f: 0.5 * (f - 1) ** 2,
            lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f**2,
        ),
    ],
)
def test_pairs_match_numpy_reference(name, g_ref, d_ref):
    g, d = losses.get(name)
    np.testing.assert_allclose(g(FAKE).numpy(), g_ref(FAKE.astype("float64")), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        d(REAL, FAKE).numpy(), d_ref(REAL.astype("float64"), FAKE), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", losses.names())
def test_per_example_shapes_and_patch_logits(name):
    g, d = losses.get(name)
    assert g(FAKE[:, None]).shape == (4,)
    assert d(REAL[:, None], FAKE[:, None]).shape == (4,)
    patch = np.tile(FAKE[:, None, None, None], (1, 3, 3, 1))
    np.testing.assert_allclose(g(patch), g(FAKE), rtol=1e-6)


@pytest.mark.parametrize("name", losses.names())
def test_finite_gradients_at_large_logits(name):
    g, d = losses.get(name)
    x = tf.constant([-1e4, -80.0, 80.0, 1e4])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        lg = tf.reduce_sum(g(x))
        ld = tf.reduce_sum(d(x, -x))
    for value in (lg, ld, tape.gradient(lg, x), tape.gradient(ld, x)):
        assert np.all(np.isfinite(value.numpy())), name


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="Received: loss='bogus'"):
        losses.get("bogus")


def test_global_batch_mean_single_device():
    assert losses.global_batch_mean([1.0, 3.0]).numpy() == pytest.approx(2.0)
    assert losses.global_batch_mean([1.0, 3.0], global_batch_size=4).numpy() == pytest.approx(1.0)


def test_global_batch_mean_divides_by_global_batch(two_cpu_strategy):
    per_replica = two_cpu_strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant([1.0, 3.0]) * (ctx.replica_id_in_sync_group + 1)
    )
    out = two_cpu_strategy.run(losses.global_batch_mean, args=(per_replica,))
    values = [v.numpy() for v in two_cpu_strategy.experimental_local_results(out)]
    # replica 0: (1 + 3) / 4, replica 1: (2 + 6) / 4; their sum is the global mean 3.
    np.testing.assert_allclose(values, [1.0, 2.0])
    assert sum(values) == pytest.approx(np.mean([1, 3, 2, 6]))
