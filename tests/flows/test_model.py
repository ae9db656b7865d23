"""FlowModel: normalized densities, maximum-likelihood fit, save/load, distribution, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows
from kerasgan.data import toy


def _stack(kind, dtype="float32", context_size=0):
    if kind == "maf":
        return [
            flows.MAF([16, 16], context_size=context_size, dtype=dtype),
            flows.MAF(
                [16, 16], input_order="right-to-left", context_size=context_size, dtype=dtype
            ),
        ]
    if kind == "realnvp":
        return [
            flows.AffineCoupling([16], parity=p, context_size=context_size, dtype=dtype)
            for p in (0, 1, 0)
        ]
    if kind == "nice":
        return [flows.AdditiveCoupling([16], parity=p, dtype=dtype) for p in (0, 1)]
    if kind == "nsf":
        return [flows.NeuralSplineCoupling([16], num_bins=4, parity=p, dtype=dtype) for p in (0, 1)]
    if kind == "nsf_ar":
        return [flows.NeuralSplineAutoregressive(num_bins=4, hidden_units=[16], dtype=dtype)]
    if kind == "glow":
        return flows.glow_step([16], parity=0, seed=0, dtype=dtype) + flows.glow_step(
            [16], parity=1, seed=1, dtype=dtype
        )
    if kind == "iaf":
        return [
            flows.IAF([16], dtype=dtype),
            flows.Permute(dtype=dtype),
            flows.IAF([16], dtype=dtype),
        ]
    raise KeyError(kind)


KINDS = ["maf", "realnvp", "nice", "nsf", "nsf_ar", "iaf", "glow"]


def _randomized(kind, dtype="float64", scale=0.2, seed=0):
    model = flows.FlowModel((2,), _stack(kind, dtype), dtype=dtype)
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        noise = rng.normal(0.0, scale, v.shape)
        # LU factors near the identity: a random U diagonal ~0.2 would squash the
        # density below the grid's resolution.
        v.assign(np.eye(v.shape[0]) + noise if "lower_upper" in v.path else noise)
    return model


@pytest.mark.parametrize("kind", KINDS)
def test_density_is_normalized_on_a_grid(kind):
    model = _randomized(kind)
    g = np.linspace(-7.0, 7.0, 281)
    xx, yy = np.meshgrid(g, g)
    pts = np.stack([xx.ravel(), yy.ravel()], 1)
    lp = model.log_prob(pts).numpy()
    assert lp.shape == (len(pts),) and np.all(np.isfinite(lp))
    mass = np.exp(lp).sum() * (g[1] - g[0]) ** 2
    assert abs(mass - 1.0) < 0.01, mass


@pytest.mark.parametrize("kind", ["maf", "realnvp", "nsf", "glow"])
def test_fit_lowers_nll(kind):
    x = toy.load("two_moons", 2048, seed=0)
    model = flows.FlowModel((2,), _stack(kind), seed=0)
    model.compile(keras.optimizers.Adam(3e-3))
    before = -model.log_prob(x).numpy().mean()
    history = model.fit(x, batch_size=256, epochs=6, verbose=0)
    after = -model.log_prob(x).numpy().mean()
    assert np.all(np.isfinite(history.history["nll"]))
    assert after < before - 0.3, (before, after)
    assert history.history["nll"][-1] < history.history["nll"][0]


def test_maximum_likelihood_recovers_a_gaussian():
    # A single affine MAF layer can represent N(mu, diag(s^2)) exactly; its NLL -> entropy.
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(8192, 2)) * [0.5, 2.0] + [1.0, -3.0]).astype("float32")
    model = flows.FlowModel((2,), [flows.MAF([8])], seed=0)
    model.compile(keras.optimizers.Adam(2e-2))
    model.fit(x, batch_size=512, epochs=30, verbose=0)
    entropy = 0.5 * 2 * (1 + np.log(2 * np.pi)) + np.log(0.5) + np.log(2.0)
    nll = -model.log_prob(x).numpy().mean()
    assert abs(nll - entropy) < 0.03, (nll, entropy)
    s = model.sample(20000, seed=1).numpy()
    np.testing.assert_allclose(s.mean(0), [1.0, -3.0], atol=0.12)  # ~0.06 std
    np.testing.assert_allclose(s.std(0), [0.5, 2.0], rtol=0.05)


def test_sample_shapes_seeds_and_log_prob_consistency():
    model = _randomized("iaf", dtype="float32")
    a = model.sample(7, seed=3).numpy()
    b = model.sample(7, seed=3).numpy()
    c = model.sample(7).numpy()
    assert a.shape == (7, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    x, lp = model.sample_and_log_prob(7, seed=3)
    np.testing.assert_allclose(x.numpy(), a)
    np.testing.assert_allclose(lp.numpy(), model.log_prob(a).numpy(), atol=1e-4)


def test_save_load_and_config_round_trip(tmp_path):
    model = flows.FlowModel((2,), _stack("maf") + [flows.Permute()] + _stack("nsf"), seed=1)
    model.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
    x = toy.load("two_moons", 512, seed=1)
    model.fit(x, batch_size=128, epochs=1, verbose=0)
    path = str(tmp_path / "flow.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.log_prob(x).numpy(), model.log_prob(x).numpy(), rtol=1e-6)
    assert loaded.optimizer.iterations.numpy() == model.optimizer.iterations.numpy()
    clone = flows.FlowModel.from_config(model.get_config())
    assert [type(a) for a in clone.flow_layers] == [type(b) for b in model.flow_layers]


@pytest.mark.slow
def test_conditional_flow_learns_the_context():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2, size=(4096, 1)).astype("float32")
    x = (rng.normal(size=(4096, 2)) * 0.3 + np.where(c > 0, 2.0, -2.0)).astype("float32")
    model = flows.FlowModel(
        (2,), _stack("maf", context_size=1) + _stack("realnvp", context_size=1), context_size=1
    )
    model.compile(keras.optimizers.Adam(5e-3))
    model.fit({"x": x, "context": c}, batch_size=256, epochs=8, verbose=0)
    s1 = model.sample(2000, context=[1.0], seed=0).numpy()
    s0 = model.sample(2000, context=[0.0], seed=0).numpy()
    np.testing.assert_allclose(s1.mean(0), [2.0, 2.0], atol=0.2)
    np.testing.assert_allclose(s0.mean(0), [-2.0, -2.0], atol=0.2)
    # the density follows the context
    point = np.array([[2.0, 2.0]], "float32")
    assert model.log_prob(point, context=[[1.0]]) > model.log_prob(point, context=[[0.0]]) + 5
    ds = tf.data.Dataset.from_tensor_slices((x, c)).batch(256)
    assert np.isfinite(model.evaluate(ds, verbose=0))


def test_mirrored_strategy_same_update_as_one_device(two_cpu_strategy):
    x = toy.load("two_moons", 64, seed=2)

    def run(strategy):
        with strategy.scope():
            model = flows.FlowModel((2,), _stack("realnvp"), seed=0)
            rng = np.random.default_rng(0)
            for v in model.trainable_variables:
                v.assign(rng.normal(0.0, 0.1, v.shape))
            model.compile(keras.optimizers.SGD(0.1), jit_compile=False)
        model.fit(x, batch_size=64, epochs=1, shuffle=False, verbose=0)
        return [v.numpy() for v in model.trainable_variables]

    one = run(tf.distribute.get_strategy())
    two = run(two_cpu_strategy)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bad_input_raises_clear_errors():
    model = flows.FlowModel((2,), _stack("maf"))
    model.compile("adam")
    with pytest.raises(ValueError, match=r"shape \[N, 2\].*\(4, 3\)"):
        model.log_prob(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.log_prob(np.array([[0.0, np.nan]], "float32"))
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.fit(np.array([[0.0, np.inf]] * 8, "float32"), verbose=0)
    bad_ds = tf.data.Dataset.from_tensor_slices(np.array([[0.0, np.nan]] * 8, "float32")).batch(4)
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.fit(bad_ds, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((8, 5), "float32"), verbose=0)
    with pytest.raises(ValueError, match="unconditional"):
        model.log_prob(np.zeros((1, 2)), context=[1.0])
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.sample(0)
    cond = flows.FlowModel((2,), _stack("maf", context_size=1), context_size=1)
    with pytest.raises(ValueError, match="context=None"):
        cond.log_prob(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="context contains NaN or Inf"):
        cond.log_prob(np.zeros((1, 2)), context=[[np.inf]])
    with pytest.raises(ValueError, match="FlowLayer"):
        flows.FlowModel((2,), [keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="event_shape"):
        flows.FlowModel((0,), _stack("maf"))
    with pytest.raises(ValueError, match="context_size"):
        flows.FlowModel((2,), _stack("maf", context_size=2), context_size=1)


def test_fit_runs_actnorm_data_dependent_init_and_save_keeps_it(tmp_path):
    x = (toy.load("two_moons", 2048, seed=0) * 10.0 + 30.0).astype("float32")
    model = flows.FlowModel((2,), flows.glow_step([16]) + flows.glow_step([16], parity=1))
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=256, epochs=1, verbose=0)
    actnorm = model.flow_layers[0]
    assert actnorm.is_initialized
    np.testing.assert_allclose(actnorm.bias.numpy(), x.mean(0), rtol=0.05)
    path = str(tmp_path / "glow.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.flow_layers[0].is_initialized
    np.testing.assert_allclose(loaded.log_prob(x[:64]), model.log_prob(x[:64]), rtol=1e-5)
