"""Callbacks that protect a run: divergence guard and last-good checkpoint."""

from __future__ import annotations

import math
import os

import keras
import numpy as np

__all__ = ["DivergenceGuard", "GoodCheckpoint", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """Raised after training was stopped because a loss became NaN or Inf."""


def _non_finite(logs, model=None):
    """Non-finite training values in ``logs``.

    Only the model's own trackers count: evaluation figures added by other
    callbacks may be legitimately infinite (a reverse KL with no sample near
    any mode).
    """
    keys = None if model is None else {m.name for m in model.metrics}
    bad = {}
    for key, value in (logs or {}).items():
        if keys is not None and key not in keys:
            continue
        try:
            v = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
        if not math.isfinite(v):
            bad[key] = v
    return bad


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training as soon as a logged value is NaN or Inf.

    Records ``self.diverged`` = ``(epoch, step, {key: value})`` and a message
    naming them; :func:`kerasgan.runner.run` raises :class:`TrainingDiverged`
    with it after ``fit`` returns, leaving the last good checkpoint in place.

    Example:
        >>> guard = DivergenceGuard()
    """

    def __init__(self):
        super().__init__()
        self.diverged = None
        self.message = None
        self._epoch = 0
        self._step = 0
        self._epoch_start = 0

    def start_at(self, step):
        """Counts steps from ``step`` (a resumed run), so messages name global steps."""
        self._step = int(step)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._step

    def on_train_batch_end(self, batch, logs=None):
        # Keras passes the last batch index of a steps_per_execution group.
        self._step = self._epoch_start + int(batch) + 1
        bad = _non_finite(logs, self.model)
        if bad:
            self.diverged = (self._epoch + 1, self._step, bad)
            self.message = (
                f"Training diverged at step {self._step} (epoch {self._epoch + 1}, batch "
                f"{batch + 1}): non-finite {', '.join(f'{k}={v}' for k, v in bad.items())}. "
                "Training stopped; the last good checkpoint was kept."
            )
            print("\n" + self.message)
            self.model.stop_training = True


class GoodCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (both players, both optimizers) to ``.keras`` each epoch.

    The file is written next to the target and renamed into place, and only
    when every epoch log is finite, so a diverged or killed run never
    overwrites the last good checkpoint.

    Args:
        path: target ``.keras`` file.
        guard: optional :class:`DivergenceGuard`; nothing is saved once it
            tripped (the epoch's weights came from a diverged step).

    Example:
        >>> cb = GoodCheckpoint("/tmp/kerasgan_doc/last.keras")
    """

    def __init__(self, path, guard=None):
        super().__init__()
        self.path = str(path)
        self.guard = guard
        self.saved_epochs = []

    def on_epoch_end(self, epoch, logs=None):
        # A NaN batch makes the epoch's running means NaN too.
        if _non_finite(logs, self.model) or (self.guard is not None and self.guard.diverged):
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = self.path + ".tmp.keras"
        self.model.save(tmp)
        with open(tmp, "rb") as f:  # durable before it replaces the last good one
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.saved_epochs.append(epoch + 1)
