"""Class-conditional GANs: conditional GAN (concatenation or projection D) and AC-GAN.

Both are the :class:`~kerasgan.models.gan.GAN` game with ``num_classes`` set: batches
carry labels, the generator is called on ``[z, labels]``. They differ in how the
discriminator sees the label:

- :class:`ConditionalGAN`: ``D([x, y])``, with the label either concatenated to the
  input (an embedding broadcast as channels) or through a projection,
  ``logit = psi(phi(x)) + <embed(y), phi(x)>`` (Miyato and Koyama, 2018).
- :class:`ACGAN`: ``D(x) = [source logit, class logits]``; the class loss is the
  :class:`~kerasgan.losses.AuxiliaryClassification` penalty on both players.

The builders make the networks for vectors (MLP) and for 16x16, 28x28 and 32x32
images (DCGAN layouts).
"""

from __future__ import annotations

import keras
import numpy as np

from kerasgan import layers
from kerasgan.losses import penalties as penalties_lib
from kerasgan.models.dcgan import _layout
from kerasgan.models.gan import GAN

__all__ = [
    "ACGAN",
    "ConditionalGAN",
    "build_conditional_dcgan_discriminator",
    "build_conditional_dcgan_generator",
    "build_conditional_mlp_discriminator",
    "build_conditional_mlp_generator",
]

DISCRIMINATOR_MODES = ("projection", "concat", "acgan")


def _check_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be an int >= 2. Received: num_classes={num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2. Received: num_classes={num_classes}")
    return int(num_classes)


def _check_mode(mode):
    if mode not in DISCRIMINATOR_MODES:
        raise ValueError(f"mode must be one of {DISCRIMINATOR_MODES}. Received: mode={mode!r}")
    return mode


def _sn(layer, spectral_norm):
    return keras.layers.SpectralNormalization(layer) if spectral_norm else layer


def build_conditional_mlp_generator(
    latent_dim,
    output_dim,
    num_classes,
    hidden_units=(128, 128),
    embedding_dim=None,
    output_scale=1.0,
    name="generator",
):
    """MLP generator ``[z, y] -> x``: ``concat(z, embed(y)) -> [Dense -> ReLU] * L -> Dense``.

    Args:
        latent_dim: size of ``z``.
        output_dim: size of a sample.
        num_classes: number of labels.
        hidden_units: widths of the hidden layers.
        embedding_dim: size of the label embedding (default ``num_classes``).
        output_scale: multiplies the output (the data's spread).
        name: model name.

    Returns:
        A built ``keras.Model`` with inputs ``z`` ``[B, latent_dim]`` and ``labels``
        int32 ``[B]``.

    Example:
        >>> g = build_conditional_mlp_generator(4, 2, num_classes=3)
        >>> g.output_shape
        (None, 2)
    """
    num_classes = _check_classes(num_classes)
    z = keras.Input((int(latent_dim),), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    e = keras.layers.Embedding(num_classes, embedding_dim or num_classes, name="embed")(y)
    h = keras.layers.Concatenate()([z, e])
    for i, u in enumerate(hidden_units):
        h = keras.layers.Dense(int(u), activation="relu", name=f"dense_{i}")(h)
    x = keras.layers.Dense(int(output_dim), dtype="float32", name="dense_out")(h)
    if output_scale != 1.0:
        x = keras.layers.Rescaling(float(output_scale), dtype="float32", name="samples")(x)
    return keras.Model([z, y], x, name=name)


def build_conditional_mlp_discriminator(
    input_dim,
    num_classes,
    hidden_units=(128, 128),
    mode="projection",
    spectral_norm=False,
    input_scale=1.0,
    name="discriminator",
):
    """MLP discriminator for labelled vectors.

    ``mode="projection"``: ``h = phi(x)``, ``logit = w.h + b + <embed(y), h>``;
    ``"concat"``: ``phi(concat(x, one_hot(y)))``, ``logit = w.h + b``;
    ``"acgan"``: ``x -> [logit, class logits]`` (no label input).
    ``phi`` is ``[Dense -> LeakyReLU(0.2)] * L``.

    Args:
        input_dim: size of a sample.
        num_classes: number of labels.
        hidden_units: widths of the hidden layers.
        mode: ``"projection"``, ``"concat"`` or ``"acgan"``.
        spectral_norm: wrap every Dense in ``keras.layers.SpectralNormalization``.
        input_scale: divides the input (the data's spread).
        name: model name.

    Returns:
        A built ``keras.Model``: inputs ``[x, labels]`` -> ``[B, 1]`` logits, or
        ``x`` -> ``[[B, 1], [B, num_classes]]`` for ``"acgan"``.

    Example:
        >>> d = build_conditional_mlp_discriminator(2, num_classes=3)
        >>> d.output_shape
        (None, 1)

    Reference:
        cGANs with Projection Discriminator, Miyato and Koyama, 2018.
    """
    num_classes = _check_classes(num_classes)
    mode = _check_mode(mode)
    x = keras.Input((int(input_dim),), name="x")
    y = keras.Input((), dtype="int32", name="labels")
    h = x if input_scale == 1.0 else keras.layers.Rescaling(1.0 / float(input_scale))(x)
    if mode == "concat":
        h = keras.layers.Concatenate()([h, layers.OneHot(num_classes, name="one_hot")(y)])
    for i, u in enumerate(hidden_units):
        h = _sn(keras.layers.Dense(int(u), name=f"dense_{i}"), spectral_norm)(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    return _heads(x, y, h, num_classes, mode, spectral_norm, name)


def _heads(x, y, h, num_classes, mode, spectral_norm, name):
    logit = _sn(keras.layers.Dense(1, dtype="float32", name="logit_dense"), spectral_norm)(h)
    if mode == "acgan":
        classes = keras.layers.Dense(num_classes, dtype="float32", name="class_logits")(h)
        return keras.Model(x, [logit, classes], name=name)
    if mode == "projection":
        embed = keras.layers.Embedding(num_classes, h.shape[-1], name="projection")(y)
        logit = keras.layers.Add(dtype="float32")([logit, layers.RowDot(name="inner")([embed, h])])
    return keras.Model([x, y], logit, name=name)


def build_conditional_dcgan_generator(
    latent_dim=100,
    num_classes=10,
    image_shape=(28, 28, 1),
    base_filters=64,
    embedding_dim=None,
    conditional_batch_norm=False,
    name="generator",
):
    """Conditional DCGAN generator ``[z, y] -> image`` in ``[-1, 1]``.

    ``concat(z, embed(y)) -> Dense(s*s*F*2^(n-1)) -> BN -> ReLU -> [ConvT(4, stride 2) ->
    BN -> ReLU] * (n-1) -> ConvT(C, 4, stride 2) -> tanh``; with
    ``conditional_batch_norm`` every BN is a :class:`kerasgan.layers.ConditionalBatchNormalization`
    (per-class scale and shift, de Vries et al. 2017; Miyato and Koyama 2018).

    Args:
        latent_dim: size of ``z``.
        num_classes: number of labels.
        image_shape: ``(S, S, C)`` with ``S`` in 16, 28, 32 (64 as well).
        base_filters: filters of the last hidden layer; earlier ones double.
        embedding_dim: size of the label embedding (default ``num_classes``).
        conditional_batch_norm: class-conditional batch norm.
        name: model name.

    Returns:
        A built ``keras.Model`` with inputs ``z`` and ``labels`` (int32 ``[B]``).

    Example:
        >>> g = build_conditional_dcgan_generator(8, 10, (16, 16, 1), base_filters=8)
        >>> g.output_shape
        (None, 16, 16, 1)
    """
    num_classes = _check_classes(num_classes)
    side, n_up = _layout(image_shape)
    z = keras.Input((int(latent_dim),), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    e = keras.layers.Embedding(num_classes, embedding_dim or num_classes, name="embed")(y)
    h = keras.layers.Concatenate()([z, e])
    filters = base_filters * 2 ** (n_up - 1)
    h = keras.layers.Dense(side * side * filters, use_bias=False, name="project")(h)
    h = keras.layers.Reshape((side, side, filters))(h)

    def norm(h, i):
        if conditional_batch_norm:
            return layers.ConditionalBatchNormalization(num_classes, name=f"cbn_{i}")([h, y])
        return layers.BatchNormalization(name=f"bn_{i}")(h)

    h = keras.layers.ReLU()(norm(h, 0))
    for i in range(1, n_up):
        filters //= 2
        h = keras.layers.Conv2DTranspose(
            filters, 4, 2, padding="same", use_bias=False, name=f"convt_{i}"
        )(h)
        h = keras.layers.ReLU()(norm(h, i))
    h = keras.layers.Conv2DTranspose(image_shape[-1], 4, 2, padding="same", name="convt_out")(h)
    x = keras.layers.Activation("tanh", dtype="float32", name="tanh")(h)
    return keras.Model([z, y], x, name=name)


def build_conditional_dcgan_discriminator(
    image_shape=(28, 28, 1),
    num_classes=10,
    base_filters=64,
    mode="projection",
    spectral_norm=False,
    normalization=None,
    name="discriminator",
):
    """Conditional DCGAN discriminator.

    ``phi``: ``Conv(F, 4, stride 2) -> LReLU -> [Conv(2^i F, 4, stride 2) -> (Norm) ->
    LReLU] * (n-1) -> Flatten``. ``mode="projection"``: ``logit = w.phi(x) + b +
    <embed(y), phi(x)>``; ``"concat"``: the label's one-hot vector broadcast to
    ``[B, S, S, num_classes]`` and concatenated to the image channels;
    ``"acgan"``: ``x -> [logit, class logits]``.

    Args:
        image_shape: ``(S, S, C)`` with ``S`` in 16, 28, 32 (64 as well).
        num_classes: number of labels.
        base_filters: filters of the first layer; later ones double.
        mode: ``"projection"``, ``"concat"`` or ``"acgan"``.
        spectral_norm: wrap every convolution and dense layer in
            ``keras.layers.SpectralNormalization`` (then no normalization).
        normalization: ``None``, ``"batch"`` or ``"layer"``.
        name: model name.

    Returns:
        A built ``keras.Model`` (inputs ``[x, labels]``, or ``x`` for ``"acgan"``).

    Example:
        >>> d = build_conditional_dcgan_discriminator((16, 16, 1), 10, base_filters=8)
        >>> d.output_shape
        (None, 1)

    Reference:
        cGANs with Projection Discriminator, Miyato and Koyama, 2018.
    """
    num_classes = _check_classes(num_classes)
    mode = _check_mode(mode)
    if normalization not in ("batch", "layer", None):
        raise ValueError(
            f"normalization must be 'batch', 'layer' or None. Received: normalization={normalization!r}"
        )
    _, n_down = _layout(image_shape)
    x = keras.Input(tuple(image_shape), name="x")
    y = keras.Input((), dtype="int32", name="labels")
    h = x
    if mode == "concat":
        maps = layers.OneHotMaps(num_classes, tuple(image_shape[:2]), name="label_maps")(y)
        h = keras.layers.Concatenate()([h, maps])
    h = _sn(keras.layers.Conv2D(base_filters, 4, 2, padding="same", name="conv_0"), spectral_norm)(
        h
    )
    h = keras.layers.LeakyReLU(0.2)(h)
    filters = base_filters
    for i in range(1, n_down):
        filters *= 2
        conv = keras.layers.Conv2D(
            filters, 4, 2, padding="same", use_bias=normalization is None, name=f"conv_{i}"
        )
        h = _sn(conv, spectral_norm)(h)
        if normalization == "batch":
            h = layers.BatchNormalization(name=f"bn_{i}")(h)
        elif normalization == "layer":
            h = keras.layers.LayerNormalization(axis=[1, 2, 3], name=f"ln_{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Flatten()(h)
    return _heads(x, y, h, num_classes, mode, spectral_norm, name)


@keras.saving.register_keras_serializable(package="kerasgan")
class ConditionalGAN(GAN):
    """Conditional GAN: ``G(z, y)`` and ``D(x, y)`` for labels ``y`` in ``[0, num_classes)``.

    The game of :class:`GAN` with every real batch's labels given to both players;
    fakes are generated for the labels of the real batch, so that D compares
    ``D(x, y)`` with ``D(G(z, y), y)``. Any loss pair; the gradient penalty and R1
    differentiate ``D(., y)`` with the label held fixed.

        D step:  minimize mean_i [ L_D(D(x_i, y_i), D(G(z_i, y_i), y_i)) + penalties ]
        G step:  minimize mean_i L_G(D(G(z_i, y_i), y_i))

    Args:
        generator: ``keras.Model`` on ``[z, labels]`` (e.g.
            :func:`build_conditional_dcgan_generator`).
        discriminator: ``keras.Model`` on ``[x, labels]`` (e.g.
            :func:`build_conditional_dcgan_discriminator` with ``mode="projection"``
            or ``"concat"``).
        latent_dim: size of ``z``.
        num_classes: number of labels.
        **kwargs: passed to :class:`GAN` (``loss``, ``d_steps``, ``gp_weight``,
            ``penalties``, ``seed``...).

    Returns:
        A model whose ``fit`` takes ``(x, y)``; ``sample(n, labels=3)``.

    Example:
        >>> import numpy as np, kerasgan
        >>> from kerasgan.models import conditional as c
        >>> g = c.build_conditional_mlp_generator(2, 2, num_classes=3)
        >>> d = c.build_conditional_mlp_discriminator(2, num_classes=3)
        >>> model = kerasgan.ConditionalGAN(g, d, latent_dim=2, num_classes=3, loss="hinge")
        >>> model.compile()
        >>> x = np.random.normal(size=(64, 2)).astype("float32")
        >>> y = np.arange(64) % 3
        >>> _ = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        >>> model.sample(4, labels=1).shape
        (4, 2)

    Reference:
        Conditional Generative Adversarial Nets, Mirza and Osindero, 2014;
        cGANs with Projection Discriminator, Miyato and Koyama, 2018.
    """

    def __init__(self, generator, discriminator, latent_dim, num_classes, **kwargs):
        super().__init__(
            generator, discriminator, latent_dim, num_classes=_check_classes(num_classes), **kwargs
        )


@keras.saving.register_keras_serializable(package="kerasgan")
class ACGAN(GAN):
    """AC-GAN: a discriminator with a source head and a class head.

    ``D(x) = [s(x), c(x)]`` (source logit, class logits); ``G(z, y)``. With
    ``L_S`` the adversarial loss pair and ``L_C`` the class cross-entropy
    (:class:`~kerasgan.losses.AuxiliaryClassification`):

        D step:  minimize mean_i [ L_D(s(x_i), s(G(z_i, y_i)))
                                   + w * (CE(c(x_i), y_i) + CE(c(G(z_i, y_i)), y_i)) ]
        G step:  minimize mean_i [ L_G(s(G(z_i, y_i))) + w * CE(c(G(z_i, y_i)), y_i) ]

    i.e. D maximizes ``L_S + L_C`` and G maximizes ``L_C - L_S`` (Odena et al.).
    Logs ``d_cls`` and ``g_cls`` besides the losses.

    Args:
        generator: ``keras.Model`` on ``[z, labels]``.
        discriminator: ``keras.Model`` ``x -> [logit [B, 1], class logits
            [B, num_classes]]`` (e.g. ``build_conditional_dcgan_discriminator(...,
            mode="acgan")``).
        latent_dim: size of ``z``.
        num_classes: number of labels.
        aux_weight: ``w``, the weight of the class loss (1 in the paper).
        **kwargs: passed to :class:`GAN`.

    Returns:
        A model whose ``fit`` takes ``(x, y)``.

    Example:
        >>> import kerasgan
        >>> from kerasgan.models import conditional as c
        >>> g = c.build_conditional_mlp_generator(2, 2, num_classes=3)
        >>> d = c.build_conditional_mlp_discriminator(2, num_classes=3, mode="acgan")
        >>> model = kerasgan.ACGAN(g, d, latent_dim=2, num_classes=3)
        >>> model.compile()

    Reference:
        Conditional Image Synthesis with Auxiliary Classifier GANs, Odena, Olah and
        Shlens, 2017.
    """

    discriminator_takes_labels = False

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        num_classes,
        aux_weight=1.0,
        penalties=None,
        **kwargs,
    ):
        num_classes = _check_classes(num_classes)
        aux = penalties_lib.AuxiliaryClassification(aux_weight)
        outputs = getattr(discriminator, "outputs", None)
        if outputs is not None and (len(outputs) != 2 or outputs[1].shape[-1] != num_classes):
            raise ValueError(
                "ACGAN's discriminator must output [source_logits [B, 1], class_logits "
                f"[B, {num_classes}]]. Received: outputs with shapes "
                f"{[tuple(o.shape) for o in outputs]}"
            )
        super().__init__(
            generator,
            discriminator,
            latent_dim,
            num_classes=num_classes,
            penalties=[aux, *(penalties or [])],
            **kwargs,
        )
        self.aux_weight = aux.weight

    def get_config(self):
        config = super().get_config()
        config["penalties"] = config["penalties"][1:]  # the first is aux_weight's
        config["aux_weight"] = self.aux_weight
        return config

    def classify(self, x, batch_size=256):
        """The class head's logits on samples ``x``: numpy ``[N, num_classes]``."""
        return self.discriminator.predict(
            np.asarray(x, "float32"), batch_size=batch_size, verbose=0
        )[1]
