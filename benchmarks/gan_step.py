"""Training speed of kerasgan's ``fit`` against a PyTorch eager peer.

Both sides run in this one process, on the same CPU threads, with the same
architecture, batch, losses, optimizer and per-step algorithm:

- ``dcgan``: ``kerasgan.DCGAN`` 28x28x1, latent 100, base_filters 64, batch 64,
  non-saturating loss, one D update (real + fake, fresh z) then one G update
  (fresh z), Adam(2e-4, beta_1=0.5) for both players.
- ``wgan_gp``: ``kerasgan.WGANGP`` with the MLP builders (3 x 512 hidden units),
  latent 2, batch 256, 25 Gaussians; 5 critic updates on the same real batch
  (fresh z and alpha each, gradient penalty with create_graph) then one
  generator update; Adam(1e-4, beta_1=0, beta_2=0.9).

Ours is timed inside ``model.fit`` on an in-memory ``tf.data`` pipeline with a
callback stamping ``time.perf_counter()`` at batch ends: a first ``fit`` traces,
compiles and warms up, a second one (same compiled function, its first execution
not timed) is timed. The peer is warmed up for a few steps, then timed over the
same number of steps, once before and once after ours. Each side reports the
median rate over several equal windows; windows during which other processes
used >= 10 % of the CPU are left out (and the measurement is retried), since a
concurrent job on a small machine distorts the numbers, torch's OpenMP pool the
most (measured here: ~25x slower torch vs ~2x slower TF with one busy core).

Our configurations (``--configs``, ``all`` for every one; see ``CONFIGS``):
the library default (``jit_compile=None``: XLA for the MLP WGAN-GP, graph mode for the
convolutional DCGAN on CPU), jit_compile False/True,
steps_per_execution 1/10/50, plus knobs patched in this process only
(``_preserve`` of BN statistics removed, the NaN-check map removed) and
Keras's ``unrolled_steps_per_execution`` and numpy input.

Threads: ``--threads N`` (default 2) gives both sides N compute threads and
``--inter-op M`` (default 1) M op-scheduling threads, set before either runtime
starts: TensorFlow intra-op = N, inter-op = M; ``torch.set_num_threads(N)``,
``torch.set_num_interop_threads(M)``. M = 1 by default because eager PyTorch runs
one op at a time (its inter-op pool only serves ``torch.jit`` forks), so TF with
more than one inter-op thread could overlap kernels the peer cannot; with M = 1
both sides run one kernel at a time on N threads. The values in effect are
printed in the header and stored in every raw record (``--results``).

Usage:
    python benchmarks/gan_step.py [--case dcgan|wgan_gp|all] [--steps N] [--quick]
        [--configs NAME,NAME,...] [--threads N] [--inter-op M] [--check | --check-only]
        [--results benchmarks/results/gan_step.jsonl]

``--quick`` is a smoke run (< 60 s). ``--check`` first verifies the math (exit
status 1 on a mismatch, before any timing): kerasgan's weights are copied into
the torch peer, then G and D outputs (inference and training mode), the D and G
loss values on the same real batch, latents and (WGAN-GP) interpolation weights,
and every weight and batch-norm statistic after exactly one Adam update of each
player are compared against stated tolerances. Environment variables such as
``TF_ENABLE_ONEDNN_OPTS`` must be set before TensorFlow starts, so they are per
invocation.

Torch is used only by this benchmark (``benchmarks/requirements.txt``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", default="all", choices=["dcgan", "wgan_gp", "all"])
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per measurement (default: 200 for dcgan, 300 for wgan_gp; "
        "rounded up to a multiple of the windows' size)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run, < 60 s")
    p.add_argument(
        "--configs",
        default=None,
        help="comma-separated subset of our configurations (see CONFIGS); "
        "'all' adds the exploratory ones",
    )
    p.add_argument("--windows", type=int, default=5, help="timing windows per configuration")
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="compute threads on both sides: TF intra-op and torch.set_num_threads (default 2)",
    )
    p.add_argument(
        "--inter-op",
        type=int,
        default=1,
        help="op-scheduling threads on both sides: TF inter-op and "
        "torch.set_num_interop_threads (default 1; see the module docstring)",
    )
    p.add_argument("--results", default=None, help="append one JSON record per row to this file")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer")
    p.add_argument(
        "--check",
        action="store_true",
        help="verify outputs, losses and one optimizer update of each player first "
        "(exit status 1 on a mismatch)",
    )
    p.add_argument("--check-only", action="store_true", help="--check, then stop (no timing)")
    p.add_argument(
        "--idle-wait",
        type=float,
        default=300,
        help="total seconds the run may spend waiting (up to 30 s before each measurement) "
        "for other processes to go quiet (0: never wait; --quick never waits)",
    )
    args = p.parse_args(argv)
    for name in ("threads", "inter_op"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1. Received: {getattr(args, name)}")
    return args


ARGS = _parse_args() if __name__ == "__main__" else None

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402


def set_threads(threads, inter_op):
    """The same thread counts on both sides; call before either runtime starts.

    TensorFlow: intra-op = ``threads``, inter-op = ``inter_op``; torch:
    ``set_num_threads(threads)``, ``set_num_interop_threads(inter_op)``.

    Returns:
        dict of the four values read back from the runtimes.
    """
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(inter_op)
    return thread_settings()


def thread_settings():
    """The thread counts in effect (0 in TF means one per core)."""
    return {
        "tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }


if ARGS is not None:
    # Must happen before TensorFlow initializes its runtime (Keras's import included).
    set_threads(ARGS.threads, ARGS.inter_op)

import keras  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import kerasgan  # noqa: E402
from kerasgan._internal import data_checks as _data_checks  # noqa: E402
from kerasgan.gan import base as gan_module  # noqa: E402

# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

DCGAN_BATCH = 64
WGAN_BATCH = 256


def dcgan_data(n=DCGAN_BATCH * 16, seed=0):
    """Images in [-1, 1] (speed does not depend on their content)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(n, 28, 28, 1)).astype("float32")


def gaussians_25(n=WGAN_BATCH * 40, std=0.05, seed=0):
    """Samples of 25 Gaussians centred on {-4, -2, 0, 2, 4}^2 with std ``std``."""
    rng = np.random.default_rng(seed)
    grid = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], "float32")
    centers = grid[rng.integers(0, len(grid), size=n)]
    return (centers + std * rng.standard_normal((n, 2))).astype("float32")


def build_ours(case):
    if case == "dcgan":
        return kerasgan.DCGAN(latent_dim=100, image_shape=(28, 28, 1), base_filters=64)
    g = kerasgan.models.build_mlp_generator(2, 2, hidden_units=(512, 512, 512))
    d = kerasgan.models.build_mlp_discriminator(2, hidden_units=(512, 512, 512))
    return kerasgan.WGANGP(g, d, latent_dim=2)


def compile_ours(model, case, jit_compile, steps_per_execution):
    # The models' default optimizers, spelled out (kerasgan.optimizers.Adam: Keras's
    # Adam with TensorFlow's fused update kernel; same formula and hyperparameters).
    if case == "dcgan":
        opts = [kerasgan.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(2)]
    else:
        opts = [kerasgan.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9) for _ in range(2)]
    model.compile(
        g_optimizer=opts[0],
        d_optimizer=opts[1],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )


# --------------------------------------------------------------------------------------
# PyTorch peers (NCHW, eager)
# --------------------------------------------------------------------------------------

# Keras BatchNormalization: moving = 0.99 * moving + 0.01 * batch, epsilon 1e-3.
_BN = dict(eps=1e-3, momentum=0.01)


class TorchDCGANGenerator(nn.Module):
    """z -> Linear(no bias) -> BN -> ReLU -> [128,7,7] -> ConvT(64,4,s2,p1,no bias) -> BN
    -> ReLU -> ConvT(1,4,s2,p1) -> tanh. Same as build_dcgan_generator(100, (28,28,1), 64)."""

    def __init__(self, latent_dim=100, base_filters=64, channels=1):
        super().__init__()
        self.c0 = base_filters * 2
        self.project = nn.Linear(latent_dim, 7 * 7 * self.c0, bias=False)
        self.bn_project = nn.BatchNorm1d(7 * 7 * self.c0, **_BN)
        self.deconv_0 = nn.ConvTranspose2d(self.c0, base_filters, 4, 2, 1, bias=False)
        self.bn_0 = nn.BatchNorm2d(base_filters, **_BN)
        self.deconv_out = nn.ConvTranspose2d(base_filters, channels, 4, 2, 1)

    def forward(self, z):
        h = F.relu(self.bn_project(self.project(z)))
        h = h.view(-1, self.c0, 7, 7)
        h = F.relu(self.bn_0(self.deconv_0(h)))
        return torch.tanh(self.deconv_out(h))


class TorchDCGANDiscriminator(nn.Module):
    """x -> Conv(64,4,s2,p1) -> LReLU(0.2) -> Conv(128,4,s2,p1,no bias) -> BN -> LReLU(0.2)
    -> Flatten -> Linear(1). Same as build_dcgan_discriminator((28,28,1), 64)."""

    def __init__(self, base_filters=64, channels=1):
        super().__init__()
        self.conv_0 = nn.Conv2d(channels, base_filters, 4, 2, 1)
        self.conv_1 = nn.Conv2d(base_filters, base_filters * 2, 4, 2, 1, bias=False)
        self.bn_1 = nn.BatchNorm2d(base_filters * 2, **_BN)
        self.logits = nn.Linear(7 * 7 * base_filters * 2, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv_0(x), 0.2)
        h = F.leaky_relu(self.bn_1(self.conv_1(h)), 0.2)
        return self.logits(h.flatten(1))


def _mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def torch_wgan_models():
    g = _mlp([2, 512, 512, 512, 2], nn.ReLU)
    d = _mlp([2, 512, 512, 512, 1], lambda: nn.LeakyReLU(0.2))
    return g, d


@contextlib.contextmanager
def _frozen(module):
    """No parameter gradients for ``module`` (the other player's update)."""
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in module.parameters():
            p.requires_grad_(True)


@contextlib.contextmanager
def _keep_buffers(module):
    """Restores BN running statistics, as kerasgan's ``_preserve`` does."""
    saved = [b.clone() for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, s in zip(module.buffers(), saved):
                b.copy_(s)


def keras_first_step_eps(epsilon, beta_2):
    """torch Adam epsilon giving Keras's (and TF's fused kernel's) first update exactly.

    Keras: ``w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``; torch:
    ``w -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps')``. They agree at
    step t when ``eps' = eps / sqrt(1 - b2^t)``; the peer uses t = 1 (later steps
    differ only in epsilon's weight, which does not change the work done).
    """
    return epsilon / (1.0 - beta_2) ** 0.5


class TorchGAN:
    """Eager PyTorch version of kerasgan's ``GAN.train_step`` for both cases.

    ``g`` and ``d`` default to freshly initialized networks; ``--check`` passes
    networks holding kerasgan's weights.
    """

    def __init__(self, case, data, preserve_bn=True, g=None, d=None):
        self.case = case
        self.preserve_bn = preserve_bn
        if case == "dcgan":
            self.g, self.d = TorchDCGANGenerator(), TorchDCGANDiscriminator()
            self.latent_dim, self.batch, self.d_steps = 100, DCGAN_BATCH, 1
            # Keras Adam's epsilon is 1e-7 (added before v's bias correction).
            kw = dict(lr=2e-4, betas=(0.5, 0.999), eps=keras_first_step_eps(1e-7, 0.999))
            # NHWC -> NCHW once, outside timing (the peer's natural layout).
            data = np.ascontiguousarray(data.transpose(0, 3, 1, 2))
        else:
            self.g, self.d = torch_wgan_models()
            self.latent_dim, self.batch, self.d_steps = 2, WGAN_BATCH, 5
            kw = dict(lr=1e-4, betas=(0.0, 0.9), eps=keras_first_step_eps(1e-7, 0.9))
        if g is not None:
            self.g, self.d = g, d
        self.g.train()
        self.d.train()
        self.g_opt = torch.optim.Adam(self.g.parameters(), **kw)
        self.d_opt = torch.optim.Adam(self.d.parameters(), **kw)
        self.data = torch.from_numpy(data)
        self.n_batches = len(data) // self.batch
        self.i = 0

    def _maybe_keep(self, module):
        return _keep_buffers(module) if self.preserve_bn else contextlib.nullcontext()

    def d_loss(self, real, fake, alpha=None):
        real_logits = self.d(real).squeeze(1)
        fake_logits = self.d(fake).squeeze(1)
        if self.case == "dcgan":
            return (F.softplus(-real_logits) + F.softplus(fake_logits)).mean()
        x_hat = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
        scores = self.d(x_hat).sum()
        (grads,) = torch.autograd.grad(scores, x_hat, create_graph=True)
        norm = torch.sqrt(grads.pow(2).flatten(1).sum(1) + 1e-12)
        gp = (norm - 1.0).pow(2)
        return (fake_logits - real_logits + 10.0 * gp).mean()

    def g_loss(self, fake_logits):
        fake_logits = fake_logits.squeeze(1)
        if self.case == "dcgan":
            return F.softplus(-fake_logits).mean()
        return (-fake_logits).mean()

    def d_step(self, real, z, alpha=None):
        """One discriminator update on ``real`` with latents ``z`` (and WGAN-GP ``alpha``)."""
        with torch.no_grad(), self._maybe_keep(self.g):
            fake = self.g(z)
        loss = self.d_loss(real, fake, alpha)
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.d_opt.step()
        return loss

    def g_step(self, z):
        """One generator update through the (unchanged) discriminator."""
        # D's running statistics are restored after the backward pass (autograd saved
        # them for it; kerasgan restores them inside its tape, which is equivalent).
        with _frozen(self.d), self._maybe_keep(self.d):
            fake = self.g(z)
            loss = self.g_loss(self.d(fake))
            self.g_opt.zero_grad(set_to_none=True)
            loss.backward()
        self.g_opt.step()
        return loss

    def train_step(self):
        b = self.i % self.n_batches
        self.i += 1
        real = self.data[b * self.batch : (b + 1) * self.batch]
        for _ in range(self.d_steps):
            z = torch.randn(self.batch, self.latent_dim)
            alpha = torch.rand(self.batch, 1) if self.case == "wgan_gp" else None
            self.d_step(real, z, alpha)
        return self.g_step(torch.randn(self.batch, self.latent_dim))


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------

# A window counts as clean when other processes used less than this share of the
# machine's CPU while it ran.
CLEAN_SHARE = 0.10


def _cpu_sample():
    """(machine busy seconds, this process's CPU seconds, wall time); Linux only."""
    wall = time.perf_counter()
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None, None, wall
    tick = os.sysconf("SC_CLK_TCK")
    # /proc/stat: user nice system idle iowait irq softirq steal ...
    busy = (sum(fields) - fields[3] - fields[4]) / tick
    return busy, (int(own[11]) + int(own[12])) / tick, wall


def foreign_share(s0, s1):
    """Share of the machine's CPU used by *other* processes between two samples.

    A second process on the 2 cores (e.g. a test run) slows either side, the
    OpenMP-based torch peer much more than TensorFlow's thread pool, so every
    timed window is checked with this.
    """
    if s0[0] is None or s1[0] is None or s1[2] <= s0[2]:
        return 0.0
    other = (s1[0] - s0[0]) - (s1[1] - s0[1])
    return max(other, 0.0) / ((s1[2] - s0[2]) * (os.cpu_count() or 1))


class IdleWaiter:
    """Waits for other processes to go quiet before a measurement, within a total budget.

    ``__call__`` waits up to ``per_call`` seconds until other processes use less than
    ``threshold`` of the CPU; the run never waits more than ``budget`` seconds overall
    (under persistent load it then just measures and flags contended windows).
    """

    def __init__(self, budget, per_call=30.0, threshold=0.05, probe=1.0):
        self.budget, self.per_call, self.threshold, self.probe = budget, per_call, threshold, probe
        self.waited = 0.0

    def __call__(self):
        t0 = time.perf_counter()
        deadline = t0 + min(self.per_call, max(self.budget - self.waited, 0.0))
        while time.perf_counter() < deadline:
            s0 = _cpu_sample()
            time.sleep(self.probe)
            if foreign_share(s0, _cpu_sample()) < self.threshold:
                break
        self.waited += time.perf_counter() - t0


def summarize(windows):
    """windows: [(steps/s, foreign share)] -> median over clean windows (all if too few)."""
    clean = [r for r, f in windows if f < CLEAN_SHARE]
    ok = len(clean) >= (len(windows) + 1) // 2
    rates = clean if ok else [r for r, _ in windows]
    return statistics.median(rates), ok


class BatchEndClock(keras.callbacks.Callback):
    """Samples the clock (and CPU counters) at every (multi-)step end."""

    def __init__(self):
        super().__init__()
        self.marks = {}  # steps done -> _cpu_sample()
        self.t_begin = None

    def on_train_begin(self, logs=None):
        self.marks = {}
        self.t_begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.marks[batch + 1] = _cpu_sample()


def _round_up(n, m):
    return -(-n // m) * m


@contextlib.contextmanager
def no_preserve():
    """Replaces kerasgan's BN-statistics save/restore by a no-op (in this process only)."""

    class _Noop:
        def __init__(self, variables):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    original = gan_module._preserve
    gan_module._preserve = _Noop
    try:
        yield
    finally:
        gan_module._preserve = original


@contextlib.contextmanager
def no_finite_check():
    """Skips GAN.fit's per-batch NaN/Inf check map on datasets (in this process only)."""

    def unchecked(dataset, *args, **kwargs):
        return dataset

    original = _data_checks.checked
    _data_checks.checked = unchecked
    try:
        yield
    finally:
        _data_checks.checked = original


# name -> (description, jit_compile, steps_per_execution, extra knobs)
CONFIGS = {
    "default": ("library default (jit_compile=None)", None, 1, {}),
    "graph": ("jit_compile=False", False, 1, {}),
    "xla": ("jit_compile=True", True, 1, {}),
    "xla_spe10": ("jit_compile=True, steps_per_execution=10", True, 10, {}),
    "xla_spe50": ("jit_compile=True, steps_per_execution=50", True, 50, {}),
    "graph_spe10": ("jit_compile=False, steps_per_execution=10", False, 10, {}),
    "xla_spe10_nopreserve": (
        "jit_compile=True, spe=10, _preserve patched out",
        True,
        10,
        {"no_preserve": True},
    ),
    "graph_spe10_nopreserve": (
        "jit_compile=False, spe=10, _preserve patched out",
        False,
        10,
        {"no_preserve": True},
    ),
    "xla_spe10_nocheck": (
        "jit_compile=True, spe=10, NaN-check map patched out",
        True,
        10,
        {"no_finite_check": True},
    ),
    "xla_spe10_unroll": (
        "jit_compile=True, spe=10, unrolled_steps_per_execution=10",
        True,
        10,
        {"unroll": 10},
    ),
    "xla_spe10_numpy": ("jit_compile=True, spe=10, numpy input", True, 10, {"numpy": True}),
}
DEFAULT_CONFIGS = ["default", "graph", "xla", "xla_spe10", "graph_spe10"]
# Configurations reachable with the library as shipped (no monkeypatch).
LIBRARY_REACHABLE = {
    "default",
    "graph",
    "xla",
    "xla_spe10",
    "xla_spe50",
    "graph_spe10",
    "xla_spe10_unroll",
    "xla_spe10_numpy",
}


def _dataset(data, batch):
    return (
        tf.data.Dataset.from_tensor_slices(data)
        .batch(batch, drop_remainder=True)
        .cache()
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


def time_ours(case, data, config, timed_steps, n_windows, warmup_steps, attempts=3, idle_wait=None):
    """Builds, compiles and warms up (one ``fit``), then times a second ``fit``.

    The timed ``fit`` reuses the compiled train function; its first execution (new
    iterator) is not timed. It is repeated (no recompilation) when fewer than half of
    its windows were free of other processes' load.
    """
    desc, jit, spe, knobs = CONFIGS[config]
    keras.utils.set_random_seed(0)
    model = build_ours(case)
    compile_ours(model, case, jit, spe)
    if "unroll" in knobs:
        model.unrolled_steps_per_execution = knobs["unroll"]
    batch = DCGAN_BATCH if case == "dcgan" else WGAN_BATCH
    window = _round_up(max(timed_steps // n_windows, 1), spe)
    warmup = _round_up(warmup_steps, spe)
    lead = spe
    total = lead + window * n_windows

    def fit(steps):
        if knobs.get("numpy"):
            reps = -(-steps * batch // len(data))
            x = np.concatenate([data] * reps)[: steps * batch]
            kwargs = dict(x=x, batch_size=batch, shuffle=False)
        else:
            kwargs = dict(x=_dataset(data, batch), steps_per_epoch=steps, shuffle=False)
        model.fit(epochs=1, verbose=0, callbacks=[clock], **kwargs)

    clock = BatchEndClock()
    ctx = contextlib.ExitStack()
    if knobs.get("no_preserve"):
        ctx.enter_context(no_preserve())
    if knobs.get("no_finite_check"):
        ctx.enter_context(no_finite_check())
    with ctx:
        fit(warmup)
        first_call = clock.marks[min(clock.marks)][2] - clock.t_begin
        best = None
        tries = 0
        for _ in range(attempts):
            tries += 1
            if idle_wait:
                idle_wait()
            fit(total)
            m = clock.marks
            windows = []
            for k in range(n_windows):
                s0, s1 = m[lead + k * window], m[lead + (k + 1) * window]
                windows.append((window / (s1[2] - s0[2]), foreign_share(s0, s1)))
            rate, ok = summarize(windows)
            if best is None or ok or sum(f for _, f in windows) < sum(f for _, f in best[2]):
                best = (rate, ok, windows)
            if ok:
                break
    rate, ok, windows = best
    return {
        "config": config,
        "desc": desc,
        "jit_compile": bool(model.jit_compile),
        "rate": rate,
        "clean": ok,
        "windows": windows,
        "first_call_s": first_call,
        "attempts": tries,
    }


def time_torch(
    case, data, timed_steps, n_windows, warmup_steps, preserve_bn=True, attempts=3, idle_wait=None
):
    torch.manual_seed(0)
    peer = TorchGAN(case, data, preserve_bn=preserve_bn)
    for _ in range(warmup_steps):
        peer.train_step()
    window = max(timed_steps // n_windows, 1)
    best = None
    tries = 0
    for _ in range(attempts):
        tries += 1
        if idle_wait:
            idle_wait()
        windows = []
        for _ in range(n_windows):
            s0 = _cpu_sample()
            for _ in range(window):
                peer.train_step()
            s1 = _cpu_sample()
            windows.append((window / (s1[2] - s0[2]), foreign_share(s0, s1)))
        rate, ok = summarize(windows)
        if best is None or ok or sum(f for _, f in windows) < sum(f for _, f in best[2]):
            best = (rate, ok, windows)
        if ok:
            break
    rate, ok, windows = best
    return {"rate": rate, "clean": ok, "windows": windows, "attempts": tries}


# --------------------------------------------------------------------------------------
# Equivalence check (weights copied from Keras into torch)
# --------------------------------------------------------------------------------------


def _copy_dense(t_linear, k_dense, in_perm=None, out_perm=None):
    w = k_dense.kernel.numpy()  # [in, out]
    if in_perm is not None:
        w = w[in_perm]
    if out_perm is not None:
        w = w[:, out_perm]
    t_linear.weight.data = torch.from_numpy(np.ascontiguousarray(w.T))
    if t_linear.bias is not None:
        b = k_dense.bias.numpy()
        t_linear.bias.data = torch.from_numpy(b[out_perm] if out_perm is not None else b)


def _copy_bn(t_bn, k_bn, perm=None):
    vals = [k_bn.gamma, k_bn.beta, k_bn.moving_mean, k_bn.moving_variance]
    vals = [v.numpy() if perm is None else v.numpy()[perm] for v in vals]
    t_bn.weight.data, t_bn.bias.data = torch.from_numpy(vals[0]), torch.from_numpy(vals[1])
    t_bn.running_mean.data, t_bn.running_var.data = (
        torch.from_numpy(vals[2]),
        torch.from_numpy(vals[3]),
    )


def _copy_conv(t_conv, k_conv):
    w = k_conv.kernel.numpy()
    # Conv2D kernel [kh, kw, in, out] -> torch [out, in, kh, kw]; Conv2DTranspose
    # kernel [kh, kw, out, in] -> torch [in, out, kh, kw] (both frameworks' transposed
    # convolutions are the adjoint of their cross-correlation: no flip).
    w = w.transpose(3, 2, 0, 1)
    t_conv.weight.data = torch.from_numpy(np.ascontiguousarray(w))
    if t_conv.bias is not None:
        t_conv.bias.data = torch.from_numpy(k_conv.bias.numpy())


def copy_to_torch(case, kg, kd):
    """Fresh torch networks holding the Keras generator's and discriminator's current values."""
    if case == "dcgan":
        tg, td = TorchDCGANGenerator(), TorchDCGANDiscriminator()
        _copy_dense(tg.project, kg.get_layer("project"), out_perm=CHW_FROM_HWC)
        _copy_bn(tg.bn_project, kg.get_layer("bn_project"), perm=CHW_FROM_HWC)
        _copy_conv(tg.deconv_0, kg.get_layer("deconv_0"))
        _copy_bn(tg.bn_0, kg.get_layer("bn_0"))
        _copy_conv(tg.deconv_out, kg.get_layer("deconv_out"))
        _copy_conv(td.conv_0, kd.get_layer("conv_0"))
        _copy_conv(td.conv_1, kd.get_layer("conv_1"))
        _copy_bn(td.bn_1, kd.get_layer("bn_1"))
        _copy_dense(td.logits, kd.get_layer("logits"), in_perm=CHW_FROM_HWC)
        return tg, td
    tg, td = torch_wgan_models()
    for t_seq, k_model in ((tg, kg), (td, kd)):
        k_dense = [lyr for lyr in k_model.layers if isinstance(lyr, keras.layers.Dense)]
        t_lin = [m for m in t_seq if isinstance(m, nn.Linear)]
        if len(k_dense) != len(t_lin):
            raise RuntimeError(f"{len(k_dense)} Keras Dense layers against {len(t_lin)} torch ones")
        for t, k in zip(t_lin, k_dense):
            _copy_dense(t, k)
    return tg, td


# Keras reshapes the DCGAN projection to [7, 7, 128] (HWC); torch views it as [128, 7, 7].
CHW_FROM_HWC = np.arange(7 * 7 * 128).reshape(7, 7, 128).transpose(2, 0, 1).reshape(-1)

# Tolerances of --check (float32 on both sides, different summation orders and kernels):
# - outputs: max |keras - torch| of G's images (in [-1, 1]) and D's logits;
# - loss: |keras - torch| / max(1, |keras|) of the D and G loss on one batch;
# - weights: after one Adam update of each player, |keras - torch| per weight must stay
#   within weights_in_lr x lr (Adam's first step moves a weight by lr g / (|g| + eps),
#   about lr, so this catches any disagreement in the update) plus what a gradient error
#   of grad_noise x the tensor's largest |g| explains where that step is ill-conditioned:
#   its slope lr eps / (|g| + eps)^2 is up to lr / eps ~ 60 per unit of gradient for the
#   near-zero gradients (|g| ~ eps = 3e-6) that float32 rounding leaves to chance;
# - stats: max |keras - torch| of batch-norm moving statistics after the two updates, the
#   torch ones converted to Keras's convention (biased batch variance in the moving
#   average; torch uses the unbiased one: n / (n - 1), n = batch x height x width).
CHECK_TOL = {
    "outputs": 1e-4,
    "loss": 1e-5,
    "weights_in_lr": 1e-2,
    "grad_noise": 1e-5,
    "stats": 1e-6,
}


@contextlib.contextmanager
def _recording(obj, name, record):
    """Wraps ``obj.<name>`` so that every value it returns is appended to ``record``."""
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        record.append(np.array(out))
        return out

    setattr(obj, name, wrapper)
    try:
        yield
    finally:
        if obj.__dict__.get(name) is wrapper and isinstance(obj, keras.Model):
            delattr(obj, name)  # back to the class's method
        else:
            setattr(obj, name, original)


def _state(module):
    """Floating-point parameters and buffers by name, as NumPy copies."""
    items = list(module.named_parameters()) + list(module.named_buffers())
    return {k: v.detach().numpy().copy() for k, v in items if v.dtype.is_floating_point}


def keras_convention_var(net, name, before, after, bn_n, momentum=0.01):
    """A torch running variance as Keras would have averaged it (biased batch variances).

    After k updates ``r_k = c r_0 + sum_i w_i u_i`` with ``c = (1 - momentum)^k`` and
    ``u_i`` the unbiased batch variances; Keras averages ``u_i (n - 1) / n`` instead, i.e.
    ``c r_0 + (n - 1) / n (r_k - c r_0)``; k is ``num_batches_tracked`` (the networks
    are fresh copies, and calls whose statistics are restored do not count).
    """
    module_name = name.rsplit(".", 1)[0]
    module = net.get_submodule(module_name)
    k = int(module.num_batches_tracked)
    n = bn_n[(net, module_name)]
    c = (1.0 - momentum) ** k
    return c * before + (n - 1.0) / n * (after - c * before)


def check_equivalence(case):
    """Same function, same losses, same first update of each player on both sides.

    kerasgan's weights are copied into the torch networks; then (1) G and D outputs
    in inference and training mode, (2) one discriminator step and one generator
    step of kerasgan's own ``discriminator_step`` / ``generator_step`` (the code
    ``train_step`` runs), whose latents and interpolation weights are recorded and
    fed to the torch peer's ``d_step`` / ``g_step``: D and G losses, and every
    weight and batch-norm statistic of both players after the two updates.

    Returns:
        dict of differences (``*_maxdiff``), sizes and ``failures`` (a list of
        messages; empty when everything is within ``CHECK_TOL``).
    """
    keras.utils.set_random_seed(1)
    torch.manual_seed(1)
    model = build_ours(case)
    compile_ours(model, case, jit_compile=False, steps_per_execution=1)
    kg, kd = model.generator, model.discriminator
    tg, td = copy_to_torch(case, kg, kd)
    if case == "dcgan":
        batch, latent_dim, lr, data = DCGAN_BATCH, 100, 2e-4, dcgan_data()

        def to_torch_img(a):
            return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

        def from_torch_img(t):
            return t.detach().numpy().transpose(0, 2, 3, 1)
    else:
        batch, latent_dim, lr, data = WGAN_BATCH, 2, 1e-4, gaussians_25()
        to_torch_img = torch.from_numpy  # noqa: E731

        def from_torch_img(t):
            return t.detach().numpy()

    n_keras = sum(int(np.prod(v.shape)) for v in kg.trainable_weights + kd.trainable_weights)
    n_torch = sum(p.numel() for m in (tg, td) for p in m.parameters() if p.requires_grad)
    out = {"params_keras": n_keras, "params_torch": n_torch}
    failures = []
    if n_keras != n_torch:
        failures.append(f"trainable parameters: keras {n_keras} != torch {n_torch}")

    # (1) The same function.
    z = np.random.default_rng(0).standard_normal((batch, latent_dim)).astype("float32")
    for training in (False, True):
        tg.train(training)
        td.train(training)
        with torch.no_grad(), _keep_buffers(tg), _keep_buffers(td):
            x_k = kg(z, training=training).numpy()
            x_t = from_torch_img(tg(torch.from_numpy(z)))
            d_k = kd(x_k, training=training).numpy()
            d_t = td(to_torch_img(x_k)).numpy()
        mode = "train" if training else "infer"
        out[f"G_{mode}_maxdiff"] = float(np.abs(x_k - x_t).max())
        out[f"D_{mode}_maxdiff"] = float(np.abs(d_k - d_t).max())
    for key in [k for k in out if k.endswith("_maxdiff")]:
        if not out[key] <= CHECK_TOL["outputs"]:
            failures.append(f"{key} = {out[key]:.3g} > {CHECK_TOL['outputs']}")

    # (2) One update of each player on the same batch, latents and alpha.
    tg, td = copy_to_torch(case, kg, kd)  # Keras's BN statistics as they are now
    before = {"G": _state(tg), "D": _state(td)}
    real = data[:batch]
    zs, alphas = [], []
    with (
        _recording(model, "draw_latents", zs),
        _recording(kerasgan.regularizers, "interpolation_weights", alphas),
    ):
        d_logs = model.discriminator_step(tf.constant(real))
        g_logs = model.generator_step(tf.shape(real)[0])
    expected_draws = (2, 1 if case == "wgan_gp" else 0)
    if (len(zs), len(alphas)) != expected_draws:
        raise RuntimeError(f"recorded {len(zs)} latents and {len(alphas)} alphas")
    peer = TorchGAN(case, data, g=tg, d=td)
    eps = peer.d_opt.defaults["eps"]
    # Elements per channel each torch batch norm normalized over (its Bessel factor).
    bn_n = {}
    hooks = [
        m.register_forward_pre_hook(
            lambda mod, inp, key=(net, name): bn_n.__setitem__(
                key, inp[0].numel() // inp[0].shape[1]
            )
        )
        for net in (tg, td)
        for name, m in net.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    alpha = torch.from_numpy(alphas[0]) if alphas else None
    grads = {}
    d_loss_t = float(peer.d_step(to_torch_img(real), torch.from_numpy(zs[0]), alpha).detach())
    grads["D"] = {n: p.grad.numpy().copy() for n, p in td.named_parameters()}
    g_loss_t = float(peer.g_step(torch.from_numpy(zs[1])).detach())
    grads["G"] = {n: p.grad.numpy().copy() for n, p in tg.named_parameters()}
    for h in hooks:
        h.remove()
    for name, k, t in (
        ("d_loss", float(d_logs["d_loss"]), d_loss_t),
        ("g_loss", float(g_logs["g_loss"]), g_loss_t),
    ):
        diff = abs(k - t) / max(1.0, abs(k))
        out[f"{name}_keras"], out[f"{name}_torch"], out[f"{name}_reldiff"] = k, t, diff
        if not diff <= CHECK_TOL["loss"]:
            failures.append(f"{name}: keras {k:.7g} torch {t:.7g} (rel. diff {diff:.3g})")
    kg_after, kd_after = copy_to_torch(case, kg, kd)
    for player, t_net, k_net in (("G", tg, kg_after), ("D", td, kd_after)):
        k_state, t_state = _state(k_net), _state(t_net)
        params = dict(t_net.named_parameters())
        n_stats = 0
        worst = (0.0, "", 0.0)  # (diff / allowed, name, diff)
        moved, w_diff, s_diff, loose = 0.0, 0.0, 0.0, 0
        for name, k_val in k_state.items():
            t_val = t_state[name]
            if name in params:
                g = grads[player][name]
                step_slope = lr * eps / (np.abs(g) + eps) ** 2
                allowed = CHECK_TOL["weights_in_lr"] * lr + step_slope * (
                    CHECK_TOL["grad_noise"] * np.abs(g).max()
                )
                diff = np.abs(k_val - t_val)
                moved = max(moved, float(np.abs(k_val - before[player][name]).max()))
                w_diff = max(w_diff, float(diff.max()))
                loose += int((diff > CHECK_TOL["weights_in_lr"] * lr).sum())
                ratio = float((diff / allowed).max())
                if ratio > worst[0]:
                    worst = (ratio, name, float(diff.max()))
            else:
                n_stats += 1
                if name.endswith("running_var"):
                    t_val = keras_convention_var(t_net, name, before[player][name], t_val, bn_n)
                diff = float(np.abs(k_val - t_val).max())
                s_diff = max(s_diff, diff)
                if not diff <= CHECK_TOL["stats"]:
                    failures.append(f"{player} {name} after the updates: max diff {diff:.3g}")
        out[f"{player}_update_max_step"] = moved
        out[f"{player}_weights_after_update_maxdiff"] = w_diff
        out[f"{player}_weights_beyond_1pct_lr"] = loose
        out[f"{player}_weights_worst_diff_over_tolerance"] = worst[0]
        if n_stats:
            out[f"{player}_bn_stats_after_update_maxdiff"] = s_diff
        if not worst[0] <= 1.0:
            failures.append(
                f"{player} weights after one update: {worst[1]} differs by {worst[2]:.3g}, "
                f"{worst[0]:.3g} x its tolerance"
            )
        if not moved >= 0.5 * lr:
            failures.append(f"{player}: the update moved no weight by lr/2 ({moved:.3g})")
    out["failures"] = failures
    return out


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def _fmt_windows(windows):
    return "[" + ", ".join(f"{r:.2f}" + ("*" if f >= CLEAN_SHARE else "") for r, f in windows) + "]"


def _line(label, r):
    busy = max(f for _, f in r["windows"])
    note = "" if r["clean"] else "  CONTENDED"
    return (
        f"{label:<30} {r['rate']:8.2f} steps/s  windows {_fmt_windows(r['windows'])}"
        f"  (max other-process CPU {busy:.0%}, attempts {r['attempts']}){note}"
    )


def machine_info():
    """CPU model, cores and load average, for the header and the raw records."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None,) * 3
    return {"cpu": model, "cores": os.cpu_count(), "loadavg_1_5_15": [round(v, 2) for v in load]}


def source_state():
    """Where kerasgan was imported from, its git commit and uncommitted changes there."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(kerasgan.__file__)))
    state = {"path": root, "commit": None, "uncommitted": None}
    try:
        run = dict(cwd=root, capture_output=True, text=True, timeout=30, check=True)
        state["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "kerasgan", "benchmarks"], **run
        ).stdout
        state["uncommitted"] = [line[3:] for line in status.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def append_records(path, records):
    """Appends JSON lines to ``path`` (directories created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def command_line():
    return "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:]
    )


def main(args):
    cases = ["dcgan", "wgan_gp"] if args.case == "all" else [args.case]
    if args.configs == "all":
        configs = list(CONFIGS)
    elif args.configs:
        configs = [c.strip() for c in args.configs.split(",") if c.strip()]
        unknown = [c for c in configs if c not in CONFIGS]
        if unknown:
            sys.exit(f"unknown configs {unknown}; choose from {sorted(CONFIGS)}")
    else:
        configs = list(DEFAULT_CONFIGS)
    if args.quick and not args.configs:
        configs = ["xla_spe10"]

    threads = thread_settings()
    machine = machine_info()
    versions = {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": torch.__version__,
        "kerasgan": kerasgan.__version__,
    }
    print(" | ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"CPU: {machine['cpu']}, {machine['cores']} cores, load average "
        f"{machine['loadavg_1_5_15']} | threads: TF intra-op {threads['tf_intra_op']}, "
        f"inter-op {threads['tf_inter_op']}; torch {threads['torch_threads']}, inter-op "
        f"{threads['torch_interop_threads']} | TF_ENABLE_ONEDNN_OPTS="
        f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset (on)')} | XLA_FLAGS="
        f"{os.environ.get('XLA_FLAGS', 'unset')}"
    )
    print(
        "windows marked * had other processes using >= "
        f"{CLEAN_SHARE:.0%} of the CPU and are left out of the median"
    )
    sys.stdout.flush()
    base_record = {
        "bench": "gan_step",
        "command": command_line(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "threads": threads,
        "machine": machine,
        "versions": versions,
        "source": source_state(),
    }
    if base_record["source"]["uncommitted"]:
        print(f"uncommitted changes measured: {base_record['source']['uncommitted']}")

    checks = {}
    if args.check or args.check_only:
        failed = False
        for case in cases:
            c = check_equivalence(case)
            checks[case] = c
            print(f"check {case}:")
            for k, v in c.items():
                if k != "failures":
                    print(f"    {k}: {v:.3g}" if isinstance(v, float) else f"    {k}: {v}")
            for msg in c["failures"]:
                print(f"    MISMATCH: {msg}")
                failed = True
            print(f"    -> {'FAILED' if c['failures'] else 'ok'} (tolerances {CHECK_TOL})")
        if args.results:
            append_records(
                args.results,
                [dict(base_record, kind="check", case=k, check=v) for k, v in checks.items()],
            )
        if failed:
            print("--check failed: the two sides do not compute the same step", file=sys.stderr)
            sys.exit(1)
        if args.check_only:
            return

    idle_wait = None if args.quick or not args.idle_wait else IdleWaiter(args.idle_wait)
    attempts = 1 if args.quick else 3
    rows = []
    t_start = time.perf_counter()
    for case in cases:
        data = dcgan_data() if case == "dcgan" else gaussians_25()
        if args.quick:
            steps, warm_ours, warm_torch, n_windows = 20, 10, 3, 2
        else:
            steps = args.steps or (200 if case == "dcgan" else 300)
            warm_ours, warm_torch, n_windows = 30, 10, args.windows
        print(f"\n## {case} (timed steps per measurement: {steps})")
        peers = []
        if not args.no_torch:
            peers.append(
                time_torch(
                    case, data, steps, n_windows, warm_torch, attempts=attempts, idle_wait=idle_wait
                )
            )
            print(_line("torch eager", peers[-1]))
            sys.stdout.flush()
        results = []
        for config in configs:
            r = time_ours(
                case,
                data,
                config,
                steps,
                n_windows,
                warm_ours,
                attempts=attempts,
                idle_wait=idle_wait,
            )
            results.append(r)
            print(_line(f"ours {config}", r) + f"  first call {r['first_call_s']:.1f} s")
            sys.stdout.flush()
        if peers and not args.quick:
            # Again after ours, to see drift; the peer's number pools both runs' windows.
            peers.append(
                time_torch(
                    case, data, steps, n_windows, warm_torch, attempts=attempts, idle_wait=idle_wait
                )
            )
            print(_line("torch eager (again)", peers[-1]))
        peer = None
        if peers:
            windows = [w for p in peers for w in p["windows"]]
            rate, ok = summarize(windows)
            peer = {"rate": rate, "clean": ok, "passes": peers}
        reachable = [r for r in results if r["config"] in LIBRARY_REACHABLE]
        best = max(reachable or results, key=lambda r: r["rate"])
        for r in results:
            rows.append((case, r, peer, r is best))
    elapsed = time.perf_counter() - t_start

    waited = f", of which {idle_wait.waited:.0f} s waiting for idle CPU" if idle_wait else ""
    print(f"\nTotal benchmark time: {elapsed:.0f} s{waited}")
    print(
        "**best** = fastest configuration reachable with the library as shipped; "
        "(contended) = too few windows free of other processes' load\n"
    )
    print("| case | ours config | ours steps/s | torch steps/s | ratio |")
    print("|---|---|---|---|---|")
    records = []
    for case, r, peer, best in rows:
        torch_rate = (
            "-"
            if peer is None
            else f"{peer['rate']:.2f}" + ("" if peer["clean"] else " (contended)")
        )
        ratio = r["rate"] / peer["rate"] if peer else None
        name = f"**{r['config']}**" if best else r["config"]
        ours = f"{r['rate']:.2f}" + ("" if r["clean"] else " (contended)")
        shown = "-" if ratio is None else f"{ratio:.2f}"
        print(f"| {case} | {name}: {r['desc']} | {ours} | {torch_rate} | {shown} |")
        records.append(
            dict(
                base_record,
                kind="timing",
                case=case,
                quick=bool(args.quick),
                ours=r,
                torch=peer,
                ratio=ratio,
                best_reachable=best,
                max_other_cpu=max(
                    [f for _, f in r["windows"]]
                    + ([f for p in peer["passes"] for _, f in p["windows"]] if peer else [])
                ),
                check_passed=(not checks[case]["failures"]) if case in checks else None,
            )
        )
    if args.results:
        append_records(args.results, records)
        print(f"\nappended {len(records)} records to {args.results}")


if __name__ == "__main__":
    main(ARGS)
