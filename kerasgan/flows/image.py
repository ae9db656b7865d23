"""Image flow layers ``[H, W, C]``: squeeze and the multi-scale (factor-out) architecture.

The layers follow :mod:`kerasgan.flows.base`: a Keras layer owns the
variables and returns a ``tfb.Bijector`` (``forward`` = noise to data). TFP
has no squeeze, spatially masked coupling or factor-out bijector; that maths
is in :mod:`kerasgan.flows.bijectors`. The couplings on images are
:class:`CheckerboardCoupling` (spatial mask) and :class:`AffineCoupling` with
``network="cnn"`` (channel halves) in :mod:`kerasgan.flows.coupling`; ActNorm
and the invertible 1x1 convolution are in :mod:`kerasgan.flows.normalization`
and :mod:`kerasgan.flows.linear`; RealNVP's and Glow's multi-scale image flows
are :func:`kerasgan.flows.realnvp_image` and :func:`kerasgan.flows.glow`
(:mod:`kerasgan.flows.families`).

Reference:
    Density estimation using Real NVP, Dinh, Sohl-Dickstein and Bengio, 2017.
    Glow: Generative Flow with Invertible 1x1 Convolutions, Kingma and
    Dhariwal, 2018.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.base import FlowLayer, _require_image, initialize_layers, layer_bijector
from kerasgan.flows.bijectors import ChannelSplitBijector, SqueezeBijector

tfb = tfp.bijectors

__all__ = ["MultiScale", "Squeeze", "checkerboard_mask"]


def checkerboard_mask(height, width, parity=0, dtype="float32"):
    """RealNVP's spatial checkerboard mask ``[H, W, 1]``.

    ``b[i, j] = 1`` where ``i + j`` is odd (``parity=0``, as in the paper) or
    even (``parity=1``); the coupling keeps the pixels where ``b = 1`` and
    transforms the others conditioned on them.

    Example:
        >>> checkerboard_mask(2, 2)[..., 0].tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    mask = ((i + j) % 2 == (1 - int(parity))).astype(dtype)
    return mask[..., None]


@keras.saving.register_keras_serializable(package="kerasgan")
class Squeeze(FlowLayer):
    """Squeeze ``[H, W, C] -> [H/f, W/f, f*f*C]`` (space-to-depth towards the noise); log-det 0.

    Args:
        factor: spatial factor ``f`` (2 in RealNVP and Glow).

    Returns:
        A flow layer that changes the event shape.

    Example:
        >>> layer = Squeeze()
        >>> layer.build((None, 4, 4, 1))
        >>> layer.output_event_shape((4, 4, 1))
        (2, 2, 4)
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
            raise ValueError(f"factor must be an int >= 2. Received: factor={factor!r}")
        self.factor = int(factor)

    def build_flow(self, event_size):
        shape = self.input_event_shape
        _require_image(self, shape)
        if shape[0] % self.factor or shape[1] % self.factor:
            raise ValueError(
                f"Squeeze(factor={self.factor}) needs H and W divisible by {self.factor}. "
                f"Received: event shape {shape}"
            )

    def output_event_shape(self, input_event_shape):
        h, w, c = input_event_shape
        f = self.factor
        return (h // f, w // f, c * f * f)

    def bijector(self, context=None):
        return SqueezeBijector(self.factor, dtype=tf.as_dtype(self.compute_dtype))

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class MultiScale(FlowLayer):
    """Multi-scale architecture: factor out channels, transform the rest with more layers.

    The last ``C - split`` channels go straight to the noise (their
    transformation ends here); the first ``split`` channels are transformed by
    ``layers`` (which may squeeze and nest another ``MultiScale``)::

        z = concat(f_inner^-1(x[..., :split]), x[..., split:])
        log|det dz/dx| = log|det d f_inner^-1 / d x[..., :split]|

    Args:
        layers: flow layers for the first ``split`` channels (data side first).
        split: channels kept (default ``C // 2``).
        context_size: set from the inner layers when 0.

    Returns:
        A flow layer that keeps the event shape.

    Example:
        >>> from kerasgan import flows
        >>> layer = MultiScale([Squeeze(), flows.CheckerboardCoupling([8])])
        >>> layer.build((None, 4, 4, 2))

    Reference:
        Dinh, Sohl-Dickstein and Bengio, 2017 (section 3.6).
    """

    takes_context = True

    def __init__(self, layers, split=None, **kwargs):
        layers = list(layers)
        if not layers or not all(isinstance(layer, FlowLayer) for layer in layers):
            raise ValueError(
                "layers must be a non-empty list of kerasgan.flows.FlowLayer. Received: "
                f"{[type(layer).__name__ for layer in layers]}"
            )
        context = max(layer.context_size for layer in layers)
        kwargs.setdefault("context_size", context)
        super().__init__(**kwargs)
        if self.context_size and not context:
            # The context only reaches the inner layers: none of them would use it.
            raise ValueError(
                "MultiScale passes its context to its inner layers and none of them takes "
                f"one, so context_size must be 0. Received: context_size={kwargs['context_size']!r}"
            )
        self.inner_layers = layers
        self.split = None if split is None else int(split)

    def build_flow(self, event_size):
        shape = self.input_event_shape
        _require_image(self, shape)
        k = shape[-1] // 2 if self.split is None else self.split
        if not 0 < k < shape[-1]:
            raise ValueError(
                f"split must be in [1, {shape[-1] - 1}] for {shape[-1]} channels. Received: "
                f"split={self.split!r}"
            )
        self._k = k
        self._data_shape = (shape[0], shape[1], k)
        inner = self._data_shape
        for layer in self.inner_layers:
            if not layer.built:
                layer.build((None, *inner))
            inner = layer.output_event_shape(inner)
        self._noise_shape = tuple(inner)

    @property
    def needs_data_init(self):
        return any(getattr(layer, "needs_data_init", False) for layer in self.inner_layers)

    @property
    def is_initialized(self):
        return all(
            layer.is_initialized
            for layer in self.inner_layers
            if getattr(layer, "needs_data_init", False)
        )

    def initialize(self, x, context=None):
        """Data-dependent initialization of the inner layers on ``x[..., :split]``."""
        initialize_layers(self.inner_layers, tf.convert_to_tensor(x)[..., : self._k], context)

    takes_training = True

    def bijector(self, context=None, training=False):
        inner = tfb.Chain([layer_bijector(layer, context, training) for layer in self.inner_layers])
        return ChannelSplitBijector(inner, self._k, self._data_shape, self._noise_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            layers=[keras.saving.serialize_keras_object(layer) for layer in self.inner_layers],
            split=self.split,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [keras.saving.deserialize_keras_object(c) for c in config["layers"]]
        return cls(**config)
