"""Dequantization, the logit transform and bits per dimension."""

import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows


def test_dequantize_stays_in_the_level_cell():
    x = np.array([[0, 255], [17, 128]])
    y = flows.dequantize(x, seed=0)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(np.floor(y * 256).astype(int), x)
    with pytest.raises(ValueError, match=r"\[0, 256\)"):
        flows.dequantize(np.array([256]))


def test_bits_per_dim_golden_values():
    assert flows.bits_per_dim(0.0, 64) == pytest.approx(8.0)
    # a density of 2^D on a half-size cube: one bit less per dimension
    assert flows.bits_per_dim(-10 * np.log(2.0), 10) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="num_dims"):
        flows.bits_per_dim(1.0, 0)


def test_logit_transform_round_trip_and_log_det():
    layer = flows.LogitTransform(0.05, dtype="float64")
    layer.build((None, 3))
    bij = layer.bijector()
    x = tf.constant(np.random.default_rng(0).uniform(0.01, 0.99, (16, 3)))
    z = bij.inverse(x)
    np.testing.assert_allclose(bij.forward(z).numpy(), x.numpy(), atol=1e-12)
    with tf.GradientTape() as tape:
        tape.watch(x)
        zz = layer.bijector().inverse(x)  # a fresh bijector: the old one caches z
    want = np.linalg.slogdet(tape.batch_jacobian(zz, x).numpy())[1]
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(x, 1).numpy(), want, atol=1e-9)
    with pytest.raises(ValueError, match="alpha"):
        flows.LogitTransform(0.5)


def test_flow_on_unit_cube_data_reports_bits_per_dim():
    # Uniform data on [0,1)^2 through the logit transform and one MAF: before training the
    # density is not uniform (NLL > 0 -> more than 8 bits/dim); the mass stays normalized.
    model = flows.FlowModel((2,), [flows.LogitTransform(0.05), flows.MAF([8])])
    x = flows.dequantize(np.random.default_rng(1).integers(0, 256, (4000, 2)), seed=1)
    nll = float(-np.mean(model.log_prob(x).numpy()))
    assert flows.bits_per_dim(nll, 2) > 8.0
    g = (np.arange(200) + 0.5) / 200
    xx, yy = np.meshgrid(g, g)
    p = np.exp(model.log_prob(np.stack([xx.ravel(), yy.ravel()], 1).astype("float32")).numpy())
    # the logit maps [alpha-free] [0,1] onto the real line except thin edges
    assert 0.9 < p.sum() / 200**2 <= 1.001
