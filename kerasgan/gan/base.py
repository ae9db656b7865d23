"""The GAN base model: a ``keras.Model`` whose ``train_step`` plays the game.

Every variant (``wgan.py``, ``conditional.py``, ``acgan.py``, ...) is a subclass that sets
defaults or overrides one step; see ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import copy

import keras
import numpy as np
import tensorflow as tf

from kerasgan import distribute, optimizers
from kerasgan import losses as losses_lib
from kerasgan._internal import data_checks as _data_checks
from kerasgan._internal.checks import check_positive_int
from kerasgan._internal.jit import resolve_jit_compile
from kerasgan.distribute import num_replicas as _num_replicas
from kerasgan.distribute import replica_slice as _replica_slice
from kerasgan.losses import penalties as penalties_lib
from kerasgan.saving import SeedStateMixin

__all__ = ["GAN"]


# The networks and optimizers of the base game. A model with more players (InfoGAN's Q
# network, BiGAN's encoder, CycleGAN's second pair) extends this mapping: name ->
# (network attribute, log/optimizer prefix); the optimizer is ``<prefix>_optimizer``.
_BASE_PLAYERS = {"generator": ("generator", "g"), "discriminator": ("discriminator", "d")}

# Keys a dict batch may use for the samples and for the labels (ours, and tfds's).
_X_KEYS = ("x", "image", "images")
_Y_KEYS = ("y", "label", "labels")


def _split_dict(batch):
    """``(x, y)`` from a dict batch: ``{"x"|"image"|"images": ..., "y"|"label"|"labels": ...}``."""
    xs = [k for k in _X_KEYS if k in batch]
    ys = [k for k in _Y_KEYS if k in batch]
    unknown = sorted(set(batch) - set(_X_KEYS) - set(_Y_KEYS))
    if len(xs) != 1 or len(ys) > 1 or unknown:
        raise ValueError(
            "A dict batch needs one of the keys 'x', 'image', 'images' (the samples) and at "
            f"most one of 'y', 'label', 'labels'. Received: a dict with keys {sorted(batch)}"
        )
    return batch[xs[0]], (batch[ys[0]] if ys else None)


@keras.saving.register_keras_serializable(package="kerasgan")
class GAN(SeedStateMixin, keras.Model):
    """Generative adversarial network trained with ``fit``.

    One ``train_step`` = ``d_steps`` discriminator updates (each on the same
    real batch with fresh latents) followed by one generator update:

        D step:  minimize mean_i [ L_D(D(x_i), D(G(z_i))) + sum_p c_p * p_i ]
                 then each penalty's ``after_update`` (weight clipping)
        G step:  minimize mean_i [ L_G(D(G(z_i))) + sum_q c_q * q_i ]

    where ``(L_G, L_D) = kerasgan.losses.get(loss)``, ``p`` and ``q`` run over the
    penalties (:mod:`kerasgan.losses.penalties`) of the discriminator and of the
    generator, and the means run over the *global* batch (correct under
    ``MirroredStrategy``). Latents are ``z ~ N(0, I)``. An update of one player
    leaves the other players' variables untouched (moving statistics of batch
    normalization included: they are restored after the other player's pass).

    Conditioning: with ``num_classes`` set, batches carry labels (``(x, y)``,
    or a dict ``{"x": ..., "y": ...}``); the generator is called on
    ``[z, labels]`` and the discriminator on ``[x, labels]`` (fakes are made
    for the labels of the real batch). Unconditional models ignore ``y``.

    Players: :attr:`players` names the networks; :attr:`optimizers` maps each
    name to its optimizer (``g_optimizer``, ``d_optimizer``, ...); resume,
    learning-rate logging, loss scaling and export read that mapping.

    Args:
        generator: ``keras.Model`` mapping ``[B, latent_dim]`` (and labels
            ``[B]`` for a conditional model) to samples.
        discriminator: ``keras.Model`` mapping samples (and labels) to logits
            ``[B, 1]`` (no sigmoid at the end); a list of outputs is
            ``[source_logits, *extras]`` (an AC-GAN's class logits).
        latent_dim: size of the latent vector ``z``.
        loss: name of a loss pair in :mod:`kerasgan.losses`.
        d_steps: discriminator updates per generator update (``k`` in
            Goodfellow et al.; ``n_critic`` in WGAN).
        gp_weight: shorthand for ``GradientPenalty(gp_weight, gp_target)``
            (0: none).
        gp_target: target gradient norm of that penalty.
        r1_weight: shorthand for ``R1Penalty(r1_weight)`` (``gamma``; 0: none).
        clip_value: shorthand for ``WeightClipping(clip_value)`` (None: none).
        pack: PacGAN packing degree (the discriminator sees ``pack`` samples
            concatenated on the last axis).
        penalties: more :class:`kerasgan.losses.Penalty` objects.
        num_classes: number of classes of a conditional model (None:
            unconditional).
        seed: integer seed of the latent / interpolation noise.

    Returns:
        ``fit`` logs ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean
        discriminator output on real / generated data), plus each penalty's
        key (``gp``, ``r1``, ``d_cls``/``g_cls``...).

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
    players = _BASE_PLAYERS
    # A conditional discriminator is called on [x, labels]; AC-GAN's is not.
    discriminator_takes_labels = True

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
        penalties=None,
        num_classes=None,
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
        if num_classes is not None and (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, (int, np.integer))
            or num_classes < 2
        ):
            raise ValueError(
                f"num_classes must be an int >= 2 or None. Received: num_classes={num_classes!r}"
            )
        if num_classes is not None and pack != 1:
            raise ValueError(
                "Packing (pack > 1) is for unconditional models. "
                f"Received: pack={pack} with num_classes={num_classes}"
            )

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
        self.num_classes = None if num_classes is None else int(num_classes)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="gan_seed")
        self._g_loss_fn, self._d_loss_fn = losses_lib.get(loss)

        # Penalties from the shorthand arguments, then the given ones. get_config writes
        # the shorthands and ``penalties`` (the given ones) apart, so both round trip.
        builtin = []
        if self.gp_weight:
            builtin.append(penalties_lib.GradientPenalty(self.gp_weight, self.gp_target))
        if self.r1_weight:
            builtin.append(penalties_lib.R1Penalty(self.r1_weight))
        if self.clip_value is not None:
            builtin.append(penalties_lib.WeightClipping(self.clip_value))
        if penalties is not None and not isinstance(penalties, (list, tuple)):
            raise ValueError(
                f"penalties must be a list of kerasgan.losses.Penalty. Received: {penalties!r}"
            )
        given = []
        for p in penalties or []:
            try:
                given.append(penalties_lib.deserialize(p))
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"penalties must hold kerasgan.losses.Penalty objects. Received: {p!r}"
                ) from e
        self._given_penalties = given
        self.penalties = builtin + given

        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self._penalty_trackers = []
        self._check_players()
        self._build_if_ready()

    def _build_if_ready(self):
        """Builds the model once every player's network is set and built.

        A subclass with more players sets its other networks after
        ``super().__init__`` and calls this again (Keras locks a built model's state).
        """
        networks = [getattr(self, attr, None) for attr, _ in self.players.values()]
        if all(n is not None and n.built for n in networks):
            self.build()

    def _check_players(self):
        keys = {"d_loss", "g_loss", "d_real", "d_fake"}
        trackers = []
        for penalty in self.penalties:
            for player in penalty.players:
                if player not in self.players:
                    raise ValueError(
                        f"{type(penalty).__name__} applies to player {player!r}, which "
                        f"{type(self).__name__} does not have; its players are "
                        f"{list(self.players)}. Received: players={list(penalty.players)}"
                    )
                if penalty.coefficient == 0:  # weight clipping; a switched-off penalty
                    continue
                key = penalty.log_key(self.players[player][1])
                if key in keys:
                    raise ValueError(
                        f"Two penalties (or a penalty and a loss) log under {key!r}; give "
                        f"one another name. Received: penalties={self.penalties}"
                    )
                keys.add(key)
                trackers.append(keras.metrics.Mean(name=key))
        self._penalty_trackers = trackers

    # --- Keras plumbing ---------------------------------------------------------

    @property
    def conditional(self) -> bool:
        """Whether batches carry labels that reach the generator (``num_classes`` set)."""
        return self.num_classes is not None

    def _generator_input_shape(self):
        if self.conditional:
            return [(None, self.latent_dim), (None,)]
        return (None, self.latent_dim)

    def sample_shape(self):
        """The generator's output shape ``(None, ...)``."""
        output = getattr(self.generator, "output", None)
        if output is not None and not isinstance(output, (list, tuple)):
            return tuple(output.shape)
        return tuple(self.generator.compute_output_shape(self._generator_input_shape()))

    def build(self, input_shape=None):
        if not self.generator.built:
            self.generator.build(self._generator_input_shape())
        if not self.discriminator.built:
            shape = list(self.sample_shape())
            shape[-1] *= self.pack
            if self.conditional and self.discriminator_takes_labels:
                self.discriminator.build([tuple(shape), (None,)])
            else:
                self.discriminator.build(tuple(shape))
        self.built = True

    def call(self, z, training=False):
        """Runs the generator: ``G(z)`` (``G([z, labels])`` for a conditional model)."""
        return self.generator(z, training=training)

    @property
    def metrics(self):
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]
        return trackers + list(self._penalty_trackers)

    # --- players ------------------------------------------------------------------

    def player_network(self, player) -> keras.Model:
        """The network of ``player`` (``"generator"``, ``"discriminator"``, ...)."""
        if player not in self.players:
            raise ValueError(
                f"{type(self).__name__} has players {list(self.players)}. Received: {player!r}"
            )
        return getattr(self, self.players[player][0])

    @property
    def optimizers(self) -> dict:
        """``{player: optimizer}`` once compiled (``{}`` before)."""
        found = {}
        for player, (_, prefix) in self.players.items():
            opt = getattr(self, f"{prefix}_optimizer", None)
            if opt is not None:
                found[player] = opt
        return found

    def default_optimizers(self):
        """The optimizers ``compile`` uses for players it is not given.

        Adam(2e-4, beta_1=0.5) for every player, as recommended for DCGAN
        (:class:`kerasgan.optimizers.Adam`: Keras's Adam with TensorFlow's fused
        update kernel). Subclasses return a dict ``{player: optimizer}`` or, for
        the two base players, a ``(g_optimizer, d_optimizer)`` tuple.
        """
        return {player: optimizers.Adam(2e-4, beta_1=0.5) for player in self.players}

    def player_default_optimizers(self) -> dict:
        """:meth:`default_optimizers` as ``{player: optimizer}`` (fresh instances)."""
        defaults = self.default_optimizers()
        if isinstance(defaults, (tuple, list)):
            defaults = dict(zip(self.players, defaults))
        return dict(defaults)

    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        jit_compile=None,
        steps_per_execution=1,
        run_eagerly=False,
        optimizers=None,
        **player_optimizers,
    ):
        """Configures one optimizer per player.

        Args:
            g_optimizer: generator optimizer (instance, name or config).
            d_optimizer: discriminator optimizer.
            jit_compile: XLA; ``None`` picks :func:`default_jit_compile` (XLA on
                one device except for convolutional models on CPU).
                ``True`` under several CPU replicas falls back to ``False``
                with a warning.
            steps_per_execution: train steps per compiled call.
            run_eagerly: debug mode.
            optimizers: ``{player: optimizer}``, e.g. ``{"generator": "adam",
                "discriminator": keras.optimizers.SGD(0.1)}``.
            **player_optimizers: ``<prefix>_optimizer=...`` for further players
                (``q_optimizer`` for a player with prefix ``q``).

        Returns:
            None.

        Raises:
            ValueError: an unknown player, one optimizer given twice, or one
                instance shared by two players.
        """
        given = {}
        by_prefix = {prefix: player for player, (_, prefix) in self.players.items()}
        for key, value in {
            "g_optimizer": g_optimizer,
            "d_optimizer": d_optimizer,
            **player_optimizers,
        }.items():
            prefix = key[: -len("_optimizer")] if key.endswith("_optimizer") else None
            if prefix not in by_prefix:
                raise ValueError(
                    f"{type(self).__name__}.compile() got an unexpected argument {key!r}; "
                    f"its players' optimizers are "
                    f"{[p + '_optimizer' for p in by_prefix]}. Received: {key}={value!r}"
                )
            if value is not None:
                given[by_prefix[prefix]] = value
        if optimizers is not None:
            if not isinstance(optimizers, dict):
                raise ValueError(
                    f"optimizers must be a dict {{player: optimizer}}. Received: {optimizers!r}"
                )
            for player, value in optimizers.items():
                if player not in self.players:
                    raise ValueError(
                        f"optimizers names player {player!r}; {type(self).__name__}'s players "
                        f"are {list(self.players)}. Received: optimizers={optimizers!r}"
                    )
                if player in given:
                    raise ValueError(
                        f"The optimizer of {player!r} is given twice (in optimizers and as "
                        f"{self.players[player][1]}_optimizer). Received: optimizers={optimizers!r}"
                    )
                given[player] = value
        defaults = self.player_default_optimizers()
        chosen = {}
        for player in self.players:
            opt = keras.optimizers.get(given[player]) if given.get(player) is not None else None
            chosen[player] = opt or defaults[player]
        seen = {}
        for player, opt in chosen.items():
            if id(opt) in seen:
                raise ValueError(
                    f"The optimizers of {seen[id(opt)]!r} and {player!r} must be two different "
                    "optimizer instances (each keeps its own moments). Received the same "
                    "object twice."
                )
            seen[id(opt)] = player
        jit_compile = resolve_jit_compile(jit_compile, model=self)
        if self.dtype_policy.name == "mixed_float16":
            # super().compile would wrap only its own (unused) optimizer.
            chosen = {player: _loss_scaled(opt) for player, opt in chosen.items()}
        for player, opt in chosen.items():
            setattr(self, f"{self.players[player][1]}_optimizer", opt)
        # optimizer=None: no unused default optimizer as model.optimizer.
        super().compile(
            optimizer=None,
            jit_compile=bool(jit_compile),
            steps_per_execution=steps_per_execution,
            run_eagerly=run_eagerly,
        )
        # Build every optimizer now: under MirroredStrategy lazily built ones
        # fail ("You must feed a value for placeholder"), and state restored
        # into unbuilt optimizers is silently skipped.
        if not self.built:
            self.build()
        for player, opt in chosen.items():
            opt.build(self.player_network(player).trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "optimizers": {
                player: keras.saving.serialize_keras_object(_unscaled(opt))
                for player, opt in self.optimizers.items()
            },
            "jit_compile": bool(self.jit_compile),
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        config = dict(config)
        if "optimizers" in config:
            config["optimizers"] = {
                player: keras.saving.deserialize_keras_object(value)
                for player, value in config["optimizers"].items()
            }
        for key in [k for k in config if k.endswith("_optimizer")]:  # files before 0.3
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
                "penalties": [penalties_lib.serialize(p) for p in self._given_penalties],
                "num_classes": self.num_classes,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # A deep copy: Keras's deserialization consumes the nested configs it is given, and
        # the caller's config must stay usable (a second from_config, a saved copy).
        config = copy.deepcopy(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    # --- sampling --------------------------------------------------------------

    def _check_labels(self, labels, n, name="labels"):
        """Labels as int32 ``[n]`` in ``[0, num_classes)`` (None for unconditional models)."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(
                    f"{type(self).__name__} is unconditional (num_classes=None) and takes no "
                    f"labels. Received: {name} of type {type(labels).__name__}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is conditional (num_classes={self.num_classes}) and "
                f"needs {name}, one int per sample. Received: {name}=None"
            )
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = np.full([n], arr)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.dtype.kind not in "iu" and not (
            arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        ):
            raise ValueError(
                f"{name} must be integers in [0, {self.num_classes}). "
                f"Received: {name} of dtype {arr.dtype}"
            )
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(
                f"{name} must have shape [{n}] (one per sample). Received: shape {arr.shape}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.num_classes):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(f"{name} must be in [0, {self.num_classes}). Received: a label {bad}")
        return arr.astype("int32")

    def generate(self, z, labels=None, batch_size=256):
        """Runs the generator in inference mode on given latents.

        Args:
            z: ``[N, latent_dim]`` latents.
            labels: ``[N]`` ints in ``[0, num_classes)`` (or one int for all) for
                a conditional model; None otherwise.
            batch_size: batch size of the compiled prediction loop.

        Returns:
            numpy array of samples ``[N, ...]``.
        """
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape [N, {self.latent_dim}]. Received: z.shape={z.shape}"
            )
        labels = self._check_labels(labels, z.shape[0])
        inputs = z if labels is None else [z, labels]
        return self.generator.predict(inputs, batch_size=batch_size, verbose=0)

    def sample(self, n, labels=None, seed=None, batch_size=256):
        """Draws ``n`` samples ``G(z)``, ``z ~ N(0, I)``.

        Args:
            n: number of samples.
            labels: conditional models: None (uniform random labels), one int
                (all samples of that class) or ``[n]`` ints; None otherwise.
            seed: optional int seed for the latents (and random labels).
            batch_size: batch size of the compiled prediction loop.

        Returns:
            numpy array ``[n, ...]``.
        """
        n = check_positive_int(n, "n")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.latent_dim))
        if self.conditional and labels is None:
            labels = rng.integers(0, self.num_classes, size=n)
        return self.generate(z, labels=labels, batch_size=batch_size)

    # --- input validation -----------------------------------------------------

    def _expected_rank(self):
        return len(self.sample_shape())

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
                    f"(the generator's output rank, shape {self.sample_shape()}). "
                    f"Received: x with shape {arr.shape}"
                )
            _data_checks.require_rows(arr)
            _data_checks.check_finite(arr, _data_checks.array_dtypes(arr, [self._data_dtype()]))
            return arr
        return None

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` with the data checked first.

        ``x`` is the samples, ``(x, y)`` samples and labels (as ``x`` and ``y``
        arguments, tuples from a ``tf.data.Dataset``, or a dict with keys
        ``x``/``image`` and ``y``/``label``). NumPy arrays, nested lists and
        tensors are checked for a numeric dtype, the rank, at least one row and
        NaN/Inf *after* the casts into the model (to ``floatx``, then to the
        discriminator's compute dtype: float64 ``1e300`` is inf in float32,
        ``7e4`` in float16) in one vectorized pass; a ``tf.data.Dataset`` is
        checked in-graph as it streams and a non-finite batch stops training
        with a ``ValueError``. Labels of a conditional model are checked to be
        integers in ``[0, num_classes)``, one per sample; an unconditional
        model ignores ``y``.

        Args:
            x, y, *args, **kwargs: as for ``keras.Model.fit``.

        Returns:
            The ``History``.

        Raises:
            ValueError: ``x`` is None, non-numeric, of the wrong rank, empty,
                non-finite in the compute dtype, a dataset without a batch, a
                dict with other keys; or missing / bad labels of a
                conditional model.
        """
        owner = type(self).__name__
        _data_checks.require_data(x, owner)
        if isinstance(x, dict):
            x, dict_y = _split_dict(x)
            if dict_y is not None:
                if y is not None:
                    raise ValueError(
                        "Labels are given twice: in the dict batch and as y. Received: y "
                        f"of type {type(y).__name__}"
                    )
                y = dict_y
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            first = spec[0] if isinstance(spec, tuple) else spec
            if isinstance(first, dict):
                first = _split_dict(first)[0]
            if hasattr(first, "shape") and first.shape.rank is not None:
                if first.shape.rank != self._expected_rank():
                    raise ValueError(
                        f"Training data must have rank {self._expected_rank()}. "
                        f"Received: dataset elements with shape {first.shape}"
                    )
            _data_checks.require_batches(x, owner)
            if self.conditional:
                has_labels = (isinstance(spec, tuple) and len(spec) > 1) or (
                    isinstance(spec, dict) and any(k in spec for k in _Y_KEYS)
                )
                if not has_labels:
                    raise ValueError(
                        f"{owner} is conditional (num_classes={self.num_classes}): the dataset "
                        "must yield (x, labels) or {'x': ..., 'y': ...}. "
                        f"Received: elements {spec}"
                    )
            if not isinstance(spec, dict):
                x = _data_checks.checked(x, first_only=True, dtype=self._data_dtype())
        else:
            arr = self._validate_array(x)
            if arr is not None and not isinstance(x, tf.Tensor):
                x = arr
            if self.conditional:
                if y is None:
                    raise ValueError(
                        f"{owner} is conditional (num_classes={self.num_classes}) and needs "
                        "labels: fit(x, y) with y one int per sample. Received: y=None"
                    )
                y = self._check_labels(
                    keras.ops.convert_to_numpy(y) if isinstance(y, tf.Tensor) else y,
                    len(arr) if arr is not None else np.shape(y)[0],
                    name="y",
                )
        with _data_checks.as_value_error():
            history = super().fit(x, y, *args, **kwargs)
        return _data_checks.require_history(history, owner, args, kwargs)

    # --- the game ----------------------------------------------------------------

    def _unpack(self, data):
        """``(x, labels)`` of a batch: ``x``, ``(x,)``, ``(x, y)``, ``(x, y, w)`` or a dict."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict):
            x, dict_y = _split_dict(x)
            y = dict_y if dict_y is not None else y
        rank = self._expected_rank()
        if x.shape.rank is not None and x.shape.rank != rank:
            raise ValueError(
                f"Training data must have rank {rank}. Received: batch with shape {x.shape}"
            )
        if not self.conditional:
            return x, None
        if y is None:
            raise ValueError(
                f"{type(self).__name__} is conditional (num_classes={self.num_classes}): "
                "batches must carry labels, (x, y). Received: batches without labels"
            )
        y = tf.convert_to_tensor(y)
        if y.dtype.is_floating:
            y = tf.cast(tf.round(y), tf.int32)
        y = tf.reshape(tf.cast(y, tf.int32), [-1])
        return x, y

    def draw_latents(self, local_batch, labels=None):
        """``z ~ N(0, I)`` for this replica: ``[local_batch, latent_dim]``.

        ``labels`` (the batch's labels of a conditional model) is unused here;
        models whose latents depend on them (InfoGAN's codes) use it.
        """
        seed = self.seed_generator.next()
        z = tf.random.stateless_normal([local_batch * _num_replicas(), self.latent_dim], seed=seed)
        return _replica_slice(z, local_batch)

    def generator_inputs(self, z, labels=None):
        """The generator's input: ``z``, or ``[z, labels]`` for a conditional model."""
        return z if labels is None else [z, labels]

    def run_discriminator(self, x, labels=None, training=True):
        """``(source_logits, extras)``: D on ``x`` (and ``labels`` if it takes them).

        ``extras`` is a tuple of the discriminator's further outputs (an AC-GAN's
        class logits), empty for a one-output discriminator.
        """
        if labels is not None and self.discriminator_takes_labels:
            out = self.discriminator([x, labels], training=training)
        else:
            out = self.discriminator(x, training=training)
        if isinstance(out, (list, tuple)):
            return out[0], tuple(out[1:])
        return out, ()

    def _critic(self, labels):
        """``critic(x, training)`` -> source logits with ``labels`` held fixed."""

        def critic(x, training=True):
            return self.run_discriminator(x, labels, training)[0]

        return critic

    def _add_penalties(self, player, step, per_example, logs):
        prefix = self.players[player][1]
        for penalty in self.penalties:
            if player not in penalty.players or penalty.coefficient == 0:
                continue
            value = penalty(step, player)
            if value is None:
                continue
            per_example = per_example + penalty.coefficient * tf.cast(value, per_example.dtype)
            logs[penalty.log_key(prefix)] = tf.reduce_mean(value)
        return per_example, logs

    def _after_update(self, player):
        for penalty in self.penalties:
            if player in penalty.players:
                penalty.after_update(self, player)

    def discriminator_loss(self, real, fake, training=True, labels=None):
        """Per-example D loss and diagnostics for one batch.

        Returns:
            ``(per_example_loss [B / pack], logs dict)``.
        """
        real, fake = self.pack_samples(real), self.pack_samples(fake)
        real_logits, real_extra = self.run_discriminator(real, labels, training)
        fake_logits, fake_extra = self.run_discriminator(fake, labels, training)
        per_example = self._d_loss_fn(real_logits, fake_logits)
        logs = {
            "d_real": tf.reduce_mean(tf.cast(real_logits, tf.float32)),
            "d_fake": tf.reduce_mean(tf.cast(fake_logits, tf.float32)),
        }
        step = penalties_lib.Step(
            self, real, fake, labels, labels, real_extra, fake_extra, self._critic(labels)
        )
        return self._add_penalties("discriminator", step, per_example, logs)

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

    def discriminator_step(self, real, labels=None):
        """One discriminator update on ``real`` (and its labels) with fresh latents."""
        local_batch = tf.shape(real)[0]
        z = self.draw_latents(local_batch, labels)
        with _preserve(self.generator.non_trainable_variables):
            fake = self.generator(self.generator_inputs(z, labels), training=True)
        fake = tf.stop_gradient(fake)
        optimizer = self.optimizers["discriminator"]
        with tf.GradientTape() as tape:
            per_example, logs = self.discriminator_loss(real, fake, labels=labels)
            loss = losses_lib.global_batch_mean(per_example)
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.discriminator.trainable_variables)
        optimizer.apply(grads, self.discriminator.trainable_variables)
        self._after_update("discriminator")
        logs["d_loss"] = tf.reduce_mean(per_example)
        return logs

    def generator_step(self, local_batch, labels=None):
        """One generator update through the (unchanged) discriminator."""
        z = self.draw_latents(local_batch, labels)
        optimizer = self.optimizers["generator"]
        with tf.GradientTape() as tape:
            fake = self.generator(self.generator_inputs(z, labels), training=True)
            packed = self.pack_samples(fake)
            with _preserve(self.discriminator.non_trainable_variables):
                fake_logits, fake_extra = self.run_discriminator(packed, labels, True)
            per_example = self._g_loss_fn(fake_logits)
            step = penalties_lib.Step(
                self, None, packed, labels, labels, (), fake_extra, self._critic(labels)
            )
            per_example, logs = self._add_penalties("generator", step, per_example, {})
            loss = losses_lib.global_batch_mean(per_example)
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.generator.trainable_variables)
        optimizer.apply(grads, self.generator.trainable_variables)
        self._after_update("generator")
        logs["g_loss"] = tf.reduce_mean(per_example)
        return logs

    def train_step(self, data):
        real, labels = self._unpack(data)
        local_batch = tf.shape(real)[0]
        d_logs = {}
        for _ in range(self.d_steps):
            d_logs = self.discriminator_step(real, labels)
        g_logs = self.generator_step(local_batch, labels)
        return self._update_trackers({**d_logs, **g_logs})

    def _update_trackers(self, logs):
        for tracker in self.metrics:
            if tracker.name in logs:
                tracker.update_state(logs[tracker.name])
        return distribute.replica_logs({t.name: t.result() for t in self.metrics})

    def test_step(self, data):
        """Evaluates both losses on a batch without updating anything."""
        real, labels = self._unpack(data)
        local_batch = tf.shape(real)[0]
        z = self.draw_latents(local_batch, labels)
        fake = self.generator(self.generator_inputs(z, labels), training=False)
        real_logits, _ = self.run_discriminator(self.pack_samples(real), labels, False)
        fake_logits, _ = self.run_discriminator(self.pack_samples(fake), labels, False)
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
