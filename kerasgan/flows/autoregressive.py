"""Autoregressive flow layers: MAF, IAF and the autoregressive neural spline flow.

Each dimension is transformed conditioned on the previous ones (in a MADE
order), so the Jacobian is triangular and the log-det is the sum of the
per-dimension log-derivatives: ``tfb.MaskedAutoregressiveFlow`` with our
Keras 3 :class:`MADE` as the conditioner.
"""

from __future__ import annotations

import keras
import tensorflow_probability as tfp

from kerasgan.flows.base import FlowLayer, _shift_and_log_scale
from kerasgan.flows.bijectors import memo, spline_bijector
from kerasgan.flows.conditioners import MADE

tfb = tfp.bijectors

__all__ = ["IAF", "MAF", "NeuralSplineAutoregressive"]


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

    takes_context = True

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

        return memo(fn)

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
            return spline_bijector(self._made(y, context), self.num_bins, self.bound)

        return tfb.MaskedAutoregressiveFlow(bijector_fn=memo(bijector_fn), name="nsf_ar")

    def get_config(self):
        config = super().get_config()
        config.update(num_bins=self.num_bins, bound=self.bound)
        return config
