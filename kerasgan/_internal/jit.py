"""When ``compile(jit_compile=None)`` turns XLA on: shared by the GAN and flow models."""

from __future__ import annotations

import warnings

import keras
import tensorflow as tf

__all__ = ["default_jit_compile", "resolve_jit_compile"]


_CONV_LAYERS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)


def _has_convolutions(model) -> bool:
    if model is None:
        return False
    return any(isinstance(layer, _CONV_LAYERS) for layer in model._flatten_layers())


def default_jit_compile(strategy=None, model=None) -> bool:
    """Whether ``compile(jit_compile=None)`` turns XLA on.

    - Several replicas: off. Under ``MirroredStrategy`` over logical CPU
      devices ``jit_compile=True`` fails ("Trying to access resource ...
      located in device CPU:1 from device CPU:0"), and Keras also turns XLA
      off under any strategy (pass ``jit_compile=True`` explicitly on
      multi-GPU to opt in).
    - One device with a GPU: on.
    - One CPU device: on, unless ``model`` contains convolution layers. XLA
      fuses the element-wise work and is 2.2x faster than graph mode on the
      MLP GANs, but XLA:CPU's convolutions are slower than oneDNN's (DCGAN
      28x28: 14.2 steps/s with XLA vs 17.2 without; ``benchmarks/gan_step.py``).

    Args:
        strategy: the ``tf.distribute`` strategy (default: the current one).
        model: the model being compiled, inspected for convolutions.

    Returns:
        ``True`` for XLA.

    Example:
        >>> default_jit_compile(model=None)  # one device, no model
        True
    """
    strategy = strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync != 1:
        return False
    if tf.config.list_logical_devices("GPU"):
        return True
    return not _has_convolutions(model)


def resolve_jit_compile(jit_compile, model=None) -> bool:
    """``compile``'s ``jit_compile`` argument as a bool, for the current strategy.

    ``None``/``"auto"`` pick :func:`default_jit_compile`; ``True`` under several
    replicas on CPU devices (where XLA fails) falls back to ``False`` with a warning.
    """
    strategy = tf.distribute.get_strategy()
    if jit_compile is None or jit_compile == "auto":
        jit_compile = default_jit_compile(strategy, model=model)
    if (
        jit_compile
        and strategy.num_replicas_in_sync > 1
        and not tf.config.list_logical_devices("GPU")
    ):
        warnings.warn(
            "jit_compile=True is not supported by MirroredStrategy over CPU devices; "
            "falling back to jit_compile=False.",
            stacklevel=3,
        )
        jit_compile = False
    return bool(jit_compile)
