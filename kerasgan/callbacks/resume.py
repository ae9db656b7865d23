"""Full-state backups that a killed run resumes from, mid-epoch included.

:class:`ResumableBackup` extends ``keras.callbacks.BackupAndRestore``. Keras's
callback (3.15) is the right hook but falls short of an exact resume in three
ways, which is why this subclass exists:

- With ``save_freq=N`` it saves mid-epoch but restores only the epoch number:
  the interrupted epoch is rerun from its first batch with mid-epoch weights.
- It writes the weights and then the metadata in place: a kill between the two
  (or during the write) leaves a mismatched or truncated backup.
- The model's ``SeedGenerator`` states are not part of the saved weights
  (fixed for kerasgan models by :class:`kerasgan.saving.SeedStateMixin`).

A backup is a directory ``step-<global step>/`` holding ``state.weights.h5``
(every model variable: both players, both optimizers' moments and iteration
counters, the random-generator state) and ``state.json`` (global step, epoch,
batch). It is written under a temporary name and renamed into place; then
``latest.json`` is replaced atomically to point at it. At any instant the
pointer names a complete backup.

:func:`kerasgan.training.fit_resumable` uses :meth:`ResumableBackup.restore`
before ``fit`` and then trains exactly the remaining steps (the rest of the
interrupted epoch, then whole epochs), with the data pipeline advanced past
the batches already consumed, so that a resumed run ends with the same weights
as an uninterrupted one.

Example:
    >>> backup = ResumableBackup("/tmp/kerasgan_doc_backup", steps_per_epoch=100, save_freq=25)
"""

from __future__ import annotations

import json
import os
import shutil
import time

import keras

__all__ = ["ResumableBackup", "read_backup_state"]

_POINTER = "latest.json"
_STATE = "state.json"
_WEIGHTS = "state.weights.h5"


def _write_json_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_backup_state(backup_dir):
    """The state of the latest complete backup in ``backup_dir``, or None.

    Args:
        backup_dir: a :class:`ResumableBackup` directory.

    Returns:
        dict with ``global_step``, ``epoch`` (completed epochs), ``batch``
        (batches done in the current epoch), ``steps_per_epoch`` and ``path``
        (the backup's directory); None when there is no backup.
    """
    pointer = os.path.join(str(backup_dir), _POINTER)
    if not os.path.isfile(pointer):
        return None
    with open(pointer) as f:
        name = json.load(f)["checkpoint"]
    path = os.path.join(str(backup_dir), name)
    with open(os.path.join(path, _STATE)) as f:
        state = json.load(f)
    state["path"] = path
    return state


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """Backs up the full training state every ``save_freq`` steps and at each epoch end.

    Args:
        backup_dir: directory for the backups (not shared with anything else).
        steps_per_epoch: the run's steps per epoch (a backup's position is the
            global step; epoch = step // steps_per_epoch).
        save_freq: ``"epoch"`` (epoch ends only) or a positive int: also every
            ``save_freq`` steps (rounded up to whole ``steps_per_execution``
            groups, as Keras calls batch callbacks once per group).
        guard: optional :class:`kerasgan.callbacks.DivergenceGuard`; no backup
            is written once it tripped, so the last backup is a good state.
        keep: backups kept on disk (the newest ones).

    Returns:
        A Keras callback. ``global_step`` is the number of train steps done.

    Used on its own in ``fit(callbacks=[...])`` it restores the latest backup
    at ``on_train_begin`` and resumes at the start of the epoch the backup is
    in (Keras's ``fit`` starts at epoch boundaries); use
    :func:`kerasgan.training.fit_resumable` for an exact mid-epoch resume.

    Example:
        >>> backup = ResumableBackup("/tmp/kerasgan_doc_backup", 100, save_freq=25)
        >>> backup.global_step
        0
    """

    def __init__(self, backup_dir, steps_per_epoch, save_freq="epoch", guard=None, keep=2):
        super().__init__(str(backup_dir), save_freq=save_freq, delete_checkpoint=False)
        if isinstance(save_freq, int) and (isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError(
                f"save_freq must be 'epoch' or a positive int. Received: save_freq={save_freq!r}"
            )
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int):
            raise ValueError(
                f"steps_per_epoch must be a positive int. Received: steps_per_epoch={steps_per_epoch!r}"
            )
        if steps_per_epoch < 1:
            raise ValueError(
                f"steps_per_epoch must be a positive int. Received: steps_per_epoch={steps_per_epoch!r}"
            )
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive int. Received: keep={keep!r}")
        self.steps_per_epoch = steps_per_epoch
        self.guard = guard
        self.keep = keep
        self.global_step = 0
        self.saved_steps = []
        self._epoch_start_step = 0
        self._last_saved = None
        self._restored = False

    # -- restore ---------------------------------------------------------------------------------

    def restore(self, model=None):
        """Loads the latest backup into ``model`` (default: the callback's model).

        Returns:
            The restored global step (0 when there is no backup).

        Raises:
            ValueError: the backup was made with another ``steps_per_epoch``.
            RuntimeError: the optimizer state did not load (unbuilt optimizers).
        """
        model = model if model is not None else self.model
        state = read_backup_state(self.backup_dir)
        self._restored = True
        if state is None:
            self.global_step = 0
            return 0
        if state["steps_per_epoch"] != self.steps_per_epoch:
            raise ValueError(
                f"The backup in {self.backup_dir} was made with steps_per_epoch="
                f"{state['steps_per_epoch']}; this run has steps_per_epoch={self.steps_per_epoch}. "
                "Resume with the same settings or delete the backup directory. Received: "
                f"steps_per_epoch={self.steps_per_epoch!r}"
            )
        optimizer = getattr(model, "optimizer", None)
        # A GAN's own optimizers are built in compile(); its unused model.optimizer
        # (from super().compile()) must stay unbuilt to match the saved file.
        if optimizer is not None and not optimizer.built and not hasattr(model, "g_optimizer"):
            optimizer.build(model.trainable_variables)
        try:
            model.load_weights(os.path.join(state["path"], _WEIGHTS))
        except ValueError as e:
            raise ValueError(
                f"The backup in {state['path']} does not fit this model (was the configuration "
                "changed?). Resume with the same settings, or start afresh (--fresh / "
                f"resume=False, or delete {self.backup_dir}). Keras said: {e}"
            ) from e
        step = int(state["global_step"])
        counters = [
            int(keras.ops.convert_to_numpy(opt.iterations))
            for opt in _optimizers(model)
            if opt.built
        ]
        if step > 0 and counters and max(counters) == 0:
            raise RuntimeError(
                f"Restored {state['path']} but the optimizer state did not load (iterations 0): "
                "build the optimizers before restoring (compile() does for kerasgan models)."
            )
        self.global_step = self._epoch_start_step = self._last_saved = step
        return step

    def on_train_begin(self, logs=None):
        if not self._restored:
            # Used on its own: restore, and let fit start at the backup's epoch.
            step = self.restore()
            if step:
                self.model._initial_epoch = step // self.steps_per_epoch
                self.global_step = self._epoch_start_step = (
                    step // self.steps_per_epoch
                ) * self.steps_per_epoch

    # -- save ------------------------------------------------------------------------------------

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_step = self.global_step

    def on_train_batch_end(self, batch, logs=None):
        # Keras passes the index of the last batch of a steps_per_execution group.
        self.global_step = self._epoch_start_step + int(batch) + 1
        if self.save_freq == "epoch":
            return
        since = self.global_step - (self._last_saved or 0)
        if since >= self.save_freq:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if self._last_saved != self.global_step:
            self._save()

    def _save(self):
        if self.guard is not None and self.guard.diverged:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        step = self.global_step
        name = f"step-{step:09d}"
        final = os.path.join(self.backup_dir, name)
        tmp = os.path.join(self.backup_dir, f".tmp-{name}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        self.model.save_weights(os.path.join(tmp, _WEIGHTS))
        state = {
            "global_step": step,
            "epoch": step // self.steps_per_epoch,
            "batch": step % self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "time": time.time(),
        }
        _write_json_atomic(os.path.join(tmp, _STATE), state)
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
        _write_json_atomic(os.path.join(self.backup_dir, _POINTER), {"checkpoint": name})
        self._last_saved = step
        self.saved_steps.append(step)
        self._prune(name)

    def _prune(self, current):
        entries = sorted(os.listdir(self.backup_dir))
        for entry in entries:
            if entry.startswith(".tmp-") and entry != f".tmp-{current}":
                shutil.rmtree(os.path.join(self.backup_dir, entry), ignore_errors=True)
        backups = [e for e in entries if e.startswith("step-")]
        for old in backups[: -self.keep]:
            if old != current:
                shutil.rmtree(os.path.join(self.backup_dir, old), ignore_errors=True)

    def on_train_end(self, logs=None):
        pass  # backups are removed by whoever knows the whole run is done


def _optimizers(model):
    found = []
    for name in ("optimizer", "g_optimizer", "d_optimizer"):
        opt = getattr(model, name, None)
        if isinstance(opt, keras.optimizers.Optimizer) and opt not in found:
            found.append(opt)
    return found
