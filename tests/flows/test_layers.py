"""Flow layers (float64): invertibility, log-det against autodiff, triangular Jacobians, gradients."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan import flows
from kerasgan.testing.flows import flow_layer_factories

tfb = tfp.bijectors

D = 4


def _randomize(layer, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(0.0, scale, v.shape))


# The vector cases of the one registry that check_flow_layer also runs (float64 factories).
LAYERS = flow_layer_factories("vector")


def _built(name):
    layer = LAYERS[name]()
    layer.build((None, D))
    _randomize(layer)
    return layer


def _points(n=16, seed=1):
    return tf.constant(np.random.default_rng(seed).normal(0.0, 1.2, (n, D)))


def _assert_round_trip(layer, x):
    """``inverse(forward(x)) == x`` and ``forward(inverse(x)) == x``, each map computed anew.

    TFP caches a bijector's results by input tensor (shared by bijectors with equal
    parameters): ``bij.inverse(bij.forward(x))`` hands ``x`` back from the cache whatever
    the inverse computes. A new bijector on a new tensor (``tf.identity``) recomputes it.
    """
    y = layer.bijector().forward(x)
    back = layer.bijector().inverse(tf.identity(y))
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-9)
    z = layer.bijector().inverse(x)
    back = layer.bijector().forward(tf.identity(z))
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-9)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_round_trip(name):
    _assert_round_trip(_built(name), _points())


class _WrongInverse(tfb.Bijector):
    """A layer's bijector with its inverse shifted by ``error``: a deliberately broken layer."""

    def __init__(self, inner, error):
        parameters = dict(locals())
        self._inner, self._error = inner, error
        super().__init__(
            forward_min_event_ndims=1, dtype=inner.dtype, parameters=parameters, name="wrong"
        )

    def _forward(self, z):
        return self._inner.forward(z)

    def _inverse(self, x):
        return self._inner.inverse(x) + self._error

    def _forward_log_det_jacobian(self, z):
        return self._inner.forward_log_det_jacobian(z, event_ndims=1)


@pytest.mark.parametrize("name", ["maf", "affine_coupling", "permute"])
def test_round_trip_fails_for_a_layer_with_a_wrong_inverse(name, monkeypatch):
    layer = _built(name)
    right = layer.bijector
    monkeypatch.setattr(layer, "bijector", lambda context=None: _WrongInverse(right(context), 1e-3))
    x = _points()
    bij = layer.bijector()
    # The same object's round trip reads as exact: TFP returns the cached input.
    np.testing.assert_array_equal(bij.inverse(bij.forward(x)).numpy(), x.numpy())
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        _assert_round_trip(layer, x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_log_det_matches_autodiff_jacobian(name):
    bij = _built(name).bijector()
    x = _points(8)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = bij.forward(x)
    jac = tape.batch_jacobian(y, x).numpy()  # [B, D, D]
    want = np.linalg.slogdet(jac)[1]
    got = bij.forward_log_det_jacobian(x, event_ndims=1).numpy()
    np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, atol=1e-8)
    # A new tensor: on ``y = bij.forward(x)`` itself TFP returns the cached -forward log-det.
    inv = bij.inverse_log_det_jacobian(tf.identity(y), event_ndims=1).numpy()
    np.testing.assert_allclose(np.broadcast_to(inv, want.shape), -want, atol=1e-8)


def _density_jacobian(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = layer.bijector().inverse(x)
    return tape.batch_jacobian(z, x).numpy()


@pytest.mark.parametrize("name", ["maf", "maf_r2l", "spline_ar"])
def test_autoregressive_jacobian_is_triangular_in_declared_order(name):
    layer = _built(name)
    order = np.asarray(layer.made.input_order) - 1  # degree - 1 of each dimension
    jac = _density_jacobian(layer, _points(4))
    # z_i may depend on x_j only if degree(j) <= degree(i)
    allowed = order[None, :] <= order[:, None]
    assert np.all(np.abs(jac[:, ~allowed]) == 0.0)
    assert np.all(np.abs(jac[:, allowed]).max(axis=0) > 0)


def test_coupling_jacobian_has_identity_block():
    layer = _built("affine_coupling")
    jac = _density_jacobian(layer, _points(4))
    half = D // 2
    np.testing.assert_array_equal(
        jac[:, :half, :half], np.broadcast_to(np.eye(half), (4, half, half))
    )
    np.testing.assert_array_equal(jac[:, :half, half:], 0.0)
    assert np.abs(jac[:, half:, :half]).max() > 0


@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"permute"}))
def test_every_variable_gets_a_gradient(name):
    layer = _built(name)
    x = _points()
    with tf.GradientTape() as tape:
        bij = layer.bijector()
        loss = tf.reduce_sum(bij.inverse(x) ** 2) + tf.reduce_sum(
            bij.inverse_log_det_jacobian(x, event_ndims=1)
        )
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == len(layer.trainable_variables) > 0
    for v, g in zip(layer.trainable_variables, grads):
        assert g is not None, v.path
        assert np.any(np.asarray(g) != 0), v.path


def test_iaf_forward_equals_maf_inverse_with_shared_weights():
    maf, iaf = flows.MAF([8], dtype="float64"), flows.IAF([8], dtype="float64")
    maf.build((None, D))
    iaf.build((None, D))
    _randomize(maf, seed=5)
    for a, b in zip(iaf.weights, maf.weights):
        a.assign(b)
    x = _points()
    np.testing.assert_allclose(
        iaf.bijector().forward(x).numpy(), maf.bijector().inverse(x).numpy(), atol=1e-12
    )
    np.testing.assert_allclose(
        iaf.bijector().forward_log_det_jacobian(x, 1).numpy(),
        maf.bijector().inverse_log_det_jacobian(x, 1).numpy(),
        atol=1e-12,
    )


def test_made_masks_make_outputs_autoregressive():
    made = flows.MADE(
        5, params=2, hidden_units=[16, 16], input_order="random", seed=4, zero_init=False
    )
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 5)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = made(x)[..., 0]
    jac = tape.batch_jacobian(out, x).numpy()
    degree = np.asarray(made.input_order)
    allowed = degree[None, :] < degree[:, None]
    assert np.all(jac[:, ~allowed] == 0.0)


def test_made_context_conditions_every_output():
    made = flows.MADE(3, params=1, hidden_units=[8], context_size=2, zero_init=False)
    x = tf.zeros((4, 3))
    c = tf.constant(np.random.default_rng(0).normal(size=(4, 2)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(c)
        out = made(x, c)[..., 0]
    assert np.all(np.abs(tape.batch_jacobian(out, c).numpy()).sum(-1) > 0)
    with pytest.raises(ValueError, match="context=None"):
        made(x)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: flows.MADE(0), "event_size"),
        (lambda: flows.MADE(3, input_order=[1, 1, 2]), "input_order"),
        (lambda: flows.MADE(3, hidden_units=[0]), "hidden_units"),
        (lambda: flows.AffineCoupling(parity=2), "parity"),
        (lambda: flows.NeuralSplineCoupling(num_bins=1), "num_bins"),
        (lambda: flows.MAF(context_size=-1), "context_size"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_coupling_needs_two_dimensions():
    with pytest.raises(ValueError, match="at least 2"):
        flows.AffineCoupling().build((None, 1))
    with pytest.raises(ValueError, match="permutation"):
        flows.Permute([0, 0, 1]).build((None, 3))


def test_actnorm_data_dependent_init_standardizes():
    layer = flows.ActNorm()
    layer.build((None, 3))
    x = np.random.default_rng(0).normal([1.0, -2.0, 5.0], [0.5, 3.0, 0.1], (4096, 3))
    assert not layer.is_initialized
    layer.initialize(x.astype("float32"))
    z = layer(x.astype("float32")).numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
    assert layer.is_initialized


def test_invertible_linear_starts_as_a_rotation():
    layer = flows.InvertibleLinear(seed=1, dtype="float64")
    layer.build((None, 4))
    bij = layer.bijector()
    w = bij.forward(tf.eye(4, dtype="float64")).numpy().T  # columns W e_i
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(
        bij.forward_log_det_jacobian(tf.zeros((1, 4), "float64"), 1), 0.0, atol=1e-10
    )
