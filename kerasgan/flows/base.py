"""FlowLayer: a Keras 3 layer that owns the variables and returns a ``tfb.Bijector``.

Every layer has ``bijector(context=None) -> tfb.Bijector``, built on demand
from the layer's current weights (a new bijector object per call, so TFP's
bijector cache never serves a result computed with older weights). The
bijector's *forward* direction is the sampling direction (noise side to data
side); its *inverse* maps data towards the noise, the direction used by
``log_prob``.

Capability flags (class attributes, read by :class:`FlowModel` and the helpers
here): ``takes_context`` (the layer's maps depend on a conditioning input;
only such layers accept ``context_size > 0``), ``takes_training`` (``bijector``
takes ``training=``: batch statistics) and ``needs_data_init`` (the layer has
``initialize(x)`` / ``is_initialized``: data-dependent initialization).
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FlowLayer", "initialize_layers", "layer_bijector", "soft_clip"]


def soft_clip(log_scale, bound):
    """``bound * tanh(log_scale / bound)``: keeps scales in ``[e^-bound, e^bound]``, smoothly.

    Args:
        log_scale: tensor.
        bound: the bound (0 or None: no clipping).

    Returns:
        The clipped tensor (``log_scale`` itself when ``bound`` is 0).

    Example:
        >>> float(soft_clip(tf.constant(100.0), 5.0))
        5.0
    """
    if not bound:
        return log_scale
    return bound * tf.tanh(log_scale / bound)


def _shift_and_log_scale(params, bound):
    """``(shift, soft-clipped log-scale)`` from conditioner output ``[..., D, 2]``."""
    return params[..., 0], soft_clip(params[..., 1], bound)


def _require_image(layer, shape):
    """Raises ValueError unless ``shape`` is an image event shape ``(H, W, C)``."""
    if len(shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} acts on images [H, W, C]. Received: event shape {shape}"
        )


def layer_bijector(layer, context=None, training=False):
    """``layer.bijector(context)``, passing ``training`` to layers that use batch statistics.

    Args:
        layer: a :class:`FlowLayer`.
        context: conditioning input or None.
        training: batch statistics (layers with ``takes_training``).

    Returns:
        The layer's ``tfb.Bijector``.
    """
    if getattr(layer, "takes_training", False):
        return layer.bijector(context, training=training)
    return layer.bijector(context)


def initialize_layers(layers, x, context=None):
    """Data-dependent initialization (e.g. ActNorm) of a layer list, data side first.

    Each layer that needs it is initialized on the batch as it arrives there.

    Args:
        layers: built flow layers, data side first.
        x: a data batch at ``layers[0]``'s data side.
        context: conditioning input or None.

    Returns:
        None.
    """
    h = x
    for layer in layers:
        if getattr(layer, "needs_data_init", False) and not layer.is_initialized:
            layer.initialize(h)
        h = layer.bijector(context).inverse(h)


class FlowLayer(keras.layers.Layer):
    """Base class: a Keras layer that provides a ``tfb.Bijector`` on vectors ``[..., D]``.

    Subclasses implement ``build_flow(event_size)`` (create sub-layers and
    weights) and ``bijector(context=None)``. ``context_size > 0`` declares a
    conditioning input; only layers whose class sets ``takes_context = True``
    (and pass the context to their networks, e.g. with :meth:`_condition`)
    accept it, so an unconditional layer never silently ignores a context.

    Args:
        context_size: conditioning input size (0: unconditional).
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Returns:
        A Keras layer; ``layer(x, context)`` is ``bijector(context).inverse(x)``.

    Raises:
        ValueError: ``context_size < 0``, or ``context_size > 0`` for a layer
            that does not take a context.
    """

    takes_context = False
    takes_training = False
    needs_data_init = False

    def __init__(self, context_size=0, **kwargs):
        super().__init__(**kwargs)
        self.context_size = int(context_size)
        if self.context_size < 0:
            raise ValueError(f"context_size must be >= 0. Received: context_size={context_size!r}")
        if self.context_size and not self.takes_context:
            raise ValueError(
                f"{type(self).__name__} does not use a context, so context_size must be 0. "
                f"Received: context_size={context_size!r}"
            )
        self.event_size = None

    def build(self, input_shape):
        event_size = int(input_shape[-1])
        if event_size < 1:
            raise ValueError(f"event size must be >= 1. Received: input_shape={input_shape}")
        self.event_size = event_size
        # The whole event (``(D,)`` for vectors, ``(H, W, C)`` for images) at
        # this layer's data side; per-dimension layers only use its last axis.
        self.input_event_shape = tuple(int(d) for d in input_shape[1:])
        self.build_flow(event_size)
        self.built = True

    def build_flow(self, event_size):
        pass

    def output_event_shape(self, input_event_shape):
        """Event shape at the layer's noise side for ``input_event_shape`` at its data side."""
        return tuple(input_event_shape)

    def bijector(self, context=None):
        raise NotImplementedError

    def _condition(self, net, x, context):
        """Runs a conditioner on ``x``, passing the context only to conditional layers."""
        if self.context_size and context is None:
            raise ValueError(
                f"This layer was built with context_size={self.context_size}. Received: context=None"
            )
        return net(x, context if self.context_size else None)

    def call(self, x, context=None):
        """Maps data towards the noise: ``bijector.inverse(x)``."""
        return self.bijector(context).inverse(x)

    def get_config(self):
        config = super().get_config()
        config["context_size"] = self.context_size
        return config
