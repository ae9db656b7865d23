"""Recipe configs: five sections (data / model / loss / optimization / run), validated.

A config is a dict::

    {
        "name": "wgan_gp_grid25",
        "data": {"dataset": "grid25"},
        "model": {"class": "WGANGP", "latent_dim": 2, "g_hidden_units": [400] * 4},
        "loss": {"gp_weight": 10.0},
        "optimization": {"batch_size": 256, "epochs": 4, "g_lr": 2e-4},
        "run": {"seed": 0, "checkpoint_every": 100},
    }

``"model": "WGANGP"`` is short for ``{"class": "WGANGP"}`` (flows may write
``{"family": "maf"}``) and ``"loss": "hinge"`` for
``{"pair": "hinge"}``. Every key belongs to exactly one section (:data:`SECTIONS`), so a
key may also be given flat at the top level (``{"name": ..., "epochs": 3}``): CLI flags
and test overrides do that. :func:`resolve` returns the complete flat dict the
tasks read (``cfg["epochs"]``); :func:`sectioned` turns it back into sections.

Example:
    >>> from kerasgan.runner import config
    >>> cfg = config.resolve({"name": "doc", "model": "GAN", "data": {"dataset": "ring8"}})
    >>> cfg["batch_size"], config.sectioned(cfg)["optimization"]["batch_size"]
    (256, 256)
"""

from __future__ import annotations

import copy
import math
import numbers

__all__ = ["DEFAULTS", "SECTIONS", "SECTION_NAMES", "TOY_SMOKE", "resolve", "sectioned"]

SECTION_NAMES = ("data", "model", "loss", "optimization", "run")
# Inside a section, these names stand for the flat keys "model" and "loss".
# ("family" reads better for flows: {"model": {"family": "maf"}}.)
_RENAMED = {("model", "class"): "model", ("model", "family"): "model", ("loss", "pair"): "loss"}


# --- validators: each returns the (normalized) value or raises ValueError -------------------------


def _fail(key, value, expected):
    raise ValueError(f"{key} must be {expected}. Received: {key}={value!r}")


def _int(low, optional=False):
    def check(key, value):
        if value is None and optional:
            return None
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low:
            return int(value)
        _fail(key, value, f"an int >= {low}" + (" or None" if optional else ""))

    return check


def _number(low=0.0, strict=True, optional=False):
    def check(key, value):
        if value is None and optional:
            return None
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            v = float(value)
            if math.isfinite(v) and (v > low if strict else v >= low):
                return v
        op = ">" if strict else ">="
        _fail(key, value, f"a finite number {op} {low}" + (" or None" if optional else ""))

    return check


def _bool(optional=False):
    def check(key, value):
        if isinstance(value, bool) or (value is None and optional):
            return value
        _fail(key, value, "True or False" + (" or None" if optional else ""))

    return check


def _string(optional=False, choices=None):
    def check(key, value):
        if value is None and optional:
            return None
        if isinstance(value, str) and value and (choices is None or value in choices):
            return value
        _fail(key, value, f"one of {list(choices)}" if choices else "a non-empty string")

    return check


def _units(key, value):
    if (
        isinstance(value, (list, tuple))
        and value
        and all(
            isinstance(u, numbers.Integral) and not isinstance(u, bool) and u > 0 for u in value
        )
    ):
        return [int(u) for u in value]
    _fail(key, value, "a non-empty list of positive ints")


def _strings(key, value):
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return list(value)
    _fail(key, value, "a list of names")


def _jit(key, value):
    if value is None or isinstance(value, bool) or value == "auto":
        return value
    _fail(key, value, "True, False, 'auto' or None")


def _any(key, value):
    return value


# --- the schema: key -> (section, default, validator, help) ---------------------------------------

SCHEMA = {
    # data
    "dataset": ("data", "grid25", _string(), "a kerasgan.data.toy name, 'digits', or a tfds name"),
    "image_size": ("data", 16, _int(1), "images: side of the (square) images"),
    "num_train_samples": ("data", 100_000, _int(1), "toy data: size of the training set"),
    "data_scale": ("data", 1.0, _number(), "vectors: G's output / D's input scale"),
    "num_classes": (
        "data",
        None,
        _int(2, optional=True),
        "labelled data: classes (None: the dataset's)",
    ),
    "tfds_mock": (
        "data",
        False,
        _bool(),
        "tests: tfds.testing.mock_data instead of the prepared dataset",
    ),
    "logit_alpha": (
        "data",
        0.05,
        _number(0.0, strict=False),
        "image flows: the logit transform's alpha",
    ),
    # model
    "model": ("model", "GAN", _string(), "a model class or flow family name (runner.registry)"),
    "latent_dim": ("model", 2, _int(1), "GAN latent size"),
    "g_hidden_units": ("model", [128, 128, 128], _units, "MLP generator widths"),
    "d_hidden_units": ("model", [128, 128, 128], _units, "MLP discriminator widths"),
    "g_batch_norm": ("model", False, _bool(), "batch norm in the MLP generator"),
    "sync_batch_norm": (
        "model",
        None,
        _bool(optional=True),
        "None: synchronized on several replicas",
    ),
    "d_layer_norm": ("model", False, _bool(), "layer norm in the MLP discriminator"),
    "d_spectral_norm": ("model", False, _bool(), "spectral norm in the discriminator"),
    "base_filters": ("model", 32, _int(1), "images: DCGAN width"),
    "pack": ("model", 1, _int(1), "PacGAN packing degree"),
    "d_mode": (
        "model",
        "projection",
        _string(choices=("projection", "concat")),
        "ConditionalGAN's D",
    ),
    "conditional_batch_norm": ("model", False, _bool(), "class-conditional batch norm in G"),
    "flow_transforms": ("model", 5, _int(1), "flows: number of layers"),
    "flow_hidden_units": ("model", [64, 64], _units, "flows: conditioner widths"),
    "num_bins": ("model", 8, _int(2), "neural spline flows: bins"),
    "spline_bound": ("model", 4.0, _number(), "neural spline flows: the spline's interval"),
    "flow_levels": ("model", 2, _int(1), "image flows: scales (RealNVP) / levels (Glow)"),
    "flow_steps_per_level": ("model", 4, _int(1), "Glow: steps per level"),
    "energy": ("model", "u1", _string(), "planar/radial: kerasgan.flows.energy_names()"),
    # loss
    "loss": ("loss", None, _string(optional=True), "a kerasgan.losses pair (None: the model's)"),
    "d_steps": ("loss", None, _int(1, optional=True), "D updates per G update (None: the model's)"),
    "gp_weight": (
        "loss",
        None,
        _number(0.0, strict=False, optional=True),
        "gradient penalty weight",
    ),
    "gp_target": ("loss", None, _number(0.0, strict=False, optional=True), "1 (WGAN-GP) or 0"),
    "r1_weight": ("loss", None, _number(0.0, strict=False, optional=True), "R1 penalty weight"),
    "aux_weight": ("loss", 1.0, _number(0.0, strict=False), "ACGAN: weight of the class loss"),
    "aux_fake_in_discriminator": (
        "loss",
        True,
        _bool(),
        "ACGAN: D's class loss also on generated samples (the paper's)",
    ),
    "anneal_steps": ("loss", 0, _int(0), "reverse-KL fits: beta annealing steps"),
    # optimization
    "batch_size": ("optimization", 256, _int(1), "global batch size"),
    "epochs": ("optimization", 10, _int(1), "epochs (flows distilled: the teacher's)"),
    "steps_per_epoch": ("optimization", 100, _int(1), "steps per epoch"),
    "g_lr": ("optimization", None, _number(optional=True), "None: the model's default optimizers"),
    "d_lr": ("optimization", None, _number(optional=True), "discriminator learning rate"),
    "beta_1": ("optimization", None, _number(0.0, strict=False, optional=True), "Adam beta_1"),
    "beta_2": ("optimization", None, _number(0.0, strict=False, optional=True), "Adam beta_2"),
    "lr_decay": ("optimization", False, _bool(), "decay learning rates to 0 (flows: cosine)"),
    "lr": ("optimization", 1e-3, _number(), "flows: Adam learning rate"),
    "clipnorm": ("optimization", None, _number(optional=True), "flows: gradient clipping norm"),
    "student_epochs": ("optimization", 10, _int(1), "distill: the student's epochs"),
    "warm_start_epochs": ("optimization", 0, _int(0), "distill: MLE epochs on teacher samples"),
    "jit_compile": ("optimization", None, _jit, "None: XLA on one device"),
    "steps_per_execution": ("optimization", 1, _int(1), "steps per compiled call"),
    # run
    "seed": ("run", 0, _int(0), "seeds data, networks and sampling"),
    "strategy": (
        "run",
        "auto",
        _string(choices=("auto", "default", "mirrored", "multi_worker")),
        "tf.distribute strategy",
    ),
    "checkpoint_every": ("run", 0, _int(0), "backup every N steps as well (0: epoch ends)"),
    "resume": ("run", True, _bool(), "a rerun resumes from the latest backup"),
    "deterministic": ("run", False, _bool(), "tf.config.experimental.enable_op_determinism()"),
    "eval_every": ("run", 1, _int(1), "epochs between evaluations"),
    "eval_samples": ("run", 2500, _int(1), "samples for mode coverage / plots"),
    "eval_metrics": ("run", [], _strings, "image runs: e.g. ['fid_digits']"),
    "eval_metric_samples": ("run", 2000, _int(1), "generated images per metric evaluation"),
    "eval_metric_split": ("run", "test", _string(), "the real images' split"),
    "eval_test_samples": ("run", 20_000, _int(1), "flows: held-out samples for the test NLL"),
    "dequantize_draws": ("run", 4, _int(1), "image flows: dequantization draws in the test NLL"),
    "runs_dir": ("run", "runs", _string(), "where run directories go"),
    "export_dir": ("run", "saved_models", _string(), "SavedModel export root"),
    "export_version": ("run", 1, _int(1), "export version number"),
    "export": ("run", True, _bool(), "export a SavedModel at the end"),
    "tensorboard": ("run", True, _bool(), "TensorBoard logs under <run>/tb"),
    "verbose": ("run", 1, _int(0), "fit's verbosity"),
}

DEFAULTS = {"name": None, **{key: spec[1] for key, spec in SCHEMA.items()}}
SECTIONS = {s: tuple(k for k, spec in SCHEMA.items() if spec[0] == s) for s in SECTION_NAMES}

# --smoke settings shared by the 2-D toy recipes: seconds on CPU.
TOY_SMOKE = {
    "epochs": 1,
    "steps_per_epoch": 4,
    "steps_per_execution": 2,
    "eval_samples": 500,
    "num_train_samples": 2000,
}


def _flatten(config, where):
    """One config (sectioned, flat, or mixed) as flat ``{key: value}``."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(f"{where} must be a dict. Received: {type(config).__name__} {config!r}")
    flat = {}

    def put(key, value, origin):
        if key in flat:
            raise ValueError(f"{where}: {key!r} is given twice ({origin} and another place)")
        flat[key] = copy.deepcopy(value)

    for key, value in config.items():
        if key in SECTION_NAMES and isinstance(value, dict):
            for inner, inner_value in value.items():
                flat_key = _RENAMED.get((key, inner), inner)
                if flat_key not in SCHEMA or (flat_key == inner and flat_key in _RENAMED.values()):
                    raise ValueError(
                        f"{where}: unknown key {inner!r} in section {key!r}. Keys of {key!r}: "
                        f"{sorted(_section_keys(key))}"
                    )
                if SCHEMA[flat_key][0] != key:
                    raise ValueError(
                        f"{where}: {inner!r} belongs in section {SCHEMA[flat_key][0]!r}, not "
                        f"{key!r}. Received: {key}={{{inner!r}: {inner_value!r}}}"
                    )
                put(flat_key, inner_value, f"{key}.{inner}")
        elif key == "name" or key in SCHEMA:
            put(key, value, key)
        else:
            raise ValueError(
                f"{where}: unknown key {key!r}. A config has 'name' and the sections "
                f"{list(SECTION_NAMES)}; flat keys must be one of {sorted(SCHEMA)}"
            )
    return flat


def _section_keys(section):
    inverse = {v: k for (s, k), v in _RENAMED.items() if s == section and k != "family"}
    return [inverse.get(k, k) for k in SECTIONS[section]]


def resolve(config, overrides=None, validate_model=None):
    """Fills defaults and validates a config; ``overrides`` win over ``config``.

    Args:
        config: a sectioned or flat config dict (see the module docstring).
        overrides: optional dict (sectioned or flat) applied on top.
        validate_model: optional callable ``(cfg) -> cfg`` run last (the
            registry's model and dataset checks).

    Returns:
        A new complete flat config dict.

    Raises:
        ValueError: for unknown keys, a key in the wrong section, or a bad value
            (the message names the key and the value received).
    """
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(_flatten(config, "config"))
    cfg.update(_flatten(overrides, "overrides"))
    if not cfg["name"] or not isinstance(cfg["name"], str):
        raise ValueError(
            f"config 'name' must be a non-empty string. Received: name={cfg['name']!r}"
        )
    for key, (_, _, check, _) in SCHEMA.items():
        cfg[key] = check(key, cfg[key])
    if validate_model is not None:
        cfg = validate_model(cfg)
    return cfg


def sectioned(cfg):
    """A resolved (flat) config as ``{"name", "data", "model", "loss", "optimization", "run"}``."""
    out = {"name": cfg.get("name")}
    inverse = {"model": "class", "loss": "pair"}
    for section, keys in SECTIONS.items():
        out[section] = {inverse.get(k, k): copy.deepcopy(cfg[k]) for k in keys if k in cfg}
    return out
