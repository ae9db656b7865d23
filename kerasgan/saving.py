"""Saving the random-generator state with a model's weights.

Keras 3 saves a layer's own trainable and non-trainable variables
(``save_own_variables``) but not the state of the ``keras.random.SeedGenerator``
objects it owns: a model reloaded from ``.keras`` or ``.weights.h5`` (and so
``keras.callbacks.BackupAndRestore``) restarts its noise stream from the seed.
For a GAN that means a resumed run draws the latents it already drew, and the
resumed run no longer matches an uninterrupted one. :class:`SeedStateMixin`
adds those states to the saved variables.

Example:
    >>> import keras
    >>> class Noisy(SeedStateMixin, keras.Model):
    ...     def __init__(self, **kw):
    ...         super().__init__(**kw)
    ...         self.seed_generator = keras.random.SeedGenerator(0)
"""

from __future__ import annotations

__all__ = ["SeedStateMixin"]

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
