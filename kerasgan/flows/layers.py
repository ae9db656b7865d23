"""Flow layers: Keras 3 layers own the variables, ``tfp.bijectors`` own the math.

Every layer has ``bijector(context=None) -> tfb.Bijector``, built on demand
from the layer's current weights (a new bijector object per call, so TFP's
bijector cache never serves a result computed with older weights). The
bijector's *forward* direction is the sampling direction (noise side to data
side); its *inverse* maps data towards the noise, the direction used by
``log_prob``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.conditioners import MADE, CouplingCNN, CouplingMLP

tfb = tfp.bijectors

__all__ = [
    "IAF",
    "MAF",
    "AdditiveCoupling",
    "AffineCoupling",
    "FlowLayer",
    "NeuralSplineAutoregressive",
    "NeuralSplineCoupling",
    "Permute",
    "soft_clip",
]


def soft_clip(log_scale, bound):
    """``bound * tanh(log_scale / bound)``: keeps scales in ``[e^-bound, e^bound]``, smoothly."""
    if not bound:
        return log_scale
    return bound * tf.tanh(log_scale / bound)


def _shift_and_log_scale(params, bound):
    """``(shift, soft-clipped log-scale)`` from conditioner output ``[..., D, 2]``."""
    return params[..., 0], soft_clip(params[..., 1], bound)


def _memo(fn):
    """Memoizes a conditioner call on the identity of its input tensor.

    TFP calls a bijector's network once for the transform and again for the
    log-det (``inverse`` and ``inverse_log_det_jacobian`` in ``log_prob``), and
    graph mode does not merge the two copies (measured: 6 instead of 3 MADE
    matmuls per MAF layer). The bijector objects built by ``bijector()`` live
    for one call/trace, so caching by tensor identity (keeping the tensor alive)
    is safe.
    """
    cache = {}

    def wrapped(x, *args, **kwargs):
        hit = cache.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        out = fn(x, *args, **kwargs)
        cache[id(x)] = (x, out)
        return out

    return wrapped


def layer_bijector(layer, context=None, training=False):
    """``layer.bijector(context)``, passing ``training`` to layers that use batch statistics."""
    if getattr(layer, "takes_training", False):
        return layer.bijector(context, training=training)
    return layer.bijector(context)


def initialize_layers(layers, x, context=None):
    """Data-dependent initialization (e.g. ActNorm) of a layer list, data side first.

    Each layer that needs it is initialized on the batch as it arrives there.
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
    conditioning input.
    """

    def __init__(self, context_size=0, **kwargs):
        super().__init__(**kwargs)
        self.context_size = int(context_size)
        if self.context_size < 0:
            raise ValueError(f"context_size must be >= 0. Received: context_size={context_size!r}")
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


@keras.saving.register_keras_serializable(package="kerasgan")
class MAF(FlowLayer):
    """Masked autoregressive flow layer (``tfb.MaskedAutoregressiveFlow`` with our MADE).

    Sampling direction (``forward``, D sequential passes)::

        x_d = z_d * exp(s_d(x_<d)) + m_d(x_<d)

    density direction (``inverse``, one pass)::

        z_d = (x_d - m_d(x_<d)) * exp(-s_d(x_<d)),   log|det dz/dx| = -sum_d s_d

    with ``(m, s) = MADE(x)``, ``s`` soft-clipped to ``[-log_scale_bound, log_scale_bound]``.

    Args:
        hidden_units: MADE hidden sizes.
        input_order: MADE input order (alternate ``"left-to-right"`` and
            ``"right-to-left"`` between stacked layers, or put a
            :class:`Permute` between them).
        activation: MADE activation.
        context_size: conditioning input size (0: unconditional).
        log_scale_bound: soft bound on ``|s|`` (0 disables it).
        seed: seed for ``input_order="random"``.

    Returns:
        A flow layer.

    Example:
        >>> layer = MAF(hidden_units=[16])
        >>> layer.build((None, 2))
        >>> z = layer(np.zeros((3, 2), "float32"))

    Reference:
        Masked Autoregressive Flow for Density Estimation, Papamakarios,
        Pavlakou and Murray, 2017.
    """

    def __init__(
        self,
        hidden_units=(64, 64),
        input_order="left-to-right",
        activation="relu",
        context_size=0,
        log_scale_bound=5.0,
        seed=0,
        **kwargs,
    ):
        super().__init__(context_size=context_size, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.input_order = input_order
        self.activation = activation
        self.log_scale_bound = float(log_scale_bound)
        self.seed = int(seed)
        self.made = None

    def params_per_dim(self):
        return 2

    def build_flow(self, event_size):
        self.made = MADE(
            event_size,
            params=self.params_per_dim(),
            hidden_units=self.hidden_units,
            input_order=self.input_order,
            context_size=self.context_size,
            activation=self.activation,
            seed=self.seed,
            name="made",
            dtype=self.dtype_policy,
        )
        self.made.build((None, event_size))

    def _made(self, y, context):
        return self._condition(self.made, y, context)

    def _shift_and_log_scale(self, context):
        def fn(y, **_):
            return _shift_and_log_scale(self._made(y, context), self.log_scale_bound)

        return _memo(fn)

    def maf_bijector(self, context=None):
        """The ``tfb.MaskedAutoregressiveFlow`` of this layer's weights."""
        return tfb.MaskedAutoregressiveFlow(
            shift_and_log_scale_fn=self._shift_and_log_scale(context), name="maf"
        )

    def bijector(self, context=None):
        return self.maf_bijector(context)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=list(self.hidden_units),
            input_order=list(self.input_order)
            if not isinstance(self.input_order, str)
            else self.input_order,
            activation=self.activation,
            log_scale_bound=self.log_scale_bound,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class IAF(MAF):
    """Inverse autoregressive flow layer: the inverse of a MAF bijector.

    ``bijector() = tfb.Invert(MAF bijector)``: sampling (``forward``) is the
    MAF's one-pass inverse, ``z -> x`` with ``x_d = (z_d - m_d(z_<d)) *
    exp(-s_d(z_<d))``; the density of an arbitrary point needs the MAF's
    D-pass forward. The density of the layer's own samples is cheap when
    computed in the same traced function (TFP caches the noise).

    Args: as :class:`MAF`.

    Returns:
        A flow layer.

    Example:
        >>> layer = IAF(hidden_units=[16])
        >>> layer.build((None, 2))

    Reference:
        Improved Variational Inference with Inverse Autoregressive Flow,
        Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling, 2016.
    """

    def bijector(self, context=None):
        return tfb.Invert(self.maf_bijector(context), name="iaf")


def _spline_bijector(params, num_bins, bound, min_size=1e-3, min_slope=1e-3):
    """``tfb.RationalQuadraticSpline`` on ``[-bound, bound]`` (identity outside) from raw params.

    ``params[..., :K]`` -> bin widths, ``[K:2K]`` -> heights (softmax, each at
    least ``min_size * 2 * bound``), ``[2K:]`` -> the ``K - 1`` interior knot
    slopes (softplus + ``min_slope``).
    """
    k = num_bins
    width = 2.0 * bound
    dtype = params.dtype
    floor = tf.cast(min_size * width, dtype)

    def sizes(raw):
        return tf.nn.softmax(raw, axis=-1) * (width - k * floor) + floor

    slopes = tf.nn.softplus(params[..., 2 * k :]) + tf.cast(min_slope, dtype)
    return tfb.RationalQuadraticSpline(
        bin_widths=sizes(params[..., :k]),
        bin_heights=sizes(params[..., k : 2 * k]),
        knot_slopes=slopes,
        range_min=tf.cast(-bound, dtype),
    )


@keras.saving.register_keras_serializable(package="kerasgan")
class NeuralSplineAutoregressive(MAF):
    """Autoregressive neural spline flow: a MAF whose per-dimension map is a rational-quadratic spline.

    ``x_d = RQS_{theta_d(x_<d)}(z_d)`` on ``[-bound, bound]`` (identity
    outside), ``theta = MADE(x)`` with ``3K - 1`` parameters per dimension.

    Args:
        num_bins: ``K``.
        bound: half-width of the spline's interval.
        **kwargs: as :class:`MAF`.

    Returns:
        A flow layer.

    Example:
        >>> layer = NeuralSplineAutoregressive(num_bins=4, hidden_units=[16])
        >>> layer.build((None, 2))

    Reference:
        Neural Spline Flows, Durkan, Bekasov, Murray and Papamakarios, 2019.
    """

    def __init__(self, num_bins=8, bound=4.0, **kwargs):
        kwargs.setdefault("log_scale_bound", 0.0)
        super().__init__(**kwargs)
        self.num_bins = int(num_bins)
        if self.num_bins < 2:
            raise ValueError(f"num_bins must be >= 2. Received: num_bins={num_bins!r}")
        self.bound = float(bound)
        if not self.bound > 0:
            raise ValueError(f"bound must be > 0. Received: bound={bound!r}")

    def params_per_dim(self):
        return 3 * self.num_bins - 1

    def maf_bijector(self, context=None):
        def bijector_fn(y, **_):
            return _spline_bijector(self._made(y, context), self.num_bins, self.bound)

        return tfb.MaskedAutoregressiveFlow(bijector_fn=_memo(bijector_fn), name="nsf_ar")

    def get_config(self):
        config = super().get_config()
        config.update(num_bins=self.num_bins, bound=self.bound)
        return config


class _Coupling(FlowLayer):
    """Shared parts of the coupling layers (``tfb.RealNVP`` on a split of the last axis)."""

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

        return tfb.RealNVP(num_masked=self._masked, shift_and_log_scale_fn=_memo(fn), name="affine")

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
            shift_and_log_scale_fn=_memo(fn),
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
            return _spline_bijector(self._net(x0, context), self.num_bins, self.bound)

        return tfb.RealNVP(
            num_masked=self._masked, bijector_fn=_memo(bijector_fn), name="nsf_coupling"
        )

    def get_config(self):
        config = super().get_config()
        config.update(num_bins=self.num_bins, bound=self.bound)
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class Permute(FlowLayer):
    """Fixed permutation of the last axis (``tfb.Permute``); ``log|det J| = 0``.

    Args:
        permutation: explicit permutation of ``0..D-1``, ``"reverse"`` or
            ``"random"`` (seeded by ``seed``).
        seed: seed for ``"random"``.

    Returns:
        A flow layer.

    Example:
        >>> layer = Permute("reverse")
        >>> layer.build((None, 3))
        >>> layer(np.array([[1.0, 2.0, 3.0]], "float32")).numpy().tolist()
        [[3.0, 2.0, 1.0]]
    """

    def __init__(self, permutation="reverse", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.permutation = permutation
        self.seed = int(seed)

    def build_flow(self, event_size):
        p = self.permutation
        if isinstance(p, str):
            if p == "reverse":
                perm = np.arange(event_size)[::-1]
            elif p == "random":
                perm = np.random.default_rng(self.seed).permutation(event_size)
            else:
                raise ValueError(
                    "permutation must be 'reverse', 'random' or a permutation of "
                    f"0..{event_size - 1}. Received: permutation={p!r}"
                )
        else:
            perm = np.asarray(p, dtype=int).reshape(-1)
            if sorted(perm.tolist()) != list(range(event_size)):
                raise ValueError(
                    f"permutation must be a permutation of 0..{event_size - 1}. "
                    f"Received: permutation={np.asarray(p).reshape(-1).tolist()!r}"
                )
        self._perm = perm.copy()

    def bijector(self, context=None):
        return tfb.Permute(self._perm)

    def get_config(self):
        config = super().get_config()
        p = self.permutation
        config.update(permutation=p if isinstance(p, str) else list(map(int, p)), seed=self.seed)
        return config
