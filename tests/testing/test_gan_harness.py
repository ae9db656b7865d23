"""kerasgan.testing.check_gan_model on every GAN class, and proof that its checks can fail.

Every model runs the structural checks (on one-hidden-layer MLPs: their cost is tracing
and XLA compilation, per layer) and ``learns`` (``require=`` makes a skip a failure). The
XLA check is left out for the minimax GAN, LSGAN and HingeGAN, whose step differs from the
non-saturating GAN's only in element-wise loss functions (3-7 s each). Learning runs use
two hidden layers of 32, are seeded and run in graph mode (``jit_compile=False``: XLA:CPU's
compilation, 3-5 s per model on 2 cores, mostly LLVM optimizing small matmuls, costs more
than it saves over a few hundred steps):

- unconditional MLP models on ring8 (std 0.1), 400 steps of 64: >= 6 of 8 modes within
  3 std and sliced W1 to the data <= 0.3 (untrained: 2 modes, 0.51);
- conditional models on 4 per-class 2-D Gaussians (std 0.05), 400 steps of 64: >= 50 % of
  samples within 3 std of their label's mean and every class mean within 0.3 (untrained:
  0.2 %, 1.26);
- DCGAN (16x16, base_filters 8) on four noisy 16x16 patterns, 300 steps of 32: >= 40 % of
  samples within RMSE 0.4 of a pattern and >= 3 of 4 patterns hit (untrained: RMSE 0.80).

Each passed for seeds 0-4 on this machine. Toy settings (not the papers' defaults, which
need thousands of steps): WGAN with ``d_steps=2``, ``clip_value=0.05`` and RMSprop(1e-3);
WGAN-GP with ``d_steps=2``, ``gp_weight=0.1`` (the toy-data lambda of Gulrajani et al.'s
code) and Adam(2e-3, 0, 0.9); generators with synchronized batch norm so that the
MirroredStrategy check applies.

The two-replica step runs traced (``distribution_mode="graph"``, as ``fit`` runs it) for
ConditionalGAN (projection) and ACGAN, and with ``run_eagerly=True`` for the others (about
4 s less per model): the unconditional ones' traced two-replica step is compared with one
device in tests/models/test_gan.py, the concat ConditionalGAN shares the projection one's
code.
"""

import functools
import importlib
import typing

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import testing
from kerasgan.models import (
    build_conditional_mlp_discriminator,
    build_conditional_mlp_generator,
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_mlp_discriminator,
    build_mlp_generator,
)

LATENT, WIDTH, CLASSES = 2, 32, 4
STRUCTURAL = ("round_trip", "player_isolation", "distribution", "xla", "export", "bad_arguments")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # Each test builds many models; without this, tracing slows as Keras's global state
    # (layer name counters, the Python-side graph of every traced function) grows.
    keras.backend.clear_session(free_memory=True)
    yield


@functools.cache
def _ring8():
    return testing.ring8_problem()


@functools.cache
def _class_gaussians():
    return testing.class_gaussians_problem(num_classes=CLASSES)


@functools.cache
def _patterns():
    return testing.image_patterns_problem()


# The structural checks run on one hidden layer (their time is tracing and XLA compilation,
# per layer) of 64 units on batches of 64: XLA:CPU emits and LLVM-optimizes loops for
# smaller matmuls (about 0.25 s of compilation each) but calls Eigen for these. The learning
# runs use two layers of 32.
SMALL, LEARNER, BATCH = (64,), (WIDTH, WIDTH), 64


def _mlp(cls, hidden=SMALL, **kwargs):
    def make_model():
        g = build_mlp_generator(LATENT, 2, hidden, batch_norm=True, sync_batch_norm=True)
        d = build_mlp_discriminator(2, hidden)
        return cls(g, d, LATENT, seed=1, **kwargs)

    return make_model


def _conditional(mode, cls=kerasgan.ConditionalGAN, hidden=SMALL, **kwargs):
    def make_model():
        g = build_conditional_mlp_generator(LATENT, 2, CLASSES, hidden)
        d = build_conditional_mlp_discriminator(2, CLASSES, hidden, mode=mode)
        return cls(g, d, LATENT, num_classes=CLASSES, seed=1, **kwargs)

    return make_model


def _dcgan(base_filters=8, sync=True):
    def make_model():
        g = build_dcgan_generator(8, (16, 16, 1), base_filters, sync_batch_norm=sync)
        d = build_dcgan_discriminator((16, 16, 1), base_filters, sync_batch_norm=sync)
        return kerasgan.DCGAN(
            g, d, latent_dim=8, image_shape=(16, 16, 1), base_filters=base_filters, seed=1
        )

    return make_model


def _rmsprop():
    return keras.optimizers.RMSprop(1e-3)


def _adam_wgan_gp():
    return keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.9)


class Case(typing.NamedTuple):
    make_model: typing.Callable  # for the structural checks
    learn_model: typing.Callable | None  # for the learning run (None: make_model)
    problem: typing.Callable
    optimizer: typing.Callable | None = None  # None: the problem's Adam
    distribution_mode: str = "eager"
    xla: bool = True
    batch_size: int = BATCH


def _mlp_case(cls, optimizer=None, **kwargs):
    return Case(
        _mlp(cls, **kwargs), _mlp(cls, hidden=LEARNER, **kwargs), _ring8, optimizer
    )


def _conditional_case(mode, cls=kerasgan.ConditionalGAN, **kwargs):
    return Case(
        _conditional(mode, cls, **kwargs),
        _conditional(mode, cls, hidden=LEARNER, **kwargs),
        _class_gaussians,
        distribution_mode="graph",
    )


MODELS = {
    "gan_non_saturating": _mlp_case(kerasgan.GAN),
    # Their step differs from the non-saturating GAN's only in element-wise loss functions:
    # no XLA check (3-7 s each), to keep this file near 3 minutes.
    "gan_minimax": _mlp_case(kerasgan.GAN, loss="minimax")._replace(xla=False),
    "lsgan": _mlp_case(kerasgan.LSGAN)._replace(xla=False),
    "hinge": _mlp_case(kerasgan.HingeGAN)._replace(xla=False),
    "wgan": _mlp_case(kerasgan.WGAN, _rmsprop, d_steps=2, clip_value=0.05),
    "wgan_gp": _mlp_case(kerasgan.WGANGP, _adam_wgan_gp, d_steps=2, gp_weight=0.1),
    "dcgan": Case(_dcgan(), None, _patterns, batch_size=16),  # eager convolutions: small
    "cgan_projection_hinge": _conditional_case("projection", loss="hinge"),
    "cgan_concat": _conditional_case("concat")._replace(distribution_mode="eager"),
    "acgan": _conditional_case("acgan", kerasgan.ACGAN),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_every_gan_class_passes_the_harness(name, two_cpu_strategy, tmp_path):
    case = MODELS[name]
    problem = case.problem()
    checks = tuple(c for c in (*STRUCTURAL, "learns") if case.xla or c != "xla")
    result = testing.check_gan_model(
        case.make_model,
        problem.x[:64],
        labels=None if problem.y is None else problem.y[:64],
        learns=problem,
        learn_model=case.learn_model,
        learn_optimizer=case.optimizer,
        checks=checks,
        require=checks,
        strategy=two_cpu_strategy,
        distribution_mode=case.distribution_mode,
        batch_size=case.batch_size,
        tmp_dir=tmp_path,
    )
    print(result)
    assert set(result.ran) == set(checks)
    assert set(result.skipped) == set(testing.GAN_CHECKS) - set(checks)
    assert set(result.skipped.values()) == {"not requested"}
    assert result.ran["player_isolation"]["variables_compared"] > 0
    assert result.ran["round_trip"]["optimizer_variables"] > 0
    assert result.ran["export"]["max_abs_diff_batch11"] <= 1e-5
    for check in {"distribution", "xla"} & set(checks):
        for player in ("generator", "discriminator"):
            assert result.ran[check][f"{player}_update_rel_error"] <= 1e-3
    if name != "dcgan" and not name.startswith(("cgan", "acgan")):
        # the generator's (synchronized) batch-norm statistics were among the variables
        # the discriminator's update had to leave alone
        assert result.ran["player_isolation"]["non_trainable_compared"] >= 2


def test_learning_check_fails_when_the_generator_loss_is_flipped():
    """The same seeded ring8 run as the GAN's passing one, with L_G negated, fails the bar."""
    make_model = MODELS["gan_non_saturating"].learn_model
    with pytest.raises(testing.LearningCheckFailed, match=r"\[learns\] GAN.*did not reach") as e:
        testing.check_gan_learns(make_model, _ring8(), flip=True, name="GAN")
    run = e.value.result
    print(run)
    assert run.flipped and not run.trained_passes
    # Far from the bar: the generator fled the data (the untrained model scores 2 and 0.51).
    assert run.trained["modes_captured"] < 6 or run.trained["sliced_w1"] > 0.3
    assert run.trained["sliced_w1"] > run.untrained["sliced_w1"]


# --- each structural check fails on the defect it is for -------------------------------


def test_distribution_check_catches_a_per_replica_mean(two_cpu_strategy, monkeypatch):
    """A loss averaged over the local instead of the global batch doubles the update
    under two replicas (the optimizer sums the replicas' gradients)."""
    monkeypatch.setattr(kerasgan.losses, "global_batch_mean", tf.reduce_mean)
    with pytest.raises(
        AssertionError,
        match=r"\[distribution\] .*discriminator: relative error 1, \|update\| ratio 2\.0000",
    ):
        testing.check_gan_model(
            _mlp(kerasgan.GAN),
            _ring8().x[:64],
            checks=["distribution"],
            strategy=two_cpu_strategy,
            distribution_mode="eager",
        )


def test_player_isolation_check_catches_leaking_batch_norm_statistics(monkeypatch):
    """Without restoring the generator's moving statistics after the discriminator's
    update ran it in training mode, the check names the moved statistic."""
    base = importlib.import_module(kerasgan.GAN.__module__)

    class NoRestore:
        def __init__(self, variables):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(base, "_preserve", NoRestore)
    with pytest.raises(
        AssertionError,
        match=r"\[player_isolation\] .*discriminator step changed the generator's "
        r"non-trainable variable .*moving_mean",
    ):
        testing.check_gan_model(_mlp(kerasgan.GAN), _ring8().x[:64], checks=["player_isolation"])


def test_bad_arguments_check_catches_an_accepted_bad_value():
    class Lenient(kerasgan.GAN):
        def __init__(self, *args, d_steps=1, **kwargs):
            super().__init__(*args, d_steps=max(int(d_steps), 1), **kwargs)

    def make_model():
        g = build_mlp_generator(LATENT, 2, (8,))
        d = build_mlp_discriminator(2, (8,))
        return Lenient(g, d, LATENT)

    with pytest.raises(AssertionError, match=r"\[bad_arguments\] .*d_steps=0 did not raise"):
        testing.check_gan_model(make_model, _ring8().x[:64], checks=["bad_arguments"])


def test_skips_are_reported_and_required_checks_must_run():
    # Unsynchronized batch norm: two replicas normalize by half batches by design.
    make_model = _dcgan(base_filters=4, sync=False)
    x = _patterns().x[:8]
    result = testing.check_gan_model(make_model, x, checks=["distribution", "bad_arguments"])
    assert "unsynchronized BatchNormalization" in result.skipped["distribution"]
    assert result.skipped["learns"] == "not requested" and set(result.ran) == {"bad_arguments"}
    assert "SKIPPED  distribution" in str(result)
    with pytest.raises(AssertionError, match="required checks were skipped.*distribution"):
        testing.check_gan_model(make_model, x, checks=["distribution"], require=["distribution"])
    with pytest.raises(AssertionError, match="checks did not run"):
        result.assert_ran("distribution")


class _NumpyIdentity(keras.layers.Layer):
    """An op XLA cannot compile (PyFunc); no gradient flows through it."""

    def call(self, x):
        return tf.ensure_shape(tf.numpy_function(lambda a: a, [x], tf.float32), x.shape)

    def compute_output_shape(self, input_shape):
        return input_shape


def test_xla_check_is_skipped_with_the_reason_when_xla_cannot_compile():
    def make_model():
        z = keras.Input((LATENT,))
        h = _NumpyIdentity()(keras.layers.Dense(8)(z))
        g = keras.Model(z, keras.layers.Dense(2)(keras.layers.Dense(8)(h)))
        return kerasgan.GAN(g, build_mlp_discriminator(2, (8,)), LATENT, seed=1)

    x = _ring8().x[:64]
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        result = testing.check_gan_model(make_model, x, checks=["xla"])
    assert "xla" not in result.ran
    assert result.skipped["xla"].startswith("XLA cannot compile this model's step")
    assert "PyFunc" in result.skipped["xla"]


def test_harness_refuses_bad_arguments():
    make_model = _mlp(kerasgan.GAN)
    x = _ring8().x[:64]
    with pytest.raises(ValueError, match="Unknown checks"):
        testing.check_gan_model(make_model, x, checks=["nope"])
    with pytest.raises(ValueError, match="batch_size must be an even int"):
        testing.check_gan_model(make_model, x, checks=[], batch_size=7)
    with pytest.raises(ValueError, match="takes no labels"):
        testing.check_gan_model(make_model, x, labels=np.zeros(64), checks=[])
    cond = _conditional("projection")
    with pytest.raises(ValueError, match="is conditional.*labels=None"):
        testing.check_gan_model(cond, x, checks=[])
    with pytest.raises(ValueError, match="Problem 'ring8' is for unconditional"):
        testing.run_learning(cond, _ring8())

    def compiled():
        model = make_model()
        model.compile()
        return model

    with pytest.raises(ValueError, match="uncompiled"):
        testing.check_gan_model(compiled, x, checks=[])


# --- the problems' measures -----------------------------------------------------------


def test_sliced_wasserstein_of_a_shift():
    """A shift by d moves every projection by d . theta: SW1 = mean |d . theta| exactly."""
    x = np.random.default_rng(0).normal(size=(300, 2))
    d = np.array([0.3, -0.4])
    theta = np.random.default_rng(5).standard_normal((2, 16))
    theta /= np.linalg.norm(theta, axis=0)
    expected = np.mean(np.abs(d @ theta))
    assert testing.sliced_wasserstein(x + d, x, num_projections=16, seed=5) == pytest.approx(
        expected, rel=1e-12
    )
    assert testing.sliced_wasserstein(x, x) == 0.0
    assert testing.sliced_wasserstein(x + np.nan, x) == float("inf")


def test_problems_pass_their_own_data_and_refuse_a_blob_and_wrong_labels():
    ring = _ring8()
    data = ring.x[:2000]
    assert ring.passes(ring.evaluate(data, None))
    blob = np.random.default_rng(0).normal(scale=0.1, size=(2000, 2))
    measures = ring.evaluate(blob, None)
    assert not ring.passes(measures) and measures["sliced_w1"] > 0.4
    nan = ring.evaluate(np.full((2000, 2), np.nan), None)
    assert nan["modes_captured"] == 0 and not ring.passes(nan)

    cg = _class_gaussians()
    x, y = cg.x[:2000], cg.y[:2000]
    assert cg.passes(cg.evaluate(x, y))
    wrong = cg.evaluate(x, (y + 1) % CLASSES)  # right samples, other labels
    assert wrong["hit_rate"] < 0.01 and not cg.passes(wrong)

    patterns = _patterns()
    assert patterns.passes(patterns.evaluate(patterns.x[:500], None))
    grey = patterns.evaluate(np.zeros((500, 16, 16, 1), "float32"), None)
    assert grey["hit_rate"] == 0.0 and not patterns.passes(grey)


def test_from_config_leaves_its_argument_unchanged():
    # GAN.from_config used to hand the nested configs to deserialize_keras_object, which
    # emptied them: a second from_config(config) raised TypeError (fixed with a deep copy).
    config = _mlp(kerasgan.GAN)().get_config()
    kept = repr(config)
    kerasgan.GAN.from_config(config)
    assert repr(config) == kept
