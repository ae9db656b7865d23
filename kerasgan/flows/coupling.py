"""Coupling flow layers: affine (RealNVP), additive (NICE), spline and checkerboard couplings.

One part of the event conditions an elementwise transform of the other part,
so the inverse is one pass and the log-det is a sum over the transformed part.
Vector and channel-wise couplings are ``tfb.RealNVP`` on a split of the last
axis; the spatial checkerboard coupling of RealNVP's image flows is
:class:`kerasgan.flows.bijectors.MaskedAffineBijector`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.base import FlowLayer, _require_image, _shift_and_log_scale, soft_clip
from kerasgan.flows.bijectors import MaskedAffineBijector, memo, spline_bijector
from kerasgan.flows.conditioners import CouplingCNN, CouplingMLP
from kerasgan.flows.image import checkerboard_mask

tfb = tfp.bijectors

__all__ = [
    "AdditiveCoupling",
    "AffineCoupling",
    "CheckerboardCoupling",
    "NeuralSplineCoupling",
]


class _Coupling(FlowLayer):
    """Shared parts of the coupling layers (``tfb.RealNVP`` on a split of the last axis)."""

    takes_context = True

    def __init__(
        self,
        hidden_units=(64, 64),
        parity=0,
        num_masked=None,
        activation="relu",
        context_size=0,
        network="mlp",
        **kwargs,
    ):
        super().__init__(context_size=context_size, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        if parity not in (0, 1):
            raise ValueError(f"parity must be 0 or 1. Received: parity={parity!r}")
        self.parity = int(parity)
        self.num_masked = None if num_masked is None else int(num_masked)
        self.activation = activation
        if network not in ("mlp", "cnn", "resnet"):
            raise ValueError(
                f"network must be 'mlp', 'cnn' or 'resnet'. Received: network={network!r}"
            )
        self.network = network
        self.net = None

    def params_per_dim(self):
        return 2

    def build_flow(self, event_size):
        if event_size < 2:
            raise ValueError(
                f"A coupling layer needs at least 2 dimensions. Received: event size {event_size}"
            )
        masked = event_size // 2 if self.num_masked is None else self.num_masked
        if not 0 < masked < event_size:
            raise ValueError(
                f"num_masked must be in [1, {event_size - 1}]. Received: "
                f"num_masked={self.num_masked!r}"
            )
        self._masked = masked
        if self.network == "mlp":
            self.net = CouplingMLP(
                event_size - masked,
                params=self.params_per_dim(),
                hidden_units=self.hidden_units,
                context_size=self.context_size,
                activation=self.activation,
                name="net",
                dtype=self.dtype_policy,
            )
        else:
            if len(self.input_event_shape) != 3:
                raise ValueError(
                    f"network={self.network!r} couples the channels of images [H, W, C]. "
                    f"Received: event shape {self.input_event_shape}"
                )
            self.net = CouplingCNN(
                event_size - masked,
                params=self.params_per_dim(),
                hidden_channels=self.hidden_units,
                context_size=self.context_size,
                residual=self.network == "resnet",
                name="net",
                dtype=self.dtype_policy,
            )
        self.net.build((None, *self.input_event_shape[:-1], masked))

    def _net(self, x0, context):
        return self._condition(self.net, x0, context)

    def coupling_bijector(self, context):
        raise NotImplementedError

    def bijector(self, context=None):
        coupling = self.coupling_bijector(context)
        if self.parity == 0:
            return coupling
        # Parity 1 conditions on the *last* dimensions: reverse, couple, reverse back.
        reverse = tfb.Permute(np.arange(self.event_size)[::-1].copy())
        return tfb.Chain([reverse, coupling, reverse])

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=list(self.hidden_units),
            parity=self.parity,
            num_masked=self.num_masked,
            activation=self.activation,
            network=self.network,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class AffineCoupling(_Coupling):
    """RealNVP affine coupling layer (``tfb.RealNVP``).

    With ``x = (x_a, x_b)`` split at ``num_masked`` (the first part for
    ``parity=0``, the last for ``parity=1``)::

        x_a = z_a,   x_b = z_b * exp(s(z_a)) + m(z_a),   log|det dx/dz| = sum s(z_a)

    Args:
        hidden_units: conditioner MLP sizes.
        parity: which half conditions (alternate 0/1 between stacked layers).
        num_masked: size of the conditioning part (default ``D // 2``).
        activation: conditioner activation.
        context_size: conditioning input size.
        network: ``"mlp"`` (:class:`CouplingMLP`, vectors), or for images
            ``[H, W, C]`` ``"cnn"`` / ``"resnet"`` (:class:`CouplingCNN`; the
            split is then over channels: RealNVP's channel-wise mask, Glow's
            coupling); ``hidden_units`` are then the hidden channel widths.
        log_scale_bound: soft bound on ``|s|``.

    Returns:
        A flow layer.

    Example:
        >>> layer = AffineCoupling(hidden_units=[16])
        >>> layer.build((None, 2))

    Reference:
        Density estimation using Real NVP, Dinh, Sohl-Dickstein and Bengio, 2017.
    """

    def __init__(self, *args, log_scale_bound=5.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_scale_bound = float(log_scale_bound)

    def coupling_bijector(self, context):
        def fn(x0, output_units, **_):
            return _shift_and_log_scale(self._net(x0, context), self.log_scale_bound)

        return tfb.RealNVP(num_masked=self._masked, shift_and_log_scale_fn=memo(fn), name="affine")

    def get_config(self):
        config = super().get_config()
        config["log_scale_bound"] = self.log_scale_bound
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class AdditiveCoupling(_Coupling):
    """NICE additive coupling layer: ``x_a = z_a, x_b = z_b + m(z_a)`` (volume preserving).

    Args: as :class:`AffineCoupling` (no ``log_scale_bound``).

    Returns:
        A flow layer with ``log|det J| = 0``.

    Example:
        >>> layer = AdditiveCoupling(hidden_units=[16])
        >>> layer.build((None, 4))

    Reference:
        NICE: Non-linear Independent Components Estimation, Dinh, Krueger and
        Bengio, 2015.
    """

    def params_per_dim(self):
        return 1

    def coupling_bijector(self, context):
        def fn(x0, output_units, **_):
            return self._net(x0, context)[..., 0], None

        return tfb.RealNVP(
            num_masked=self._masked,
            shift_and_log_scale_fn=memo(fn),
            is_constant_jacobian=True,
            name="additive",
        )


@keras.saving.register_keras_serializable(package="kerasgan")
class NeuralSplineCoupling(_Coupling):
    """Coupling neural spline flow: ``x_b = RQS_{theta(z_a)}(z_b)``, ``x_a = z_a``.

    Args:
        num_bins: number of spline bins ``K``.
        bound: half-width of the spline interval (identity outside).
        **kwargs: as :class:`AffineCoupling`.

    Returns:
        A flow layer.

    Example:
        >>> layer = NeuralSplineCoupling(num_bins=4, hidden_units=[16])
        >>> layer.build((None, 2))

    Reference:
        Neural Spline Flows, Durkan, Bekasov, Murray and Papamakarios, 2019.
    """

    def __init__(self, *args, num_bins=8, bound=4.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_bins = int(num_bins)
        if self.num_bins < 2:
            raise ValueError(f"num_bins must be >= 2. Received: num_bins={num_bins!r}")
        self.bound = float(bound)
        if not self.bound > 0:
            raise ValueError(f"bound must be > 0. Received: bound={bound!r}")

    def params_per_dim(self):
        return 3 * self.num_bins - 1

    def coupling_bijector(self, context):
        def bijector_fn(x0, output_units, **_):
            return spline_bijector(self._net(x0, context), self.num_bins, self.bound)

        return tfb.RealNVP(
            num_masked=self._masked, bijector_fn=memo(bijector_fn), name="nsf_coupling"
        )

    def get_config(self):
        config = super().get_config()
        config.update(num_bins=self.num_bins, bound=self.bound)
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

    takes_context = True

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
        return MaskedAffineBijector(fn, mask, name="checkerboard")

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_channels=list(self.hidden_channels),
            parity=self.parity,
            residual=self.residual,
            log_scale_bound=self.log_scale_bound,
        )
        return config
