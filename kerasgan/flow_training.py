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
    from kerasgan.training import fit_resumable

    history = fit_resumable(
        model,
        data,
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=cfg["verbose"],
        **kwargs,
    )
    if guard.diverged:
        raise cbs.TrainingDiverged(guard.message)
    return history


def _entropy(mixture, n, seed):
    """Monte Carlo entropy ``-E log p(x)`` of a toy mixture (its exact density)."""
    x = mixture.sample(n, seed=seed)
    return float(-np.mean(mixture.log_prob(x))), x


def run_flow(cfg, run_dir, strategy=None):
    """Runs a resolved flow config (``cfg["model"]`` in ``training.FLOW_MODELS``) in ``run_dir``.

    Called by :func:`kerasgan.training.run`, which prepares ``run_dir`` and
    creates the ``tf.distribute`` strategy (default: ``cfg["strategy"]``).

    Returns:
        dict with ``run_dir``, ``history``, ``seconds``, ``config``, ``model``,
        ``export_path`` and the evaluation: ``test_nll`` (nats; with ``kl`` =
        test NLL minus the true entropy when the data has an exact density),
        ``kl`` for energies (KL(q || p), nats) and distillation (KL(student ||
        teacher)), ``sampling_speedup`` for distillation.
    """
    from kerasgan import distribute, flows, training
    from kerasgan import export as export_lib

    if strategy is None:
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
    elif training._is_image_dataset(cfg["dataset"]):
        exported, samples = _run_image_flow(cfg, run_dir, strategy, result)
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
        result["history"] = _fit(
            teacher,
            training._reuse_first(dataset, lambda: training.make_dataset(cfg)[0]),
            cfg,
            callbacks,
            guard,
            cfg["epochs"],
            steps,
        )
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

    kind_info = {"kind": "image"} if samples.ndim == 4 else {"kind": "toy", "sample": samples}
    if samples.ndim == 4:
        samples = np.clip(samples, 0.0, 1.0) * 2.0 - 1.0  # the grid takes [-1, 1]
    _save_final_samples(samples, kind_info, os.path.join(run_dir, "samples.png"))
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


def _digit_levels(cfg):
    """The offline 8x8 digits as integer levels ``0..16``: ``(train, test, num_levels)``."""
    from kerasgan.data import images

    if cfg["dataset"] != "digits":
        raise ValueError(
            "Image flows train on the offline 'digits' set (8x8, 17 grey levels) for now. "
            f"Received: dataset={cfg['dataset']!r}"
        )
    train, _ = images.digits(size=8, split="train", seed=cfg["seed"])
    test, _ = images.digits(size=8, split="test", seed=cfg["seed"])
    # images.digits maps the levels v in {0..16} to v / 8 - 1.
    return np.rint((train + 1.0) * 8.0), np.rint((test + 1.0) * 8.0), 17


def _dequantized_dataset(levels, num_levels, cfg):
    """Batches of ``(k + u) / num_levels``, ``u ~ U[0, 1)`` drawn afresh every epoch."""
    import tensorflow as tf

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


def _image_bits_per_dim(model, levels, num_levels, draws, seed):
    """Bits/dim of integer images: the dequantized NLL averaged over ``draws`` noise draws."""
    from kerasgan import flows

    nlls = []
    for i in range(draws):
        x = flows.dequantize(levels.astype("int64"), num_levels=num_levels, seed=seed + i)
        nlls.append(-np.mean(model.log_prob(x).numpy()))
    nll = float(np.mean(nlls))
    return nll, flows.bits_per_dim(nll, int(np.prod(levels.shape[1:])), num_levels)


def _run_image_flow(cfg, run_dir, strategy, result):
    """Glow / RealNVP on dequantized images by maximum likelihood; bits/dim on the test split."""
    from kerasgan import training

    train, test, num_levels = _digit_levels(cfg)

    def dataset():
        return _dequantized_dataset(train, num_levels, cfg)

    steps = cfg["steps_per_epoch"]
    with strategy.scope():
        model = training.build_image_flow(cfg, train.shape[1:])
        model.compile(
            _optimizer(cfg, cfg["epochs"] * steps),
            jit_compile=cfg["jit_compile"],
            steps_per_execution=cfg["steps_per_execution"],
        )
    callbacks, guard = training.standard_callbacks(
        cfg, run_dir, {"kind": "image", "shape": tuple(train.shape[1:])}
    )
    result["history"] = _fit(model, dataset, cfg, callbacks, guard, cfg["epochs"], steps)
    draws = cfg["dequantize_draws"]
    result["test_nll"], result["test_bits_per_dim"] = _image_bits_per_dim(
        model, test, num_levels, draws, cfg["seed"] + 7
    )
    _, result["train_bits_per_dim"] = _image_bits_per_dim(
        model, train, num_levels, draws, cfg["seed"] + 11
    )
    samples = model.sample(min(cfg["eval_samples"], 64), seed=cfg["seed"] + 1).numpy()
    return model, samples
