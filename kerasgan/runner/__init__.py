"""The runner: recipe configs -> training runs -> exports.

Reading order (the walk from ``kerasgan train NAME`` to the export):

1. :mod:`.cli` — a recipe's flags (``--smoke``, ``--epochs``...) on its config.
2. :mod:`.config` — five sections (data / model / loss / optimization / run), validated.
3. :mod:`.registry` — the model name -> task kind (``gan``, ``flow``, ``image_flow``,
   ``distill``) and build options.
4. :mod:`.loop` — :func:`run`: seed, strategy, run directory (:mod:`.rundir`), the task,
   finished; :func:`fit_resumable`.
5. :mod:`.tasks` — build, compile, fit, evaluate, ``samples.png``, export.

Example:
    >>> from kerasgan import runner
    >>> cfg = runner.resolve({"name": "doc", "model": "wgan_gp", "data": {"dataset": "ring8"}})
    >>> cfg["model"], runner.registry.task_kind(cfg)
    ('WGANGP', 'gan')
"""

from kerasgan.runner import config, registry, tasks  # noqa: F401  (tasks registers the kinds)
from kerasgan.runner.cli import main
from kerasgan.runner.config import DEFAULTS, SECTIONS, TOY_SMOKE, sectioned
from kerasgan.runner.data import make_dataset
from kerasgan.runner.loop import (
    fit_checked,
    fit_resumable,
    resolve,
    reuse_first,
    run,
    standard_callbacks,
)
from kerasgan.runner.registry import model_names, register_model, register_task
from kerasgan.runner.rundir import FINISHED, RunAlreadyFinished
from kerasgan.runner.tasks.flow import build_flow
from kerasgan.runner.tasks.gan import build_model, build_optimizers
from kerasgan.runner.tasks.image_flow import build_image_flow

__all__ = [
    "DEFAULTS",
    "FINISHED",
    "SECTIONS",
    "TOY_SMOKE",
    "RunAlreadyFinished",
    "build_flow",
    "build_image_flow",
    "build_model",
    "build_optimizers",
    "config",
    "fit_checked",
    "fit_resumable",
    "main",
    "make_dataset",
    "model_names",
    "register_model",
    "register_task",
    "registry",
    "resolve",
    "reuse_first",
    "run",
    "sectioned",
    "standard_callbacks",
]
