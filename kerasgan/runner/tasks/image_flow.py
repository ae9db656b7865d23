"""Task ``"image_flow"``: a multi-scale image flow (Glow, RealNVP) on dequantized digits.

The offline 8x8 digits have 17 grey levels ``k``; the flow models
``(k + u) / 17``, ``u ~ U[0, 1)`` drawn afresh for every batch, behind a logit
transform, and is scored in bits/dim on the test split (the dequantized NLL,
averaged over ``dequantize_draws`` noise draws).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from kerasgan import flows
from kerasgan.data import images
from kerasgan.flows import families
from kerasgan.runner import loop, registry
from kerasgan.runner.tasks import flow as flow_task

__all__ = ["build_image_flow", "run"]


def build_image_flow(cfg, image_shape):
    """The multi-scale image flow named by ``cfg["model"]`` on data in [0, 1]:
    :class:`kerasgan.flows.LogitTransform` (data side), then the family's layers."""
    family = registry.get_model(cfg["model"]).options["family"]
    body = families.build(family, tuple(image_shape), kind="image", **flow_task.family_options(cfg))
    layers = [flows.LogitTransform(cfg["logit_alpha"])] + body
    return flows.FlowModel(tuple(image_shape), layers, seed=cfg["seed"])


def digit_levels(cfg):
    """The offline 8x8 digits as integer levels ``0..16``: ``(train, test, num_levels)``."""
    if cfg["dataset"] != "digits":
        raise ValueError(
            "Image flows train on the offline 'digits' set (8x8, 17 grey levels) for now. "
            f"Received: dataset={cfg['dataset']!r}"
        )
    train, _ = images.digits(size=8, split="train", seed=cfg["seed"])
    test, _ = images.digits(size=8, split="test", seed=cfg["seed"])
    # images.digits maps the levels v in {0..16} to v / 8 - 1.
    return np.rint((train + 1.0) * 8.0), np.rint((test + 1.0) * 8.0), 17


def dequantized_dataset(levels, num_levels, cfg):
    """Batches of ``(k + u) / num_levels``, ``u ~ U[0, 1)`` drawn afresh every epoch."""
    seed = cfg["seed"]

    def dequantize(i, k):
        # Stateless noise keyed by the batch index: the same batch gets the same
        # noise however the pipeline is iterated (an exact resume needs that).
        u = tf.random.stateless_uniform(tf.shape(k), seed=tf.stack([seed, i]), dtype=k.dtype)
        return (k + u) / num_levels

    return (
        tf.data.Dataset.from_tensor_slices(levels.astype("float32"))
        .shuffle(len(levels), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(cfg["batch_size"], drop_remainder=True)
        .enumerate()
        .map(dequantize, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def image_bits_per_dim(model, levels, num_levels, draws, seed):
    """Bits/dim of integer images: the dequantized NLL averaged over ``draws`` noise draws."""
    nlls = []
    for i in range(draws):
        x = flows.dequantize(levels.astype("int64"), num_levels=num_levels, seed=seed + i)
        nlls.append(-np.mean(model.log_prob(x).numpy()))
    nll = float(np.mean(nlls))
    return nll, flows.bits_per_dim(nll, int(np.prod(levels.shape[1:])), num_levels)


def run(cfg, run_dir, strategy):
    """Runs a resolved image-flow config.

    Returns:
        dict with ``run_dir``, ``history``, ``seconds``, ``config``, ``model``,
        ``export_path``, ``test_nll`` (nats), ``test_bits_per_dim`` and
        ``train_bits_per_dim``.
    """
    result = {"run_dir": run_dir, "config": cfg}
    start = time.perf_counter()
    train, test, num_levels = digit_levels(cfg)
    with strategy.scope():
        model = build_image_flow(cfg, train.shape[1:])
        model.compile(
            flow_task.build_optimizer(cfg, cfg["epochs"] * cfg["steps_per_epoch"]),
            jit_compile=cfg["jit_compile"],
            steps_per_execution=cfg["steps_per_execution"],
        )
    info = {"kind": "image", "shape": tuple(train.shape[1:])}
    callbacks, guard = loop.standard_callbacks(cfg, run_dir, info)
    result["history"] = loop.fit_checked(
        model,
        lambda: dequantized_dataset(train, num_levels, cfg),
        cfg,
        callbacks,
        guard,
        epochs=cfg["epochs"],
    )
    draws = cfg["dequantize_draws"]
    result["test_nll"], result["test_bits_per_dim"] = image_bits_per_dim(
        model, test, num_levels, draws, cfg["seed"] + 7
    )
    _, result["train_bits_per_dim"] = image_bits_per_dim(
        model, train, num_levels, draws, cfg["seed"] + 11
    )
    samples = model.sample(min(cfg["eval_samples"], 64), seed=cfg["seed"] + 1).numpy()
    return flow_task.finish(cfg, run_dir, result, model, samples, start)
