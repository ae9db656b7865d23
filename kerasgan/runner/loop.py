"""The walk of one run: :func:`run` (config -> strategy -> run directory -> task ->
finished), :func:`fit_resumable` (``fit`` that resumes from the newest backup) and
the callbacks every task gets.

Example:
    >>> from kerasgan import runner
    >>> # result = runner.run({"name": "ring", "model": "GAN", "data": {"dataset": "ring8"}})
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from kerasgan import callbacks as cbs
from kerasgan import distribute
from kerasgan.metrics.evaluation import Evaluator
from kerasgan.runner import config as config_lib
from kerasgan.runner import registry, rundir

__all__ = ["fit_checked", "fit_resumable", "resolve", "reuse_first", "run", "standard_callbacks"]


def resolve(config, overrides=None):
    """:func:`kerasgan.runner.config.resolve` with the registry's model checks.

    Args:
        config: sectioned or flat config (see :mod:`kerasgan.runner.config`).
        overrides: dict applied on top (``--smoke`` settings, CLI flags).

    Returns:
        The complete flat config; ``"model"`` is the registered name (older
        names such as ``"wgan_gp"`` become the class name).

    Raises:
        ValueError: an unknown key, a bad value, an unknown model, or a model that
            does not fit the data.
    """
    return config_lib.resolve(config, overrides, validate_model=registry.validate)


def run(config, overrides=None):
    """Trains, monitors, evaluates and exports one configuration.

    The walk: resolve the config; seed; create the ``tf.distribute`` strategy
    (before other TF work, TF's multi-worker requirement); prepare the run
    directory (resume or start); run the model's task (build, compile in the
    strategy's scope, :func:`fit_resumable`, evaluate, ``samples.png``, export);
    mark the run finished and drop its backups.

    Writes ``<runs_dir>/<name>/`` (TensorBoard logs under ``tb/``,
    ``metrics.jsonl``, ``samples.png``, ``checkpoint.keras``, ``config.json``)
    and the SavedModel ``<export_dir>/<name>/<export_version>/``.

    Args:
        config: recipe config (see :mod:`kerasgan.runner.config`).
        overrides: dict applied on top (``--smoke`` settings, CLI flags).

    Returns:
        dict with ``run_dir``, ``export_path``, ``history``, ``seconds``,
        ``config``, ``model`` and the task's evaluation (``mode_coverage``,
        ``test_nll``, ``kl``, ``test_bits_per_dim``...).

    Raises:
        kerasgan.callbacks.TrainingDiverged: a loss became NaN/Inf (the last
            good checkpoint is kept).
        kerasgan.runner.RunAlreadyFinished: the run completed before (rerun
            with ``resume=False`` / ``--fresh``).
    """
    cfg = resolve(config, overrides)
    keras.utils.set_random_seed(cfg["seed"])
    if cfg["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.get_strategy(cfg["strategy"])
    chief, task_id = distribute.worker_role(strategy)
    run_dir = os.path.join(cfg["runs_dir"], cfg["name"])
    if not chief:  # other workers: own logs and backups, no export
        run_dir = os.path.join(run_dir, "workers", str(task_id))
        cfg = dict(cfg, export=False)
    if distribute.is_multi_worker(strategy) and cfg["steps_per_execution"] > 1:
        # Keras 3.15's multi-step loop fails across workers ("You must feed a value
        # for placeholder tensor ... while/cond/Placeholder"): one step per call.
        print(f"Multi-worker training: steps_per_execution {cfg['steps_per_execution']} -> 1")
        cfg = dict(cfg, steps_per_execution=1)
    rundir.prepare(cfg, run_dir)
    task = registry.get_task(registry.task_kind(cfg))
    result = task(cfg, run_dir, strategy)
    # Only now, with the export and checkpoint.keras durable, may the backups go: a kill
    # at any instant before this resumes from the final backup (and exports again).
    rundir.finish(run_dir, cfg, result)
    return result


def fit_resumable(model, data, *, epochs, steps_per_epoch, callbacks=(), verbose=1, **fit_kwargs):
    """``model.fit`` that resumes exactly from the latest full-state backup.

    When ``callbacks`` holds a :class:`kerasgan.callbacks.ResumableBackup`, its
    latest backup is restored first (weights, both optimizers, step counters,
    random-generator state). Training then runs the remaining steps only: the
    rest of the interrupted epoch (a ``fit`` of ``steps_per_epoch - batch``
    steps), then the remaining whole epochs. The data pipeline is advanced past
    the ``global_step`` batches already consumed (``data.skip``), so with a
    deterministic pipeline a run killed at any point and resumed ends with the
    same weights as an uninterrupted run.

    Args:
        model: a compiled Keras model.
        data: a zero-argument callable returning an infinite, seeded
            ``tf.data.Dataset`` of batches (called once per ``fit``), a
            dataset, or None for data-free models (e.g. ``DensityDistiller``).
            Pass a callable for an exact resume: a second iterator over the
            same reshuffling dataset object visits the data in another order.
        epochs: total epochs of the run.
        steps_per_epoch: steps per epoch.
        callbacks: Keras callbacks.
        verbose: ``fit``'s verbosity.
        **fit_kwargs: passed to ``fit`` (e.g. ``batch_size`` for data-free fits).

    Returns:
        The merged ``History.history`` dict of this call's ``fit`` calls
        (empty when the backup was already complete).

    Example:
        >>> # fit_resumable(model, ds, epochs=10, steps_per_epoch=100,
        >>> #               callbacks=[ResumableBackup("runs/x/backup", 100, save_freq=25)])
    """
    callbacks = list(callbacks)
    if not any(isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks):
        callbacks.append(cbs.RunProgbar(epochs))
    backup = next((c for c in callbacks if isinstance(c, cbs.ResumableBackup)), None)
    guard = next((c for c in callbacks if isinstance(c, cbs.DivergenceGuard)), None)
    step = backup.restore(model) if backup is not None else 0
    if guard is not None:
        guard.start_at(step)
    total = epochs * steps_per_epoch
    history = {}

    def fit(initial_epoch, last_epoch, steps):
        x = data() if callable(data) else data
        if x is not None and step:
            x = x.skip(step)
        h = model.fit(
            x,
            initial_epoch=initial_epoch,
            epochs=last_epoch,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the tf.data pipeline shuffles
            **fit_kwargs,
        )
        for key, values in h.history.items():
            history.setdefault(key, []).extend(values)

    if step >= total:
        return history
    epoch, batch = divmod(step, steps_per_epoch)
    if batch:  # finish the interrupted epoch first
        if verbose:
            print(f"Resuming at step {step} (epoch {epoch + 1}, batch {batch})")
        fit(epoch, epoch + 1, steps_per_epoch - batch)
        if guard is not None and guard.diverged:
            return history
        step += steps_per_epoch - batch
        epoch += 1
    elif step and verbose:
        print(f"Resuming at step {step} (start of epoch {epoch + 1})")
    if epoch < epochs:
        fit(epoch, epochs, steps_per_epoch)
    return history


def reuse_first(dataset, make):
    """A data factory for :func:`fit_resumable`: ``dataset`` (not yet iterated) for the
    first ``fit``, a freshly built one from ``make()`` for any later one."""
    pending = [dataset]

    def data():
        return pending.pop() if pending else make()

    return data


def fit_checked(model, data, cfg, callbacks, guard, *, epochs, **fit_kwargs):
    """:func:`fit_resumable` with the config's steps and verbosity; raises if it diverged.

    Raises:
        kerasgan.callbacks.TrainingDiverged: the guard saw NaN/Inf (the last good
            checkpoint is kept).
    """
    history = fit_resumable(
        model,
        data,
        epochs=epochs,
        steps_per_epoch=cfg["steps_per_epoch"],
        callbacks=callbacks,
        verbose=cfg["verbose"],
        **fit_kwargs,
    )
    if guard.diverged:
        raise cbs.TrainingDiverged(guard.message)
    return history


def standard_callbacks(cfg, run_dir, info, density=False):
    """The callbacks every recipe run gets, for GANs and flows alike.

    Mode coverage (equal-std Gaussian mixtures), learning rates, the divergence
    guard with the last good ``checkpoint.keras``, full-state backups under
    ``run_dir/backup`` (:class:`kerasgan.callbacks.ResumableBackup`, every
    ``cfg["checkpoint_every"]`` steps and at epoch ends), ``metrics.jsonl`` and, with
    ``cfg["tensorboard"]``, TensorBoard scalars plus a sample scatter (2-D data,
    or ``info=None`` for data-free runs) with, for 2-D flows, density heatmaps
    (:class:`kerasgan.callbacks.DensityHeatmap`), or an image grid.

    Returns:
        ``(callbacks, guard)``; ``guard.diverged`` tells whether training stopped on NaN/Inf.
    """
    tb_dir = os.path.join(run_dir, "tb")
    callbacks = []
    mixture = None if info is None else info.get("mixture")
    if mixture is not None and np.all(mixture.stds == mixture.stds[0]):  # the protocol's one std
        callbacks.append(
            cbs.ModeCoverageCallback(
                mixture.means,
                mixture.std,
                cfg["eval_samples"],
                seed=cfg["seed"],
                every=cfg["eval_every"],
            )
        )
    callbacks.append(cbs.LearningRateLogger())
    if cfg["eval_metrics"]:
        callbacks.append(_evaluation_callback(cfg, info))
    guard = cbs.DivergenceGuard()
    callbacks += [guard, cbs.GoodCheckpoint(os.path.join(run_dir, "checkpoint.keras"), guard=guard)]
    callbacks.append(
        cbs.ResumableBackup(
            os.path.join(run_dir, "backup"),
            cfg["steps_per_epoch"],
            save_freq=cfg["checkpoint_every"] or "epoch",
            guard=guard,
        )
    )
    callbacks.append(cbs.MetricsLogger(os.path.join(run_dir, "metrics.jsonl")))
    if cfg["tensorboard"]:
        callbacks.append(
            keras.callbacks.TensorBoard(tb_dir, write_graph=False, update_freq="epoch")
        )
        if info is None or info["kind"] == "toy":
            modes = None if mixture is None else mixture.means
            reference = None if (modes is not None or info is None) else info["sample"]
            callbacks.append(cbs.SampleScatter(tb_dir, modes=modes, reference=reference))
            if density and (info is None or info["shape"] == (2,)):
                callbacks.append(
                    cbs.DensityHeatmap(
                        tb_dir,
                        # Energies (info None) live in [-4, 4]^2.
                        limits=(-4.0, 4.0) if info is None else None,
                        reference=modes if modes is not None else reference,
                        true_log_prob=None if mixture is None else mixture.log_prob,
                        every=cfg["eval_every"],
                        seed=cfg["seed"],
                    )
                )
        else:
            callbacks.append(cbs.ImageGrid(tb_dir))
    return callbacks, guard


def _evaluation_callback(cfg, info):
    """FID/KID/... of the run's samples against its dataset's held-out split, every eval_every."""
    if info is None or info["kind"] != "image":
        raise ValueError(
            "eval_metrics apply to image runs. Received: eval_metrics="
            f"{cfg['eval_metrics']!r} with dataset={cfg['dataset']!r}"
        )
    evaluator = Evaluator(
        cfg["eval_metrics"],
        dataset=cfg["dataset"],
        split=cfg["eval_metric_split"],
        image_size=info["shape"][0],
        seed=cfg["seed"],
    )
    return cbs.EvaluationCallback(
        evaluator, num_samples=cfg["eval_metric_samples"], every=cfg["eval_every"], seed=cfg["seed"]
    )
