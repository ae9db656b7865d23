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

:func:`kerasgan.runner.fit_resumable` uses :meth:`ResumableBackup.restore`
before ``fit`` and then trains exactly the remaining steps (the rest of the
interrupted epoch, then whole epochs), with the data pipeline advanced past
the batches already consumed, so that a resumed run ends with the same weights
as an uninterrupted one.

Example:
    >>> backup = ResumableBackup("/tmp/kerasgan_doc_backup", steps_per_epoch=100, save_freq=25)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time

import keras

__all__ = [
    "BackupError",
    "ResumableBackup",
    "RunProgbar",
    "find_backups",
    "read_backup_state",
]

_POINTER = "latest.json"
_STATE = "state.json"
_WEIGHTS = "state.weights.h5"
_STATE_KEYS = ("global_step", "epoch", "batch", "steps_per_epoch")


class BackupError(ValueError):
    """The backups cannot be resumed from (none verifies, or they do not fit the run).

    The message names the backup directory, each backup's problem and how to
    start afresh (``--fresh`` / ``resume=False``).
    """


def _write_json_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _verify(path):
    """``(state, None)`` for a complete backup directory, else ``(None, reason)``."""
    if not os.path.isdir(path):
        return None, "missing" if not os.path.exists(path) else "not a directory"
    try:
        with open(os.path.join(path, _STATE)) as f:
            state = json.load(f)
    except FileNotFoundError:
        return None, f"no {_STATE}"
    except (OSError, ValueError) as e:
        return None, f"{_STATE} is unreadable ({type(e).__name__}: {e})"
    if not isinstance(state, dict):
        return None, f"{_STATE} is not a JSON object"
    for key in _STATE_KEYS:
        value = state.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None, f"{_STATE} has no valid {key!r} (got {value!r})"
    weights = os.path.join(path, _WEIGHTS)
    if not os.path.isfile(weights):
        return None, f"no {_WEIGHTS}"
    if os.path.getsize(weights) == 0:
        return None, f"{_WEIGHTS} is empty"
    if "sha256" in state:
        if _sha256(weights) != state["sha256"]:
            return None, f"{_WEIGHTS} is corrupt or truncated (sha256 mismatch)"
    else:  # a backup written before checksums: at least a readable HDF5 file
        try:
            import h5py

            with h5py.File(weights, "r") as h5:
                h5.visit(lambda name: None)
        except Exception as e:  # h5py raises OSError, KeyError, RuntimeError, ...
            return None, f"{_WEIGHTS} is not a readable HDF5 file ({type(e).__name__})"
    state["path"] = path
    return state, None


def find_backups(backup_dir):
    """Every backup in ``backup_dir``, newest first, each verified.

    The backup named by ``latest.json`` comes first when the pointer is valid;
    then every ``step-*`` directory by decreasing step (a broken pointer, or a
    broken newest backup, leaves the older ones usable).

    Args:
        backup_dir: a :class:`ResumableBackup` directory.

    Returns:
        ``(backups, notes)``: a list of ``(name, state or None, reason or None)``
        and a list of problems found outside the backups (the pointer).

    Raises:
        BackupError: ``backup_dir`` exists but is not a directory.
    """
    backup_dir = str(backup_dir)
    if not os.path.exists(backup_dir):
        return [], []
    if not os.path.isdir(backup_dir):
        raise BackupError(
            f"The backup path {backup_dir} is a file, not a directory. Remove it, or start "
            "afresh with --fresh (resume=False), which deletes it."
        )
    notes, names = [], []
    pointer = os.path.join(backup_dir, _POINTER)
    if os.path.exists(pointer):
        try:
            with open(pointer) as f:
                name = json.load(f)["checkpoint"]
            if not isinstance(name, str) or os.sep in name or name.startswith("."):
                raise ValueError(f"bad checkpoint name {name!r}")
            names.append(name)
        except (OSError, ValueError, KeyError, TypeError) as e:
            notes.append(f"{_POINTER} is unusable ({type(e).__name__}: {e})")
    steps = sorted(
        (e for e in os.listdir(backup_dir) if e.startswith("step-")), reverse=True
    )
    names += [n for n in steps if n not in names]
    backups = []
    for name in names:
        state, reason = _verify(os.path.join(backup_dir, name))
        if reason == "missing" and name not in steps:
            notes.append(f"{_POINTER} points to {name}, which does not exist")
            continue
        backups.append((name, state, reason))
    return backups, notes


def read_backup_state(backup_dir, report=None):
    """The state of the newest backup in ``backup_dir`` that verifies, or None.

    A backup verifies when its ``state.json`` parses with every key and its
    weights file matches the checksum recorded when it was written. Broken
    backups (and a broken ``latest.json``) are skipped: the next older one is used.

    Args:
        backup_dir: a :class:`ResumableBackup` directory.
        report: optional callable receiving one message per skipped backup.

    Returns:
        dict with ``global_step``, ``epoch`` (completed epochs), ``batch``
        (batches done in the current epoch), ``steps_per_epoch`` and ``path``
        (the backup's directory); None when there is no backup.

    Raises:
        BackupError: there are backups but none verifies (the message lists
            each one's problem and names ``--fresh``), or ``backup_dir`` is a file.
    """
    backups, notes = find_backups(backup_dir)
    if not backups and not notes:
        return None
    good = next((state for _, state, _ in backups if state is not None), None)
    problems = notes + [f"{name}: {reason}" for name, state, reason in backups if reason]
    if good is None:
        if not backups:  # only a dangling pointer: nothing was ever completed
            return None
        raise BackupError(
            f"No usable backup in {backup_dir}: " + "; ".join(problems) + ". Start afresh "
            "with --fresh (resume=False), which deletes them."
        )
    if report is not None:
        for name, state, reason in backups:
            if state is good:
                break
            if reason:
                report(
                    f"skipped backup {name} in {backup_dir}: {reason}; resuming from "
                    f"{os.path.basename(good['path'])} (step {good['global_step']})"
                )
        for note in notes:
            report(f"{note}; using {os.path.basename(good['path'])}")
    return good


def _stderr(message):
    print(f"kerasgan: warning: {message}", file=sys.stderr, flush=True)


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
        keep: backups kept on disk (the newest ones; at least 2, so that a
            broken newest backup leaves one to resume from).

    Returns:
        A Keras callback. ``global_step`` is the number of train steps done.

    Used on its own in ``fit(callbacks=[...])`` it restores the latest backup
    at ``on_train_begin`` and resumes at the start of the epoch the backup is
    in (Keras's ``fit`` starts at epoch boundaries); use
    :func:`kerasgan.runner.fit_resumable` for an exact mid-epoch resume.

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
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 2:
            # One backup is not enough: a broken newest one must leave an older one.
            raise ValueError(f"keep must be an int >= 2. Received: keep={keep!r}")
        self.steps_per_epoch = steps_per_epoch
        self.guard = guard
        self.keep = keep
        self.global_step = 0
        self.saved_steps = []
        self._epoch_start_step = 0
        self._last_saved = None
        self._restored = False
        self.skipped = []

    # -- restore ---------------------------------------------------------------------------------

    def restore(self, model=None):
        """Loads the latest backup into ``model`` (default: the callback's model).

        Returns:
            The restored global step (0 when there is no backup).

        Raises:
            BackupError: (a ``ValueError``) the backup was made with another
                ``steps_per_epoch`` or model, or no backup verifies. Broken newer
                backups are skipped (each reported on stderr and in ``skipped``).
            RuntimeError: the optimizer state did not load (unbuilt optimizers).
        """
        model = model if model is not None else self.model
        self.skipped = []

        def report(message):
            self.skipped.append(message)
            _stderr(message)

        state = read_backup_state(self.backup_dir, report=report)
        self._restored = True
        if state is None:
            self.global_step = 0
            return 0
        if state["steps_per_epoch"] != self.steps_per_epoch:
            raise BackupError(
                f"The backup in {self.backup_dir} was made with steps_per_epoch="
                f"{state['steps_per_epoch']}; this run has steps_per_epoch={self.steps_per_epoch}. "
                "Resume with the same settings or delete the backup directory. Received: "
                f"steps_per_epoch={self.steps_per_epoch!r}"
            )
        optimizer = getattr(model, "optimizer", None)
        # A GAN's own optimizers are built in compile(); its unused model.optimizer
        # (from super().compile()) must stay unbuilt to match the saved file.
        players = getattr(model, "optimizers", None)
        if optimizer is not None and not optimizer.built and not isinstance(players, dict):
            optimizer.build(model.trainable_variables)
        try:
            model.load_weights(os.path.join(state["path"], _WEIGHTS))
        except ValueError as e:
            raise BackupError(
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
        weights = os.path.join(tmp, _WEIGHTS)
        self.model.save_weights(weights)
        with open(weights, "rb") as f:
            os.fsync(f.fileno())
        state = {
            "global_step": step,
            "epoch": step // self.steps_per_epoch,
            "batch": step % self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "time": time.time(),
            "sha256": _sha256(weights),  # verified before a resume
        }
        _write_json_atomic(os.path.join(tmp, _STATE), state)
        _fsync_dir(tmp)
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(self.backup_dir)
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
    """The model's optimizers: ``model.optimizer`` and every player's (``model.optimizers``)."""
    candidates = [getattr(model, "optimizer", None)]
    players = getattr(model, "optimizers", None)
    if isinstance(players, dict):
        candidates += list(players.values())
    found = []
    for opt in candidates:
        if isinstance(opt, keras.optimizers.Optimizer) and opt not in found:
            found.append(opt)
    return found


class RunProgbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, numbering epochs out of the whole run.

    A resumed run calls ``fit`` once for the rest of the interrupted epoch
    (``epochs=epoch + 1``), for which Keras would print "Epoch 2/2" in the
    second epoch of three; this prints "Epoch 2/3".

    Args:
        total_epochs: the run's number of epochs.

    Example:
        >>> bar = RunProgbar(total_epochs=3)
    """

    def __init__(self, total_epochs):
        super().__init__()
        self.total_epochs = int(total_epochs)

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.total_epochs
