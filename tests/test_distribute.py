"""Strategy selection and multi-worker training across two local processes."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import distribute, runner

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_get_strategy_names_and_errors():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    # No GPUs here: "auto" is the default one-device strategy.
    assert distribute.get_strategy("auto").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="strategy='tpu'"):
        distribute.get_strategy("tpu")
    # Recipes and the CLI refuse unknown strategies before any work.
    with pytest.raises(SystemExit):
        runner.main({"name": "x"}, argv=["--strategy", "nope", "--dry-run"])


def test_worker_role_and_logs_outside_multi_worker(two_cpu_strategy):
    assert distribute.worker_role() == (True, 0)
    assert distribute.worker_role(two_cpu_strategy) == (True, 0)
    assert not distribute.is_multi_worker(two_cpu_strategy)
    logs = {"loss": tf.constant(1.5)}
    assert distribute.replica_logs(logs) is logs


def test_local_cluster_configs():
    configs = [json.loads(c) for c in distribute.local_cluster(3)]
    workers = configs[0]["cluster"]["worker"]
    assert len(workers) == 3 and len(set(workers)) == 3
    assert all(w.startswith("127.0.0.1:") for w in workers)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)
    with pytest.raises(ValueError, match="num_workers=0"):
        distribute.local_cluster(0)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["gan_ring8", "maf_moons"])
def test_two_worker_processes_finish_with_identical_weights(recipe, tmp_path):
    """MultiWorkerMirroredStrategy over two processes on 127.0.0.1 configured by TF_CONFIG."""
    cmd = [sys.executable, "-m", "kerasgan.cli", "train", recipe, "--smoke", "--quiet"]
    cmd += ["--strategy", "multi_worker", "--runs-dir", str(tmp_path), "--epochs", "2"]
    cmd += ["--export-dir", str(tmp_path / "sm")]
    procs = []
    for config in distribute.local_cluster(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_CONFIG=config)
        procs.append(
            subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outputs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, err[-3000:]
        outputs.append(out)
    chief_dir = tmp_path / recipe
    worker_dir = chief_dir / "workers" / "1"
    chief = keras.saving.load_model(chief_dir / "checkpoint.keras")
    worker = keras.saving.load_model(worker_dir / "checkpoint.keras")
    a, b = chief.get_weights(), worker.get_weights()
    assert len(a) == len(b) and len(a) > 0
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # Both trained: the weights moved away from a fresh initialization's.
    steps = 2 * 4  # --epochs 2 of the smoke run's 4 steps
    optimizer = chief.g_optimizer if hasattr(chief, "g_optimizer") else chief.optimizer
    assert int(optimizer.iterations.numpy()) == steps
    # Each worker logged its own epochs; only the chief exported.
    for d in (chief_dir, worker_dir):
        assert len((d / "metrics.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "sm" / recipe / "1").is_dir()
    assert not (worker_dir / "sm").exists()
    assert "steps_per_execution 2 -> 1" in outputs[0]
