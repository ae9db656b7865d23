"""``check_gan_model``: the checks every kerasgan GAN class passes.

One call runs, on fresh models from ``make_model()``:

- ``round_trip``: ``get_config``/``from_config`` and a ``.keras`` file loaded with
  ``safe_mode=True`` give the same config, every variable (seeds and batch-norm statistics
  included), every player's optimizer state and the same ``generate(z[, labels])``.
- ``player_isolation``: each player's update (``discriminator_step``,
  ``generator_step``, ...) leaves every variable of the other players' networks as it was,
  batch-norm moving statistics included, and does move its own.
- ``distribution``: one ``fit`` step under ``MirroredStrategy`` over two devices equals one
  step on one device (same global batch, same initial variables and seeds, SGD for every
  player so that a wrong gradient scale shows): every variable, each player's update and
  the logged losses.
- ``xla``: the same step with ``jit_compile=True`` equals ``jit_compile=False``.

  In these two checks the step's ``tf.random.stateless_normal``/``stateless_uniform``
  draws (latents, interpolation weights) are counter-based integer hashes of (shape, seed)
  instead of TensorFlow's kernels, which draw other numbers under XLA than in graph mode
  for one seed; each draw stays a function of the global shape and the seed, so a replica
  that draws its own noise instead of slicing the global draw still shows.
- ``export``: ``serving_default`` of the SavedModel written by
  :func:`kerasgan.export.export_generator` equals the Keras generator at two other batch sizes
  (with labels for a conditional model, which also refuses labels out of range).
- ``bad_arguments``: bad constructor, ``compile``, ``generate``, ``sample`` and ``fit``
  arguments raise ``ValueError`` naming the argument and the value received.
- ``learns``: a short seeded run on a small problem reaches a stated bar the untrained
  model does not reach (:func:`check_gan_learns`).
- ``learns_flipped``: the same run with the generator's loss negated does *not* reach it
  (so the bar measures learning, not luck).

A check that cannot run (no second device, an op XLA:CPU cannot compile, unsynchronized
batch norm under several replicas, no learning problem) is *skipped with its reason*: the
returned :class:`GanCheckResult` lists what ran, with its measured numbers, and what was
skipped and why; ``require=`` turns chosen skips into failures. A failed check raises an
``AssertionError`` whose message starts with ``[<check>] <model>:``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

import kerasgan
from kerasgan import export as export_lib
from kerasgan import saving
from kerasgan.data import toy

__all__ = [
    "GAN_CHECKS",
    "GanCheckResult",
    "LearningCheckFailed",
    "LearningProblem",
    "LearningResult",
    "check_gan_learns",
    "check_gan_model",
    "class_gaussians_problem",
    "flip_generator_loss",
    "image_patterns_problem",
    "ring8_problem",
    "run_learning",
    "sliced_wasserstein",
]

GAN_CHECKS = (
    "round_trip",
    "player_isolation",
    "distribution",
    "xla",
    "export",
    "bad_arguments",
    "learns",
    "learns_flipped",
)


class _Skip(Exception):
    """A check that cannot run here; the message says why."""


class LearningCheckFailed(AssertionError):
    """:func:`check_gan_learns` failed; ``result`` holds the run's :class:`LearningResult`."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


@dataclasses.dataclass
class GanCheckResult:
    """What :func:`check_gan_model` ran and measured, and what it skipped.

    Attributes:
        model: the model's description, e.g. ``"GAN(loss='minimax')"``.
        ran: ``{check: {measure: value}}`` for every check that ran and passed.
        skipped: ``{check: reason}`` for every check that did not run.
        seconds: ``{check: wall-clock seconds}``.
    """

    model: str
    ran: dict = dataclasses.field(default_factory=dict)
    skipped: dict = dataclasses.field(default_factory=dict)
    seconds: dict = dataclasses.field(default_factory=dict)

    def assert_ran(self, *checks):
        """Raises ``AssertionError`` naming every check of ``checks`` that did not run."""
        missing = {c: self.skipped.get(c, "not requested") for c in checks if c not in self.ran}
        if missing:
            raise AssertionError(f"{self.model}: checks did not run: {missing}")

    def __str__(self):
        lines = [f"check_gan_model {self.model}"]
        for check, numbers in self.ran.items():
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in numbers.items())
            lines.append(f"  ran      {check:17s} {self.seconds.get(check, 0):5.1f}s  {shown}")
        for check, reason in self.skipped.items():
            lines.append(f"  SKIPPED  {check:17s} {reason}")
        return "\n".join(lines)


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return repr(value) if isinstance(value, str) else str(value)


# --- learning problems ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LearningProblem:
    """A small data set, a measure of generated samples and the bar a short run must reach.

    Attributes:
        name: short name (``"ring8"``).
        x: training samples ``[steps * batch_size, ...]`` (one epoch is the run).
        y: their labels ``[N]`` for conditional models, else None.
        evaluate: ``evaluate(samples, labels) -> {measure: value}`` (non-finite samples
            count as misses).
        passes: ``passes(measures) -> bool``: the bar.
        bar: the bar in words, with its numbers.
        eval_labels: labels ``[num_eval]`` to generate for (conditional), else None.
        num_eval: number of samples evaluated.
        batch_size: training batch size.
        optimizer: ``() -> keras optimizer``, one fresh instance per player.
        jit_compile: ``compile``'s ``jit_compile`` for the run.
        steps_per_execution: train steps per compiled call.
    """

    name: str
    x: np.ndarray
    y: np.ndarray | None
    evaluate: Callable
    passes: Callable
    bar: str
    eval_labels: np.ndarray | None = None
    num_eval: int = 2000
    batch_size: int = 64
    optimizer: Callable = None
    jit_compile: bool | None = False
    steps_per_execution: int = 100

    @property
    def steps(self) -> int:
        """Train steps of the run (one epoch)."""
        return len(self.x) // self.batch_size


def _adam(learning_rate, beta_1=0.5, beta_2=0.9):
    def make():
        return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)

    return make


def sliced_wasserstein(a, b, num_projections=64, seed=0) -> float:
    """Sliced 1-Wasserstein distance between two equally sized samples ``[N, D]``.

    ``SW1 = mean_theta mean_i |sort(a . theta)_i - sort(b . theta)_i|`` over
    ``num_projections`` random unit directions ``theta`` (fixed by ``seed``).
    ``inf`` if ``a`` holds a non-finite value.

    Args:
        a: samples ``[N, D]``.
        b: samples ``[N, D]``.
        num_projections: number of directions.
        seed: seed of the directions.

    Returns:
        The distance (a float).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(500, 2))
        >>> sliced_wasserstein(x, x)
        0.0
    """
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape. Received: {a.shape} and {b.shape}")
    if not np.all(np.isfinite(a)):
        return float("inf")
    theta = np.random.default_rng(seed).standard_normal((a.shape[1], num_projections))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    return float(np.mean(np.abs(np.sort(a @ theta, axis=0) - np.sort(b @ theta, axis=0))))


def _nearest(samples, centres):
    """Index of and distance to the nearest centre per sample (``inf`` if non-finite)."""
    s = np.asarray(samples, np.float64).reshape(len(samples), -1)
    c = np.asarray(centres, np.float64).reshape(len(centres), -1)
    finite = np.all(np.isfinite(s), axis=1)
    s = np.where(finite[:, None], s, 0.0)
    d = np.sqrt(np.maximum(((s[:, None, :] - c[None]) ** 2).sum(-1), 0.0))  # [N, K]
    k = np.argmin(d, axis=1)
    dist = np.where(finite, d[np.arange(len(s)), k], np.inf)
    return k, dist


def ring8_problem(
    steps=400,
    batch_size=64,
    std=0.1,
    min_modes=6,
    max_distance=0.3,
    learning_rate=1e-3,
    seed=0,
) -> LearningProblem:
    """ring8 (:func:`kerasgan.data.toy.ring8`, 8 Gaussians on the unit circle) for 2-D models.

    Measures on 2,000 samples: ``modes_captured`` (modes with a sample within 3 std,
    the PacGAN protocol), ``high_quality`` (fraction of samples within 3 std of a mode)
    and ``sliced_w1`` (:func:`sliced_wasserstein` to 2,000 fresh data points). Bar:
    ``modes_captured >= min_modes`` and ``sliced_w1 <= max_distance``. An untrained MLP
    generator puts its samples in a blob at the origin (measured: 2 modes, 0.51); samples
    of the data itself score 8 modes and about 0.01. With the defaults, every kerasgan MLP
    GAN class of ``tests/testing/test_gan_harness.py`` passed for seeds 0-4 (worst: 6
    modes, 0.24).

    Args:
        steps: train steps of the run.
        batch_size: batch size.
        std: standard deviation of every mode.
        min_modes: modes the run must capture.
        max_distance: sliced W1 the run must reach.
        learning_rate: of ``Adam(learning_rate, beta_1=0.5, beta_2=0.9)`` per player.
        seed: seed of the data.

    Returns:
        A :class:`LearningProblem`.

    Example:
        >>> p = ring8_problem(steps=10)
        >>> p.x.shape, p.steps
        ((640, 2), 10)
    """
    mix = toy.ring8(std=std)
    x = mix.sample(steps * batch_size, seed=seed)
    reference = mix.sample(2000, seed=seed + 1)

    def evaluate(samples, labels=None):
        _, dist = _nearest(samples, mix.modes)
        k, _ = _nearest(samples, mix.modes)
        good = dist <= 3.0 * std
        return {
            "modes_captured": int(len(np.unique(k[good]))),
            "high_quality": float(np.mean(good)),
            "sliced_w1": sliced_wasserstein(samples, reference[: len(samples)]),
        }

    def passes(m):
        return m["modes_captured"] >= min_modes and m["sliced_w1"] <= max_distance

    return LearningProblem(
        name="ring8",
        x=x,
        y=None,
        evaluate=evaluate,
        passes=passes,
        bar=(
            f"ring8(std={std}), {steps} steps of {batch_size}: >= {min_modes} of 8 modes "
            f"captured within 3 std and sliced W1 to the data <= {max_distance}"
        ),
        batch_size=batch_size,
        optimizer=_adam(learning_rate),
    )


def class_gaussians_problem(
    num_classes=4,
    dim=2,
    std=0.05,
    steps=400,
    batch_size=64,
    min_hit_rate=0.5,
    max_mean_error=0.3,
    learning_rate=1e-3,
    seed=0,
) -> LearningProblem:
    """One Gaussian per class, for conditional models (``num_classes`` labels).

    Class ``k`` is ``N(mu_k, std^2 I)`` with ``mu_k`` evenly spaced on the unit circle
    (``dim=2``) or on ``[-1.5, 1.5]`` (``dim=1``). Measures on 2,000 samples generated
    for labels ``0, 1, ..., 0, 1, ...``: ``hit_rate`` (fraction within 3 std of *their
    label's* mean) and ``mean_error`` (largest distance between a class's sample mean
    and ``mu_k``). Bar: ``hit_rate >= min_hit_rate`` and ``mean_error <= max_mean_error``.
    A model ignoring the labels scores about ``1 / num_classes``. With the defaults,
    ``ConditionalGAN`` (projection and concat) and ``ACGAN`` passed for seeds 0-4 (worst:
    0.63, 0.19).

    Args:
        num_classes: number of labels.
        dim: 1 or 2.
        std: standard deviation of every class.
        steps: train steps of the run.
        batch_size: batch size.
        min_hit_rate: hit rate the run must reach.
        max_mean_error: class-mean error the run must reach.
        learning_rate: of ``Adam(learning_rate, beta_1=0.5, beta_2=0.9)`` per player.
        seed: seed of the data.

    Returns:
        A :class:`LearningProblem` with labels.

    Example:
        >>> p = class_gaussians_problem(num_classes=3, steps=10)
        >>> p.x.shape, sorted(set(p.y.tolist()))
        ((640, 2), [0, 1, 2])
    """
    if dim == 2:
        angles = 2.0 * np.pi * np.arange(num_classes) / num_classes
        means = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif dim == 1:
        means = np.linspace(-1.5, 1.5, num_classes)[:, None]
    else:
        raise ValueError(f"dim must be 1 or 2. Received: dim={dim!r}")
    mix = toy.GaussianMixture(means, stds=std)
    x, y = mix.sample(steps * batch_size, seed=seed, return_labels=True)
    eval_labels = (np.arange(2000) % num_classes).astype("int32")

    def evaluate(samples, labels):
        s = np.asarray(samples, np.float64).reshape(len(samples), -1)
        finite = np.all(np.isfinite(s), axis=1)
        dist = np.linalg.norm(np.where(finite[:, None], s, 0.0) - means[labels], axis=1)
        dist = np.where(finite, dist, np.inf)
        errors = [
            float(np.linalg.norm(s[labels == k].mean(axis=0) - means[k]))
            if np.all(finite[labels == k])
            else float("inf")
            for k in range(num_classes)
        ]
        return {"hit_rate": float(np.mean(dist <= 3.0 * std)), "mean_error": max(errors)}

    def passes(m):
        return m["hit_rate"] >= min_hit_rate and m["mean_error"] <= max_mean_error

    return LearningProblem(
        name=f"class_gaussians{dim}d",
        x=x,
        y=y,
        evaluate=evaluate,
        passes=passes,
        bar=(
            f"{num_classes} classes, {dim}-D Gaussians (std={std}), {steps} steps of "
            f"{batch_size}: >= {min_hit_rate:.0%} of samples within 3 std of their label's "
            f"mean and every class mean within {max_mean_error}"
        ),
        eval_labels=eval_labels,
        batch_size=batch_size,
        optimizer=_adam(learning_rate),
    )


def _patterns(side):
    """Four ``side x side`` images in {-0.8, 0.8}: top half, left half, diagonal blocks, square."""
    r, c = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    half, quarter = side // 2, side // 4
    masks = [
        r < half,
        c < half,
        (r < half) == (c < half),
        (r >= quarter) & (r < side - quarter) & (c >= quarter) & (c < side - quarter),
    ]
    return np.stack([np.where(m, 0.8, -0.8) for m in masks])[..., None].astype("float32")


def image_patterns_problem(
    side=16,
    noise=0.1,
    steps=300,
    batch_size=32,
    max_rmse=0.4,
    min_hit_rate=0.4,
    min_patterns=3,
    learning_rate=2e-3,
    seed=0,
) -> LearningProblem:
    """Four noisy image patterns ``side x side x 1`` for convolutional models (DCGAN).

    The patterns (values +-0.8: top half bright, left half bright, diagonal blocks, a
    centred square) plus ``N(0, noise^2)`` per pixel, clipped to ``[-1, 1]``. Measures
    on 1,000 samples: ``hit_rate`` (fraction within RMSE ``max_rmse`` of a pattern; the
    data's own RMSE is about ``noise``) and ``patterns_captured`` (patterns with a hit).
    An untrained generator's ``tanh`` output is near 0: RMSE about 0.8, no hits. With the
    defaults, a 16x16 DCGAN (``base_filters=8``) passed for seeds 0-4 (worst: 0.46).

    Args:
        side: image side (16, 28, 32 or 64 for the DCGAN builders).
        noise: pixel noise of the data.
        steps: train steps of the run.
        batch_size: batch size.
        max_rmse: the RMSE of a hit.
        min_hit_rate: hit rate the run must reach.
        min_patterns: patterns the run must capture.
        learning_rate: of ``Adam(learning_rate, beta_1=0.5, beta_2=0.9)`` per player.
        seed: seed of the data.

    Returns:
        A :class:`LearningProblem`.

    Example:
        >>> image_patterns_problem(steps=2).x.shape
        (64, 16, 16, 1)
    """
    templates = _patterns(side)
    rng = np.random.default_rng(seed)
    n = steps * batch_size
    k = rng.integers(0, len(templates), size=n)
    x = np.clip(templates[k] + noise * rng.standard_normal((n, side, side, 1)), -1.0, 1.0)
    x = x.astype("float32")

    def evaluate(samples, labels=None):
        k, dist = _nearest(samples, templates)
        rmse = dist / np.sqrt(side * side)
        good = rmse <= max_rmse
        return {
            "hit_rate": float(np.mean(good)),
            "patterns_captured": int(len(np.unique(k[good]))),
            "median_rmse": float(np.median(rmse)),
        }

    def passes(m):
        return m["hit_rate"] >= min_hit_rate and m["patterns_captured"] >= min_patterns

    return LearningProblem(
        name=f"patterns{side}",
        x=x,
        y=None,
        evaluate=evaluate,
        passes=passes,
        bar=(
            f"4 noisy {side}x{side} patterns, {steps} steps of {batch_size}: >= "
            f"{min_hit_rate:.0%} of samples within RMSE {max_rmse} of a pattern and >= "
            f"{min_patterns} of 4 patterns hit"
        ),
        num_eval=1000,
        batch_size=batch_size,
        optimizer=_adam(learning_rate),
        jit_compile=False,
    )


# --- the learning run ---------------------------------------------------------------


@dataclasses.dataclass
class LearningResult:
    """One learning run: the measures before and after, and whether each reached the bar.

    Attributes:
        problem: the problem's name.
        bar: the bar in words.
        flipped: whether the generator's loss was negated.
        untrained: measures of the model before training.
        trained: measures after the run.
        untrained_passes: whether the untrained model reached the bar (it must not).
        trained_passes: whether the trained model reached it.
        steps: train steps.
        seconds: wall-clock seconds of ``fit`` (compilation included).
    """

    problem: str
    bar: str
    flipped: bool
    untrained: dict
    trained: dict
    untrained_passes: bool
    trained_passes: bool
    steps: int
    seconds: float

    def numbers(self) -> dict:
        """The measures as one flat dict (for :class:`GanCheckResult`)."""
        out = {f"untrained_{k}": v for k, v in self.untrained.items()}
        out.update({f"trained_{k}": v for k, v in self.trained.items()})
        out.update({"steps": self.steps, "fit_seconds": round(self.seconds, 2)})
        return out

    def __str__(self):
        kind = "flipped generator loss" if self.flipped else "as built"
        return (
            f"{self.problem} ({kind}), {self.steps} steps in {self.seconds:.1f}s: untrained "
            f"{_fmt(self.untrained)} -> trained {_fmt(self.trained)}; bar: {self.bar}; "
            f"reached: {self.trained_passes}"
        )


def flip_generator_loss(model):
    """Negates the model's adversarial generator loss in place: ``L_G -> -L_G``.

    The generator then *descends* the discriminator's judgement (it maximizes what it
    should minimize); penalties and auxiliary losses (AC-GAN's class loss) are
    unchanged. A learning check must fail on such a model.

    Args:
        model: a :class:`kerasgan.GAN`.

    Returns:
        ``model``.

    Example:
        >>> import kerasgan
        >>> g = kerasgan.models.build_mlp_generator(2, 2, (8,))
        >>> d = kerasgan.models.build_mlp_discriminator(2, (8,))
        >>> gan = flip_generator_loss(kerasgan.GAN(g, d, latent_dim=2))
    """
    original = model._g_loss_fn

    def flipped(fake_logits):
        return -original(fake_logits)

    model._g_loss_fn = flipped
    return model


def _check_is_gan(model, where):
    if not isinstance(model, kerasgan.GAN):
        raise ValueError(
            f"make_model must return a kerasgan.GAN. Received from {where}: "
            f"{type(model).__name__}"
        )
    if getattr(model, "compiled", False):
        raise ValueError(
            f"make_model must return an uncompiled model (the harness compiles it). "
            f"Received from {where}: a compiled {type(model).__name__}"
        )
    return model


def run_learning(make_model, problem, *, flip=False, optimizer=None, seed=0) -> LearningResult:
    """Trains a fresh model on ``problem`` for one epoch and measures it before and after.

    Seeds Keras, NumPy and TensorFlow with ``seed`` before ``make_model()`` (the run is
    reproducible on one machine), compiles one ``optimizer()`` per player, and fits
    ``problem.x`` (and ``problem.y``) with ``shuffle=False``.

    Args:
        make_model: ``() -> GAN``, a fresh uncompiled model.
        problem: a :class:`LearningProblem`.
        flip: negate the generator's loss first (:func:`flip_generator_loss`).
        optimizer: ``() -> optimizer`` (default ``problem.optimizer``).
        seed: the global seed.

    Returns:
        A :class:`LearningResult` (no assertion: see :func:`check_gan_learns`).
    """
    keras.utils.set_random_seed(seed)
    model = _check_is_gan(make_model(), "make_model()")
    if model.conditional != (problem.y is not None):
        kind = "conditional" if problem.y is not None else "unconditional"
        raise ValueError(
            f"Problem {problem.name!r} is for {kind} models. Received: "
            f"{type(model).__name__} with num_classes={model.num_classes}"
        )
    make_opt = optimizer or problem.optimizer or _adam(2e-3)
    model.compile(
        optimizers={player: make_opt() for player in model.players},
        jit_compile=problem.jit_compile,
        steps_per_execution=min(problem.steps_per_execution, max(problem.steps, 1)),
    )
    if flip:
        flip_generator_loss(model)
    z = np.random.default_rng(seed + 1).standard_normal((problem.num_eval, model.latent_dim))
    labels = problem.eval_labels

    def measure():
        return problem.evaluate(model.generate(z, labels=labels), labels)

    untrained = measure()
    start = time.perf_counter()
    model.fit(
        problem.x, problem.y, batch_size=problem.batch_size, epochs=1, shuffle=False, verbose=0
    )
    seconds = time.perf_counter() - start
    trained = measure()
    return LearningResult(
        problem=problem.name,
        bar=problem.bar,
        flipped=bool(flip),
        untrained=untrained,
        trained=trained,
        untrained_passes=bool(problem.passes(untrained)),
        trained_passes=bool(problem.passes(trained)),
        steps=problem.steps,
        seconds=seconds,
    )


def check_gan_learns(
    make_model, problem, *, flip=False, optimizer=None, seed=0, name=None
) -> LearningResult:
    """Asserts that a short seeded run reaches ``problem``'s bar and the untrained model does not.

    With ``flip=True`` the same run is made with the generator's loss negated: a sound
    bar then *fails* (this is how the check is shown to be able to fail).

    Args:
        make_model: ``() -> GAN``, a fresh uncompiled model.
        problem: a :class:`LearningProblem` (:func:`ring8_problem`, ...).
        flip: negate the generator's loss (:func:`flip_generator_loss`).
        optimizer: ``() -> optimizer`` for every player (default ``problem.optimizer``).
        seed: the global seed of the run.
        name: the model's name in messages.

    Returns:
        The :class:`LearningResult`.

    Raises:
        LearningCheckFailed: (an ``AssertionError``) ``[learns] <model>: ...`` when the
            untrained model already reaches the bar or the trained one does not; its
            ``result`` is the run.

    Example:
        >>> # check_gan_learns(make_model, ring8_problem())
    """
    result = run_learning(make_model, problem, flip=flip, optimizer=optimizer, seed=seed)
    who = name or "model"
    if result.untrained_passes:
        raise LearningCheckFailed(
            f"[learns] {who}: the UNTRAINED model already reaches the bar, which therefore "
            f"measures nothing. {result}",
            result,
        )
    if not result.trained_passes:
        raise LearningCheckFailed(
            f"[learns] {who}: the run did not reach the bar. {result}", result
        )
    return result


# --- helpers of the structural checks -------------------------------------------------


def _describe(model):
    return f"{type(model).__name__}(loss={model.loss_name!r})"


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _fail(check, who, message):
    raise AssertionError(f"[{check}] {who}: {message}")


def _close(check, who, what, actual, expected, rtol, atol, exact=False):
    try:
        if exact:
            np.testing.assert_array_equal(actual, expected)
        else:
            np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    except AssertionError as e:
        _fail(check, who, f"{what}\n{e}")


def _max_abs(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _config_diff(a, b, path=""):
    """Paths where two configs differ (for messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{path}/{key} (only in the {'rebuilt' if key in a else 'original'})")
            else:
                out += _config_diff(a[key], b[key], f"{path}/{key}")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _config_diff(x, y, f"{path}/{i}")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


class _Setup:
    """What the checks share: the batch, the labels, the model's description."""

    def __init__(self, make_model, data, labels, batch_size):
        self.make_model = make_model
        self.probe = probe = self.fresh()
        self.who = _describe(probe)
        self.conditional = probe.conditional
        self.num_classes = probe.num_classes
        self.latent_dim = probe.latent_dim
        self.players = list(probe.players)
        self.config = probe.get_config()
        self.cls = type(probe)
        x = np.asarray(data, dtype="float32")
        if x.ndim < 2 or len(x) < batch_size:
            raise ValueError(
                f"data must hold at least batch_size={batch_size} samples [N, ...]. "
                f"Received: data with shape {x.shape}"
            )
        self.x = x[:batch_size]
        if self.conditional:
            if labels is None:
                raise ValueError(
                    f"{self.who} is conditional (num_classes={self.num_classes}): pass "
                    "labels=, one int per sample. Received: labels=None"
                )
            y = np.asarray(labels).astype("int32").reshape(-1)
            if len(y) < batch_size:
                raise ValueError(f"labels must match data. Received: {len(y)} labels")
            self.y = y[:batch_size]
        else:
            if labels is not None:
                raise ValueError(
                    f"{self.who} is unconditional and takes no labels. Received: labels of "
                    f"type {type(labels).__name__}"
                )
            self.y = None
        rng = np.random.default_rng(123)
        self.z = {n: rng.standard_normal((n, self.latent_dim)).astype("float32") for n in (3, 11)}
        self.z_labels = {
            n: (np.arange(n) % self.num_classes).astype("int32") if self.conditional else None
            for n in (3, 11)
        }

    def fresh(self):
        return _check_is_gan(self.make_model(), "make_model()")

    def batch(self):
        """The batch as ``train_step`` receives it from ``fit``: tensors."""
        x = tf.constant(self.x)
        return x if self.y is None else (x, tf.constant(self.y))


def _round_trip(setup, model, tmp, rtol, atol):
    check, who = "round_trip", setup.who
    z, labels = setup.z[11], setup.z_labels[11]
    expected = model.generate(z, labels=labels)
    # get_config / from_config
    config = model.get_config()
    # deepcopy: Keras's deserialization empties the nested network configs it reads.
    clone = type(model).from_config(copy.deepcopy(config))
    diff = _config_diff(clone.get_config(), config)
    if diff:
        _fail(check, who, f"from_config(get_config()).get_config() differs at {diff[:5]}")
    clone.set_weights(model.get_weights())
    _close(check, who, "generate(z) of from_config(get_config()) with the same weights",
           clone.generate(z, labels=labels), expected, 0, 0, exact=True)
    # .keras with safe_mode=True
    path = os.path.join(tmp, "model.keras")
    model.save(path)
    loaded = saving.load_model(path, safe_mode=True)
    if type(loaded) is not type(model):
        _fail(check, who, f"loaded a {type(loaded).__name__}")
    diff = _config_diff(loaded.get_config(), config)
    if diff:
        _fail(check, who, f"the loaded model's get_config() differs at {diff[:5]}")
    mine, theirs = model.variables, loaded.variables
    if [tuple(v.shape) for v in mine] != [tuple(v.shape) for v in theirs]:
        _fail(check, who, f"the loaded model has {len(theirs)} variables of other shapes "
              f"than the original's {len(mine)}")
    for v, a, b in zip(mine, _values(mine), _values(theirs)):
        _close(check, who, f"variable {v.path} after loading the .keras file", b, a, 0, 0, True)
    if not getattr(loaded, "compiled", False):
        _fail(check, who, "the loaded model is not compiled (its optimizers were dropped)")
    if bool(loaded.jit_compile) != bool(model.jit_compile):
        _fail(check, who, f"jit_compile came back as {loaded.jit_compile}")
    if set(loaded.optimizers) != set(model.optimizers):
        _fail(check, who, f"loaded optimizers {sorted(loaded.optimizers)} != "
              f"{sorted(model.optimizers)}")
    optimizer_variables = 0
    for player, opt in model.optimizers.items():
        other = loaded.optimizers[player]
        if type(other) is not type(opt):
            _fail(check, who, f"{player}'s optimizer came back as {type(other).__name__}")
        if int(other.iterations.numpy()) != int(opt.iterations.numpy()):
            _fail(check, who, f"{player}'s optimizer iterations {int(other.iterations.numpy())}"
                  f" != {int(opt.iterations.numpy())}")
        for v, a, b in zip(opt.variables, _values(opt.variables), _values(other.variables)):
            _close(check, who, f"{player}'s optimizer variable {v.path}", b, a, 0, 0, True)
            optimizer_variables += 1
    _close(check, who, "generate(z) after the .keras round trip",
           loaded.generate(z, labels=labels), expected, 0, 0, True)
    return {"variables": len(mine), "optimizer_variables": optimizer_variables}


def _default_steps():
    return {
        "discriminator": lambda model, real, labels: model.discriminator_step(real, labels),
        "generator": lambda model, real, labels: model.generator_step(tf.shape(real)[0], labels),
    }


def _player_isolation(setup, player_steps):
    check, who = "player_isolation", setup.who
    model = setup.fresh()
    model.compile(jit_compile=False)
    real = tf.constant(setup.x)
    labels = None if setup.y is None else tf.constant(setup.y)
    steps = {**_default_steps(), **(player_steps or {})}
    compared, statistics = 0, 0
    for player in model.players:
        if player not in steps:
            _fail(check, who, f"no step function for player {player!r}; pass player_steps="
                  f"{{{player!r}: fn(model, real, labels)}}")
        networks = {p: model.player_network(p) for p in model.players}
        before = {p: _values(net.variables) for p, net in networks.items()}
        steps[player](model, real, labels)
        for other, net in networks.items():
            after = _values(net.variables)
            if other == player:
                moved = [
                    v.path
                    for v, a, b in zip(net.variables, before[other], after)
                    if v.trainable and not np.array_equal(a, b)
                ]
                if not moved:
                    _fail(check, who, f"the {player} step changed none of the {player}'s "
                          "trainable variables")
                continue
            for v, a, b in zip(net.variables, before[other], after):
                if not np.array_equal(a, b):
                    kind = "trainable" if v.trainable else "non-trainable"
                    _fail(check, who, f"the {player} step changed the {other}'s {kind} "
                          f"variable {v.path} (max |change| {_max_abs(a, b):.3g})")
                compared += 1
                statistics += int(not v.trainable)
    return {"variables_compared": compared, "non_trainable_compared": statistics}


def _unsynchronized_batch_norm(model):
    for player in model.players:
        for layer in model.player_network(player)._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
                return f"{player}/{layer.name}"
    return None


def _one_step(setup, strategy, jit_compile, initial, lr, counter_noise=False, eager=False):
    """One ``fit`` step of a fresh model from ``initial``: (model, before, after, logs)."""
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = setup.fresh()
        model.compile(
            optimizers={p: keras.optimizers.SGD(lr) for p in model.players},
            jit_compile=jit_compile,
            run_eagerly=eager,
        )
    if initial is not None:
        if [tuple(v.shape) for v in model.variables] != [a.shape for a in initial]:
            raise ValueError("make_model() must build models with the same variables each time")
        for v, value in zip(model.variables, initial):
            v.assign(value)
    before = _values(model.variables)
    with _counter_noise() if counter_noise else contextlib.nullcontext():
        history = model.fit(
            setup.x, setup.y, batch_size=len(setup.x), epochs=1, shuffle=False, verbose=0
        )
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    return model, before, _values(model.variables), logs


def _compare_steps(check, who, base, other, rtol, atol, update_rtol):
    model, before, after, logs = base
    _, other_before, other_after, other_logs = other
    index = {id(v): i for i, v in enumerate(model.variables)}
    numbers, wrong = {}, []
    for player in model.players:
        ids = [index[id(v)] for v in model.player_network(player).trainable_variables]
        delta = np.concatenate([(after[i] - before[i]).ravel() for i in ids])
        other_delta = np.concatenate([(other_after[i] - other_before[i]).ravel() for i in ids])
        norm = float(np.linalg.norm(delta))
        if norm == 0.0:
            _fail(check, who, f"the reference step did not move the {player}")
        error = float(np.linalg.norm(other_delta - delta)) / norm
        ratio = float(np.linalg.norm(other_delta)) / norm
        if error > update_rtol:
            wrong.append(f"{player}: relative error {error:.3g}, |update| ratio {ratio:.4f}")
        numbers[f"{player}_update_rel_error"] = error
    if wrong:
        _fail(check, who, f"the players' updates differ from the reference step's (tolerance "
              f"{update_rtol}; a ratio of 2 or 0.5 under two replicas is a gradient-scale "
              f"error): {'; '.join(wrong)}")
    for v, a, b in zip(model.variables, after, other_after):
        _close(check, who, f"variable {v.path} after one step", b, a, rtol, atol)
    if set(logs) != set(other_logs):
        _fail(check, who, f"logged {sorted(other_logs)} instead of {sorted(logs)}")
    for key in logs:
        _close(check, who, f"logged {key!r}", other_logs[key], logs[key], rtol, atol)
    numbers["max_abs_diff"] = max(_max_abs(a, b) for a, b in zip(after, other_after))
    numbers["max_log_diff"] = max(abs(logs[k] - other_logs[k]) for k in logs)
    return numbers


_PRIME = 2147483647  # 2^31 - 1


def _counter_uniform(shape, seed):
    """Uniform ``(0, 1)`` float64 noise from ``(index, seed)`` by integer arithmetic only.

    Integer multiply, modulo and shifts give the same bits in graph mode, under XLA and on
    every replica, which TensorFlow's stateless kernels do not (see :func:`_counter_noise`).
    """
    shape = tf.cast(shape, tf.int64)
    seed = tf.math.floormod(tf.cast(tf.reshape(seed, [-1])[:2], tf.int64), _PRIME)
    h = tf.range(tf.reduce_prod(shape), dtype=tf.int64) * 48271 + seed[0] * 16807 + seed[1] + 1
    for _ in range(3):
        h = tf.math.floormod(h, _PRIME)
        h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(7, tf.int64)))
        h = tf.math.floormod(h * 48271, _PRIME)
    return tf.reshape((tf.cast(h, tf.float64) + 0.5) / _PRIME, shape)


@contextlib.contextmanager
def _counter_noise():
    """Replaces ``tf.random.stateless_normal``/``stateless_uniform`` by counter-based noise.

    For one seed TensorFlow's stateless kernels and XLA draw different numbers (measured:
    ``stateless_normal([4], seed=[1, 2])`` starts 0.544 in graph mode and 0.929 under
    XLA, with ``alg="philox"`` too), so a train step can only be compared across the two
    with the draws replaced. The replacement keeps each draw a function of (shape, seed).
    """
    normal, uniform = tf.random.stateless_normal, tf.random.stateless_uniform

    def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=tf.float32, **kwargs):
        if not tf.as_dtype(dtype).is_floating:
            return normal(shape, seed, mean, stddev, dtype, **kwargs)
        shape = tf.cast(shape, tf.int64)
        u = _counter_uniform(tf.concat([[2], shape], 0), seed)  # Box-Muller
        z = tf.sqrt(-2.0 * tf.math.log(u[0])) * tf.cos(2.0 * np.pi * u[1])
        return tf.cast(z, dtype) * tf.cast(stddev, dtype) + tf.cast(mean, dtype)

    def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=tf.float32, **kwargs):
        if not tf.as_dtype(dtype).is_floating:
            return uniform(shape, seed, minval, maxval, dtype, **kwargs)
        maxval = 1.0 if maxval is None else maxval
        u = tf.cast(_counter_uniform(shape, seed), dtype)
        return tf.cast(minval, dtype) + tf.cast(maxval - minval, dtype) * u

    tf.random.stateless_normal, tf.random.stateless_uniform = stateless_normal, stateless_uniform
    try:
        yield
    finally:
        tf.random.stateless_normal, tf.random.stateless_uniform = normal, uniform


# How TensorFlow says that XLA cannot compile an op ("Detected unsupported operations when
# trying to compile graph ... on XLA_CPU_JIT: PyFunc (No registered 'PyFunc' OpKernel ...").
_XLA_MARKERS = ("unsupported operations", "XLA_CPU_JIT", "XLA_GPU_JIT", "could not be compiled")


def _export(setup, model, tmp, rtol, atol):
    check, who = "export", setup.who
    path = export_lib.export_generator(model, os.path.join(tmp, "export"), version=1)
    serving = tf.saved_model.load(path).signatures["serving_default"]
    numbers = {}
    for n in (3, 11):
        z, labels = setup.z[n], setup.z_labels[n]
        inputs = {"z": tf.constant(z)}
        if labels is not None:
            inputs["labels"] = tf.constant(labels)
        got = serving(**inputs)["samples"].numpy()
        generator_inputs = z if labels is None else [z, labels]
        expected = keras.ops.convert_to_numpy(model.generator(generator_inputs, training=False))
        _close(check, who, f"serving_default at batch size {n} vs the Keras generator", got,
               expected, rtol, atol)
        numbers[f"max_abs_diff_batch{n}"] = _max_abs(got, expected)
    if setup.conditional:
        for bad in (setup.num_classes, -1):
            try:
                serving(z=tf.constant(setup.z[3][:1]), labels=tf.constant([bad], tf.int32))
            except tf.errors.InvalidArgumentError:
                continue
            _fail(check, who, f"serving_default accepted the label {bad} "
                  f"(num_classes={setup.num_classes})")
        numbers["refuses_bad_labels"] = True
    return numbers


def _bad_arguments(setup, extra):
    check, who = "bad_arguments", setup.who
    cls, config = setup.cls, setup.config
    model = setup.fresh()

    def rebuilt(**changes):
        return lambda: cls.from_config({**copy.deepcopy(config), **changes})

    def compiled_with(**kwargs):
        return lambda: setup.fresh().compile(**kwargs)

    def same_for_all():
        opt = keras.optimizers.SGD(0.1)
        return setup.fresh().compile(optimizers={p: opt for p in setup.players})

    def same_by_keyword():
        opt = keras.optimizers.SGD(0.1)
        return setup.fresh().compile(g_optimizer=opt, d_optimizer=opt)

    z2 = np.zeros((2, setup.latent_dim), "float32")
    cases = [
        ("latent_dim=0", rebuilt(latent_dim=0), "latent_dim"),
        ("latent_dim=2.5", rebuilt(latent_dim=2.5), "latent_dim"),
        ("d_steps=0", rebuilt(d_steps=0), "d_steps"),
        ("loss='no_such_loss'", rebuilt(loss="no_such_loss"), "no_such_loss"),
        ("compile(optimizers={'no_such_player': ...})",
         compiled_with(optimizers={"no_such_player": "sgd"}), "no_such_player"),
        ("compile(optimizers=) with one instance for every player", same_for_all, "same"),
        ("compile(g_optimizer=opt, d_optimizer=opt)", same_by_keyword, "same"),
        ("compile(no_such_optimizer=...)", compiled_with(no_such_optimizer="sgd"),
         "no_such_optimizer"),
        ("generate(z) with latent size + 1",
         lambda: model.generate(np.zeros((2, setup.latent_dim + 1), "float32"),
                                labels=[0, 0] if setup.conditional else None), "z"),
        ("sample(0)", lambda: model.sample(0), "n"),
    ]
    if setup.conditional:
        k = setup.num_classes
        fit_model = setup.fresh()
        fit_model.compile(jit_compile=False)
        bad_y = setup.y.copy()
        bad_y[0] = k
        cases += [
            ("num_classes=1", rebuilt(num_classes=1), "num_classes"),
            (f"generate(labels=[{k}, 0])", lambda: model.generate(z2, labels=[k, 0]), "labels"),
            ("generate(labels=-1)", lambda: model.generate(z2, labels=-1), "labels"),
            ("generate(labels=None)", lambda: model.generate(z2), "labels"),
            ("sample(2, labels=num_classes)", lambda: model.sample(2, labels=k), "labels"),
            (f"fit with a label {k}",
             lambda: fit_model.fit(setup.x, bad_y, batch_size=len(bad_y), verbose=0), "y"),
            ("fit without labels",
             lambda: fit_model.fit(setup.x, batch_size=len(setup.x), verbose=0), "y"),
        ]
    else:
        cases.append(("generate(labels=0) on an unconditional model",
                      lambda: model.generate(z2, labels=0), "labels"))
    for description, (fn, match) in (extra or {}).items():
        cases.append((description, lambda fn=fn: fn(setup.fresh()), match))
    for description, fn, match in cases:
        try:
            fn()
        except ValueError as e:
            message = str(e)
            if match not in message or "Received" not in message:
                _fail(check, who, f"{description}: the ValueError should name {match!r} and "
                      f"what was received. Message: {message}")
            continue
        except Exception as e:  # noqa: BLE001 - reported as the failure it is
            _fail(check, who, f"{description} raised {type(e).__name__} instead of "
                  f"ValueError: {e}")
        _fail(check, who, f"{description} did not raise ValueError")
    return {"cases": len(cases)}


_DEFAULT_STRATEGY = {}


def _two_device_strategy():
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        raise _Skip(
            "needs two logical devices: configure them before TensorFlow initializes "
            "(tf.config.set_logical_device_configuration; see tests/conftest.py), or pass "
            "strategy="
        )
    names = tuple(d.name for d in devices[:2])
    if names not in _DEFAULT_STRATEGY:  # one per process: several mix up collectives
        _DEFAULT_STRATEGY[names] = tf.distribute.MirroredStrategy(list(names))
    return _DEFAULT_STRATEGY[names]


def check_gan_model(
    make_model,
    data,
    *,
    labels=None,
    learns=None,
    learn_model=None,
    checks=GAN_CHECKS,
    require=(),
    strategy=None,
    distribution_mode="graph",
    batch_size=8,
    learn_optimizer=None,
    player_steps=None,
    bad_arguments=None,
    sgd_learning_rate=0.1,
    rtol=1e-4,
    atol=1e-5,
    update_rtol=1e-3,
    tmp_dir=None,
    seed=0,
) -> GanCheckResult:
    """Runs the checks every kerasgan GAN class passes (see the module docstring).

    Args:
        make_model: ``() -> GAN``: a fresh, *uncompiled* model each call, with the same
            variables (shapes, order) each time; the harness builds several.
        data: real samples ``[N, ...]``, ``N >= batch_size``; the first ``batch_size``
            are the batch of the one-step checks.
        labels: ``[N]`` ints for a conditional model (None otherwise).
        learns: a :class:`LearningProblem` for ``learns``/``learns_flipped`` (None: both
            skipped, with that reason).
        learn_model: ``() -> GAN`` for the learning runs (default ``make_model``): the
            structural checks cost the same on a one-layer network, a learning run may
            need a bigger one.
        checks: the checks to run, a subset of :data:`GAN_CHECKS`; the others are
            reported as skipped ("not requested").
        require: checks that must run: a skip of one of them raises ``AssertionError``.
        strategy: the two-replica strategy of ``distribution`` (default: a
            ``MirroredStrategy`` over the first two logical GPUs or CPUs, made once per
            process).
        distribution_mode: how ``distribution`` runs the two-replica step: ``"graph"``
            (``fit`` as users run it, traced once per replica: about 5 s for a small
            MLP GAN on 2 cores) or ``"eager"`` (``fit`` with ``run_eagerly=True``: the
            same Keras and model code without tracing, about 2 s; misses bugs that only
            show when the step is traced under the strategy). It is compared with the
            traced one-device step either way.
        batch_size: global batch of the one-step checks (even: split over 2 replicas).
        learn_optimizer: ``() -> optimizer`` for the learning runs (default: the
            problem's).
        player_steps: ``{player: fn(model, real, labels)}`` for players beyond the
            generator and discriminator (``player_isolation``).
        bad_arguments: more ``{description: (fn(fresh_model), substring)}`` cases; each
            ``fn`` must raise a ``ValueError`` whose message holds ``substring``.
        sgd_learning_rate: SGD learning rate of ``distribution`` and ``xla``.
        rtol, atol: tolerances of the element-wise comparisons that cannot be exact.
        update_rtol: largest relative error of a player's update in ``distribution`` and
            ``xla`` (``|du_other - du_ref| / |du_ref|``).
        tmp_dir: directory for the ``.keras`` file and the export (default: a temporary
            one, removed afterwards).
        seed: global seed of the learning runs.

    Returns:
        A :class:`GanCheckResult`: ``ran`` ``{check: measures}``, ``skipped`` ``{check:
        reason}``.

    Raises:
        AssertionError: a check failed (``[<check>] <model>: <what>``), or a required
            check was skipped.
        ValueError: bad harness arguments (unknown check, labels missing, ...).

    Example:
        >>> import kerasgan
        >>> def make_model():
        ...     g = kerasgan.models.build_mlp_generator(2, 2, (16,))
        ...     d = kerasgan.models.build_mlp_discriminator(2, (16,))
        ...     return kerasgan.GAN(g, d, latent_dim=2, seed=0)
        >>> result = check_gan_model(make_model, ring8_problem().x, checks=["bad_arguments"])
        >>> sorted(result.ran), result.skipped["learns"]
        (['bad_arguments'], 'not requested')
    """
    unknown = sorted(set(checks) - set(GAN_CHECKS)) + sorted(set(require) - set(GAN_CHECKS))
    if unknown:
        raise ValueError(f"Unknown checks {unknown}; the checks are {list(GAN_CHECKS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2 or (
        batch_size % 2
    ):
        raise ValueError(f"batch_size must be an even int >= 2. Received: {batch_size!r}")
    setup = _Setup(make_model, data, labels, batch_size)
    result = GanCheckResult(model=setup.who)
    tmp_context = (
        tempfile.TemporaryDirectory(prefix="kerasgan-check-")
        if tmp_dir is None
        else contextlib.nullcontext(os.fspath(tmp_dir))
    )
    stepped = {}
    reference = {}

    def stepped_model():
        # One eager train step with the default optimizers: optimizer state, batch-norm
        # statistics and the seed are no longer initial.
        if "model" not in stepped:
            model = setup.fresh()
            model.compile(jit_compile=False)
            model.train_step(setup.batch())
            stepped["model"] = model
        return stepped["model"]

    def reference_step():
        if "run" not in reference:
            reference["run"] = _one_step(
                setup, None, False, None, sgd_learning_rate, counter_noise=True
            )
        return reference["run"]

    def distribution():
        where = _unsynchronized_batch_norm(setup.probe)
        if where is not None:
            raise _Skip(
                f"unsynchronized BatchNormalization ({where}): each replica normalizes by its "
                "own half batch, unlike one device, by design (build with "
                "sync_batch_norm=True to check)"
            )
        two = strategy or _two_device_strategy()
        if two.num_replicas_in_sync != 2:
            raise ValueError(f"strategy must have 2 replicas. Received: {two}")
        if distribution_mode not in ("graph", "eager"):
            raise ValueError(
                "distribution_mode must be 'graph' or 'eager'. Received: "
                f"distribution_mode={distribution_mode!r}"
            )
        base = reference_step()
        other = _one_step(
            setup, two, False, base[1], sgd_learning_rate, counter_noise=True,
            eager=distribution_mode == "eager",
        )
        numbers = _compare_steps("distribution", setup.who, base, other, rtol, atol, update_rtol)
        return {"mode": distribution_mode, **numbers}

    def xla():
        base = reference_step()
        try:
            other = _one_step(setup, None, True, base[1], sgd_learning_rate, counter_noise=True)
        except (
            tf.errors.InvalidArgumentError,
            tf.errors.UnimplementedError,
            tf.errors.InternalError,
        ) as e:
            message = str(e)
            if not any(marker in message for marker in _XLA_MARKERS):
                raise
            line = next(
                line for line in message.splitlines() if any(m in line for m in _XLA_MARKERS)
            )
            raise _Skip(f"XLA cannot compile this model's step: {line.strip()[:300]}") from None
        if not other[0].jit_compile:
            raise _Skip("compile(jit_compile=True) fell back to jit_compile=False")
        return _compare_steps("xla", setup.who, base, other, rtol, atol, update_rtol)

    def learn(flip):
        if learns is None:
            raise _Skip("no learning problem given (learns=None)")
        learner = learn_model or make_model
        if learn_model is not None and type(learn_model()) is not setup.cls:
            raise ValueError(
                f"learn_model must build the class make_model builds ({setup.cls.__name__})"
            )
        if flip:
            run = run_learning(learner, learns, flip=True, optimizer=learn_optimizer, seed=seed)
            if run.trained_passes:
                _fail("learns_flipped", setup.who,
                      f"the run with the generator's loss NEGATED reached the bar too, so the "
                      f"bar does not measure learning. {run}")
            return run.numbers()
        return check_gan_learns(
            learner, learns, optimizer=learn_optimizer, seed=seed, name=setup.who
        ).numbers()

    with tmp_context as tmp:
        runners = {
            "round_trip": lambda: _round_trip(setup, stepped_model(), tmp, rtol, atol),
            "player_isolation": lambda: _player_isolation(setup, player_steps),
            "distribution": distribution,
            "xla": xla,
            "export": lambda: _export(setup, stepped_model(), tmp, rtol, atol),
            "bad_arguments": lambda: _bad_arguments(setup, bad_arguments),
            "learns": lambda: learn(False),
            "learns_flipped": lambda: learn(True),
        }
        for check in GAN_CHECKS:
            if check not in checks:
                result.skipped[check] = "not requested"
                continue
            start = time.perf_counter()
            try:
                result.ran[check] = runners[check]()
            except _Skip as skip:
                result.skipped[check] = str(skip)
            result.seconds[check] = time.perf_counter() - start
    missing = {c: result.skipped[c] for c in require if c in result.skipped}
    if missing:
        raise AssertionError(f"{setup.who}: required checks were skipped: {missing}\n{result}")
    return result
