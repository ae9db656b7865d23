"""Data sets: 2-D toy distributions and image data sets.

- :mod:`kerasgan.data.toy`: numpy samplers for 2-D toy data (ring8, grid25,
  two_moons, ...), available offline.
- :mod:`kerasgan.data.images`: ``tf.data`` pipelines for TFDS image data sets
  (MNIST, CIFAR-10, CelebA...) and the offline scikit-learn ``digits``. It is
  imported on first access, so ``import kerasgan.data`` stays light.

Example:
    >>> from kerasgan import data
    >>> data.toy.load("grid25", 2, seed=0).shape
    (2, 2)
"""

from __future__ import annotations

import importlib

from kerasgan.data import toy

__all__ = ["images", "toy"]


def __getattr__(name: str):
    """Imports :mod:`kerasgan.data.images` lazily on first attribute access."""
    if name == "images":
        return importlib.import_module("kerasgan.data.images")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "images"])
