"""The GAN base model: a ``keras.Model`` whose ``train_step`` plays the game."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasgan import _data_checks, distribute, optimizers, regularizers
from kerasgan import losses as losses_lib
from kerasgan._checks import check_positive_int
from kerasgan.distribute import num_replicas as _num_replicas
from kerasgan.distribute import replica_slice as _replica_slice
from kerasgan.saving import SeedStateMixin

__all__ = ["GAN", "default_jit_compile"]


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
        import warnings

        warnings.warn(
            "jit_compile=True is not supported by MirroredStrategy over CPU devices; "
            "falling back to jit_compile=False.",
            stacklevel=3,
        )
        jit_compile = False
    return bool(jit_compile)


@keras.saving.register_keras_serializable(package="kerasgan")
class GAN(SeedStateMixin, keras.Model):
    """Generative adversarial network trained with ``fit``.

    One ``train_step`` = ``d_steps`` discriminator updates (each on the same
    real batch with fresh latents) followed by one generator update:

        D step:  minimize mean_i [ L_D(D(x_i), D(G(z_i))) + gp_weight * gp_i
                                   + r1_weight / 2 * |grad D(x_i)|^2 ]
                 then clip D's weights to [-clip_value, clip_value] if set
        G step:  minimize mean_i L_G(D(G(z_i)))

    where ``(L_G, L_D) = kerasgan.losses.get(loss)`` and the means run over the
    *global* batch (correct under ``MirroredStrategy``). Latents are
    ``z ~ N(0, I)``. A D step leaves the generator's variables untouched and a
    G step leaves the discriminator's untouched (moving statistics of batch
    normalization included: they are restored after the other player's pass).

    Args:
        generator: ``keras.Model`` mapping ``[B, latent_dim]`` to samples.
        discriminator: ``keras.Model`` mapping samples to logits ``[B, 1]``
            (no sigmoid at the end).
        latent_dim: size of the latent vector ``z``.
        loss: name of a loss pair in :mod:`kerasgan.losses`.
        d_steps: discriminator updates per generator update (``k`` in
            Goodfellow et al.; ``n_critic`` in WGAN).
        gp_weight: weight of the WGAN-GP gradient penalty (0 disables it).
        gp_target: target gradient norm of the penalty.
        r1_weight: ``gamma`` of the R1 penalty (0 disables it).
        clip_value: if set, clip D's weights to ``[-c, c]`` after each D step.
        seed: integer seed of the latent / interpolation noise.

    Returns:
        ``fit`` logs ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean
        discriminator output on real / generated data), plus ``gp`` or ``r1``
        when those penalties are on.

    Example:
        >>> import numpy as np, keras, kerasgan
        >>> g = kerasgan.models.build_mlp_generator(latent_dim=2, output_dim=2)
        >>> d = kerasgan.models.build_mlp_discriminator(input_dim=2)
        >>> gan = kerasgan.GAN(g, d, latent_dim=2)
        >>> gan.compile()
        >>> x = np.random.normal(size=(256, 2)).astype("float32")
        >>> history = gan.fit(x, batch_size=64, epochs=1, verbose=0)
        >>> gan.sample(5).shape
        (5, 2)

    Reference:
        Generative Adversarial Nets, Goodfellow et al., 2014.
    """

    default_loss = "non_saturating"

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        loss=None,
        d_steps=1,
        gp_weight=0.0,
        gp_target=1.0,
        r1_weight=0.0,
        clip_value=None,
        pack=1,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        loss = self.default_loss if loss is None else loss
        losses_lib.get(loss)  # validates the name
        if not isinstance(generator, keras.Model):
            raise ValueError(f"generator must be a keras.Model. Received: generator={generator!r}")
        if not isinstance(discriminator, keras.Model):
            raise ValueError(
                f"discriminator must be a keras.Model. Received: discriminator={discriminator!r}"
            )
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)):
            raise ValueError(
                f"latent_dim must be a positive int. Received: latent_dim={latent_dim!r}"
            )
        if latent_dim < 1:
            raise ValueError(
                f"latent_dim must be a positive int. Received: latent_dim={latent_dim}"
            )
        if isinstance(d_steps, bool) or not isinstance(d_steps, (int, np.integer)):
            raise ValueError(f"d_steps must be an int >= 1. Received: d_steps={d_steps!r}")
        if d_steps < 1:
            raise ValueError(f"d_steps must be an int >= 1. Received: d_steps={d_steps}")
        for name, value in (("gp_weight", gp_weight), ("r1_weight", r1_weight)):
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0. Received: {name}={value}")
        if clip_value is not None and not (np.isfinite(clip_value) and clip_value > 0):
            raise ValueError(f"clip_value must be > 0 or None. Received: clip_value={clip_value}")
        if isinstance(pack, bool) or not isinstance(pack, (int, np.integer)) or pack < 1:
            raise ValueError(f"pack must be an int >= 1. Received: pack={pack!r}")
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int or None. Received: seed={seed!r}")

        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.loss_name = loss
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.gp_target = float(gp_target)
        self.r1_weight = float(r1_weight)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.pack = int(pack)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="gan_seed")
        self._g_loss_fn, self._d_loss_fn = losses_lib.get(loss)

        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gp_tracker = keras.metrics.Mean(name="gp") if self.gp_weight else None
        self.r1_tracker = keras.metrics.Mean(name="r1") if self.r1_weight else None

        if generator.built and discriminator.built:
            self.build()

    # --- Keras plumbing ---------------------------------------------------------

    def build(self, input_shape=None):
        if not self.generator.built:
            self.generator.build((None, self.latent_dim))
        if not self.discriminator.built:
            shape = list(self.generator.compute_output_shape((None, self.latent_dim)))
            shape[-1] *= self.pack
            self.discriminator.build(tuple(shape))
        self.built = True

    def call(self, z, training=False):
        """Runs the generator: ``G(z)``."""
        return self.generator(z, training=training)

    @property
    def metrics(self):
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]
        trackers += [t for t in (self.gp_tracker, self.r1_tracker) if t is not None]
        return trackers

    def default_optimizers(self):
        """``(g_optimizer, d_optimizer)`` used when ``compile`` is not given them.

        Adam(2e-4, beta_1=0.5) for both, as recommended for DCGAN
        (:class:`kerasgan.optimizers.Adam`: Keras's Adam with TensorFlow's fused
        update kernel).
        """
        return (
            optimizers.Adam(2e-4, beta_1=0.5),
            optimizers.Adam(2e-4, beta_1=0.5),
        )

    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        jit_compile=None,
        steps_per_execution=1,
        run_eagerly=False,
    ):
        """Configures the two optimizers.

        Args:
            g_optimizer: generator optimizer (instance, name or config).
            d_optimizer: discriminator optimizer.
            jit_compile: XLA; ``None`` picks :func:`default_jit_compile` (XLA on
                one device except for convolutional models on CPU).
                ``True`` under several CPU replicas falls back to ``False``
                with a warning.
            steps_per_execution: train steps per compiled call.
            run_eagerly: debug mode.

        Returns:
            None.
        """
        default_g, default_d = self.default_optimizers()
        g_optimizer = keras.optimizers.get(g_optimizer) or default_g
        d_optimizer = keras.optimizers.get(d_optimizer) or default_d
        if g_optimizer is d_optimizer:
            raise ValueError(
                "g_optimizer and d_optimizer must be two different optimizer "
                "instances (each keeps its own moments). Received the same object twice."
            )
        jit_compile = resolve_jit_compile(jit_compile, model=self)
        if self.dtype_policy.name == "mixed_float16":
            # super().compile would wrap only its own (unused) optimizer.
            g_optimizer = _loss_scaled(g_optimizer)
            d_optimizer = _loss_scaled(d_optimizer)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        # optimizer=None: no unused default optimizer as model.optimizer.
        super().compile(
            optimizer=None,
            jit_compile=bool(jit_compile),
            steps_per_execution=steps_per_execution,
            run_eagerly=run_eagerly,
        )
        # Build both optimizers now: under MirroredStrategy lazily built ones
        # fail ("You must feed a value for placeholder"), and state restored
        # into unbuilt optimizers is silently skipped.
        if not self.built:
            self.build()
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "g_optimizer": keras.saving.serialize_keras_object(_unscaled(self.g_optimizer)),
            "d_optimizer": keras.saving.serialize_keras_object(_unscaled(self.d_optimizer)),
            "jit_compile": bool(self.jit_compile),
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("g_optimizer", "d_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim,
                "loss": self.loss_name,
                "d_steps": self.d_steps,
                "gp_weight": self.gp_weight,
                "gp_target": self.gp_target,
                "r1_weight": self.r1_weight,
                "clip_value": self.clip_value,
                "pack": self.pack,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    # --- sampling --------------------------------------------------------------

    def generate(self, z, batch_size=256):
        """Runs the generator in inference mode on given latents.

        Args:
            z: ``[N, latent_dim]`` latents.
            batch_size: batch size of the compiled prediction loop.

        Returns:
            numpy array of samples ``[N, ...]``.
        """
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape [N, {self.latent_dim}]. Received: z.shape={z.shape}"
            )
        return self.generator.predict(z, batch_size=batch_size, verbose=0)

    def sample(self, n, seed=None, batch_size=256):
        """Draws ``n`` samples ``G(z)``, ``z ~ N(0, I)``.

        Args:
            n: number of samples.
            seed: optional int seed for the latents.
            batch_size: batch size of the compiled prediction loop.

        Returns:
            numpy array ``[n, ...]``.
        """
        n = check_positive_int(n, "n")
        rng = np.random.default_rng(seed)
        return self.generate(rng.standard_normal((n, self.latent_dim)), batch_size=batch_size)

    # --- input validation -----------------------------------------------------

    def _expected_rank(self):
        shape = self.generator.compute_output_shape((None, self.latent_dim))
        return len(shape)

    def _data_dtype(self):
        """The dtype real batches are cast to: the discriminator's compute dtype.

        (``float16`` under ``mixed_float16``: values beyond 65504 become inf.)
        """
        return self.discriminator.compute_dtype

    def _validate_array(self, x):
        if isinstance(x, (np.ndarray, tf.Tensor, list)) or hasattr(x, "__array__"):
            arr = _data_checks.numeric_array(x)
            if arr.ndim != self._expected_rank():
                raise ValueError(
                    f"Training data must have rank {self._expected_rank()} "
                    f"(the generator's output rank, shape "
                    f"{self.generator.compute_output_shape((None, self.latent_dim))}). "
                    f"Received: x with shape {arr.shape}"
                )
            _data_checks.require_rows(arr)
            _data_checks.check_finite(arr, _data_checks.array_dtypes(arr, [self._data_dtype()]))
            return arr
        return None

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` with the data checked first.

        NumPy arrays, nested lists and tensors are checked for a numeric
        dtype, the rank, at least one row and NaN/Inf *after* the casts into
        the model (to ``floatx``, then to the discriminator's compute dtype:
        float64 ``1e300`` is inf in float32, ``7e4`` in float16) in one
        vectorized pass; a ``tf.data.Dataset`` is checked in-graph as it
        streams and a non-finite batch stops training with a ``ValueError``.
        ``(x, y)`` data passes ``y`` through unchecked.

        Args:
            x, y, *args, **kwargs: as for ``keras.Model.fit``.

        Returns:
            The ``History``.

        Raises:
            ValueError: ``x`` is None, a dict, non-numeric, of the wrong rank,
                empty, non-finite in the compute dtype, or a dataset without
                a batch.
        """
        owner = type(self).__name__
        _data_checks.require_data(x, owner)
        if isinstance(x, dict):
            raise ValueError(
                f"GAN expects data as x or (x, ...). Received: a dict with keys {sorted(x)}"
            )
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            first = spec[0] if isinstance(spec, tuple) else spec
            if hasattr(first, "shape") and first.shape.rank is not None:
                if first.shape.rank != self._expected_rank():
                    raise ValueError(
                        f"Training data must have rank {self._expected_rank()}. "
                        f"Received: dataset elements with shape {first.shape}"
                    )
            _data_checks.require_batches(x, owner)
            x = _data_checks.checked(x, first_only=True, dtype=self._data_dtype())
        else:
            arr = self._validate_array(x)
            if arr is not None and not isinstance(x, tf.Tensor):
                x = arr
        with _data_checks.as_value_error():
            history = super().fit(x, y, *args, **kwargs)
        return _data_checks.require_history(history, owner, args, kwargs)

    # --- the game ----------------------------------------------------------------

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        if isinstance(data, dict):
            raise ValueError(
                f"GAN expects data as x or (x, ...). Received: a dict with keys {sorted(data)}"
            )
        rank = self._expected_rank()
        if data.shape.rank is not None and data.shape.rank != rank:
            raise ValueError(
                f"Training data must have rank {rank}. Received: batch with shape {data.shape}"
            )
        return data

    def draw_latents(self, local_batch):
        """``z ~ N(0, I)`` for this replica: ``[local_batch, latent_dim]``."""
        seed = self.seed_generator.next()
        z = tf.random.stateless_normal([local_batch * _num_replicas(), self.latent_dim], seed=seed)
        return _replica_slice(z, local_batch)

    def discriminator_loss(self, real, fake, training=True):
        """Per-example D loss and diagnostics for one batch.

        Returns:
            ``(per_example_loss [B / pack], logs dict)``.
        """
        real, fake = self.pack_samples(real), self.pack_samples(fake)
        real_logits = self.discriminator(real, training=training)
        fake_logits = self.discriminator(fake, training=training)
        per_example = self._d_loss_fn(real_logits, fake_logits)
        logs = {
            "d_real": tf.reduce_mean(tf.cast(real_logits, tf.float32)),
            "d_fake": tf.reduce_mean(tf.cast(fake_logits, tf.float32)),
        }
        if self.gp_weight:
            local_batch = tf.shape(real)[0]
            alpha = regularizers.interpolation_weights(
                local_batch * _num_replicas(), real.shape.rank, self.seed_generator.next()
            )
            alpha = _replica_slice(alpha, local_batch)
            gp = regularizers.gradient_penalty(
                self.discriminator, real, fake, alpha, target=self.gp_target
            )
            per_example = per_example + self.gp_weight * gp
            logs["gp"] = tf.reduce_mean(gp)
        if self.r1_weight:
            r1 = regularizers.r1_penalty(self.discriminator, real)
            per_example = per_example + 0.5 * self.r1_weight * r1
            logs["r1"] = tf.reduce_mean(r1)
        return per_example, logs

    def pack_samples(self, x):
        """PacGAN packing: groups of ``pack`` consecutive samples, concatenated on the last axis."""
        if self.pack == 1:
            return x
        batch = tf.shape(x)[0]
        if x.shape[0] is not None and x.shape[0] % self.pack:
            raise ValueError(
                f"The batch size must be divisible by pack={self.pack}. "
                f"Received: batch of {x.shape[0]}"
            )
        rest = x.shape[1:]
        x = tf.reshape(x, [batch // self.pack, self.pack, *rest])  # [B/m, m, ...]
        perm = [0, *range(2, len(rest) + 1), 1, len(rest) + 1]
        x = tf.transpose(x, perm)  # [B/m, ..., m, C]
        return tf.reshape(x, [batch // self.pack, *rest[:-1], self.pack * rest[-1]])

    def discriminator_step(self, real):
        """One discriminator update on ``real`` with fresh latents."""
        local_batch = tf.shape(real)[0]
        z = self.draw_latents(local_batch)
        with _preserve(self.generator.non_trainable_variables):
            fake = self.generator(z, training=True)
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            per_example, logs = self.discriminator_loss(real, fake)
            loss = losses_lib.global_batch_mean(per_example)
            scaled = self.d_optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.discriminator.trainable_variables)
        self.d_optimizer.apply(grads, self.discriminator.trainable_variables)
        if self.clip_value is not None:
            regularizers.clip_weights(self.discriminator.trainable_variables, self.clip_value)
        logs["d_loss"] = tf.reduce_mean(per_example)
        return logs

    def generator_step(self, local_batch):
        """One generator update through the (unchanged) discriminator."""
        z = self.draw_latents(local_batch)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            with _preserve(self.discriminator.non_trainable_variables):
                fake_logits = self.discriminator(self.pack_samples(fake), training=True)
            per_example = self._g_loss_fn(fake_logits)
            loss = losses_lib.global_batch_mean(per_example)
            scaled = self.g_optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.generator.trainable_variables)
        self.g_optimizer.apply(grads, self.generator.trainable_variables)
        return {"g_loss": tf.reduce_mean(per_example)}

    def train_step(self, data):
        real = self._unpack(data)
        local_batch = tf.shape(real)[0]
        d_logs = {}
        for _ in range(self.d_steps):
            d_logs = self.discriminator_step(real)
        g_logs = self.generator_step(local_batch)
        return self._update_trackers({**d_logs, **g_logs})

    def _update_trackers(self, logs):
        for tracker in self.metrics:
            if tracker.name in logs:
                tracker.update_state(logs[tracker.name])
        return distribute.replica_logs({t.name: t.result() for t in self.metrics})

    def test_step(self, data):
        """Evaluates both losses on a batch without updating anything."""
        real = self._unpack(data)
        local_batch = tf.shape(real)[0]
        fake = self.generator(self.draw_latents(local_batch), training=False)
        real_logits = self.discriminator(self.pack_samples(real), training=False)
        fake_logits = self.discriminator(self.pack_samples(fake), training=False)
        logs = {
            "d_loss": tf.reduce_mean(self._d_loss_fn(real_logits, fake_logits)),
            "g_loss": tf.reduce_mean(self._g_loss_fn(fake_logits)),
            "d_real": tf.reduce_mean(tf.cast(real_logits, tf.float32)),
            "d_fake": tf.reduce_mean(tf.cast(fake_logits, tf.float32)),
        }
        return self._update_trackers(logs)


class _preserve:
    """Restores variables' values on exit (e.g. another player's BN statistics).

    The other player must be run in training mode (batch statistics), but its
    moving averages belong to its own updates, so they are put back.
    """

    def __init__(self, variables):
        self.variables = list(variables)

    def __enter__(self):
        self.saved = [tf.identity(v.value) for v in self.variables]
        return self

    def __exit__(self, *exc):
        for v, value in zip(self.variables, self.saved):
            v.assign(value)
        return False


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def _unscaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer
