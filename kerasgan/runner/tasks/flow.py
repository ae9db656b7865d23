"""Task ``"flow"``: a flow family fit by maximum likelihood on vector data.

The family comes from :mod:`kerasgan.flows.families` by name; the held-out NLL is
taken on fresh draws of the data distribution, and on Gaussian mixtures (exact
density) ``kl = test NLL - true entropy``.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np

from kerasgan import export as export_lib
from kerasgan import flows
from kerasgan.data import toy
from kerasgan.flows import families
from kerasgan.runner import loop, registry, rundir
from kerasgan.runner.data import make_dataset

__all__ = ["build_flow", "build_optimizer", "fit_on_data", "run"]


def family_options(cfg):
    """The config's flow options, named as the family builders take them."""
    return {
        "num_transforms": cfg["flow_transforms"],
        "hidden_units": cfg["flow_hidden_units"],
        "hidden_channels": cfg["flow_hidden_units"],
        "num_bins": cfg["num_bins"],
        "bound": cfg["spline_bound"],
        "num_levels": cfg["flow_levels"],
        "num_scales": cfg["flow_levels"],
        "steps_per_level": cfg["flow_steps_per_level"],
        "seed": cfg["seed"],
    }


def build_flow(cfg, event_shape, family=None):
    """A :class:`kerasgan.flows.FlowModel` of ``family`` (default: the model's).

    Args:
        cfg: a resolved config.
        event_shape: ``(D,)`` (or an int) for vector families, ``(H, W, C)`` for image ones.
        family: family name; None: the registry entry's ``family``.
    """
    family = family or registry.get_model(cfg["model"]).options["family"]
    shape = (int(event_shape),) if isinstance(event_shape, int) else tuple(event_shape)
    layers = families.build(family, shape, **family_options(cfg))
    return flows.FlowModel(shape, layers, seed=cfg["seed"])


def build_optimizer(cfg, total_steps):
    """Adam(``lr``), cosine-decayed over ``total_steps`` with ``lr_decay``, clipped by ``clipnorm``."""
    lr = cfg["lr"]
    if cfg["lr_decay"]:
        lr = keras.optimizers.schedules.CosineDecay(lr, max(total_steps, 1), alpha=0.05)
    kwargs = {} if cfg["clipnorm"] is None else {"clipnorm": float(cfg["clipnorm"])}
    return keras.optimizers.Adam(lr, **kwargs)


def fit_on_data(cfg, run_dir, strategy, result):
    """Fits the model's flow to the config's toy data by maximum likelihood; fills
    ``result`` with ``history``, ``test_nll`` (and ``entropy``/``kl`` on mixtures).

    Returns:
        ``(flow, info)``.
    """
    dataset, info = make_dataset(cfg)
    if info["kind"] != "toy":
        raise ValueError(
            f"Flow recipes take toy vectors here. Received: dataset={cfg['dataset']!r}"
        )
    with strategy.scope():
        flow = build_flow(cfg, info["shape"])
        flow.compile(
            build_optimizer(cfg, cfg["epochs"] * cfg["steps_per_epoch"]),
            jit_compile=cfg["jit_compile"],
            steps_per_execution=cfg["steps_per_execution"],
        )
    callbacks, guard = loop.standard_callbacks(cfg, run_dir, info, density=True)
    result["history"] = loop.fit_checked(
        flow,
        loop.reuse_first(dataset, lambda: make_dataset(cfg)[0]),
        cfg,
        callbacks,
        guard,
        epochs=cfg["epochs"],
    )
    mixture = info.get("mixture")
    if mixture is not None:  # held-out NLL on fresh samples; exact entropy by Monte Carlo
        test = mixture.sample(cfg["eval_test_samples"], seed=cfg["seed"] + 7)
        result["entropy"] = float(-np.mean(mixture.log_prob(test)))
    else:
        test = toy.load(cfg["dataset"], cfg["eval_test_samples"], seed=cfg["seed"] + 7)
    result["test_nll"] = float(-np.mean(flow.log_prob(test).numpy()))
    if mixture is not None:
        result["kl"] = result["test_nll"] - result["entropy"]
        result["kl_label"] = "KL(data || flow) = test NLL - true entropy"
    return flow, info


def finish(cfg, run_dir, result, exported, samples, start):
    """Shared ending of the flow tasks: ``seconds``, ``samples.png``, the SavedModel."""
    result["seconds"] = time.perf_counter() - start
    samples, info = rundir.final_samples_info(samples)
    rundir.save_samples(samples, info, os.path.join(run_dir, "samples.png"))
    if cfg["export"]:
        result["export_path"] = export_lib.export_flow(
            exported, os.path.join(cfg["export_dir"], cfg["name"]), version=cfg["export_version"]
        )
    result["model"] = exported
    return result


def run(cfg, run_dir, strategy):
    """Runs a resolved vector-flow config.

    Returns:
        dict with ``run_dir``, ``history``, ``seconds``, ``config``, ``model``,
        ``export_path`` and ``test_nll`` (nats; with ``entropy`` and ``kl`` when the
        data has an exact density).
    """
    result = {"run_dir": run_dir, "config": cfg}
    start = time.perf_counter()
    flow, _ = fit_on_data(cfg, run_dir, strategy, result)
    samples = flow.sample(cfg["eval_samples"], seed=cfg["seed"] + 1).numpy()
    return finish(cfg, run_dir, result, flow, samples, start)
