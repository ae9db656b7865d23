"""What a recipe's ``"model"`` names, and which task runs it.

Two tables, filled at import:

- **Task kinds** (:func:`register_task`): ``"gan"``, ``"flow"``, ``"image_flow"``,
  ``"distill"`` (``runner/tasks/``). A task is a function ``run(cfg, run_dir, strategy)
  -> result dict``.
- **Models** (:func:`register_model`): a name (a GAN class name, ``"WGANGP"``; a flow
  family, ``"maf"``; ``"distill"``) -> a :class:`ModelEntry` saying which task runs it
  and with what options. GAN classes are registered by their class name; flow
  families come from :mod:`kerasgan.flows.families`.

Only the runner knows model names; the libraries below it (``gan/``, ``flows/``) do not.

Example:
    >>> from kerasgan.runner import registry
    >>> registry.get_model("WGANGP").task
    'gan'
    >>> registry.task_kind({"model": "glow", "dataset": "digits"})
    'image_flow'
"""

from __future__ import annotations

import dataclasses

from kerasgan import gan, losses
from kerasgan.data import images
from kerasgan.flows import energy_names, families

__all__ = [
    "ALIASES",
    "ModelEntry",
    "get_model",
    "get_task",
    "is_image_dataset",
    "model_names",
    "register_model",
    "register_task",
    "task_kind",
    "task_names",
    "validate",
]


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """How the runner builds and runs one model name.

    Attributes:
        name: what recipes write as ``"model"``.
        task: the task kind that runs it.
        cls: the model class (GANs), else None.
        options: task-specific build options (e.g. ``conditional``, ``critic_normalization``,
            ``constructor_keys``: config keys passed to the class).
    """

    name: str
    task: str
    cls: type | None = None
    options: dict = dataclasses.field(default_factory=dict)


_TASKS: dict[str, object] = {}
_MODELS: dict[str, ModelEntry] = {}

# Older recipe names -> (class name, forced config values). Accepted and rewritten by
# validate(), so a resolved config names the class.
ALIASES = {
    "gan": ("GAN", {}),
    "minimax": ("GAN", {"loss": "minimax"}),
    "dcgan": ("DCGAN", {}),
    "lsgan": ("LSGAN", {}),
    "hinge": ("HingeGAN", {}),
    "wgan": ("WGAN", {}),
    "wgan_gp": ("WGANGP", {}),
}


def register_task(kind, run):
    """Registers ``run(cfg, run_dir, strategy) -> result`` as task ``kind``."""
    _TASKS[kind] = run
    return run


def get_task(kind):
    """The run function of task ``kind`` (ValueError if unknown)."""
    try:
        return _TASKS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown task. Expected one of {task_names()}. Received: {kind!r}"
        ) from None


def task_names():
    """Registered task kinds."""
    return sorted(_TASKS)


def register_model(name, task, cls=None, **options):
    """Registers model ``name``, run by ``task`` (options go to the task's builder)."""
    entry = ModelEntry(name, task, cls, dict(options))
    _MODELS[name] = entry
    return entry


def model_names():
    """Every name a recipe's ``"model"`` may take (aliases excluded)."""
    return sorted(_MODELS)


def get_model(name):
    """The :class:`ModelEntry` of ``name`` (ValueError listing the names if unknown)."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(
            f"Unknown model. Expected one of {model_names()}. Received: model={name!r}"
        ) from None


def is_image_dataset(name):
    """Whether dataset ``name`` holds images (``"digits"`` or a tfds image dataset)."""
    return name == "digits" or name in images.TFDS_NAMES


def task_kind(cfg):
    """The task that runs ``cfg``: the model's, with flows on image data -> ``"image_flow"``."""
    entry = get_model(cfg["model"])
    if entry.task == "flow" and is_image_dataset(cfg["dataset"]):
        return "image_flow"
    return entry.task


def validate(cfg):
    """The model checks of :func:`kerasgan.runner.config.resolve`: alias -> class name,
    the model exists, and the model fits the data (labels, images).

    Returns:
        The config, with ``"model"`` the registered name.
    """
    name = cfg["model"]
    if name in ALIASES and name not in _MODELS:
        name, forced = ALIASES[name]
        cfg = dict(cfg, model=name, **{k: v for k, v in forced.items() if cfg.get(k) is None})
    entry = get_model(name)
    if cfg["loss"] is not None:
        if cfg["loss"] not in losses.names():
            raise ValueError(
                f"loss must be one of {losses.names()}. Received: loss={cfg['loss']!r}"
            )
    image = is_image_dataset(cfg["dataset"])
    if entry.options.get("conditional") and not image:
        raise ValueError(
            f"{name} needs a labelled dataset ('digits' or a tfds image dataset with labels). "
            f"Received: dataset={cfg['dataset']!r}"
        )
    if entry.task == "flow" and image and name not in families.names("image"):
        raise ValueError(
            f"Image flows are {families.names('image')}. Received: model={name!r} with "
            f"dataset={cfg['dataset']!r}"
        )
    if entry.options.get("energy") and cfg["energy"] not in energy_names():
        raise ValueError(
            f"energy must be one of {energy_names()}. Received: energy={cfg['energy']!r}"
        )
    return cfg


def is_conditional(cfg):
    """Whether the config's model takes labels."""
    return bool(get_model(cfg["model"]).options.get("conditional"))


# --- the table ---------------------------------------------------------------------------------

_GAN_KEYS = ("seed", "pack", "d_steps", "gp_weight", "gp_target", "r1_weight", "loss")
for _name in gan.__all__:
    _cls = getattr(gan, _name)
    if isinstance(_cls, type) and issubclass(_cls, gan.GAN):
        register_model(_name, "gan", _cls, constructor_keys=_GAN_KEYS)
# The Wasserstein critics drop batch norm (it breaks the per-example gradient penalty).
for _name in ("WGAN", "WGANGP"):
    register_model(
        _name, "gan", getattr(gan, _name), constructor_keys=_GAN_KEYS, critic_normalization=None
    )
# DCGAN adds defaults to GAN once the networks exist; the runner builds them, so it
# trains a GAN with the DCGAN networks (the same game and optimizers).
register_model("DCGAN", "gan", gan.GAN, constructor_keys=_GAN_KEYS)
_COND_KEYS = tuple(k for k in _GAN_KEYS if k != "pack")
register_model(
    "ConditionalGAN", "gan", gan.ConditionalGAN, constructor_keys=_COND_KEYS, conditional=True
)
register_model(
    "ACGAN",
    "gan",
    gan.ACGAN,
    constructor_keys=_COND_KEYS + ("aux_weight", "aux_fake_in_discriminator"),
    conditional=True,
    d_mode="acgan",
)
for _name in families.names("vector"):
    if _name in ("planar", "radial"):  # fit by reverse KL to an energy
        register_model(_name, "distill", family=_name, energy=True)
    elif _name != "iaf":  # an IAF is trained as a distillation student ("distill")
        register_model(_name, "flow", family=_name)
# A MAF teacher fit on the data, then an IAF student by probability density distillation.
register_model("distill", "distill", family="maf", student="iaf")
