"""DCGAN networks: all-convolutional generator and discriminator builders."""

from __future__ import annotations

import keras

from kerasgan import layers

__all__ = [
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "downsampling_trunk",
    "upsampling_trunk",
]

# image side -> (side of the first feature map, number of stride-2 layers)
_LAYOUTS = {16: (4, 2), 28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _layout(image_shape):
    if len(image_shape) != 3 or image_shape[0] != image_shape[1] or image_shape[0] not in _LAYOUTS:
        raise ValueError(
            "image_shape must be (S, S, C) with S in "
            f"{sorted(_LAYOUTS)}. Received: image_shape={tuple(image_shape)!r}"
        )
    return _LAYOUTS[image_shape[0]]


def build_dcgan_generator(
    latent_dim=100,
    image_shape=(28, 28, 1),
    base_filters=64,
    name="generator",
    sync_batch_norm=False,
):
    """DCGAN generator: project and reshape, then fractionally-strided convolutions.

    ``z -> Dense(s*s*F*2^(n-1)) -> BN -> ReLU -> [ConvT(4, stride 2) -> BN -> ReLU] * (n-1)
    -> ConvT(C, 4, stride 2) -> tanh``, following the DCGAN guidelines: no
    pooling or hidden fully connected layers, batch norm in G, ReLU in G and
    tanh at the output (images in ``[-1, 1]``).

    Args:
        latent_dim: size of ``z``.
        image_shape: ``(S, S, C)`` with ``S`` in 16, 28, 32, 64.
        base_filters: filters of the last hidden layer; earlier ones double.
        name: model name.
        sync_batch_norm: batch statistics over the global batch across replicas.

    Returns:
        A built ``keras.Model`` ``[B, latent_dim] -> [B, S, S, C]``.

    Example:
        >>> build_dcgan_generator(8, (16, 16, 1), base_filters=8).output_shape
        (None, 16, 16, 1)

    Reference:
        Unsupervised Representation Learning with Deep Convolutional
        Generative Adversarial Networks, Radford, Metz and Chintala, 2015.
    """
    start, n_up = _layout(image_shape)
    filters = base_filters * 2 ** (n_up - 1)
    z = keras.Input((int(latent_dim),), name="z")
    h = keras.layers.Dense(start * start * filters, use_bias=False, name="project")(z)
    h = layers.BatchNormalization(synchronized=sync_batch_norm, name="bn_project")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Reshape((start, start, filters))(h)
    x = upsampling_trunk(
        h,
        n_up,
        filters,
        image_shape[-1],
        lambda h, i: layers.BatchNormalization(synchronized=sync_batch_norm, name=f"bn_{i}")(h),
    )
    return keras.Model(z, x, name=name)


def build_dcgan_discriminator(
    image_shape=(28, 28, 1),
    base_filters=64,
    normalization="batch",
    name="discriminator",
    sync_batch_norm=False,
):
    """DCGAN discriminator: strided convolutions with LeakyReLU(0.2).

    ``x -> Conv(F, 4, stride 2) -> LReLU -> [Conv(2^i F, 4, stride 2) -> Norm -> LReLU] * (n-1)
    -> Flatten -> Dense(1)`` (one logit, no sigmoid). No normalization on the
    first layer, as in the paper.

    Args:
        image_shape: ``(S, S, C)`` with ``S`` in 16, 28, 32, 64.
        base_filters: filters of the first layer; later ones double.
        normalization: ``"batch"`` (DCGAN), ``"layer"`` (for a critic with a
            gradient penalty) or ``None``.
        name: model name.
        sync_batch_norm: batch statistics over the global batch across replicas.

    Returns:
        A built ``keras.Model`` ``[B, S, S, C] -> [B, 1]``.

    Example:
        >>> build_dcgan_discriminator((16, 16, 1), base_filters=8).output_shape
        (None, 1)

    Reference:
        Radford, Metz and Chintala, 2015.
    """
    if normalization not in ("batch", "layer", None):
        raise ValueError(
            f"normalization must be 'batch', 'layer' or None. Received: normalization={normalization!r}"
        )
    _, n_down = _layout(image_shape)
    x = keras.Input(tuple(image_shape), name="x")
    h = downsampling_trunk(x, n_down, base_filters, normalization, sync_batch_norm)
    logits = keras.layers.Dense(1, dtype="float32", name="logits")(h)
    return keras.Model(x, logits, name=name)


def upsampling_trunk(h, n_up, filters, channels, norm):
    """The DCGAN generator after its projection, shared by the (conditional) builders.

    ``[ConvT(filters / 2^i, 4, stride 2) -> norm(h, i) -> ReLU] * (n_up - 1) ->
    ConvT(channels, 4, stride 2) -> tanh`` (layers ``deconv_i``, ``deconv_out``,
    ``samples``).

    Args:
        h: the projected and reshaped latent ``[B, s, s, filters]``.
        n_up: stride-2 layers in all.
        filters: channels of ``h``; halved at each hidden layer.
        channels: image channels.
        norm: ``norm(h, i) -> h``, the normalization of hidden layer ``i``.

    Returns:
        The image tensor in ``[-1, 1]``.
    """
    for i in range(n_up - 1):
        filters //= 2
        h = keras.layers.Conv2DTranspose(
            filters, 4, 2, padding="same", use_bias=False, name=f"deconv_{i}"
        )(h)
        h = keras.layers.ReLU()(norm(h, i))
    h = keras.layers.Conv2DTranspose(channels, 4, 2, padding="same", name="deconv_out")(h)
    return keras.layers.Activation("tanh", dtype="float32", name="samples")(h)


def downsampling_trunk(
    h, n_down, base_filters, normalization=None, sync_batch_norm=False, spectral_norm=False
):
    """The DCGAN discriminator's features ``phi(x)``, shared by the (conditional) builders.

    ``Conv(F, 4, stride 2) -> LReLU(0.2) -> [Conv(2^i F, 4, stride 2) -> Norm -> LReLU] *
    (n_down - 1) -> Flatten`` (layers ``conv_i``, ``bn_i`` / ``ln_i``); no normalization
    on the first layer, as in the paper.

    Args:
        h: the input images (or images with label maps) ``[B, S, S, C]``.
        n_down: stride-2 layers.
        base_filters: filters of the first layer; later ones double.
        normalization: ``"batch"``, ``"layer"`` or None.
        sync_batch_norm: batch statistics over the global batch across replicas.
        spectral_norm: wrap each convolution in ``keras.layers.SpectralNormalization``.

    Returns:
        The flattened features ``[B, n]``.
    """
    if normalization not in ("batch", "layer", None):
        raise ValueError(
            "normalization must be 'batch', 'layer' or None. "
            f"Received: normalization={normalization!r}"
        )

    def conv(filters, i, use_bias=True):
        layer = keras.layers.Conv2D(
            filters, 4, 2, padding="same", use_bias=use_bias, name=f"conv_{i}"
        )
        return keras.layers.SpectralNormalization(layer) if spectral_norm else layer

    h = keras.layers.LeakyReLU(0.2)(conv(base_filters, 0)(h))
    filters = base_filters
    for i in range(1, n_down):
        filters *= 2
        h = conv(filters, i, use_bias=normalization is None)(h)
        if normalization == "batch":
            h = layers.BatchNormalization(synchronized=sync_batch_norm, name=f"bn_{i}")(h)
        elif normalization == "layer":
            h = keras.layers.LayerNormalization(axis=[1, 2, 3], name=f"ln_{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    return keras.layers.Flatten()(h)
