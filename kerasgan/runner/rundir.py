"""A run's directory: ``config.json``, ``metrics.jsonl``, backups, ``samples.png``, ``finished.json``.

``<runs_dir>/<name>/`` holds everything one run writes. :func:`prepare` starts it or
picks up a killed run (the backups and the metrics of the epochs they cover);
:func:`finish` marks it complete only once the export and checkpoint are durable,
and only then removes the backups, so a kill at any instant resumes or reports
"already finished".
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import tensorflow as tf

from kerasgan.callbacks import image_grid, read_backup_state, scatter_png
from kerasgan.callbacks.resume import _write_json_atomic
from kerasgan.runner.config import sectioned

__all__ = [
    "FINISHED",
    "RunAlreadyFinished",
    "already_finished",
    "finish",
    "prepare",
    "save_samples",
]

FINISHED = "finished.json"  # in the run directory, once the export and checkpoint are durable


class RunAlreadyFinished(Exception):
    """A rerun of a run that completed: its ``finished.json`` is present.

    ``str()`` says when it finished, what it exported, and that ``--fresh``
    (``resume=False``) trains it again.
    """


def already_finished(run_dir):
    """The ``finished.json`` record of a completed run, or None."""
    path = os.path.join(run_dir, FINISHED)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = {}
    return record if isinstance(record, dict) else {}


def prepare(cfg, run_dir):
    """Writes ``config.json`` (sectioned); starts or resumes ``metrics.jsonl`` and the backups.

    Raises:
        RunAlreadyFinished: the run completed before and ``cfg["resume"]`` is set.
    """
    os.makedirs(run_dir, exist_ok=True)
    finished = already_finished(run_dir) if cfg["resume"] else None
    if finished is not None:
        remove_backups(run_dir)  # a kill between finished.json and their removal left them
        export = finished.get("export_path")
        raise RunAlreadyFinished(
            f"Run {cfg['name']!r} already finished ({finished.get('finished', 'time unknown')}, "
            f"{finished.get('epochs', '?')} epochs; {os.path.join(run_dir, FINISHED)})"
            + (f"; its export: {export}" if export else "")
            + ". Pass --fresh (resume=False) to train it again."
        )
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(sectioned(cfg), f, indent=2)
    state = None
    if cfg["resume"]:
        state = read_backup_state(os.path.join(run_dir, "backup"))
    else:
        remove_backups(run_dir)
        if os.path.exists(os.path.join(run_dir, FINISHED)):
            os.remove(os.path.join(run_dir, FINISHED))
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(metrics_path):
        return
    if state is None:
        os.remove(metrics_path)
        return
    # Resuming: keep the records of the epochs the backup completed.
    with open(metrics_path) as f:
        kept = [line for line in f if line.strip() and json.loads(line)["epoch"] <= state["epoch"]]
    tmp = metrics_path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(kept)
    shutil.move(tmp, metrics_path)


def finish(run_dir, cfg, result):
    """Marks the run finished (``finished.json``, atomic), then removes its backups."""
    record = {
        "name": cfg["name"],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "epochs": cfg["epochs"],
        "steps_per_epoch": cfg["steps_per_epoch"],
        "export_path": result.get("export_path"),
        "seconds": result.get("seconds"),
    }
    _write_json_atomic(os.path.join(run_dir, FINISHED), record)
    remove_backups(run_dir)


def remove_backups(run_dir):
    """Removes a finished run's backups (``backup/`` and ``student/backup/``)."""
    for sub in ("backup", os.path.join("student", "backup")):
        path = os.path.join(run_dir, sub)
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)  # not ours to keep: a file where the backups belong
        else:
            shutil.rmtree(path, ignore_errors=True)


def save_samples(samples, info, path):
    """Writes ``samples.png``: a scatter plot of 2-D samples (over the mixture's modes or
    the training data), or an image grid (one row per class when ``info`` has
    ``num_classes``; images in [-1, 1])."""
    if info["kind"] == "toy":
        mixture = info.get("mixture")
        png = scatter_png(
            samples,
            None if mixture is None else mixture.means,
            None if mixture is not None else info["sample"],
            title="final samples",
        )
        with open(path, "wb") as f:
            f.write(png)
    else:
        rows = info.get("num_classes")  # conditional: one row per class
        grid = image_grid(samples if rows else samples[:64], rows=rows, pad=2 if rows else 0)
        tf.io.write_file(path, tf.io.encode_png(grid))


def final_samples_info(samples):
    """The ``info`` :func:`save_samples` needs for a flow's samples (images in [0, 1] are
    mapped to [-1, 1])."""
    if samples.ndim == 4:
        return np.clip(samples, 0.0, 1.0) * 2.0 - 1.0, {"kind": "image"}
    return samples, {"kind": "toy", "sample": samples}
