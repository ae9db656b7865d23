"""Former home of the runner; now :mod:`kerasgan.runner` (kept so recipes and scripts
written against ``kerasgan.training`` keep working).

Example:
    >>> from kerasgan import training
    >>> training.resolve({"name": "doc", "model": "GAN", "dataset": "ring8"})["batch_size"]
    256
"""

from kerasgan.runner import (
    DEFAULTS,
    FINISHED,
    TOY_SMOKE,
    RunAlreadyFinished,
    build_model,
    fit_resumable,
    main,
    make_dataset,
    resolve,
    run,
)

__all__ = [
    "DEFAULTS",
    "FINISHED",
    "TOY_SMOKE",
    "RunAlreadyFinished",
    "build_model",
    "fit_resumable",
    "main",
    "make_dataset",
    "resolve",
    "run",
]
