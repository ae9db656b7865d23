"""``run(config)``: strategy, data, model, callbacks, fit, evaluate, export.

Recipes are a config plus a call to :func:`main`. A config is a plain dict;
:data:`DEFAULTS` lists every key.

Example:
    >>> from kerasgan import training
    >>> cfg = training.resolve({"name": "doc", "model": "gan", "dataset": "ring8",
    ...                         "epochs": 1, "steps_per_epoch": 2})
    >>> cfg["batch_size"]
    256
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time

import numpy as np

__all__ = [
    "DEFAULTS",
    "MODELS",
    "TOY_SMOKE",
    "FINISHED",
    "FLOW_MODELS",
    "GAN_MODELS",
    "build_flow",
    "build_model",
    "fit_resumable",
    "main",
    "make_dataset",
    "resolve",
    "RunAlreadyFinished",
    "run",
]

FINISHED = "finished.json"  # in the run directory, once the export and checkpoint are durable


class RunAlreadyFinished(Exception):
    """A rerun of a run that completed: its ``finished.json`` is present.

    ``str()`` says when it finished, what it exported, and that ``--fresh``
    (``resume=False``) trains it again.
    """


# GAN classes by class name (what recipes name), and the older lower-case names.
GAN_CLASSES = (
    "GAN",
    "DCGAN",
    "LSGAN",
    "HingeGAN",
    "WGAN",
    "WGANGP",
    "ConditionalGAN",
    "ACGAN",
)
CONDITIONAL_CLASSES = ("ConditionalGAN", "ACGAN")
GAN_ALIASES = {
    "gan": "GAN",
    "minimax": "GAN",  # with loss="minimax"
    "lsgan": "LSGAN",
    "hinge": "HingeGAN",
    "wgan": "WGAN",
    "wgan_gp": "WGANGP",
    "dcgan": "GAN",
}
GAN_MODELS = tuple(GAN_ALIASES) + GAN_CLASSES
# Flows trained by maximum likelihood on data, by reverse KL on an energy (planar,
# radial), or distilled (a MAF teacher fit on data, then an IAF student).
# On images (dataset "digits"): "glow" and "realnvp" are the multi-scale image flows.
FLOW_MODELS = ("maf", "realnvp", "nice", "nsf", "nsf_ar", "glow", "planar", "radial", "distill")
MODELS = GAN_MODELS + FLOW_MODELS

DEFAULTS = {
    "name": None,  # run / export name (required)
    "model": "gan",  # one of MODELS
    "dataset": "grid25",  # a kerasgan.data.toy name, "digits", or a tfds name
    "seed": 0,
    # networks
    "latent_dim": 2,
    "g_hidden_units": [128, 128, 128],
    "d_hidden_units": [128, 128, 128],
    "g_batch_norm": False,
    "sync_batch_norm": None,  # None: synchronized batch norm when training on several replicas
    "d_layer_norm": False,
    "d_spectral_norm": False,
    "data_scale": 1.0,  # vectors: G's output scale / D's input scale (data's spread)
    "image_size": 16,  # images: side of the (square) images
    "base_filters": 32,  # images: DCGAN width
    # game
    "d_steps": None,  # None: the model's default
    "gp_weight": None,
    "gp_target": None,  # 1 (WGAN-GP) or 0 (zero-centred penalty, Thanh-Tung et al. 2019)
    "r1_weight": None,
    "pack": 1,  # PacGAN packing degree
    "loss": None,  # a kerasgan.losses pair name (None: the model's default)
    # conditional models (ConditionalGAN, ACGAN): labels from the dataset
    "num_classes": None,  # None: the dataset's (10 for digits)
    "d_mode": "projection",  # ConditionalGAN's discriminator: "projection" or "concat"
    "conditional_batch_norm": False,  # class-conditional batch norm in the generator
    "aux_weight": 1.0,  # ACGAN: weight of the class loss
    # optimization
    "batch_size": 256,
    "epochs": 10,
    "steps_per_epoch": 100,
    "g_lr": None,  # None: the model's default optimizers
    "d_lr": None,
    "beta_1": None,
    "beta_2": None,
    "lr_decay": False,  # linear decay of both learning rates to 0 over the run
    "num_train_samples": 100_000,
    "tfds_mock": False,  # tests: tfds.testing.mock_data instead of the prepared dataset  # toy data: size of the training set
    "jit_compile": None,  # None: XLA on one device (kerasgan.models.default_jit_compile)
    "steps_per_execution": 1,
    "strategy": "auto",
    # fault tolerance: full-state backups under <run>/backup, resumed by a rerun
    "checkpoint_every": 0,  # also back up every N steps (0: at epoch ends only)
    "resume": True,  # a rerun resumes from the latest backup (False: start afresh)
    "deterministic": False,  # tf.config.experimental.enable_op_determinism() (GPU runs)
    # monitoring and outputs
    "eval_every": 1,
    "eval_samples": 2500,
    "eval_metrics": [],  # image runs: e.g. ["fid_digits", "kid_digits"] (kerasgan.metrics.evaluation)
    "eval_metric_samples": 2000,  # generated images per metric evaluation
    "eval_metric_split": "test",  # the real images' split (the run's dataset)
    "runs_dir": "runs",
    "export_dir": "saved_models",
    "export_version": 1,
    "export": True,
    "tensorboard": True,
    "verbose": 1,
    # flows
    "flow_transforms": 5,  # number of flow layers
    "flow_hidden_units": [64, 64],  # conditioner (MADE / coupling MLP) sizes
    "num_bins": 8,  # neural spline flows
    "spline_bound": 4.0,
    "lr": 1e-3,  # flows: Adam learning rate (cosine-decayed when lr_decay)
    "clipnorm": None,
    "energy": "u1",  # planar/radial: kerasgan.flows.energy_names()
    "anneal_steps": 0,  # reverse-KL fits (planar/radial/distill): beta annealing steps (0: none)
    "student_epochs": 10,  # distill: epochs of the student (teacher: "epochs")
    "warm_start_epochs": 0,  # distill: maximum-likelihood epochs on teacher samples first
    "eval_test_samples": 20_000,  # flows: held-out samples for the test NLL
    "flow_levels": 2,  # image flows: scales (RealNVP) / levels (Glow)
    "flow_steps_per_level": 4,  # Glow: steps per level
    "logit_alpha": 0.05,  # image flows: the logit transform's alpha
    "dequantize_draws": 4,  # image flows: dequantization draws averaged in the test NLL
}


# --smoke settings shared by the 2-D toy recipes: seconds on CPU.
TOY_SMOKE = {
    "epochs": 1,
    "steps_per_epoch": 4,
    "steps_per_execution": 2,
    "eval_samples": 500,
    "num_train_samples": 2000,
}


def resolve(config, overrides=None):
    """Fills defaults and validates a config; ``overrides`` win over ``config``.

    Args:
        config: dict of keys from :data:`DEFAULTS`.
        overrides: optional dict applied on top.

    Returns:
        A new complete config dict.

    Raises:
        ValueError: for unknown keys or bad values.
    """
    cfg = copy.deepcopy(DEFAULTS)
    for source in (config or {}), (overrides or {}):
        unknown = sorted(set(source) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"Unknown config keys {unknown}. Valid keys: {sorted(DEFAULTS)}")
        cfg.update(copy.deepcopy(source))
    if not cfg["name"] or not isinstance(cfg["name"], str):
        raise ValueError(
            f"config 'name' must be a non-empty string. Received: name={cfg['name']!r}"
        )
    if cfg["model"] not in MODELS:
        raise ValueError(
            f"Unknown model. Expected one of {list(MODELS)}. Received: model={cfg['model']!r}"
        )
    for key in (
        "epochs",
        "steps_per_epoch",
        "batch_size",
        "latent_dim",
        "eval_every",
        "eval_samples",
        "flow_transforms",
        "num_bins",
        "student_epochs",
        "flow_levels",
        "flow_steps_per_level",
        "dequantize_draws",
    ):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int. Received: {key}={value!r}")
    every = cfg["checkpoint_every"]
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(
            f"checkpoint_every must be an int >= 0. Received: checkpoint_every={every!r}"
        )
    if cfg["d_steps"] is not None and (not isinstance(cfg["d_steps"], int) or cfg["d_steps"] < 1):
        raise ValueError(f"d_steps must be an int >= 1. Received: d_steps={cfg['d_steps']!r}")
    if cfg["d_mode"] not in ("projection", "concat"):
        raise ValueError(
            f"d_mode must be 'projection' or 'concat'. Received: d_mode={cfg['d_mode']!r}"
        )
    if cfg["loss"] is not None:
        from kerasgan import losses

        if cfg["loss"] not in losses.names():
            raise ValueError(
                f"loss must be one of {losses.names()}. Received: loss={cfg['loss']!r}"
            )
    if cfg["model"] in CONDITIONAL_CLASSES and not _is_image_dataset(cfg["dataset"]):
        raise ValueError(
            f"{cfg['model']} needs a labelled dataset ('digits' or a tfds image dataset with "
            f"labels). Received: dataset={cfg['dataset']!r}"
        )
    return cfg


def is_conditional(cfg) -> bool:
    """Whether the config's model takes labels (ConditionalGAN, ACGAN)."""
    return cfg["model"] in CONDITIONAL_CLASSES


def _is_image_dataset(name):
    from kerasgan.data import images

    return name == "digits" or name in images.TFDS_NAMES


def make_dataset(cfg):
    """Returns ``(dataset, info)`` for a config.

    ``info`` has ``kind`` ("toy" or "image"), ``shape`` (one example), and for
    Gaussian mixtures ``mixture`` (with true modes and exact ``log_prob``).
    """
    import tensorflow as tf

    from kerasgan.data import toy

    name = cfg["dataset"]
    batch = cfg["batch_size"]
    if _is_image_dataset(name):
        from kerasgan.data import images

        size = cfg["image_size"]
        if name == "digits":
            ds = images.digits_dataset(batch_size=batch, size=size, split="train", seed=cfg["seed"])
        else:
            if cfg["tfds_mock"]:
                import tensorflow_datasets as tfds

                with tfds.testing.mock_data(num_examples=4 * batch):
                    ds = images.load_tfds(name, batch_size=batch, seed=cfg["seed"])
            else:
                ds = images.load_tfds(name, batch_size=batch, seed=cfg["seed"])
        info = {"kind": "image"}
        if is_conditional(cfg):
            ds = ds.map(lambda x, y, *rest: (x, tf.cast(y, tf.int32))).repeat()
            shape = tuple(ds.element_spec[0].shape[1:])
            info["num_classes"] = cfg["num_classes"] or (10 if name == "digits" else None)
            if info["num_classes"] is None:
                raise ValueError(
                    f"Set num_classes for the labelled dataset {name!r}. Received: num_classes=None"
                )
        else:
            ds = ds.map(lambda x, *rest: x).repeat()
            shape = tuple(ds.element_spec.shape[1:])
        info["shape"] = shape
        return ds, info
    x = toy.load(name, cfg["num_train_samples"], seed=cfg["seed"])
    info = {"kind": "toy", "shape": (x.shape[1],), "sample": x[:2000]}
    if name in toy.mixture_names():
        info["mixture"] = toy.get_mixture(name)
    ds = (
        tf.data.Dataset.from_tensor_slices(x)
        .shuffle(min(len(x), 100_000), seed=cfg["seed"], reshuffle_each_iteration=True)
        .repeat()
        .batch(batch, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return ds, info


def _optimizers(cfg, model):
    """``{player: optimizer}``: the model's defaults with the config's learning rates and betas.

    A player with prefix ``p`` takes ``cfg["<p>_lr"]`` when set; the discriminator's
    learning-rate decay runs over ``d_steps`` times as many updates.
    """
    import keras

    defaults = model.player_default_optimizers()
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
    for player, default in defaults.items():
        prefix = model.players[player][1]
        updates = total * (model.d_steps if player == "discriminator" else 1)
        chosen[player] = make(default, cfg.get(f"{prefix}_lr"), updates)
    return chosen


def build_flow(cfg, event_size, inverse_autoregressive=False):
    """The flow layers named by ``cfg["model"]`` (see :data:`FLOW_MODELS`)."""
    from kerasgan import flows

    kind = "maf" if cfg["model"] == "distill" else cfg["model"]
    hidden = cfg["flow_hidden_units"]
    layers = []
    for k in range(cfg["flow_transforms"]):
        order = "left-to-right" if k % 2 == 0 else "right-to-left"
        if kind == "maf":
            cls = flows.IAF if inverse_autoregressive else flows.MAF
            layers.append(cls(hidden, input_order=order, name=f"{cls.__name__.lower()}_{k}"))
        elif kind == "nsf_ar":
            layers.append(
                flows.NeuralSplineAutoregressive(
                    cfg["num_bins"], cfg["spline_bound"], hidden_units=hidden, input_order=order
                )
            )
        elif kind == "realnvp":
            layers.append(flows.AffineCoupling(hidden, parity=k % 2))
        elif kind == "glow":
            layers += flows.glow_step(hidden, parity=k % 2, seed=k)
        elif kind == "nice":
            layers.append(flows.AdditiveCoupling(hidden, parity=k % 2))
        elif kind == "nsf":
            layers.append(
                flows.NeuralSplineCoupling(
                    hidden, parity=k % 2, num_bins=cfg["num_bins"], bound=cfg["spline_bound"]
                )
            )
        elif kind == "planar":
            layers.append(flows.Planar())
        elif kind == "radial":
            layers.append(flows.Radial())
        else:  # pragma: no cover - resolve() validates the name
            raise ValueError(f"Unknown flow model {kind!r}")
    return flows.FlowModel((event_size,), layers, seed=cfg["seed"])


def build_image_flow(cfg, image_shape):
    """The multi-scale image flow named by ``cfg["model"]`` ("glow" or "realnvp") on data in [0, 1].

    A :class:`kerasgan.flows.LogitTransform` comes first (data side), then
    :func:`kerasgan.flows.glow` or :func:`kerasgan.flows.realnvp_image`.
    """
    from kerasgan import flows

    hidden = cfg["flow_hidden_units"]
    if cfg["model"] == "glow":
        body = flows.glow(
            image_shape,
            num_levels=cfg["flow_levels"],
            steps_per_level=cfg["flow_steps_per_level"],
            hidden_channels=hidden,
            seed=cfg["seed"],
        )
    elif cfg["model"] == "realnvp":
        body = flows.realnvp_image(
            image_shape, num_scales=cfg["flow_levels"], hidden_channels=hidden
        )
    else:
        raise ValueError(
            "Image flows are 'glow' and 'realnvp'. Received: "
            f"model={cfg['model']!r} with dataset={cfg['dataset']!r}"
        )
    layers = [flows.LogitTransform(cfg["logit_alpha"])] + body
    return flows.FlowModel(image_shape, layers, seed=cfg["seed"])


def build_model(cfg, data_shape, num_classes=None):
    """Builds (not compiles) the GAN named by ``cfg["model"]`` for data of ``data_shape``.

    ``cfg["model"]`` is a class name (``"WGANGP"``, ``"ConditionalGAN"``...) or an
    older lower-case name (``"wgan_gp"``). Call it in the strategy's scope: with
    ``cfg["sync_batch_norm"]`` None, batch norm is synchronized across replicas
    when there are several.
    """
    import kerasgan
    from kerasgan.gan import networks as models

    kind = cfg["model"]
    class_name = GAN_ALIASES.get(kind, kind)
    extra = {"seed": cfg["seed"], "pack": cfg["pack"]}
    if cfg["d_steps"] is not None:
        extra["d_steps"] = cfg["d_steps"]
    for key in ("gp_weight", "gp_target", "r1_weight"):
        if cfg[key] is not None:
            extra[key] = cfg[key]
    if kind == "minimax":
        extra["loss"] = "minimax"
    if cfg["loss"] is not None:
        extra["loss"] = cfg["loss"]
    latent = cfg["latent_dim"]
    sync = cfg["sync_batch_norm"]
    if sync is None:  # called in the strategy's scope
        import tensorflow as tf

        sync = tf.distribute.get_strategy().num_replicas_in_sync > 1
    cls = getattr(kerasgan, class_name)
    if class_name in CONDITIONAL_CLASSES:
        if len(data_shape) != 3:
            raise ValueError(f"{class_name} recipes take images. Received: shape {data_shape}")
        if cfg["pack"] != 1:
            raise ValueError(f"{class_name} does not pack samples. Received: pack={cfg['pack']}")
        extra.pop("pack")
        g = models.build_conditional_dcgan_generator(
            latent,
            num_classes,
            data_shape,
            cfg["base_filters"],
            conditional_batch_norm=cfg["conditional_batch_norm"],
        )
        mode = "acgan" if class_name == "ACGAN" else cfg["d_mode"]
        d = models.build_conditional_dcgan_discriminator(
            data_shape,
            num_classes,
            cfg["base_filters"],
            mode=mode,
            spectral_norm=cfg["d_spectral_norm"],
            normalization=None if cfg["d_spectral_norm"] else "layer",
        )
        if class_name == "ACGAN":
            extra["aux_weight"] = cfg["aux_weight"]
        return cls(g, d, latent_dim=latent, num_classes=num_classes, **extra)
    if len(data_shape) == 3:
        critic_norm = None if class_name in ("WGANGP", "WGAN") else "batch"
        g = models.build_dcgan_generator(
            latent, data_shape, cfg["base_filters"], sync_batch_norm=sync
        )
        packed = (*data_shape[:-1], data_shape[-1] * cfg["pack"])
        d = models.build_dcgan_discriminator(
            packed, cfg["base_filters"], normalization=critic_norm, sync_batch_norm=sync
        )
    elif len(data_shape) == 1:
        g = models.build_mlp_generator(
            latent,
            data_shape[0],
            cfg["g_hidden_units"],
            batch_norm=cfg["g_batch_norm"],
            output_scale=cfg["data_scale"],
            sync_batch_norm=sync,
        )
        d = models.build_mlp_discriminator(
            data_shape[0],
            cfg["d_hidden_units"],
            spectral_norm=cfg["d_spectral_norm"],
            layer_norm=cfg["d_layer_norm"],
            pack=cfg["pack"],
            input_scale=cfg["data_scale"],
        )
    else:
        raise ValueError(f"Data must be vectors or images. Received: example shape {data_shape}")
    if class_name == "DCGAN":
        cls = kerasgan.GAN  # the DCGAN networks are built above; DCGAN only adds defaults
    return cls(g, d, latent_dim=latent, **extra)


def run(config, overrides=None):
    """Trains, monitors, evaluates and exports one configuration.

    Writes ``<runs_dir>/<name>/`` (TensorBoard logs under ``tb/``,
    ``metrics.jsonl``, ``samples.png``, ``checkpoint.keras``, ``config.json``)
    and the SavedModel ``<export_dir>/<name>/<export_version>/``.

    Args:
        config: recipe config (see :data:`DEFAULTS`).
        overrides: dict applied on top (``--smoke`` settings, CLI flags).

    Returns:
        dict with ``run_dir``, ``export_path``, ``history``, ``seconds`` and,
        for Gaussian mixtures, ``mode_coverage`` (a dict).

    Raises:
        kerasgan.callbacks.TrainingDiverged: a loss became NaN/Inf (the last
            good checkpoint is kept).
    """
    import keras

    from kerasgan import callbacks as cbs
    from kerasgan import distribute
    from kerasgan import export as export_lib

    cfg = resolve(config, overrides)
    keras.utils.set_random_seed(cfg["seed"])
    if cfg["deterministic"]:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    # Multi-worker: create the strategy before other TF work (TF's requirement).
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
    os.makedirs(run_dir, exist_ok=True)
    _prepare_run_dir(cfg, run_dir)
    if cfg["model"] in FLOW_MODELS:
        from kerasgan import flow_training

        result = flow_training.run_flow(cfg, run_dir, strategy)
        _finish(run_dir, cfg, result)
        return result

    dataset, info = make_dataset(cfg)
    with strategy.scope():
        classes = {"num_classes": info["num_classes"]} if "num_classes" in info else {}
        model = build_model(cfg, info["shape"], **classes)
        model.compile(
            optimizers=_optimizers(cfg, model),
            jit_compile=cfg["jit_compile"],
            steps_per_execution=cfg["steps_per_execution"],
        )

    callbacks, guard = standard_callbacks(cfg, run_dir, info)
    mixture = info.get("mixture")

    start = time.perf_counter()
    history = fit_resumable(
        model,
        _reuse_first(dataset, lambda: make_dataset(cfg)[0]),
        epochs=cfg["epochs"],
        steps_per_epoch=cfg["steps_per_epoch"],
        callbacks=callbacks,
        verbose=cfg["verbose"],
    )
    seconds = time.perf_counter() - start
    if guard.diverged:
        raise cbs.TrainingDiverged(guard.message)

    result = {"run_dir": run_dir, "history": history, "seconds": seconds, "config": cfg}
    if model.conditional:  # one row of 8 per class
        labels = np.repeat(np.arange(model.num_classes), 8)
        samples = model.sample(len(labels), labels=labels, seed=cfg["seed"] + 1)
    else:
        samples = model.sample(cfg["eval_samples"], seed=cfg["seed"] + 1)
    _save_final_samples(samples, info, os.path.join(run_dir, "samples.png"))
    if mixture is not None and np.all(mixture.stds == mixture.stds[0]):
        from kerasgan.metrics.mode_coverage import mode_coverage

        result["mode_coverage"] = mode_coverage(samples, mixture.means, mixture.std).as_dict()
    if cfg["export"]:
        result["export_path"] = export_lib.export_generator(
            model, os.path.join(cfg["export_dir"], cfg["name"]), version=cfg["export_version"]
        )
    result["model"] = model
    # Only now, with the export and checkpoint.keras durable, may the backups go: a kill
    # at any instant before this resumes from the final backup (and exports again).
    _finish(run_dir, cfg, result)
    return result


def _finish(run_dir, cfg, result):
    """Marks the run finished (``finished.json``, atomic), then removes its backups."""
    from kerasgan.callbacks.resume import _write_json_atomic

    record = {
        "name": cfg["name"],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "epochs": cfg["epochs"],
        "steps_per_epoch": cfg["steps_per_epoch"],
        "export_path": result.get("export_path"),
        "seconds": result.get("seconds"),
    }
    _write_json_atomic(os.path.join(run_dir, FINISHED), record)
    _remove_backups(run_dir)


def _already_finished(run_dir):
    """The ``finished.json`` record of a completed run, or None."""
    path = os.path.join(run_dir, FINISHED)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = {}
    return record if isinstance(record, dict) else {}


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
    import keras

    from kerasgan import callbacks as cbs

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


def _reuse_first(dataset, make):
    """A data factory for :func:`fit_resumable`: ``dataset`` (not yet iterated) for the
    first ``fit``, a freshly built one from ``make()`` for any later one."""
    pending = [dataset]

    def data():
        return pending.pop() if pending else make()

    return data


def _prepare_run_dir(cfg, run_dir):
    """Writes ``config.json``; starts or resumes ``metrics.jsonl`` and the backups."""
    import shutil

    from kerasgan.callbacks import read_backup_state

    finished = _already_finished(run_dir) if cfg["resume"] else None
    if finished is not None:
        _remove_backups(run_dir)  # a kill between finished.json and their removal left them
        export = finished.get("export_path")
        raise RunAlreadyFinished(
            f"Run {cfg['name']!r} already finished ({finished.get('finished', 'time unknown')}, "
            f"{finished.get('epochs', '?')} epochs; {os.path.join(run_dir, FINISHED)})"
            + (f"; its export: {export}" if export else "")
            + ". Pass --fresh (resume=False) to train it again."
        )
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    state = None
    if cfg["resume"]:
        state = read_backup_state(os.path.join(run_dir, "backup"))
    else:
        _remove_backups(run_dir)
        if os.path.exists(os.path.join(run_dir, FINISHED)):
            os.remove(os.path.join(run_dir, FINISHED))
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(metrics_path):
        return
    if state is None:
        os.remove(metrics_path)
        return
    # Resuming: keep the records of the epochs the backup completed.
    with open(metrics_path) as f:
        kept = [line for line in f if line.strip() and json.loads(line)["epoch"] <= state["epoch"]]
    tmp = metrics_path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(kept)
    shutil.move(tmp, metrics_path)


def _remove_backups(run_dir):
    """Removes a finished run's backups (``backup/`` and ``student/backup/``)."""
    import shutil

    for sub in ("backup", os.path.join("student", "backup")):
        path = os.path.join(run_dir, sub)
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)  # not ours to keep: a file where the backups belong
        else:
            shutil.rmtree(path, ignore_errors=True)


def standard_callbacks(cfg, run_dir, info):
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
    import keras

    from kerasgan import callbacks as cbs

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
            if cfg["model"] in FLOW_MODELS and (info is None or info["shape"] == (2,)):
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
    from kerasgan import callbacks as cbs
    from kerasgan.metrics.evaluation import Evaluator

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


def _save_final_samples(samples, info, path):
    from kerasgan.callbacks import image_grid, scatter_png

    if info["kind"] == "toy":
        mixture = info.get("mixture")
        png = scatter_png(
            samples,
            None if mixture is None else mixture.means,
            None if mixture is not None else info["sample"],
            title="final samples",
        )
        with open(path, "wb") as f:
            f.write(png)
    else:
        import tensorflow as tf

        rows = info.get("num_classes")  # conditional: one row per class
        grid = image_grid(samples if rows else samples[:64], rows=rows, pad=2 if rows else 0)
        tf.io.write_file(path, tf.io.encode_png(grid))


def _parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny run in seconds (used by the tests)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--strategy", choices=["auto", "default", "mirrored", "multi_worker"])
    p.add_argument("--runs-dir")
    p.add_argument("--export-dir")
    p.add_argument("--no-export", action="store_true")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        help="full-state backup every N steps as well as at epoch ends (a rerun resumes)",
    )
    p.add_argument("--fresh", action="store_true", help="ignore (and delete) earlier backups")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(config, smoke=None, argv=None, description=None):
    """Command-line entry point of a recipe.

    Args:
        config: the recipe's config.
        smoke: overrides applied with ``--smoke``.
        argv: arguments (default ``sys.argv[1:]``).
        description: help text.

    Returns:
        Process exit code (0 on success).
    """
    from kerasgan.callbacks import BackupError, TrainingDiverged

    args = _parser(description or f"Train {config.get('name')}").parse_args(argv)
    overrides = dict(smoke or {}) if args.smoke else {}
    for flag in (
        "epochs",
        "steps_per_epoch",
        "batch_size",
        "seed",
        "strategy",
        "runs_dir",
        "export_dir",
        "checkpoint_every",
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides[flag] = value
    if args.no_export:
        overrides["export"] = False
    if args.fresh:
        overrides["resume"] = False
    if args.quiet:
        overrides["verbose"] = 2
    try:
        cfg = resolve(config, overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(cfg, indent=2))
        return 0
    try:
        result = run(cfg)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except BackupError as e:  # backups that do not fit this run, or none that verifies
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RunAlreadyFinished as e:
        print(e)
        return 0
    print(
        f"\nTrained {cfg['name']} in {result['seconds']:.1f} s; run directory: {result['run_dir']}"
    )
    if "mode_coverage" in result:
        mc = result["mode_coverage"]
        print(
            f"Mode coverage ({cfg['eval_samples']} samples): {mc['modes']}/{mc['num_modes']} modes, "
            f"{mc['hq_percent']:.1f}% high-quality samples, reverse KL {mc['reverse_kl']:.3f}"
        )
    history = result.get("history") or {}
    scored = [m for m in cfg["eval_metrics"] if history.get(m)]
    if scored:
        print(
            "Evaluation (last): "
            + ", ".join(f"{m} {history[m][-1]:.4g}" for m in scored)
            + f" ({cfg['eval_metric_samples']} samples vs the {cfg['eval_metric_split']} split)"
        )
    if "test_nll" in result:
        print(f"Held-out NLL: {result['test_nll']:.4f} nats")
    if "test_bits_per_dim" in result:
        print(
            f"Held-out bits/dim: {result['test_bits_per_dim']:.4f} "
            f"(train {result['train_bits_per_dim']:.4f})"
        )
    if "kl" in result:
        what = {
            "distill": "KL(student || teacher)",
            "planar": "KL(q || target)",
            "radial": "KL(q || target)",
        }.get(cfg["model"], "KL(data || flow) = test NLL - true entropy")
        print(f"{what}: {result['kl']:.4f} nats")
    if "kl_after_warm_start" in result:
        print(f"(KL after the maximum-likelihood warm start: {result['kl_after_warm_start']:.4f})")
    if "entropy" in result and cfg["model"] == "distill":
        print(
            f"Teacher: test NLL - true entropy = {result['test_nll'] - result['entropy']:.4f} nats"
        )
    if "sampling_speedup" in result:
        print(f"Student sampling speed-up over the teacher: {result['sampling_speedup']:.1f}x")
    if "export_path" in result:
        if cfg["model"] in ("planar", "radial"):
            what = "sample: num_samples -> samples, log_prob"
        elif cfg["model"] in FLOW_MODELS:
            what = "log_prob, sample"
        else:
            what = "serving_default: z -> samples"
        print(f"SavedModel ({what}): {result['export_path']}")
    print(f"Final samples: {os.path.join(result['run_dir'], 'samples.png')}")
    print(f"TensorBoard: tensorboard --logdir {os.path.join(result['run_dir'], 'tb')}")
    return 0
