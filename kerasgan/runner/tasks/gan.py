"""Task ``"gan"``: every adversarial model (GAN classes by class name in the registry).

Builds the networks the data calls for (MLPs for vectors, DCGAN convolutions for
images, the conditional DCGAN pair for labelled images), compiles one optimizer per
player, fits, then writes ``samples.png`` (one row per class when conditional),
mode coverage on equal-std Gaussian mixtures, and the generator's SavedModel.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf

from kerasgan import export as export_lib
from kerasgan.gan import networks
from kerasgan.metrics.mode_coverage import mode_coverage
from kerasgan.runner import loop, registry, rundir
from kerasgan.runner.data import make_dataset

__all__ = ["build_model", "build_optimizers", "run"]


def build_model(cfg, data_shape, num_classes=None):
    """Builds (not compiles) the GAN named by ``cfg["model"]`` for data of ``data_shape``.

    Call it in the strategy's scope: with ``cfg["sync_batch_norm"]`` None, batch
    norm is synchronized across replicas when there are several.

    Args:
        cfg: a resolved config.
        data_shape: one example's shape, ``(D,)`` or ``(H, W, C)``.
        num_classes: classes of a conditional model's labels.

    Returns:
        The model (a :class:`kerasgan.gan.GAN` subclass).

    Raises:
        ValueError: data of another rank, or a conditional model on vectors.
    """
    entry = registry.get_model(cfg["model"])
    options = entry.options
    extra = {k: cfg[k] for k in options.get("constructor_keys", ()) if cfg[k] is not None}
    latent = cfg["latent_dim"]
    sync = cfg["sync_batch_norm"]
    if sync is None:
        sync = tf.distribute.get_strategy().num_replicas_in_sync > 1
    if options.get("conditional"):
        if len(data_shape) != 3:
            raise ValueError(f"{entry.name} recipes take images. Received: shape {data_shape}")
        if cfg["pack"] != 1:
            raise ValueError(f"{entry.name} does not pack samples. Received: pack={cfg['pack']}")
        g = networks.build_conditional_dcgan_generator(
            latent,
            num_classes,
            data_shape,
            cfg["base_filters"],
            conditional_batch_norm=cfg["conditional_batch_norm"],
        )
        d = networks.build_conditional_dcgan_discriminator(
            data_shape,
            num_classes,
            cfg["base_filters"],
            mode=options.get("d_mode", cfg["d_mode"]),
            spectral_norm=cfg["d_spectral_norm"],
            normalization=None if cfg["d_spectral_norm"] else "layer",
        )
        return entry.cls(g, d, latent_dim=latent, num_classes=num_classes, **extra)
    if len(data_shape) == 3:
        g = networks.build_dcgan_generator(
            latent, data_shape, cfg["base_filters"], sync_batch_norm=sync
        )
        packed = (*data_shape[:-1], data_shape[-1] * cfg["pack"])
        d = networks.build_dcgan_discriminator(
            packed,
            cfg["base_filters"],
            normalization=options.get("critic_normalization", "batch"),
            sync_batch_norm=sync,
        )
    elif len(data_shape) == 1:
        g = networks.build_mlp_generator(
            latent,
            data_shape[0],
            cfg["g_hidden_units"],
            batch_norm=cfg["g_batch_norm"],
            output_scale=cfg["data_scale"],
            sync_batch_norm=sync,
        )
        d = networks.build_mlp_discriminator(
            data_shape[0],
            cfg["d_hidden_units"],
            spectral_norm=cfg["d_spectral_norm"],
            layer_norm=cfg["d_layer_norm"],
            pack=cfg["pack"],
            input_scale=cfg["data_scale"],
        )
    else:
        raise ValueError(f"Data must be vectors or images. Received: example shape {data_shape}")
    return entry.cls(g, d, latent_dim=latent, **extra)


def build_optimizers(cfg, model):
    """``{player: optimizer}``: the model's defaults with the config's learning rates and betas.

    A player with prefix ``p`` takes ``cfg["<p>_lr"]`` when the config has that key and
    it is set; ``beta_1``/``beta_2`` apply to every optimizer that has them. With
    ``lr_decay``, each learning rate decays linearly to 0 over the player's updates
    (the discriminator's: ``d_steps`` per step).
    """
    total = cfg["epochs"] * cfg["steps_per_epoch"]

    def make(default, lr, steps):
        conf = default.get_config()
        if lr is not None:
            conf["learning_rate"] = lr
        for key in ("beta_1", "beta_2"):
            if cfg[key] is not None and key in conf:
                conf[key] = cfg[key]
        if cfg["lr_decay"]:
            base = conf["learning_rate"]
            if not isinstance(base, (int, float)):
                base = float(keras.ops.convert_to_numpy(base))
            conf["learning_rate"] = keras.optimizers.schedules.PolynomialDecay(
                base, decay_steps=steps, end_learning_rate=0.0
            )
        return default.__class__.from_config(conf)

    chosen = {}
    for player, default in model.player_default_optimizers().items():
        prefix = model.players[player][1]
        updates = total * (model.d_steps if player == "discriminator" else 1)
        chosen[player] = make(default, cfg.get(f"{prefix}_lr"), updates)
    return chosen


def run(cfg, run_dir, strategy):
    """Runs a resolved GAN config in ``run_dir`` under ``strategy``.

    Returns:
        dict with ``run_dir``, ``history``, ``seconds``, ``config``, ``model``,
        ``export_path`` (when exporting) and, on equal-std Gaussian mixtures,
        ``mode_coverage`` (a dict).
    """
    dataset, info = make_dataset(cfg)
    with strategy.scope():
        classes = {"num_classes": info["num_classes"]} if "num_classes" in info else {}
        model = build_model(cfg, info["shape"], **classes)
        model.compile(
            optimizers=build_optimizers(cfg, model),
            jit_compile=cfg["jit_compile"],
            steps_per_execution=cfg["steps_per_execution"],
        )
    callbacks, guard = loop.standard_callbacks(cfg, run_dir, info)
    start = time.perf_counter()
    history = loop.fit_checked(
        model,
        loop.reuse_first(dataset, lambda: make_dataset(cfg)[0]),
        cfg,
        callbacks,
        guard,
        epochs=cfg["epochs"],
    )
    result = {
        "run_dir": run_dir,
        "history": history,
        "seconds": time.perf_counter() - start,
        "config": cfg,
    }
    if model.conditional:  # one row of 8 per class
        labels = np.repeat(np.arange(model.num_classes), 8)
        samples = model.sample(len(labels), labels=labels, seed=cfg["seed"] + 1)
    else:
        samples = model.sample(cfg["eval_samples"], seed=cfg["seed"] + 1)
    rundir.save_samples(samples, info, os.path.join(run_dir, "samples.png"))
    mixture = info.get("mixture")
    if mixture is not None and np.all(mixture.stds == mixture.stds[0]):
        result["mode_coverage"] = mode_coverage(samples, mixture.means, mixture.std).as_dict()
    if cfg["export"]:
        result["export_path"] = export_lib.export_generator(
            model, os.path.join(cfg["export_dir"], cfg["name"]), version=cfg["export_version"]
        )
    result["model"] = model
    return result
