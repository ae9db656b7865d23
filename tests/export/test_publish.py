"""Atomic publication of export versions: overwrite, concurrent exports, kills, permissions.

Fault injection runs :mod:`kerasgan.export.publish` in a subprocess (loaded from its
file, so without TensorFlow: it starts in a fraction of a second), stops it at a named
step and kills it with SIGKILL; the test then loads every visible version directory.
"""

import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import export
from kerasgan.export import publish

ROOT = pathlib.Path(__file__).resolve().parents[2]
PUBLISH_PY = ROOT / "kerasgan" / "export" / "publish.py"


def _gan(seed):
    keras.utils.set_random_seed(seed)
    g = kerasgan.models.build_mlp_generator(2, 2, [8])
    d = kerasgan.models.build_mlp_discriminator(2, [8])
    return kerasgan.GAN(g, d, latent_dim=2)


def _answer(path):
    """serving_default on a fixed z: tells which model a version directory holds."""
    z = tf.constant([[0.5, -1.0]], tf.float32)
    return tf.saved_model.load(str(path)).signatures["serving_default"](z=z)["samples"].numpy()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two different SavedModels (old, new) and their answers."""
    root = tmp_path_factory.mktemp("models")
    old = export.export_generator(_gan(1), str(root / "old"), version=1)
    new = export.export_generator(_gan(2), str(root / "new"), version=1)
    a, b = _answer(old), _answer(new)
    assert not np.allclose(a, b)
    return {"old": old, "new": new, "old_answer": a, "new_answer": b}


def _complete(path):
    return (pathlib.Path(path) / "saved_model.pb").is_file() and (
        pathlib.Path(path) / "variables" / "variables.index"
    ).is_file()


def test_overwrite_never_shows_a_partial_or_missing_version(models, tmp_path, monkeypatch):
    base = tmp_path / "m"
    shutil.copytree(models["old"], base / "1")
    seen = []

    def check(step):  # at every step of the publication the version is complete
        seen.append(step)
        assert _complete(base / "1"), step

    monkeypatch.setattr(publish, "_after", check)
    path = publish.publish(
        lambda tmp: shutil.copytree(models["new"], tmp, dirs_exist_ok=True), str(base), 1
    )
    assert path == str(base / "1")
    assert seen == ["written", "exchanged", "old-deleted"]
    np.testing.assert_array_equal(_answer(base / "1"), models["new_answer"])
    assert sorted(os.listdir(base)) == [".export.lock", "1"]  # nothing left over


def test_overwrite_false_refuses(models, tmp_path):
    base = tmp_path / "m"
    shutil.copytree(models["old"], base / "1")
    with pytest.raises(FileExistsError, match="Version 1 already exists"):
        export.export_generator(_gan(3), str(base), version=1, overwrite=False)
    np.testing.assert_array_equal(_answer(base / "1"), models["old_answer"])


def test_published_permissions_are_0755_and_0644(tmp_path):
    path = export.export_generator(_gan(1), str(tmp_path / "m"), version=1)
    modes = []
    for dirpath, _dirnames, filenames in os.walk(path):
        modes.append((dirpath, stat.S_IMODE(os.stat(dirpath).st_mode), 0o755))
        modes += [
            (f, stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode), 0o644) for f in filenames
        ]
    assert len(modes) > 3
    assert all(mode == want for _, mode, want in modes), modes


def test_concurrent_next_version_claims_are_distinct(models, tmp_path, monkeypatch):
    base = tmp_path / "m"
    shutil.copytree(models["old"], base / "1")
    barrier = threading.Barrier(4)

    def slow_write(tmp):
        shutil.copytree(models["new"], tmp, dirs_exist_ok=True)
        barrier.wait(timeout=30)  # all four have written; now they race to publish

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(publish.publish(slow_write, str(base))))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(os.path.basename(p) for p in results) == ["2", "3", "4", "5"]
    assert sorted(int(v) for v in os.listdir(base) if v.isdigit()) == [1, 2, 3, 4, 5]


def test_stale_leftovers_are_cleaned_live_ones_kept(tmp_path):
    base = tmp_path / "m"
    base.mkdir()
    host = publish._tag().split("-")[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = base / f"{publish.TMP_PREFIX}{host}-{dead.pid}-abc123"
    live = base / f"{publish.TMP_PREFIX}{host}-{os.getppid()}-def456"
    foreign = base / f"{publish.TMP_PREFIX}otherhost-1-ghi789"
    for d in (stale, live, foreign):
        d.mkdir()
    publish.publish(lambda tmp: None, str(base), 1)
    left = sorted(os.listdir(base))
    assert stale.name not in left
    assert live.name in left and foreign.name in left  # a running process's, another host's
    old_time = time.time() - 2 * publish._FOREIGN_STALE_SECONDS
    os.utime(foreign, (old_time, old_time))
    publish.recover(str(base))
    assert foreign.name not in os.listdir(base)


def test_fallback_overwrite_recovers_after_a_kill_between_renames(models, tmp_path, monkeypatch):
    """Without renameat2 the old version is renamed aside first; a crash right then
    leaves it aside, and the next publication renames it back."""
    base = tmp_path / "m"
    shutil.copytree(models["old"], base / "1")
    monkeypatch.setattr(publish, "_exchange", lambda a, b: False)

    class Killed(BaseException):
        pass

    def crash(step):
        if step == "aside":
            raise Killed

    monkeypatch.setattr(publish, "_after", crash)
    monkeypatch.setattr(publish.shutil, "rmtree", lambda *a, **k: None)  # a kill cleans nothing
    with pytest.raises(Killed):
        publish.publish(
            lambda tmp: shutil.copytree(models["new"], tmp, dirs_exist_ok=True), str(base), 1
        )
    monkeypatch.undo()
    aside = [n for n in os.listdir(base) if n.startswith(publish.OLD_PREFIX)]
    assert len(aside) == 1 and not (base / "1").exists()
    # The "killed" process is this one (alive): pretend it died by renaming to a dead pid.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    parts = aside[0].split("-")
    parts[-2] = str(dead.pid)
    os.rename(base / aside[0], base / "-".join(parts))
    assert publish.recover(str(base))
    np.testing.assert_array_equal(_answer(base / "1"), models["old_answer"])


_KILL_SCRIPT = textwrap.dedent(
    """
    import importlib.util, os, shutil, sys, time
    spec = importlib.util.spec_from_file_location("publish", sys.argv[1])
    publish = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publish)
    source, base, version, stop_at, marker = sys.argv[2:7]
    if sys.argv[7] == "fallback":
        publish._exchange = lambda a, b: False

    def after(step):
        if step == stop_at:
            open(marker, "w").close()
            time.sleep(600)

    publish._after = after
    publish.publish(lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True), base,
                    None if version == "next" else int(version))
    open(marker, "w").close()
    """
)


def _kill_at(source, base, version, step, tmp_path, mode="exchange"):
    marker = tmp_path / f"marker-{step}-{mode}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILL_SCRIPT,
            str(PUBLISH_PY),
            str(source),
            str(base),
            str(version),
            step,
            str(marker),
            mode,
        ]
    )
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, "the publishing process ended before the step"
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def _visible(base):
    return sorted(int(v) for v in os.listdir(base) if v.isdigit())


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode, step, expect",
    [
        ("exchange", "written", "old"),  # new one written, not yet swapped in
        ("exchange", "exchanged", "new"),  # swapped, old one not yet deleted
        ("exchange", "old-deleted", "new"),
        ("fallback", "aside", "old"),  # old one renamed aside: restored by the next publish
        ("fallback", "renamed", "new"),
    ],
)
def test_kill_during_overwrite_leaves_old_or_new_complete(models, tmp_path, mode, step, expect):
    base = tmp_path / "m"
    shutil.copytree(models["old"], base / "1")
    _kill_at(models["new"], base, 1, step, tmp_path, mode)
    if mode == "fallback" and step == "aside":
        assert _visible(base) == []  # hidden for the span of one rename ...
        publish.recover(str(base))  # ... and back (the next export runs this under the lock)
    assert _visible(base) == [1]
    np.testing.assert_array_equal(_answer(base / "1"), models[f"{expect}_answer"])
    # The next publication cleans the dead process's leftovers.
    publish.publish(lambda tmp: shutil.copytree(models["new"], tmp, dirs_exist_ok=True), str(base))
    assert [n for n in os.listdir(base) if publish.is_leftover(n) and n != ".export.lock"] == []
    for v in _visible(base):
        _answer(base / str(v))


@pytest.mark.slow
def test_kill_during_a_concurrent_next_version_export(models, tmp_path):
    """One export is killed before it renames in; a concurrent one completes: the version
    set is the old one plus the survivor's, every visible version loads."""
    base = tmp_path / "m"
    shutil.copytree(models["old"], base / "1")
    killed = threading.Thread(
        target=_kill_at, args=(models["new"], base, "next", "written", tmp_path)
    )
    killed.start()
    survivor = publish.publish(
        lambda tmp: shutil.copytree(models["new"], tmp, dirs_exist_ok=True), str(base)
    )
    killed.join(90)
    assert survivor == str(base / "2")
    assert _visible(base) == [1, 2]
    for v in _visible(base):
        _answer(base / str(v))


@pytest.mark.slow
def test_two_concurrent_cli_exports_get_two_versions(tmp_path):
    """`kerasgan export a.keras --to D & kerasgan export b.keras --to D`: D/2 and D/3."""
    base = tmp_path / "D"
    export.export_generator(_gan(1), str(base), version=1)
    ckpts = []
    for seed in (1, 2):
        gan = _gan(seed)
        gan.compile()
        path = tmp_path / f"g{seed}.keras"
        gan.save(path)
        ckpts.append(path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kerasgan.cli", "export", str(c), "--to", str(base)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for c in ckpts
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    printed = sorted(o.strip().rsplit(os.sep, 1)[-1] for o, _ in outs)
    assert printed == ["2", "3"]
    assert _visible(base) == [1, 2, 3]
    for v in (2, 3):
        _answer(base / str(v))
