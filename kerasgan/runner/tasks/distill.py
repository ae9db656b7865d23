"""Task ``"distill"``: a flow fit by reverse KL to a density it can evaluate.

- ``"planar"`` / ``"radial"``: the flow fits an unnormalized energy
  (:class:`kerasgan.flows.EnergyTarget`, Rezende and Mohamed 2015);
  ``kl = KL(q || p)`` with the target's log normalizer.
- ``"distill"``: probability density distillation (Parallel WaveNet): a MAF
  teacher is fit to the data by maximum likelihood (task ``"flow"``'s fit), then
  an IAF student minimizes ``KL(student || teacher)``; the student samples in one
  pass and is what gets exported (the teacher goes to ``<name>_teacher``).
"""

from __future__ import annotations

import os
import time

from kerasgan import export as export_lib
from kerasgan import flows
from kerasgan.runner import loop, registry
from kerasgan.runner.tasks import flow as flow_task

__all__ = ["run", "sampling_speedup"]


def sampling_speedup(teacher, student, n, repeats=3):
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


def _fit_distiller(cfg, run_dir, strategy, target, student, epochs, info, result, key, warm_start):
    """Fits ``student`` to ``target`` by reverse KL; its history goes to ``result[key]``.

    ``warm_start``: first fit the student by maximum likelihood on the target's samples
    for ``cfg["warm_start_epochs"]`` epochs (a flow teacher can sample; an energy cannot).
    """
    with strategy.scope():
        distiller = flows.DensityDistiller(
            target, student, seed=cfg["seed"], anneal_steps=cfg["anneal_steps"]
        )
        distiller.compile(
            flow_task.build_optimizer(cfg, epochs * cfg["steps_per_epoch"]),
            jit_compile=cfg["jit_compile"],
        )
    if warm_start and cfg["warm_start_epochs"]:
        distiller.warm_start(
            num_samples=max(cfg["batch_size"] * cfg["steps_per_epoch"] // 2, cfg["batch_size"]),
            epochs=cfg["warm_start_epochs"],
            batch_size=cfg["batch_size"],
            optimizer=flow_task.build_optimizer(dict(cfg, lr_decay=False), 1),
        )
        result["kl_after_warm_start"] = distiller.kl(cfg["eval_test_samples"], seed=cfg["seed"] + 1)
    callbacks, guard = loop.standard_callbacks(cfg, run_dir, info, density=True)
    result[key] = loop.fit_checked(
        distiller, None, cfg, callbacks, guard, epochs=epochs, batch_size=cfg["batch_size"]
    )
    return distiller


def run(cfg, run_dir, strategy):
    """Runs a resolved reverse-KL config (an energy fit, or MAF -> IAF distillation).

    Returns:
        dict with ``run_dir``, ``history``, ``seconds``, ``config``, ``model``,
        ``export_path``, ``kl`` (nats) and, for distillation, the teacher's
        ``test_nll``/``entropy``, ``student_history``, ``teacher_export_path`` and
        ``sampling_speedup``.
    """
    entry = registry.get_model(cfg["model"])
    result = {"run_dir": run_dir, "config": cfg}
    start = time.perf_counter()
    seed = cfg["seed"]
    if entry.options.get("energy"):
        with strategy.scope():
            flow = flow_task.build_flow(cfg, 2)
            target = flows.EnergyTarget(cfg["energy"])
        distiller = _fit_distiller(
            cfg, run_dir, strategy, target, flow, cfg["epochs"], None, result, "history", False
        )
        result["kl"] = (
            distiller.kl(cfg["eval_test_samples"], seed=seed + 1) + target.log_normalizer()
        )
        result["kl_label"] = "KL(q || target)"
        samples = flow.sample(cfg["eval_samples"], seed=seed + 1).numpy()
        return flow_task.finish(cfg, run_dir, result, flow, samples, start)

    teacher, info = flow_task.fit_on_data(cfg, run_dir, strategy, result)
    if cfg["export"]:
        result["teacher_export_path"] = export_lib.export_flow(
            teacher,
            os.path.join(cfg["export_dir"], cfg["name"] + "_teacher"),
            version=cfg["export_version"],
        )
    with strategy.scope():
        student = flow_task.build_flow(cfg, info["shape"], family=entry.options["student"])
    distiller = _fit_distiller(
        cfg,
        os.path.join(run_dir, "student"),
        strategy,
        teacher,
        student,
        cfg["student_epochs"],
        info,
        result,
        "student_history",
        True,
    )
    result["kl"] = distiller.kl(cfg["eval_test_samples"], seed=seed + 1)
    result["kl_label"] = "KL(student || teacher)"
    result["sampling_speedup"] = sampling_speedup(teacher, student, cfg["eval_test_samples"])
    samples = student.sample(cfg["eval_samples"], seed=seed + 1).numpy()
    return flow_task.finish(cfg, run_dir, result, student, samples, start)
