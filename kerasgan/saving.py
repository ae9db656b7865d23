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

import keras

__all__ = ["OptimizerCompileMixin", "SeedStateMixin"]

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
