"""The flow branch of :func:`kerasgan.training.run`: fit, evaluate, export a flow recipe.

Shares the run directory layout, callbacks (TensorBoard, ``metrics.jsonl``,
divergence guard, last good checkpoint), strategy handling and export layout
with the GAN path; only the model, its loss and its evaluation differ.
"""

from __future__ import annotations

import os
import time

import numpy as np

__all__ = ["run_flow"]


def _optimizer(cfg, total_steps):
    import keras

    lr = cfg["lr"]
    if cfg["lr_decay"]:
        lr = keras.optimizers.schedules.CosineDecay(lr, max(total_steps, 1), alpha=0.05)
    kwargs = {} if cfg["clipnorm"] is None else {"clipnorm": float(cfg["clipnorm"])}
    return keras.optimizers.Adam(lr, **kwargs)


def _fit(model, data, cfg, callbacks, guard, epochs, steps, **kwargs):
    from kerasgan import callbacks as cbs

    history = model.fit(
        data,
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=cfg["verbose"],
        **kwargs,
    )
    if guard.diverged:
        raise cbs.TrainingDiverged(guard.message)
    return history.history


def _entropy(mixture, n, seed):
    """Monte Carlo entropy ``-E log p(x)`` of a toy mixture (its exact density)."""
    x = mixture.sample(n, seed=seed)
    return float(-np.mean(mixture.log_prob(x))), x


def run_flow(cfg, run_dir):
    """Runs a resolved flow config (``cfg["model"]`` in ``training.FLOW_MODELS``) in ``run_dir``.

    Called by :func:`kerasgan.training.run`, which prepares ``run_dir``.

    Returns:
        dict with ``run_dir``, ``history``, ``seconds``, ``config``, ``model``,
        ``export_path`` and the evaluation: ``test_nll`` (nats; with ``kl`` =
        test NLL minus the true entropy when the data has an exact density),
        ``kl`` for energies (KL(q || p), nats) and distillation (KL(student ||
        teacher)), ``sampling_speedup`` for distillation.
    """
    from kerasgan import distribute, flows, training
    from kerasgan import export as export_lib

    strategy = distribute.get_strategy(cfg["strategy"])
    kind = cfg["model"]
    result = {"run_dir": run_dir, "config": cfg}
    start = time.perf_counter()
    steps = cfg["steps_per_epoch"]

    if kind in ("planar", "radial"):
        with strategy.scope():
            flow = training.build_flow(cfg, 2)
            target = flows.EnergyTarget(cfg["energy"])
            model = flows.DensityDistiller(
                target, flow, seed=cfg["seed"], anneal_steps=cfg["anneal_steps"]
            )
            model.compile(_optimizer(cfg, cfg["epochs"] * steps), jit_compile=cfg["jit_compile"])
        callbacks, guard = training.standard_callbacks(cfg, run_dir, None)
        result["history"] = _fit(
            model, None, cfg, callbacks, guard, cfg["epochs"], steps, batch_size=cfg["batch_size"]
        )
        result["kl"] = (
            model.kl(cfg["eval_test_samples"], seed=cfg["seed"] + 1) + target.log_normalizer()
        )
        samples = flow.sample(cfg["eval_samples"], seed=cfg["seed"] + 1).numpy()
        exported = flow
    else:
        dataset, info = training.make_dataset(cfg)
        if info["kind"] != "toy":
            raise ValueError(
                f"Flow recipes take 2-D toy data for now. Received: dataset={cfg['dataset']!r}"
            )
        mixture = info.get("mixture")
        with strategy.scope():
            teacher = training.build_flow(cfg, info["shape"][0])
            teacher.compile(
                _optimizer(cfg, cfg["epochs"] * steps),
                jit_compile=cfg["jit_compile"],
                steps_per_execution=cfg["steps_per_execution"],
            )
        callbacks, guard = training.standard_callbacks(cfg, run_dir, info)
        result["history"] = _fit(teacher, dataset, cfg, callbacks, guard, cfg["epochs"], steps)
        # Held-out NLL on fresh samples of the data distribution.
        from kerasgan.data import toy

        if mixture is not None:
            entropy, test = _entropy(mixture, cfg["eval_test_samples"], cfg["seed"] + 7)
            result["entropy"] = entropy
        else:
            test = toy.load(cfg["dataset"], cfg["eval_test_samples"], seed=cfg["seed"] + 7)
        result["test_nll"] = float(-np.mean(teacher.log_prob(test).numpy()))
        if mixture is not None:
            result["kl"] = result["test_nll"] - result["entropy"]
        exported = teacher
        samples = teacher.sample(cfg["eval_samples"], seed=cfg["seed"] + 1).numpy()
        if kind == "distill":
            if cfg["export"]:
                result["teacher_export_path"] = export_lib.export_flow(
                    teacher,
                    os.path.join(cfg["export_dir"], cfg["name"] + "_teacher"),
                    version=cfg["export_version"],
                )
            with strategy.scope():
                student = training.build_flow(cfg, info["shape"][0], inverse_autoregressive=True)
                distiller = flows.DensityDistiller(
                    teacher, student, seed=cfg["seed"], anneal_steps=cfg["anneal_steps"]
                )
                distiller.compile(
                    _optimizer(cfg, cfg["student_epochs"] * steps), jit_compile=cfg["jit_compile"]
                )
            if cfg["warm_start_epochs"]:
                distiller.warm_start(
                    num_samples=max(cfg["batch_size"] * steps // 2, cfg["batch_size"]),
                    epochs=cfg["warm_start_epochs"],
                    batch_size=cfg["batch_size"],
                    optimizer=_optimizer(dict(cfg, lr_decay=False), 1),
                )
                result["kl_after_warm_start"] = distiller.kl(
                    cfg["eval_test_samples"], seed=cfg["seed"] + 1
                )
            callbacks, guard = training.standard_callbacks(
                cfg, os.path.join(run_dir, "student"), info
            )
            result["student_history"] = _fit(
                distiller,
                None,
                cfg,
                callbacks,
                guard,
                cfg["student_epochs"],
                steps,
                batch_size=cfg["batch_size"],
            )
            result["kl"] = distiller.kl(cfg["eval_test_samples"], seed=cfg["seed"] + 1)
            result["sampling_speedup"] = _sampling_speedup(
                teacher, student, cfg["eval_test_samples"]
            )
            samples = student.sample(cfg["eval_samples"], seed=cfg["seed"] + 1).numpy()
            exported = student
    result["seconds"] = time.perf_counter() - start

    from kerasgan.training import _save_final_samples

    _save_final_samples(
        samples, {"kind": "toy", "sample": samples}, os.path.join(run_dir, "samples.png")
    )
    if cfg["export"]:
        result["export_path"] = export_lib.export_flow(
            exported, os.path.join(cfg["export_dir"], cfg["name"]), version=cfg["export_version"]
        )
    result["model"] = exported
    return result


def _sampling_speedup(teacher, student, n, repeats=3):
    """Teacher's compiled sampling time over the student's (same ``n``, warm, best of ``repeats``)."""

    def best(model):
        model.sample(n, seed=0)  # trace and warm up
        times = []
        for i in range(repeats):
            t = time.perf_counter()
            model.sample(n, seed=i + 1).numpy()
            times.append(time.perf_counter() - t)
        return min(times)

    return best(teacher) / best(student)
