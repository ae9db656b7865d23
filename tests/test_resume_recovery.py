"""Recovery from broken backups, kills during the final export, finished runs, messages."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kerasgan import callbacks as cbs
from kerasgan import runner

ROOT = pathlib.Path(__file__).resolve().parent.parent

BASE = {
    "name": "r",
    "model": "gan",
    "dataset": "ring8",
    "epochs": 1,
    "steps_per_epoch": 12,
    "steps_per_execution": 1,
    "num_train_samples": 2000,
    "batch_size": 64,
    "g_hidden_units": [16],
    "d_hidden_units": [16],
    "verbose": 0,
    "export": False,
    "tensorboard": False,
    "eval_samples": 200,
    "checkpoint_every": 3,
}


def _compiled(cfg, info):
    model = runner.build_model(cfg, info["shape"])
    model.compile(optimizers=runner.build_optimizers(cfg, model))
    return model


@pytest.fixture(scope="module")
def backups(tmp_path_factory):
    """A backup directory with two backups (steps 9 and 12), and a model builder."""
    root = tmp_path_factory.mktemp("bk")
    cfg = runner.resolve(BASE, {"runs_dir": str(root)})
    ds, info = runner.make_dataset(cfg)
    model = _compiled(cfg, info)
    backup = cbs.ResumableBackup(root / "bk", steps_per_epoch=12, save_freq=3)
    model.fit(ds, epochs=1, steps_per_epoch=12, callbacks=[backup], verbose=0)
    assert sorted(os.listdir(root / "bk")) == ["latest.json", "step-000000009", "step-000000012"]
    return root / "bk", lambda: _compiled(cfg, info)


def _weights_of(build, path):
    model = build()
    model.load_weights(os.path.join(path, "state.weights.h5"))
    return model.get_weights()


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "truncated weights": lambda d: _truncate(d / "step-000000012" / "state.weights.h5"),
    "garbage weights": lambda d: (d / "step-000000012" / "state.weights.h5").write_bytes(
        b"\x89HDF garbage" * 100
    ),
    "empty weights": lambda d: (d / "step-000000012" / "state.weights.h5").write_bytes(b""),
    "empty state.json": lambda d: (d / "step-000000012" / "state.json").write_text(""),
    "garbage state.json": lambda d: (d / "step-000000012" / "state.json").write_text("{oops"),
    "missing key": lambda d: (d / "step-000000012" / "state.json").write_text(
        json.dumps({"global_step": 12, "epoch": 1, "batch": 0})
    ),
    "missing weights": lambda d: (d / "step-000000012" / "state.weights.h5").unlink(),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_broken_newest_backup_resumes_from_the_previous_one(backups, tmp_path, corruption):
    source, build = backups
    bk = tmp_path / "bk"
    shutil.copytree(source, bk)
    CORRUPTIONS[corruption](bk)
    model = build()
    restorer = cbs.ResumableBackup(bk, steps_per_epoch=12)
    assert restorer.restore(model) == 9
    assert len(restorer.skipped) == 1 and "step-000000012" in restorer.skipped[0]
    expected = _weights_of(build, source / "step-000000009")
    for a, b in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "pointer",
    ["", "not json", json.dumps({"nope": 1}), json.dumps({"checkpoint": "step-000000099"})],
)
def test_broken_pointer_falls_back_to_the_newest_valid_backup(backups, tmp_path, pointer):
    source, build = backups
    bk = tmp_path / "bk"
    shutil.copytree(source, bk)
    (bk / "latest.json").write_text(pointer)
    restorer = cbs.ResumableBackup(bk, steps_per_epoch=12)
    assert restorer.restore(build()) == 12
    assert any("latest.json" in m for m in restorer.skipped)


def test_no_valid_backup_or_a_file_names_fresh(backups, tmp_path):
    source, build = backups
    bk = tmp_path / "bk"
    shutil.copytree(source, bk)
    for step in ("step-000000009", "step-000000012"):
        (bk / step / "state.json").write_text("")
    with pytest.raises(cbs.BackupError, match="No usable backup.*--fresh") as info:
        cbs.ResumableBackup(bk, steps_per_epoch=12).restore(build())
    assert "step-000000009" in str(info.value) and "step-000000012" in str(info.value)
    shutil.rmtree(bk)
    bk.write_text("a file where the backups belong")
    with pytest.raises(cbs.BackupError, match="is a file.*--fresh"):
        cbs.read_backup_state(bk)


def test_keep_at_least_two_backups(tmp_path):
    with pytest.raises(ValueError, match="keep=1"):
        cbs.ResumableBackup(tmp_path, 10, keep=1)


def _main(cfg, argv, capsys):
    code = runner.main(cfg, argv=argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_messages_for_broken_backups_and_changed_settings(tmp_path, capsys):
    cfg = dict(BASE, runs_dir=str(tmp_path), epochs=2, steps_per_epoch=6, checkpoint_every=0)
    backup = tmp_path / "r" / "backup"
    backup.parent.mkdir(parents=True)
    backup.write_text("x")  # `backup` is a file
    code, out, err = _main(cfg, [], capsys)
    assert code == 2 and "is a file" in err and "--fresh" in err and "Traceback" not in err
    code, out, err = _main(cfg, ["--fresh"], capsys)  # --fresh removes it and trains
    assert code == 0, err
    # A finished run is not trained again: it says so (exit 0) and names --fresh.
    code, out, err = _main(cfg, [], capsys)
    assert code == 0 and "already finished" in out and "--fresh" in out
    assert not (tmp_path / "r" / "backup").exists()


def test_changed_steps_per_epoch_is_an_error_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    cfg = dict(BASE, runs_dir=str(tmp_path), epochs=3, steps_per_epoch=6, checkpoint_every=4)
    original = runner.fit_resumable

    def crash(*args, **kwargs):  # a crash after the first epoch's backup
        kwargs["epochs"] = 1
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.loop, "fit_resumable", crash)
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg)
    monkeypatch.setattr(runner.loop, "fit_resumable", original)
    code, out, err = _main(cfg, ["--steps-per-epoch", "5"], capsys)
    assert code == 2
    assert "steps_per_epoch=6" in err and "Traceback" not in err
    # The resumed progress bar numbers epochs out of the whole run.
    code, out, err = _main(dict(cfg, verbose=1), [], capsys)
    assert code == 0, err
    assert "Epoch 2/3" in out and "Epoch 3/3" in out and "Epoch 2/2" not in out


def test_interrupted_final_export_keeps_the_backups_and_a_rerun_finishes(tmp_path, monkeypatch):
    from kerasgan import export as export_lib

    cfg = dict(BASE, runs_dir=str(tmp_path), export=True, export_dir=str(tmp_path / "sm"))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed during the export")

    monkeypatch.setattr(export_lib, "export_generator", killed)
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg)
    monkeypatch.undo()
    state = cbs.read_backup_state(tmp_path / "r" / "backup")
    assert state["global_step"] == 12  # the final state is still backed up
    assert not (tmp_path / "r" / runner.FINISHED).exists()
    result = runner.run(cfg)  # resumes at the end: no training, exports, finishes
    assert result["history"] == {}
    assert int(result["model"].g_optimizer.iterations.numpy()) == 12
    assert (tmp_path / "sm" / "r" / "1" / "saved_model.pb").is_file()
    assert not (tmp_path / "r" / "backup").exists()
    with pytest.raises(runner.RunAlreadyFinished, match="already finished.*--fresh"):
        runner.run(cfg)


_KILL_DURING_EXPORT = textwrap.dedent(
    """
    import os, signal, sys
    from kerasgan import runner
    from kerasgan.export import publish

    def die(step):
        if step == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    publish._after = die
    cfg = dict(name="gan_k", model="gan", dataset="ring8", epochs=2, steps_per_epoch=5,
               num_train_samples=1000, batch_size=64, g_hidden_units=[16], d_hidden_units=[16],
               tensorboard=False, eval_samples=100, verbose=0)
    sys.exit(runner.main(cfg, argv=["--runs-dir", sys.argv[1] + "/runs",
                                      "--export-dir", sys.argv[1] + "/sm"]))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["written", "renamed"])
def test_sigkill_during_the_final_export_then_rerun(tmp_path, step):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-c", _KILL_DURING_EXPORT, str(tmp_path)]
    killed = subprocess.run(cmd + [step], env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert cbs.read_backup_state(tmp_path / "runs" / "gan_k" / "backup")["global_step"] == 10
    rerun = subprocess.run(cmd + ["none"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "Resuming at step 10" not in rerun.stdout  # nothing left to train ...
    assert (tmp_path / "sm" / "gan_k" / "1" / "variables" / "variables.index").is_file()
    assert not (tmp_path / "runs" / "gan_k" / "backup").exists()
    assert [n for n in os.listdir(tmp_path / "sm" / "gan_k") if n.startswith(".tmp")] == []
    again = subprocess.run(cmd + ["none"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "already finished" in again.stdout
