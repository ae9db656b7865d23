"""Multi-layer perceptron generators and discriminators for low-dimensional data."""

from __future__ import annotations

import keras

from kerasgan import layers

__all__ = ["build_mlp_discriminator", "build_mlp_generator"]


def _check_units(hidden_units, name):
    units = tuple(hidden_units)
    if not units or any(int(u) < 1 for u in units):
        raise ValueError(
            f"{name} must be a non-empty list of positive ints. Received: {name}={hidden_units!r}"
        )
    return units


def build_mlp_generator(
    latent_dim,
    output_dim,
    hidden_units=(128, 128, 128),
    batch_norm=False,
    output_scale=1.0,
    name="generator",
    sync_batch_norm=False,
):
    """MLP generator ``z -> x``: ``[Dense -> (BN) -> ReLU] * L -> Dense``.

    Args:
        latent_dim: size of ``z``.
        output_dim: size of a sample (2 for the toy sets).
        hidden_units: widths of the hidden layers.
        batch_norm: insert batch normalization before each ReLU.
        output_scale: fixed factor on the output (``keras.layers.Rescaling``),
            so the network works at unit scale on data spread over
            ``[-output_scale, output_scale]`` (e.g. 2.83 for grid25).
        name: model name.
        sync_batch_norm: batch statistics over the global batch across
            replicas (``synchronized=True``), so that multi-replica training
            matches one device and every replica keeps the same moving averages.

    Returns:
        A built functional ``keras.Model`` ``[B, latent_dim] -> [B, output_dim]``.

    Example:
        >>> build_mlp_generator(2, 2).output_shape
        (None, 2)
    """
    units = _check_units(hidden_units, "hidden_units")
    z = keras.Input((int(latent_dim),), name="z")
    h = z
    for i, u in enumerate(units):
        h = keras.layers.Dense(u, use_bias=not batch_norm, name=f"dense_{i}")(h)
        if batch_norm:
            h = layers.BatchNormalization(synchronized=sync_batch_norm, name=f"bn_{i}")(h)
        h = keras.layers.ReLU(name=f"relu_{i}")(h)
    # float32 output even under mixed precision.
    x = keras.layers.Dense(int(output_dim), dtype="float32", name="dense_out")(h)
    x = keras.layers.Rescaling(float(output_scale), dtype="float32", name="samples")(x)
    return keras.Model(z, x, name=name)


def build_mlp_discriminator(
    input_dim,
    hidden_units=(128, 128, 128),
    spectral_norm=False,
    layer_norm=False,
    pack=1,
    input_scale=1.0,
    name="discriminator",
):
    """MLP discriminator ``x -> logit``: ``[Dense -> (LN) -> LeakyReLU(0.2)] * L -> Dense(1)``.

    No sigmoid at the end: the losses take logits.

    Args:
        input_dim: size of a sample.
        hidden_units: widths of the hidden layers.
        spectral_norm: wrap every Dense in ``keras.layers.SpectralNormalization``.
        layer_norm: layer normalization after each hidden Dense (safe with a
            gradient penalty, unlike batch normalization).
        pack: number of samples judged jointly (PacGAN); the input is
            ``[B, pack * input_dim]``.
        input_scale: the input is divided by it first (the generator's
            ``output_scale``).
        name: model name.

    Returns:
        A built functional ``keras.Model`` ``[B, pack * input_dim] -> [B, 1]``.

    Example:
        >>> build_mlp_discriminator(2).output_shape
        (None, 1)
    """
    units = _check_units(hidden_units, "hidden_units")
    x = keras.Input((int(input_dim) * int(pack),), name="x")
    h = keras.layers.Rescaling(1.0 / float(input_scale), name="input_scale")(x)
    for i, u in enumerate(units):
        dense = keras.layers.Dense(u, name=f"dense_{i}")
        if spectral_norm:
            dense = keras.layers.SpectralNormalization(dense, name=f"sn_dense_{i}")
        h = dense(h)
        if layer_norm:
            h = keras.layers.LayerNormalization(name=f"ln_{i}")(h)
        h = keras.layers.LeakyReLU(0.2, name=f"lrelu_{i}")(h)
    out = keras.layers.Dense(1, name="logit_dense")
    if spectral_norm:
        out = keras.layers.SpectralNormalization(out, name="sn_logit")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(out(h))
    return keras.Model(x, logits, name=name)
