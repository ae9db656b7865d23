"""Fault tolerance: full-state backups, exact resume after a kill, determinism."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from kerasgan import callbacks as cbs
from kerasgan import runner

ROOT = pathlib.Path(__file__).resolve().parent.parent

BASE = {
    "name": "r",
    "model": "gan",
    "dataset": "ring8",
    "epochs": 3,
    "steps_per_epoch": 10,
    "steps_per_execution": 2,
    "num_train_samples": 2000,
    "batch_size": 64,
    "g_hidden_units": [32, 32],
    "d_hidden_units": [32, 32],
    "verbose": 0,
    "export": False,
    "tensorboard": False,
    "eval_samples": 200,
    "checkpoint_every": 4,
}


def _max_diff(a, b):
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


class _Crash(keras.callbacks.Callback):
    """Raises once the model has done ``after`` steps (an in-process stand-in for a crash)."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_train_batch_end(self, batch, logs=None):
        opt = getattr(self.model, "g_optimizer", None) or self.model.optimizer
        if int(opt.iterations.numpy()) >= self.after:
            raise KeyboardInterrupt("simulated crash")


def _run_crashing(cfg, after, monkeypatch):
    original = runner.standard_callbacks

    def with_crash(*args, **kwargs):
        callbacks, guard = original(*args, **kwargs)
        return callbacks + [_Crash(after)], guard

    monkeypatch.setattr(runner.loop, "standard_callbacks", with_crash)
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg)
    monkeypatch.setattr(runner.loop, "standard_callbacks", original)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, crash_after, expect_step",
    [("gan", 15, 14), ("wgan_gp", 25, 24), ("maf", 15, 14)],
)
def test_crash_mid_epoch_then_resume_equals_uninterrupted(
    model, crash_after, expect_step, tmp_path, monkeypatch
):
    cfg = dict(BASE, model=model)
    if model == "maf":
        cfg.update(flow_transforms=2, flow_hidden_units=[16])
    uninterrupted = runner.run(cfg, {"runs_dir": str(tmp_path / "a")})
    assert not (tmp_path / "a" / "r" / "backup").exists()  # removed once the run finished

    cfg_b = dict(cfg, runs_dir=str(tmp_path / "b"))
    _run_crashing(cfg_b, crash_after, monkeypatch)
    state = cbs.read_backup_state(tmp_path / "b" / "r" / "backup")
    assert state["global_step"] == expect_step
    assert (state["epoch"], state["batch"]) == divmod(expect_step, 10)
    assert state["batch"] != 0  # a mid-epoch backup
    resumed = runner.run(cfg_b)
    assert _max_diff(uninterrupted["model"].get_weights(), resumed["model"].get_weights()) == 0.0
    # metrics.jsonl: one record per epoch, the resumed epochs appended after the kept ones.
    lines = (tmp_path / "b" / "r" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]
    if model != "maf":
        opt_a = uninterrupted["model"].d_optimizer
        opt_b = resumed["model"].d_optimizer
        assert int(opt_b.iterations.numpy()) == int(opt_a.iterations.numpy())
        assert (
            _max_diff([v.numpy() for v in opt_a.variables], [v.numpy() for v in opt_b.variables])
            == 0.0
        )


def test_fresh_ignores_backups_and_changed_steps_per_epoch_is_refused(tmp_path, monkeypatch):
    cfg = dict(BASE, runs_dir=str(tmp_path))
    _run_crashing(cfg, 15, monkeypatch)
    backup = tmp_path / "r" / "backup"
    assert cbs.read_backup_state(backup)["global_step"] == 14
    with pytest.raises(ValueError, match="steps_per_epoch=12"):
        runner.run(dict(cfg, steps_per_epoch=12, epochs=1))
    with pytest.raises(ValueError, match="does not fit this model"):
        runner.run(dict(cfg, g_hidden_units=[16, 16], epochs=1))
    result = runner.run(dict(cfg, resume=False, epochs=1))
    # Started afresh: one epoch of 10 steps, not 14 + more.
    assert int(result["model"].g_optimizer.iterations.numpy()) == 10


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    cfg = dict(BASE, epochs=1, checkpoint_every=0)
    a = runner.run(cfg, {"runs_dir": str(tmp_path / "a")})["model"].get_weights()
    b = runner.run(cfg, {"runs_dir": str(tmp_path / "b")})["model"].get_weights()
    c = runner.run(cfg, {"runs_dir": str(tmp_path / "c"), "seed": 1})["model"].get_weights()
    assert _max_diff(a, b) == 0.0
    assert _max_diff(a, c) > 1e-3


def test_backup_layout_pointer_and_pruning(tmp_path):
    cfg = dict(BASE, epochs=1, steps_per_epoch=12, checkpoint_every=3, steps_per_execution=1)
    cfg = runner.resolve(cfg, {"runs_dir": str(tmp_path)})
    ds, info = runner.make_dataset(cfg)
    model = runner.build_model(cfg, info["shape"])
    model.compile(optimizers=runner.build_optimizers(cfg, model))
    backup = cbs.ResumableBackup(tmp_path / "bk", steps_per_epoch=12, save_freq=3, keep=2)
    model.fit(ds, epochs=1, steps_per_epoch=12, callbacks=[backup], verbose=0)
    assert backup.saved_steps == [3, 6, 9, 12]
    assert sorted(os.listdir(tmp_path / "bk")) == [
        "latest.json",
        "step-000000009",
        "step-000000012",
    ]
    state = cbs.read_backup_state(tmp_path / "bk")
    assert state["global_step"] == 12 and (state["epoch"], state["batch"]) == (1, 0)
    # The backup holds the full state: a fresh model restored from it equals the trained one.
    fresh = runner.build_model(cfg, info["shape"])
    fresh.compile(optimizers=runner.build_optimizers(cfg, fresh))
    restorer = cbs.ResumableBackup(tmp_path / "bk", steps_per_epoch=12)
    assert restorer.restore(fresh) == 12
    assert _max_diff(model.get_weights(), fresh.get_weights()) == 0.0
    for name in ("g_optimizer", "d_optimizer"):
        a = [v.numpy() for v in getattr(model, name).variables]
        b = [v.numpy() for v in getattr(fresh, name).variables]
        assert _max_diff(a, b) == 0.0
    np.testing.assert_array_equal(
        model.seed_generator.state.numpy(), fresh.seed_generator.state.numpy()
    )
    # A half-written backup (killed during the write) is ignored: the pointer wins.
    (tmp_path / "bk" / ".tmp-step-000000015").mkdir()
    assert cbs.read_backup_state(tmp_path / "bk")["global_step"] == 12


def test_seed_generator_state_survives_keras_round_trip(tmp_path):
    import kerasgan

    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(2, 2, [8]),
        kerasgan.models.build_mlp_discriminator(2, [8]),
        latent_dim=2,
        seed=3,
    )
    gan.compile()
    for _ in range(5):
        gan.seed_generator.next()
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.seed_generator.state.numpy(), [3, 5])
    z1 = gan.draw_latents(4).numpy()
    z2 = loaded.draw_latents(4).numpy()
    np.testing.assert_array_equal(z1, z2)


def test_bad_backup_arguments(tmp_path):
    with pytest.raises(ValueError, match="save_freq=0"):
        cbs.ResumableBackup(tmp_path, 10, save_freq=0)
    with pytest.raises(ValueError, match="steps_per_epoch=0"):
        cbs.ResumableBackup(tmp_path, 0)
    with pytest.raises(ValueError, match="keep=0"):
        cbs.ResumableBackup(tmp_path, 10, keep=0)
    with pytest.raises(ValueError, match="checkpoint_every=-1"):
        runner.resolve({"name": "x", "checkpoint_every": -1})


def _train_cmd(runs_dir):
    return [
        sys.executable,
        "-m",
        "kerasgan.cli",
        "train",
        "gan_ring8",
        "--smoke",
        "--quiet",
        "--no-export",
        "--runs-dir",
        str(runs_dir),
        "--epochs",
        "3",
        "--steps-per-epoch",
        "200",
        "--checkpoint-every",
        "10",
    ]


@pytest.mark.slow
def test_subprocess_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    """A real process killed mid-epoch with SIGKILL, rerun, equals an uninterrupted run."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    kw = {"cwd": ROOT, "env": env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    straight = subprocess.Popen(_train_cmd(tmp_path / "a"), **kw)
    victim = subprocess.Popen(_train_cmd(tmp_path / "b"), **kw)
    backup = tmp_path / "b" / "gan_ring8" / "backup"
    deadline = time.monotonic() + 240
    killed_at = None
    while time.monotonic() < deadline and victim.poll() is None:
        try:
            state = cbs.read_backup_state(backup)
        except (OSError, ValueError):  # the pointer is being replaced
            state = None
        # Kill during epoch 2, after a mid-epoch backup.
        if state is not None and state["global_step"] > 260 and state["batch"]:
            victim.send_signal(signal.SIGKILL)
            killed_at = state["global_step"]
            break
        time.sleep(0.02)
    victim.wait(timeout=60)
    assert killed_at is not None, "the run finished before it could be killed"
    assert victim.returncode == -signal.SIGKILL
    state = cbs.read_backup_state(backup)
    assert 260 < state["global_step"] < 600
    resumed = subprocess.run(_train_cmd(tmp_path / "b"), timeout=300, **kw)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming at step {state['global_step']}".encode() in resumed.stdout
    out, err = straight.communicate(timeout=300)
    assert straight.returncode == 0, err[-2000:]
    a = keras.saving.load_model(tmp_path / "a" / "gan_ring8" / "checkpoint.keras")
    b = keras.saving.load_model(tmp_path / "b" / "gan_ring8" / "checkpoint.keras")
    assert int(b.g_optimizer.iterations.numpy()) == 600
    assert _max_diff(a.get_weights(), b.get_weights()) == 0.0
    assert (
        _max_diff(
            [v.numpy() for v in a.d_optimizer.variables],
            [v.numpy() for v in b.d_optimizer.variables],
        )
        == 0.0
    )
