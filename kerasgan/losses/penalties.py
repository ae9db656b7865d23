"""Penalties and auxiliary losses as small serializable objects a GAN takes in a list.

A penalty has a ``name`` (its log key), a ``weight`` and the ``players`` it applies to
(``"discriminator"``, ``"generator"``, later ``"encoder"``, ``"q_network"``...). In each
update of one of its players the model calls ``penalty(step, player)`` and adds
``penalty.coefficient * value`` to that player's per-example loss, and logs the mean
``value`` under :meth:`Penalty.log_key`; after the update it calls
``penalty.after_update(model, player)`` (weight clipping). Adding a penalty touches no
``train_step``.

``step`` (:class:`Step`) carries what one update saw: the (packed) real and fake batches,
the labels, the discriminator's extra outputs (class logits of an AC-GAN) and
``step.critic(x)``, the discriminator's source logits with the labels held fixed (the
gradient penalty and R1 differentiate it with respect to ``x`` only).

Example:
    >>> import kerasgan
    >>> from kerasgan.losses import penalties
    >>> gp = penalties.GradientPenalty(weight=10.0)
    >>> gp.name, gp.players
    ('gp', ('discriminator',))
    >>> penalties.deserialize(penalties.serialize(gp)).weight
    10.0
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasgan import distribute, regularizers

__all__ = [
    "AuxiliaryClassification",
    "GradientPenalty",
    "Penalty",
    "R1Penalty",
    "Step",
    "WeightClipping",
    "deserialize",
    "serialize",
]


class Step:
    """What one player's update saw, for the penalties.

    Attributes:
        model: the GAN.
        real: real batch as the discriminator sees it (packed), or None in a G step.
        fake: generated batch (packed).
        labels: the real batch's labels ``[B]`` int32 (None for unconditional models).
        fake_labels: the labels the fakes were generated for.
        real_extra: the discriminator's outputs after the source logits on ``real``
            (e.g. ``[class_logits]``), a tuple.
        fake_extra: the same on ``fake``.
        critic: ``critic(x, training=True)`` -> source logits with the labels of ``real``
            held fixed.
    """

    def __init__(
        self,
        model,
        real=None,
        fake=None,
        labels=None,
        fake_labels=None,
        real_extra=(),
        fake_extra=(),
        critic=None,
    ):
        self.model = model
        self.real = real
        self.fake = fake
        self.labels = labels
        self.fake_labels = fake_labels
        self.real_extra = tuple(real_extra)
        self.fake_extra = tuple(fake_extra)
        self.critic = critic


def _check_weight(weight, cls):
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)):
        raise ValueError(f"{cls}: weight must be a finite number >= 0. Received: weight={weight!r}")
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"{cls}: weight must be a finite number >= 0. Received: weight={weight}")
    return float(weight)


class Penalty:
    """Base class: a weighted per-example term in one or more players' losses.

    Args:
        weight: multiplier of the value in the loss (>= 0).
        name: log key (default: the class's ``default_name``).
        players: the players whose updates it enters (default: the class's
            ``default_players``).

    Subclasses implement ``__call__(step, player) -> [B] float32 or None`` and may
    override :meth:`after_update` and :attr:`coefficient`.
    """

    default_name = "penalty"
    default_players = ("discriminator",)

    def __init__(self, weight=1.0, name=None, players=None):
        cls = type(self).__name__
        self.weight = _check_weight(weight, cls)
        name = self.default_name if name is None else name
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{cls}: name must be an identifier string. Received: name={name!r}")
        self.name = name
        players = self.default_players if players is None else players
        if isinstance(players, str):
            players = (players,)
        players = tuple(players)
        if not players or not all(isinstance(p, str) and p for p in players):
            raise ValueError(
                f"{cls}: players must be a non-empty list of player names. "
                f"Received: players={players!r}"
            )
        self.players = players

    @property
    def coefficient(self) -> float:
        """The factor of the value in the loss (``weight``; R1 uses ``weight / 2``)."""
        return self.weight

    def log_key(self, prefix) -> str:
        """The metric name: ``name``, or ``<prefix>_<name>`` for a penalty of several players."""
        return self.name if len(self.players) == 1 else f"{prefix}_{self.name}"

    def __call__(self, step, player):
        raise NotImplementedError

    def after_update(self, model, player):
        """Called after each update of ``player`` (no-op by default)."""

    def get_config(self) -> dict:
        return {"weight": self.weight, "name": self.name, "players": list(self.players)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="kerasgan")
class GradientPenalty(Penalty):
    """WGAN-GP's two-sided gradient penalty on interpolates, per example.

    ``gp = (|grad_x D(x_hat, y)| - target)^2``, ``x_hat = a x + (1 - a) G(z, y)``,
    ``a ~ U[0, 1]`` per example, with the labels ``y`` held fixed; the discriminator's
    loss gets ``weight * gp``. See :func:`kerasgan.regularizers.gradient_penalty`.

    Args:
        weight: ``lambda`` (10 in the paper).
        target: the gradient norm it pulls towards (1).
        name: log key (``"gp"``).
        players: (``("discriminator",)``).

    Reference:
        Improved Training of Wasserstein GANs, Gulrajani et al., 2017.
    """

    default_name = "gp"

    def __init__(self, weight=10.0, target=1.0, name=None, players=None):
        super().__init__(weight, name, players)
        if not (np.isfinite(target) and target >= 0):
            raise ValueError(f"GradientPenalty: target must be >= 0. Received: target={target}")
        self.target = float(target)

    def __call__(self, step, player):
        local_batch = tf.shape(step.real)[0]
        alpha = regularizers.interpolation_weights(
            local_batch * distribute.num_replicas(),
            step.real.shape.rank,
            step.model.seed_generator.next(),
        )
        alpha = distribute.replica_slice(alpha, local_batch)
        return regularizers.gradient_penalty(
            step.critic, step.real, step.fake, alpha, target=self.target
        )

    def get_config(self):
        return {**super().get_config(), "target": self.target}


@keras.saving.register_keras_serializable(package="kerasgan")
class R1Penalty(Penalty):
    """R1: ``|grad_x D(x, y)|^2`` on real data, entering D's loss as ``gamma / 2 * r1``.

    Args:
        weight: ``gamma``.
        name: log key (``"r1"``).
        players: (``("discriminator",)``).

    Reference:
        Which Training Methods for GANs do actually Converge?, Mescheder, Geiger and
        Nowozin, 2018.
    """

    default_name = "r1"

    @property
    def coefficient(self):
        return 0.5 * self.weight

    def __call__(self, step, player):
        return regularizers.r1_penalty(step.critic, step.real)


@keras.saving.register_keras_serializable(package="kerasgan")
class WeightClipping(Penalty):
    """WGAN's weight clipping: after each update the player's weights go to ``[-c, c]``.

    Not a loss term (nothing is logged); ``weight`` is unused and kept at 0.

    Args:
        clip_value: ``c`` (> 0; 0.01 in the paper).
        name: (``"clip"``).
        players: (``("discriminator",)``).

    Reference:
        Wasserstein GAN, Arjovsky, Chintala and Bottou, 2017.
    """

    default_name = "clip"

    def __init__(self, clip_value=0.01, name=None, players=None):
        super().__init__(0.0, name, players)
        if isinstance(clip_value, bool) or not (np.isfinite(clip_value) and clip_value > 0):
            raise ValueError(
                f"WeightClipping: clip_value must be > 0. Received: clip_value={clip_value!r}"
            )
        self.clip_value = float(clip_value)

    def __call__(self, step, player):
        return None

    def after_update(self, model, player):
        regularizers.clip_weights(model.player_network(player).trainable_variables, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value, "name": self.name, "players": list(self.players)}


@keras.saving.register_keras_serializable(package="kerasgan")
class AuxiliaryClassification(Penalty):
    """AC-GAN's class loss: cross-entropy of the discriminator's class head.

    In a discriminator update: ``CE(C(x), y) + CE(C(G(z, c)), c)`` (it learns to
    classify real and generated samples); in a generator update: ``CE(C(G(z, c)), c)``
    (it learns samples its class head recognizes). ``C`` is the discriminator's first
    extra output (logits ``[B, num_classes]``). With the adversarial loss this is
    "D maximizes L_S + L_C, G maximizes L_C - L_S" of the paper.

    With ``fake_in_discriminator=False`` the discriminator's class head learns from
    real samples only (``CE(C(x), y)``): it can then not be taught to recognize the
    classes in early, unrealistic samples, which the generator would otherwise
    learn to reproduce; the generator's loss is unchanged.

    Args:
        weight: multiplier of the cross-entropy (1 in the paper).
        fake_in_discriminator: whether the discriminator's class loss includes
            the generated samples (the paper's ``L_C``; default True).
        name: log key stem (``"cls"``: logged as ``d_cls`` and ``g_cls``).
        players: (``("discriminator", "generator")``).

    Returns:
        A penalty for ``GAN(penalties=[...])``; :class:`kerasgan.gan.ACGAN` adds one.

    Example:
        >>> from kerasgan.losses import AuxiliaryClassification
        >>> AuxiliaryClassification(0.5, fake_in_discriminator=False).weight
        0.5

    Reference:
        Conditional Image Synthesis with Auxiliary Classifier GANs, Odena, Olah and
        Shlens, 2017.
    """

    default_name = "cls"
    default_players = ("discriminator", "generator")

    def __init__(self, weight=1.0, fake_in_discriminator=True, name=None, players=None):
        super().__init__(weight, name=name, players=players)
        if not isinstance(fake_in_discriminator, bool):
            raise ValueError(
                "fake_in_discriminator must be True or False. Received: "
                f"fake_in_discriminator={fake_in_discriminator!r}"
            )
        self.fake_in_discriminator = fake_in_discriminator

    def __call__(self, step, player):
        if not step.fake_extra:
            raise ValueError(
                "AuxiliaryClassification needs a discriminator with a class head: outputs "
                "[source_logits, class_logits]. Received: a discriminator with one output"
            )
        fake = _cross_entropy(step.fake_extra[0], step.fake_labels)
        if player != "discriminator" or step.real is None:
            return fake
        real = _cross_entropy(step.real_extra[0], step.labels)
        return real + fake if self.fake_in_discriminator else real

    def get_config(self):
        return {**super().get_config(), "fake_in_discriminator": self.fake_in_discriminator}


def _cross_entropy(logits, labels):
    logits = tf.cast(logits, tf.float32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=logits
    )


def serialize(penalty) -> dict:
    """The Keras config of a penalty (for ``get_config``)."""
    return keras.saving.serialize_keras_object(penalty)


def deserialize(config):
    """A penalty from :func:`serialize`'s config (a :class:`Penalty` passes through)."""
    if isinstance(config, Penalty):
        return config
    penalty = keras.saving.deserialize_keras_object(config)
    if not isinstance(penalty, Penalty):
        raise ValueError(f"Not a kerasgan penalty config. Received: {config!r}")
    return penalty
