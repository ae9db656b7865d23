"""FlowModel: a base distribution and a chain of flow layers, trained by maximum likelihood."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan import distribute
from kerasgan import losses as losses_lib
from kerasgan._internal import data_checks as _data_checks
from kerasgan._internal.checks import check_positive_int
from kerasgan._internal.jit import resolve_jit_compile
from kerasgan.flows.base import FlowLayer, initialize_layers, layer_bijector
from kerasgan.saving import OptimizerCompileMixin, SeedStateMixin

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["FlowModel"]


def _finite_or_raise(name, value):
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} contains NaN or Inf values, e.g. at index {index}.")


@keras.saving.register_keras_serializable(package="kerasgan")
class FlowModel(OptimizerCompileMixin, SeedStateMixin, keras.Model):
    """Normalizing flow: ``x = f(z)``, ``z ~ N(0, I)``, trained with ``fit`` by maximum likelihood.

    ``layers`` are listed from the data side to the noise side (the direction
    of ``log_prob``)::

        z = f_K^-1( ... f_1^-1(x))          (layers[0] sees the data)
        log p(x) = log N(z; 0, I) + sum_k log|det d f_k^-1 / d h_{k-1}|

    implemented as ``tfd.TransformedDistribution(base, tfb.Chain([l.bijector()
    for l in layers]))``. ``train_step`` minimizes the mean negative
    log-likelihood over the global batch (correct under ``MirroredStrategy``)
    and logs it as ``nll`` (nats per example). ``log_prob`` and ``sample`` run
    as compiled ``tf.function``s.

    Args:
        event_shape: shape of one example: ``(D,)`` for vectors, ``(H, W, C)``
            for images (see :mod:`kerasgan.flows.image`; a squeeze may change
            the shape on the way to the noise, ``noise_shape``).
        layers: list of :class:`kerasgan.flows.FlowLayer`.
        context_size: size of a conditioning input (0: unconditional). The
            layers that take the context must be built with the same size.
        seed: seed of the sampler's ``keras.random.SeedGenerator``.
        **kwargs: ``keras.Model`` arguments (``name``, ``dtype``).

    Returns:
        A ``keras.Model``; ``model(x)`` returns ``log p(x)``.

    Example:
        >>> from kerasgan import flows
        >>> model = flows.FlowModel((2,), [flows.MAF([16]), flows.Permute(), flows.MAF([16])])
        >>> model.compile(optimizer="adam")
        >>> model.log_prob(np.zeros((3, 2), "float32")).shape
        TensorShape([3])
    """

    def __init__(self, event_shape, layers, context_size=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        shape = tuple(int(d) for d in np.atleast_1d(event_shape))
        if len(shape) not in (1, 3) or min(shape) < 1:
            raise ValueError(
                "event_shape must be (D,) for vectors or (H, W, C) for images, with positive "
                f"sizes. Received: event_shape={event_shape!r}"
            )
        self.event_shape = shape
        layers = list(layers)
        if not layers:
            raise ValueError("layers must contain at least one flow layer. Received: layers=[]")
        for layer in layers:
            if not isinstance(layer, FlowLayer):
                raise ValueError(
                    "Every layer must be a kerasgan.flows.FlowLayer (Keras 3 variables; "
                    "TFP's tf_keras networks would not be trained or saved). Received: "
                    f"{type(layer).__name__}"
                )
        self.flow_layers = layers
        self.context_size = int(context_size)
        if self.context_size < 0:
            raise ValueError(f"context_size must be >= 0. Received: context_size={context_size!r}")
        for layer in layers:
            if layer.context_size and layer.context_size != self.context_size:
                raise ValueError(
                    f"Layer {layer.name} has context_size={layer.context_size} but the model "
                    f"has context_size={self.context_size}."
                )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self._compiled = {}
        self.build()

    # --- structure ---------------------------------------------------------------

    def build(self, input_shape=None):
        shape = self.event_shape
        for layer in self.flow_layers:
            if not layer.built:
                layer.build((None,) + shape)
            shape = tuple(layer.output_event_shape(shape))
        # Event shape at the noise side (a squeeze changes it; the size is kept).
        self.noise_shape = shape
        self.built = True

    def _shape_ok(self, shape):
        shape = tuple(shape)
        return len(shape) == 1 + len(self.event_shape) and shape[1:] == self.event_shape

    def _expected(self):
        return "[N, " + ", ".join(str(d) for d in self.event_shape) + "]"

    @property
    def metrics(self):
        return [self.nll_tracker]

    def bijector(self, context=None, training=False):
        """``tfb.Chain`` mapping noise to data (``forward``) built from the current weights.

        ``training=True`` makes batch-normalization layers use batch statistics.
        """
        return tfb.Chain([layer_bijector(layer, context, training) for layer in self.flow_layers])

    def base_distribution(self):
        """``N(0, I)`` over the noise-side event shape in the model's dtype."""
        zeros = tf.zeros(self.noise_shape, self.compute_dtype)
        return tfd.Independent(
            tfd.Normal(zeros, tf.ones_like(zeros)), reinterpreted_batch_ndims=len(self.noise_shape)
        )

    def distribution(self, context=None, training=False):
        """``tfd.TransformedDistribution`` of the flow (for use inside compiled code)."""
        return tfd.TransformedDistribution(
            self.base_distribution(), self.bijector(context, training=training)
        )

    # --- compiled public API -----------------------------------------------------

    def _function(self, key, fn):
        if key not in self._compiled:
            self._compiled[key] = tf.function(
                fn, jit_compile=bool(getattr(self, "_flow_jit", False)), reduce_retracing=True
            )
        return self._compiled[key]

    def _check_inputs(self, x, context, name="x"):
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        if not self._shape_ok(x.shape):
            raise ValueError(
                f"{name} must have shape {self._expected()}. Received: "
                f"{name}.shape={tuple(x.shape)}"
            )
        if tf.executing_eagerly():
            _finite_or_raise(name, x.numpy())
        if self.context_size:
            if context is None:
                raise ValueError(
                    f"This flow is conditional (context_size={self.context_size}). "
                    "Received: context=None"
                )
            context = tf.convert_to_tensor(context, dtype=self.compute_dtype)
            if context.shape.rank == 1:
                context = tf.broadcast_to(context, [tf.shape(x)[0], self.context_size])
            if context.shape.rank != 2 or context.shape[-1] != self.context_size:
                raise ValueError(
                    f"context must have shape [N, {self.context_size}] or "
                    f"[{self.context_size}]. Received: context.shape={tuple(context.shape)}"
                )
            if tf.executing_eagerly():
                _finite_or_raise("context", context.numpy())
        elif context is not None:
            raise ValueError(
                "This flow is unconditional (context_size=0). Received: a context with "
                f"shape {tuple(np.shape(context))}"
            )
        return x, context

    def _log_prob(self, x, context=None, training=False):
        return self.distribution(context, training=training).log_prob(x)

    def log_prob(self, x, context=None):
        """``log p(x)`` in nats, shape ``[N]``, computed by a compiled function.

        Args:
            x: ``[N, *event_shape]`` points.
            context: ``[N, C]`` or ``[C]`` for a conditional flow.

        Returns:
            ``tf.Tensor`` ``[N]``.

        Raises:
            ValueError: wrong shape, NaN/Inf in ``x`` or ``context``, or a
                missing/unexpected context.
        """
        x, context = self._check_inputs(x, context)
        if context is None:
            return self._function("log_prob", lambda x: self._log_prob(x))(x)
        return self._function("log_prob_context", self._log_prob)(x, context)

    def call(self, x, context=None):
        return self._log_prob(x, context)

    def _draw_seed(self, seed):
        if seed is None:
            return tf.cast(self.seed_generator.next(), tf.int32)
        return tf.constant([int(seed), 0], tf.int32)

    def _sample(self, n, seed, context=None):
        return self.distribution(context).sample(n, seed=seed)

    def sample(self, n, context=None, seed=None):
        """Draws ``n`` samples ``x = f(z)`` with a compiled function.

        Args:
            n: number of samples (positive int).
            context: ``[n, C]`` or ``[C]`` for a conditional flow.
            seed: optional int for reproducible samples; by default the
                model's seed generator advances.

        Returns:
            ``tf.Tensor`` ``[n, D]``.
        """
        n = check_positive_int(n, "n")
        seed = self._draw_seed(seed)
        if self.context_size:
            _, context = self._check_inputs(np.zeros((n,) + self.event_shape), context)
            return self._function("sample_context", self._sample)(tf.constant(n), seed, context)
        if context is not None:
            self._check_inputs(np.zeros((1,) + self.event_shape), context)
        return self._function("sample", lambda n, s: self._sample(n, s))(tf.constant(n), seed)

    def sample_and_log_prob(self, n, context=None, seed=None):
        """Samples and their ``log p`` in one compiled call (cheap for IAF-style flows)."""
        n = check_positive_int(n, "n")
        seed = self._draw_seed(seed)

        def fn(n, seed, context=None):
            dist = self.distribution(context)
            x = dist.sample(n, seed=seed)
            return x, dist.log_prob(x)

        if self.context_size:
            _, context = self._check_inputs(np.zeros((int(n),) + self.event_shape), context)
            return self._function("sample_lp_context", fn)(tf.constant(int(n)), seed, context)
        return self._function("sample_lp", lambda n, s: fn(n, s))(tf.constant(int(n)), seed)

    # --- data-dependent initialization ------------------------------------------

    def _needs_init(self):
        return any(
            getattr(layer, "needs_data_init", False) and not layer.is_initialized
            for layer in self.flow_layers
        )

    def initialize(self, x, context=None):
        """Data-dependent initialization (e.g. ActNorm) from a batch ``x`` ``[N, *event_shape]``.

        Walks the layers from the data side, initializing each layer that needs
        it on the batch as it arrives there. ``fit`` calls this on its first
        batch when a layer is not initialized yet.

        Returns:
            None.
        """
        x, context = self._check_inputs(x, context)
        initialize_layers(self.flow_layers, x, context)

    # --- training ----------------------------------------------------------------

    def compile(self, optimizer="adam", jit_compile=None, steps_per_execution=1, **kwargs):
        """Configures maximum-likelihood training.

        Args:
            optimizer: optimizer instance, name or config.
            jit_compile: XLA for ``fit`` and for ``log_prob``/``sample``;
                ``None``: on for a single device (flows are MLPs; XLA is about 2x
                faster on CPU), off under multi-replica strategies.
            steps_per_execution: train steps per compiled call.
            **kwargs: other ``keras.Model.compile`` arguments (not ``loss``).

        Returns:
            None.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                "FlowModel trains by maximum likelihood and takes no loss. Received: "
                f"loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)

        self._remember_compile_args(jit_compile, steps_per_execution)
        jit_compile = resolve_jit_compile(jit_compile, model=self)
        self._flow_jit = bool(jit_compile)
        self._compiled = {}
        super().compile(
            optimizer=optimizer,
            jit_compile=bool(jit_compile),
            steps_per_execution=steps_per_execution,
            **kwargs,
        )
        self.optimizer.build(self.trainable_variables)

    def _unpack(self, data):
        context = None
        if isinstance(data, dict):
            unknown = set(data) - {"x", "context"}
            if unknown or "x" not in data:
                raise ValueError(
                    "A dict of flow data needs the key 'x' (and 'context' for a conditional "
                    f"flow). Received keys: {sorted(data)}"
                )
            x, context = data["x"], data.get("context")
        elif isinstance(data, (tuple, list)):
            x = data[0]
            if self.context_size:
                if len(data) < 2:
                    raise ValueError(
                        "A conditional flow trains on (x, context) pairs. Received: a "
                        f"{len(data)}-tuple"
                    )
                context = data[1]
            if isinstance(x, dict):
                return self._unpack(x)
        else:
            x = data
        if x.shape.rank is not None and not self._shape_ok((None, *x.shape[1:])):
            raise ValueError(
                f"Training data must have shape {self._expected()}. Received: batch "
                f"with shape {x.shape}"
            )
        if self.context_size and context is None:
            raise ValueError(
                "A conditional flow trains on (x, context) or {'x': ..., 'context': ...}. "
                "Received: no context"
            )
        x = tf.cast(x, self.compute_dtype)
        if context is not None:
            context = tf.cast(context, self.compute_dtype)
        return x, (context if self.context_size else None)

    def train_step(self, data):
        x, context = self._unpack(data)
        with tf.GradientTape() as tape:
            nll = -self._log_prob(x, context, training=True)
            loss = losses_lib.global_batch_mean(nll)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        for layer in self._flatten_layers():
            if hasattr(layer, "update_moving_statistics"):
                layer.update_moving_statistics()
        self.nll_tracker.update_state(nll)
        return distribute.replica_logs({"nll": self.nll_tracker.result()})

    def test_step(self, data):
        x, context = self._unpack(data)
        self.nll_tracker.update_state(-self._log_prob(x, context))
        return distribute.replica_logs({"nll": self.nll_tracker.result()})

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` with the data checked (dtype, shape, rows, NaN/Inf) first.

        Data: ``x`` as ``[N, D]`` array or a ``tf.data.Dataset`` of ``x``,
        ``(x, context)`` or ``{"x": ..., "context": ...}``; for a conditional
        flow with arrays, pass ``x={"x": X, "context": C}`` or ``fit(X, C)``.
        Arrays (and nested lists) must be numeric, non-empty and finite
        *after* the casts into the model (to ``floatx``, then to the model's
        compute dtype: float64 ``1e300`` is inf in float32); one vectorized
        pass. Datasets are checked in-graph as they stream.

        Args:
            x, y, *args, **kwargs: as for ``keras.Model.fit``.

        Returns:
            The ``History``.

        Raises:
            ValueError: ``x`` is None, non-numeric, of the wrong shape, empty,
                non-finite in the compute dtype, or a dataset without a batch.
        """
        owner = type(self).__name__
        _data_checks.require_data(x, owner)

        def check(value, name):
            arr = _data_checks.check_array(value, [self.compute_dtype], name)
            return value if isinstance(value, tf.Tensor) else arr

        if isinstance(x, tf.data.Dataset):
            _data_checks.require_batches(x, owner)
            x = _data_checks.checked(x, first_only=False, dtype=self.compute_dtype)
        else:
            if isinstance(x, dict):
                if set(x) - {"x", "context"} or "x" not in x:
                    raise ValueError(
                        "A dict of flow data needs the key 'x' (and 'context' for a "
                        f"conditional flow). Received keys: {sorted(x)}"
                    )
                x = {name: check(value, name) for name, value in x.items()}
            else:
                x = check(x, "x")
            first = x["x"] if isinstance(x, dict) else x
            shape = np.shape(first)
            if not self._shape_ok(shape):
                raise ValueError(
                    f"Training data must have shape {self._expected()}. Received: "
                    f"x.shape={tuple(shape)}"
                )
            if y is not None and self.context_size:
                y = check(y, "context")
        with _data_checks.as_value_error():
            if self._needs_init():
                self._initialize_from(x, y)
            history = super().fit(x, y, *args, **kwargs)
        return _data_checks.require_history(history, owner, args, kwargs)

    def _initialize_from(self, x, y=None, n=4096):
        if isinstance(x, tf.data.Dataset):
            for batch in x.take(1):
                x_b, context = self._unpack(batch)
                self.initialize(x_b, context)
                return
            raise ValueError(
                f"{type(self).__name__}.fit got a dataset that yields no batches (the "
                "data-dependent initialization needs one). Received: an empty "
                "tf.data.Dataset. Expected: at least one batch"
            )
        if isinstance(x, dict):
            self.initialize(
                np.asarray(x["x"])[:n],
                None if x.get("context") is None else np.asarray(x["context"])[:n],
            )
            return
        context = np.asarray(y)[:n] if y is not None and self.context_size else None
        self.initialize(np.asarray(x)[:n], context)

    # --- serialization -----------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            event_shape=list(self.event_shape),
            layers=[keras.saving.serialize_keras_object(layer) for layer in self.flow_layers],
            context_size=self.context_size,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [keras.saving.deserialize_keras_object(c) for c in config["layers"]]
        return cls(**config)
