"""Planar and radial flows: log-det against autodiff, invertibility constraints, reverse-KL fits."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows


def _jacobian_logdet(bij, z):
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = bij.forward(z)
    return np.linalg.slogdet(tape.batch_jacobian(y, z).numpy())


@pytest.mark.parametrize("cls", [flows.Planar, flows.Radial])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_det_matches_autodiff_even_for_adversarial_parameters(cls, seed):
    layer = cls(dtype="float64")
    layer.build((None, 3))
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(0.0, 2.0, v.shape))
    if cls is flows.Planar:  # raw u pointing against w: the constraint must repair it
        layer.u.assign(-5.0 * layer.w.numpy())
    bij = layer.bijector()
    z = tf.constant(rng.normal(0.0, 1.5, (32, 3)))
    sign, want = _jacobian_logdet(bij, z)
    assert np.all(sign > 0)  # orientation preserving: invertible
    got = bij.forward_log_det_jacobian(z, event_ndims=1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-8)


def test_planar_constraint_and_radial_constraint():
    rng = np.random.default_rng(0)
    planar, radial = flows.Planar(), flows.Radial()
    planar.build((None, 4))
    radial.build((None, 4))
    for _ in range(50):
        for v in planar.weights + radial.weights:
            v.assign(rng.normal(0.0, 3.0, v.shape))
        assert float(tf.reduce_sum(planar.w * planar.u_hat())) > -1.0
        alpha, beta = radial.alpha_beta()
        assert float(alpha) > 0 and float(beta) >= -float(alpha)


def test_potentials_golden_values_and_normalizer():
    z = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 0.4]])
    np.testing.assert_allclose(flows.potential("u1", z)[0], 0.0, atol=1e-8)
    np.testing.assert_allclose(flows.potential("u2", z)[1:], [0.0, 0.5], atol=1e-12)
    # U2 on [-8, 8]^2: Z = 16 * sqrt(2 pi) * 0.4
    target = flows.EnergyTarget("u2")
    np.testing.assert_allclose(
        target.log_normalizer(), np.log(16 * np.sqrt(2 * np.pi) * 0.4), atol=1e-3
    )
    with pytest.raises(ValueError, match="Unknown energy"):
        flows.EnergyTarget("u9")


def test_planar_flow_samples_and_scores_its_own_samples():
    q = flows.FlowModel((2,), [flows.Planar() for _ in range(4)])
    x, log_q = q.sample_and_log_prob(100, seed=0)
    assert x.shape == (100, 2) and np.all(np.isfinite(log_q.numpy()))
    with pytest.raises(NotImplementedError):
        q.log_prob(np.zeros((2, 2), "float32"))


@pytest.mark.slow
@pytest.mark.parametrize("cls, bound", [(flows.Radial, 0.3), (flows.Planar, 0.75)])
def test_reverse_kl_fit_of_the_ring_energy(cls, bound):
    target = flows.EnergyTarget("u1")
    log_z = target.log_normalizer()
    q = flows.FlowModel((2,), [cls() for _ in range(16)], seed=0)
    fit = flows.DensityDistiller(target, q, seed=0)
    fit.compile(
        keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(1e-2, 2000, alpha=0.05), clipnorm=10.0
        )
    )
    before = fit.kl(10000, seed=1) + log_z
    fit.fit(batch_size=256, steps_per_epoch=250, epochs=8, verbose=0)
    after = fit.kl(20000, seed=1) + log_z  # KL(q || p) in nats
    assert after < bound and after < before - 0.5, (before, after)
