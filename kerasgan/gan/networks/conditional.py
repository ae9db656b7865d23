"""Networks of the class-conditional GANs: MLP and DCGAN generators on ``[z, labels]``, and
discriminators that see the label by projection, by concatenation, or through a class head
(AC-GAN).
"""

from __future__ import annotations

import keras
import numpy as np

from kerasgan import layers
from kerasgan.gan import layers as gan_layers
from kerasgan.gan.networks.dcgan import _layout, downsampling_trunk, upsampling_trunk

__all__ = [
    "DISCRIMINATOR_MODES",
    "build_conditional_dcgan_discriminator",
    "build_conditional_dcgan_generator",
    "build_conditional_mlp_discriminator",
    "build_conditional_mlp_generator",
    "check_classes",
]

DISCRIMINATOR_MODES = ("projection", "concat", "acgan")


def check_classes(num_classes):
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
    num_classes = check_classes(num_classes)
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
    num_classes = check_classes(num_classes)
    mode = _check_mode(mode)
    x = keras.Input((int(input_dim),), name="x")
    y = keras.Input((), dtype="int32", name="labels")
    h = x if input_scale == 1.0 else keras.layers.Rescaling(1.0 / float(input_scale))(x)
    if mode == "concat":
        h = keras.layers.Concatenate()([h, gan_layers.OneHot(num_classes, name="one_hot")(y)])
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
        logit = keras.layers.Add(dtype="float32")([logit, gan_layers.RowDot(name="inner")([embed, h])])
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
    ``conditional_batch_norm`` every BN is a :class:`kerasgan.gan.layers.ConditionalBatchNormalization`
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
    num_classes = check_classes(num_classes)
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
            return gan_layers.ConditionalBatchNormalization(num_classes, name=f"cbn_{i}")([h, y])
        return layers.BatchNormalization(name=f"bn_{i}")(h)

    h = keras.layers.ReLU()(norm(h, "project"))
    x = upsampling_trunk(h, n_up, filters, image_shape[-1], norm)
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
    num_classes = check_classes(num_classes)
    mode = _check_mode(mode)
    _, n_down = _layout(image_shape)
    x = keras.Input(tuple(image_shape), name="x")
    y = keras.Input((), dtype="int32", name="labels")
    h = x
    if mode == "concat":
        maps = gan_layers.OneHotMaps(num_classes, tuple(image_shape[:2]), name="label_maps")(y)
        h = keras.layers.Concatenate()([h, maps])
    h = downsampling_trunk(h, n_down, base_filters, normalization, spectral_norm=spectral_norm)
    return _heads(x, y, h, num_classes, mode, spectral_norm, name)


