"""Flows on images ``[H, W, C]``: squeeze, checkerboard coupling, multi-scale, RealNVP and Glow.

The layers follow :mod:`kerasgan.flows.layers`: a Keras layer owns the
variables and returns a ``tfb.Bijector`` (``forward`` = noise to data). TFP
has no squeeze, spatially masked coupling or factor-out bijector, so the three
small ``tfb.Bijector`` subclasses below hold that math; channel-wise coupling
is ``tfb.RealNVP`` (:class:`AffineCoupling` with ``network="cnn"``), ActNorm
is ``tfb.Shift``/``tfb.Scale`` and the invertible 1x1 convolution is
``tfb.ScaleMatvecLU`` (:mod:`kerasgan.flows.glow`).

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

from kerasgan.flows.conditioners import CouplingCNN
from kerasgan.flows.glow import ActNorm, InvertibleLinear
from kerasgan.flows.layers import (
    AffineCoupling,
    FlowLayer,
    _memo,
    initialize_layers,
    layer_bijector,
    soft_clip,
)

tfb = tfp.bijectors

__all__ = [
    "CheckerboardCoupling",
    "MultiScale",
    "Squeeze",
    "checkerboard_mask",
    "glow",
    "realnvp_image",
]


def _require_image(layer, shape):
    if len(shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} acts on images [H, W, C]. Received: event shape {shape}"
        )


def _apply_to_images(fn, x):
    """Runs a rank-4 op ``fn`` on ``x`` ``[..., H, W, C]`` with any number of batch dims."""
    shape = tf.shape(x)
    lead = shape[:-3]
    out = fn(tf.reshape(x, tf.concat([[-1], shape[-3:]], 0)))
    return tf.reshape(out, tf.concat([lead, tf.shape(out)[1:]], 0))


class _SqueezeBijector(tfb.Bijector):
    """``forward``: depth-to-space ``[h, w, f*f*c] -> [f*h, f*w, c]``; ``inverse``: space-to-depth."""

    def __init__(self, factor=2, dtype=tf.float32, name="squeeze"):
        parameters = dict(locals())
        self._factor = int(factor)
        super().__init__(
            forward_min_event_ndims=3,
            is_constant_jacobian=True,
            dtype=dtype,
            parameters=parameters,
            name=name,
        )

    def _forward(self, z):
        return _apply_to_images(lambda t: tf.nn.depth_to_space(t, self._factor), z)

    def _inverse(self, x):
        return _apply_to_images(lambda t: tf.nn.space_to_depth(t, self._factor), x)

    def _forward_log_det_jacobian(self, z):
        return tf.zeros([], self.dtype)

    def _forward_event_shape(self, s):
        f = self._factor
        if s.rank is None or any(d is None for d in s.as_list()):
            return tf.TensorShape([None, None, None])
        h, w, c = s.as_list()
        return tf.TensorShape([h * f, w * f, c // (f * f)])

    def _forward_event_shape_tensor(self, s):
        f = self._factor
        return tf.stack([s[0] * f, s[1] * f, s[2] // (f * f)])

    def _inverse_event_shape(self, s):
        f = self._factor
        if s.rank is None or any(d is None for d in s.as_list()):
            return tf.TensorShape([None, None, None])
        h, w, c = s.as_list()
        return tf.TensorShape([h // f, w // f, c * f * f])

    def _inverse_event_shape_tensor(self, s):
        f = self._factor
        return tf.stack([s[0] // f, s[1] // f, s[2] * f * f])


class _MaskedAffineBijector(tfb.Bijector):
    """RealNVP's masked affine coupling with a fixed binary mask ``b`` over ``[H, W, C]``.

    ``forward``: ``x = b*z + (1-b) * (z * exp(s(b*z)) + t(b*z))``;
    ``inverse``: ``z = b*x + (1-b) * (x - t(b*x)) * exp(-s(b*x))``;
    ``log|det dx/dz| = sum (1-b) * s(b*z)``.
    """

    def __init__(self, shift_and_log_scale_fn, mask, name="masked_affine"):
        parameters = dict(locals())
        self._mask = mask
        # One network evaluation per input tensor (transform and log-det share it).
        self._params = _memo(lambda x: shift_and_log_scale_fn(x * mask))
        super().__init__(
            forward_min_event_ndims=3, dtype=mask.dtype, parameters=parameters, name=name
        )

    def _forward(self, z):
        shift, log_scale = self._params(z)
        b = self._mask
        return b * z + (1.0 - b) * (z * tf.exp(log_scale) + shift)

    def _inverse(self, x):
        shift, log_scale = self._params(x)
        b = self._mask
        return b * x + (1.0 - b) * (x - shift) * tf.exp(-log_scale)

    def _forward_log_det_jacobian(self, z):
        _, log_scale = self._params(z)
        return tf.reduce_sum((1.0 - self._mask) * log_scale, axis=[-3, -2, -1])

    def _inverse_log_det_jacobian(self, x):
        _, log_scale = self._params(x)
        return -tf.reduce_sum((1.0 - self._mask) * log_scale, axis=[-3, -2, -1])


class _ChannelSplitBijector(tfb.Bijector):
    """Applies ``inner`` to the first ``k`` channels and the identity to the rest (factor-out).

    ``inner`` maps noise of shape ``inner_noise_shape`` to data ``[H, W, k]``;
    its noise is laid out as ``[H, W, k]`` (a reshape, log-det 0) so that this
    bijector keeps the event shape ``[H, W, C]``.
    """

    def __init__(self, inner, k, data_shape, inner_noise_shape, name="multiscale"):
        parameters = dict(locals())
        self._inner = inner
        self._k = int(k)
        self._data_shape = list(data_shape)  # [H, W, k]
        self._noise_shape = list(inner_noise_shape)
        # The same slice object for the transform and the log-det, so TFP's cache and
        # the conditioners' memo hit inside ``inner``.
        self._first = _memo(lambda t: t[..., : self._k])
        self._noise_part = _memo(lambda t: self._to(t[..., : self._k], self._noise_shape))
        super().__init__(
            forward_min_event_ndims=3, dtype=inner.dtype, parameters=parameters, name=name
        )

    def _to(self, t, shape):
        return tf.reshape(t, tf.concat([tf.shape(t)[:-3], shape], 0))

    def _forward(self, z):
        x1 = self._inner.forward(self._noise_part(z))
        return tf.concat([x1, z[..., self._k :]], axis=-1)

    def _inverse(self, x):
        z1 = self._inner.inverse(self._first(x))
        return tf.concat([self._to(z1, self._data_shape), x[..., self._k :]], axis=-1)

    def _forward_log_det_jacobian(self, z):
        return self._inner.forward_log_det_jacobian(
            self._noise_part(z), event_ndims=len(self._noise_shape)
        )

    def _inverse_log_det_jacobian(self, x):
        return self._inner.inverse_log_det_jacobian(self._first(x), event_ndims=3)


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
        return _SqueezeBijector(self.factor, dtype=tf.as_dtype(self.compute_dtype))

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class CheckerboardCoupling(FlowLayer):
    """RealNVP affine coupling with a spatial checkerboard mask and a convolutional network.

    With the mask ``b`` of :func:`checkerboard_mask`::

        x = b*z + (1-b) * (z * exp(s(b*z)) + t(b*z)),   log|det dx/dz| = sum (1-b) * s(b*z)

    ``(t, s) = CouplingCNN(b*x)``, ``s`` soft-clipped to ``[-bound, bound]``.

    Args:
        hidden_channels: widths of the network's hidden convolutions.
        parity: which pixels are kept (alternate 0/1 between stacked layers).
        residual: skip connections in the network.
        context_size: conditioning vector size (0: none).
        log_scale_bound: soft bound on ``|s|`` (0 disables it).

    Returns:
        A flow layer on images.

    Example:
        >>> layer = CheckerboardCoupling([8])
        >>> layer.build((None, 4, 4, 1))

    Reference:
        Dinh, Sohl-Dickstein and Bengio, 2017.
    """

    def __init__(
        self,
        hidden_channels=(64, 64),
        parity=0,
        residual=False,
        context_size=0,
        log_scale_bound=5.0,
        **kwargs,
    ):
        super().__init__(context_size=context_size, **kwargs)
        if parity not in (0, 1):
            raise ValueError(f"parity must be 0 or 1. Received: parity={parity!r}")
        self.hidden_channels = tuple(int(c) for c in hidden_channels)
        self.parity = int(parity)
        self.residual = bool(residual)
        self.log_scale_bound = float(log_scale_bound)
        self.net = None

    def build_flow(self, event_size):
        shape = self.input_event_shape
        _require_image(self, shape)
        if shape[0] * shape[1] < 2:
            raise ValueError(f"A checkerboard needs at least 2 pixels. Received: {shape}")
        self._mask = checkerboard_mask(shape[0], shape[1], self.parity, "float64")
        self.net = CouplingCNN(
            shape[-1],
            params=2,
            hidden_channels=self.hidden_channels,
            context_size=self.context_size,
            residual=self.residual,
            name="net",
            dtype=self.dtype_policy,
        )
        self.net.build((None, *shape))

    def bijector(self, context=None):
        def fn(masked):
            params = self._condition(self.net, masked, context)
            return params[..., 0], soft_clip(params[..., 1], self.log_scale_bound)

        mask = tf.constant(self._mask, tf.as_dtype(self.compute_dtype))
        return _MaskedAffineBijector(fn, mask, name="checkerboard")

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_channels=list(self.hidden_channels),
            parity=self.parity,
            residual=self.residual,
            log_scale_bound=self.log_scale_bound,
        )
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
        >>> layer = MultiScale([Squeeze(), CheckerboardCoupling([8])])
        >>> layer.build((None, 4, 4, 2))

    Reference:
        Dinh, Sohl-Dickstein and Bengio, 2017 (section 3.6).
    """

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
        return _ChannelSplitBijector(inner, self._k, self._data_shape, self._noise_shape)

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


def _check_image_shape(event_shape, levels):
    shape = tuple(int(d) for d in event_shape)
    if len(shape) != 3:
        raise ValueError(f"event_shape must be (H, W, C). Received: event_shape={event_shape!r}")
    f = 2**levels
    if shape[0] % f or shape[1] % f:
        raise ValueError(
            f"{levels} levels need H and W divisible by {f}. Received: event_shape={shape}"
        )
    return shape


def realnvp_image(
    event_shape, num_scales=2, hidden_channels=(64, 64), residual=True, context_size=0, dtype=None
):
    """RealNVP's multi-scale image flow (Dinh et al., 2017, section 3.6).

    Each scale but the last: 3 checkerboard couplings (alternating masks),
    squeeze, 3 channel-wise couplings (alternating halves), then half the
    channels are factored out and the rest go to the next scale. The last
    scale: 4 checkerboard couplings.

    Args:
        event_shape: ``(H, W, C)``; H and W divisible by ``2 ** (num_scales - 1)``.
        num_scales: number of scales (>= 1).
        hidden_channels: coupling networks' hidden widths.
        residual: ResNet-style skips in the coupling networks.
        context_size: conditioning vector size.
        dtype: the layers' dtype (policy).

    Returns:
        A list of flow layers (data side first) for :class:`FlowModel`.

    Example:
        >>> layers = realnvp_image((8, 8, 1), num_scales=2, hidden_channels=[8])
    """
    num_scales = int(num_scales)
    if num_scales < 1:
        raise ValueError(f"num_scales must be >= 1. Received: num_scales={num_scales}")
    _check_image_shape(event_shape, num_scales - 1)
    kw = {"context_size": context_size}
    if dtype is not None:
        kw["dtype"] = dtype

    def scale(level):
        if level == num_scales - 1:
            return [
                CheckerboardCoupling(hidden_channels, parity=i % 2, residual=residual, **kw)
                for i in range(4)
            ]
        layers = [
            CheckerboardCoupling(hidden_channels, parity=i % 2, residual=residual, **kw)
            for i in range(3)
        ]
        layers.append(Squeeze(**({"dtype": dtype} if dtype else {})))
        network = "resnet" if residual else "cnn"
        layers += [
            AffineCoupling(hidden_channels, parity=i % 2, network=network, **kw) for i in range(3)
        ]
        layers.append(MultiScale(scale(level + 1), **({"dtype": dtype} if dtype else {})))
        return layers

    return scale(0)


def glow(
    event_shape,
    num_levels=2,
    steps_per_level=4,
    hidden_channels=(64, 64),
    context_size=0,
    seed=0,
    dtype=None,
):
    """Glow's multi-scale image flow (Kingma and Dhariwal, 2018).

    Each level: squeeze, then ``steps_per_level`` steps of ActNorm ->
    invertible 1x1 convolution (LU) -> affine coupling (channel halves, a
    ``Conv3x3 -> Conv1x1 -> zero Conv3x3`` network); every level but the last
    then factors out half the channels.

    Args:
        event_shape: ``(H, W, C)``; H and W divisible by ``2 ** num_levels``.
        num_levels: number of levels ``L`` (>= 1).
        steps_per_level: steps ``K`` per level (>= 1).
        hidden_channels: coupling networks' hidden widths.
        context_size: conditioning vector size.
        seed: seeds the 1x1 convolutions' initial rotations.
        dtype: the layers' dtype (policy).

    Returns:
        A list of flow layers (data side first) for :class:`FlowModel`.

    Example:
        >>> layers = glow((8, 8, 1), num_levels=2, steps_per_level=1, hidden_channels=[8])
    """
    num_levels, steps = int(num_levels), int(steps_per_level)
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1. Received: num_levels={num_levels}")
    if steps < 1:
        raise ValueError(f"steps_per_level must be >= 1. Received: steps_per_level={steps}")
    _check_image_shape(event_shape, num_levels)
    dt = {} if dtype is None else {"dtype": dtype}

    def level(index):
        layers = [Squeeze(**dt)]
        for k in range(steps):
            layers += [
                ActNorm(**dt),
                InvertibleLinear(seed=seed + 1000 * index + k, **dt),
                AffineCoupling(
                    hidden_channels,
                    parity=k % 2,
                    network="cnn",
                    context_size=context_size,
                    **dt,
                ),
            ]
        if index < num_levels - 1:
            layers.append(MultiScale(level(index + 1), **dt))
        return layers

    return level(0)
