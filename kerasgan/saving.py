"""Saving what Keras leaves out: random-generator state, custom compile arguments.

Keras 3 saves a layer's own trainable and non-trainable variables
(``save_own_variables``) but not the state of the ``keras.random.SeedGenerator``
objects it owns: a model reloaded from ``.keras`` or ``.weights.h5`` (and so
``keras.callbacks.BackupAndRestore``) restarts its noise stream from the seed.
For a GAN that means a resumed run draws the latents it already drew, and the
resumed run no longer matches an uninterrupted one. :class:`SeedStateMixin`
adds those states to the saved variables. :class:`OptimizerCompileMixin` lets a
model with its own ``compile(optimizer, jit_compile, steps_per_execution)``
come back compiled, optimizer state included, from a ``.keras`` file.

Example:
    >>> import keras
    >>> class Noisy(SeedStateMixin, keras.Model):
    ...     def __init__(self, **kw):
    ...         super().__init__(**kw)
    ...         self.seed_generator = keras.random.SeedGenerator(0)
"""

from __future__ import annotations

import json
import os
import zipfile

import keras

__all__ = ["OptimizerCompileMixin", "SeedStateMixin", "check_keras_file", "load_model"]

_PREFIX = "seed_generator_"


class SeedStateMixin:
    """Adds the model's own ``SeedGenerator`` states to ``save_own_variables``.

    The states are stored under ``seed_generator_<i>`` next to Keras's numbered
    variables. Files written before the mixin existed (no such keys) still load;
    the generators then keep their current state.
    """

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, generator in enumerate(self._seed_generators):
            store[f"{_PREFIX}{i}"] = generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        own = {k: store[k] for k in keys if not k.startswith(_PREFIX)}
        super().load_own_variables(own)
        for i, generator in enumerate(self._seed_generators):
            key = f"{_PREFIX}{i}"
            if key in keys:
                generator.state.assign(store[key])


class OptimizerCompileMixin:
    """``get_compile_config`` / ``compile_from_config`` for a one-optimizer custom ``compile``.

    Keras does not call a custom ``compile()`` when it loads a ``.keras`` file
    unless the model defines these two methods; without them the reloaded
    model is uncompiled and its optimizer's moments are dropped. The model's
    ``compile`` calls :meth:`_remember_compile_args` with what it was given.
    """

    def _remember_compile_args(self, jit_compile, steps_per_execution):
        self._compile_args = {
            "jit_compile": None if jit_compile in (None, "auto") else bool(jit_compile),
            "steps_per_execution": int(steps_per_execution),
        }

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {"optimizer": keras.optimizers.serialize(self.optimizer), **self._compile_args}

    def compile_from_config(self, config):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"])
        self.compile(**config)


def check_keras_file(path):
    """Checks that ``path`` is a readable ``.keras`` archive with a parseable ``config.json``.

    Keras reports a truncated or garbage file as "File not found ... ensure the
    file is an accessible .keras zip file" although it exists, and a bad
    ``config.json`` as a bare JSON error naming no file. This says which.

    Args:
        path: the file.

    Raises:
        ValueError: ``Not a valid .keras file: <path>: <reason>`` (missing, a
            directory, not a zip archive, truncated, no ``config.json``, bad JSON).
    """
    path = os.fspath(path)

    def bad(reason):
        return ValueError(f"Not a valid .keras file: {path}: {reason}")

    if not os.path.exists(path):
        raise bad("no such file")
    if os.path.isdir(path):
        raise bad("it is a directory (a SavedModel? `kerasgan export` takes .keras files)")
    if not path.endswith(".keras"):
        raise bad("the name does not end in .keras")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise bad(f"the archive has no config.json (it holds {sorted(names)[:5]})")
            broken = archive.testzip()
            if broken is not None:
                raise bad(f"member {broken!r} is corrupt (CRC mismatch)")
            config = archive.read("config.json")
    except zipfile.BadZipFile as e:
        raise bad(f"not a zip archive or truncated ({e})") from None
    except (OSError, EOFError) as e:
        raise bad(f"cannot be read ({e})") from None
    try:
        parsed = json.loads(config)
    except ValueError as e:
        raise bad(f"config.json is not valid JSON ({e})") from None
    if not isinstance(parsed, dict) or "class_name" not in parsed:
        raise bad("config.json does not describe a Keras object (no 'class_name')")


def load_model(path, safe_mode=True, compile=True):
    """``keras.saving.load_model`` with clear errors for broken files.

    (``import kerasgan`` registers kerasgan's classes with Keras.)

    Args:
        path: a ``.keras`` file.
        safe_mode: refuse to deserialize Python lambdas (Keras's safe mode).
        compile: restore the compile state (optimizers included).

    Returns:
        The model.

    Raises:
        ValueError: the file is not a valid ``.keras`` archive (which file, why),
            or Keras could not rebuild the model from it (with Keras's reason).

    Example:
        >>> # model = kerasgan.saving.load_model("runs/gan_ring8/checkpoint.keras")
    """
    check_keras_file(path)
    try:
        return keras.saving.load_model(path, safe_mode=safe_mode, compile=compile)
    except (TypeError, KeyError, json.JSONDecodeError, zipfile.BadZipFile, OSError) as e:
        raise ValueError(
            f"Not a valid .keras file: {os.fspath(path)}: {type(e).__name__}: {e}"
        ) from e
