"""Conditioners: the networks that output a flow layer's parameters (Keras 3 layers).

TFP's ``tfb.AutoregressiveNetwork`` is a tf_keras (Keras 2) layer whose
variables a Keras 3 model cannot see (they are neither trained nor saved), so
MADE and the coupling networks are written here as Keras 3 layers.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

__all__ = ["MADE", "CouplingCNN", "CouplingMLP", "MaskedDense", "made_degrees", "made_masks"]


def _units(hidden_units, name="hidden_units"):
    units = tuple(int(u) for u in hidden_units)
    if not units or min(units) < 1:
        raise ValueError(
            f"{name} must be a non-empty sequence of positive integers. Received: "
            f"{name}={tuple(hidden_units)!r}"
        )
    return units


def _with_context(h, context, context_size):
    """Concatenates a conditioning vector ``[B, C]`` to ``h`` (broadcast over any pixel axes)."""
    if not context_size:
        return h
    if context is None:
        raise ValueError(
            f"This network was built with context_size={context_size}; call it "
            "with a context. Received: context=None"
        )
    c = tf.cast(context, h.dtype)
    for _ in range(h.shape.rank - c.shape.rank):  # images: [B, C] -> [B, 1, 1, C]
        c = c[:, None]
    c = tf.broadcast_to(c, tf.concat([tf.shape(h)[:-1], [context_size]], 0))
    return tf.concat([h, c], axis=-1)


def made_degrees(event_size, hidden_units, input_order="left-to-right", seed=0):
    """Degrees of MADE's input and hidden units.

    The input degrees are a permutation of ``1..D`` (``input_order``); hidden
    unit ``k`` of a layer gets degree ``min_degree + k mod (D - min_degree)``
    where ``min_degree`` is the smallest degree of the layer below (so every
    hidden unit sees at least one input and no unit has degree ``D``).

    Args:
        event_size: ``D`` (>= 1).
        hidden_units: sizes of the hidden layers.
        input_order: ``"left-to-right"``, ``"right-to-left"``, ``"random"``
            (seeded by ``seed``) or an explicit permutation of ``1..D``.
        seed: seed for ``"random"``.

    Returns:
        A list of int arrays: the input degrees, then one per hidden layer.

    Example:
        >>> [d.tolist() for d in made_degrees(3, [4])]
        [[1, 2, 3], [1, 2, 1, 2]]
    """
    d = int(event_size)
    if d < 1:
        raise ValueError(f"event_size must be >= 1. Received: event_size={event_size!r}")
    if isinstance(input_order, str):
        if input_order == "left-to-right":
            order = np.arange(1, d + 1)
        elif input_order == "right-to-left":
            order = np.arange(d, 0, -1)
        elif input_order == "random":
            order = np.random.default_rng(seed).permutation(d) + 1
        else:
            raise ValueError(
                "input_order must be 'left-to-right', 'right-to-left', 'random' or a "
                f"permutation of 1..{d}. Received: input_order={input_order!r}"
            )
    else:
        order = np.asarray(input_order, dtype=int).reshape(-1)
        if sorted(order.tolist()) != list(range(1, d + 1)):
            raise ValueError(
                f"input_order must be a permutation of 1..{d}. Received: "
                f"input_order={np.asarray(input_order).reshape(-1).tolist()!r}"
            )
    degrees = [order]
    for units in _units(hidden_units):
        low = int(degrees[-1].min())
        span = max(d - low, 1)
        degrees.append(low + np.arange(units) % span if d > 1 else np.ones(units, int))
    return degrees


def made_masks(degrees):
    """Connectivity masks ``[in, out]`` from :func:`made_degrees`.

    Hidden layers: ``M[i, j] = deg_out[j] >= deg_in[i]``; output layer (one
    output per input dimension): ``M[i, d] = deg_input[d] > deg_in[i]``, so
    output ``d`` depends only on inputs of smaller degree.

    Returns:
        A list of float32 arrays, one per hidden layer and one for the output.
    """
    masks = []
    for d_in, d_out in zip(degrees[:-1], degrees[1:]):
        masks.append((d_out[None, :] >= d_in[:, None]).astype("float32"))
    masks.append((degrees[0][None, :] > degrees[-1][:, None]).astype("float32"))
    return masks


@keras.saving.register_keras_serializable(package="kerasgan")
class MaskedDense(keras.layers.Layer):
    """Dense layer whose kernel is multiplied by a fixed 0/1 mask: ``y = x @ (W * M) + b``.

    Args:
        units: output size.
        mask: ``[in, units]`` array of 0/1 (stored in the config).
        kernel_initializer, bias_initializer: Keras initializers.

    Returns:
        A layer ``[..., in] -> [..., units]``.

    Example:
        >>> layer = MaskedDense(2, mask=[[1, 0], [1, 1]])
        >>> tuple(layer(np.ones((3, 2), "float32")).shape)
        (3, 2)
    """

    def __init__(
        self,
        units,
        mask,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.mask = np.asarray(mask, dtype="float32")
        if self.mask.ndim != 2 or self.mask.shape[1] != self.units:
            raise ValueError(
                f"mask must have shape [input_size, units={self.units}]. Received: "
                f"mask with shape {self.mask.shape}"
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        if input_shape[-1] != self.mask.shape[0]:
            raise ValueError(
                f"MaskedDense expects inputs with {self.mask.shape[0]} features. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            shape=self.mask.shape, initializer=self.kernel_initializer, name="kernel"
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer=self.bias_initializer, name="bias"
        )

    def call(self, x):
        mask = ops.convert_to_tensor(self.mask, dtype=self.kernel.dtype)
        return ops.matmul(x, self.kernel * mask) + self.bias

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            mask=self.mask.astype(int).tolist(),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class MADE(keras.layers.Layer):
    """Masked autoencoder for distribution estimation: autoregressive parameters.

    ``made(x)[..., d, :]`` depends only on the inputs ``x_j`` whose degree is
    smaller than ``x_d``'s (and on ``context`` if given)::

        h_1 = act(x @ (W_1 * M_1) + context @ V + b_1)
        h_k = act(h_{k-1} @ (W_k * M_k) + b_k)
        out = h_K @ (W_out * M_out) + context @ U + b_out   # [..., D * params] -> [..., D, params]

    Args:
        event_size: ``D``.
        params: parameters per dimension (2 for shift and log-scale).
        hidden_units: hidden layer sizes.
        input_order: see :func:`made_degrees`.
        context_size: size of an optional conditioning input (0: none).
        activation: hidden activation.
        seed: seed for a random input order.
        zero_init: start the output layer at zero (the flow starts as the identity).

    Returns:
        A layer; ``made(x)`` or ``made(x, context)`` has shape ``[..., D, params]``.

    Example:
        >>> made = MADE(3, params=2, hidden_units=[8])
        >>> tuple(made(np.zeros((5, 3), "float32")).shape)
        (5, 3, 2)

    Reference:
        MADE: Masked Autoencoder for Distribution Estimation, Germain, Gregor,
        Murray and Larochelle, 2015.
    """

    def __init__(
        self,
        event_size,
        params=2,
        hidden_units=(64, 64),
        input_order="left-to-right",
        context_size=0,
        activation="relu",
        seed=0,
        zero_init=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_size = int(event_size)
        self.params = int(params)
        if self.params < 1:
            raise ValueError(f"params must be >= 1. Received: params={params!r}")
        self.hidden_units = _units(hidden_units)
        self.context_size = int(context_size)
        if self.context_size < 0:
            raise ValueError(f"context_size must be >= 0. Received: context_size={context_size!r}")
        self.activation = keras.activations.get(activation)
        self.seed = int(seed)
        self.zero_init = bool(zero_init)
        self.degrees = made_degrees(self.event_size, self.hidden_units, input_order, seed)
        self.input_order = self.degrees[0].tolist()
        masks = made_masks(self.degrees)
        self.hidden = [
            MaskedDense(u, m, name=f"masked_{i}", dtype=self.dtype_policy)
            for i, (u, m) in enumerate(zip(self.hidden_units, masks[:-1]))
        ]
        out_mask = np.repeat(masks[-1], self.params, axis=1)  # unit d * params + p
        init = "zeros" if self.zero_init else "glorot_uniform"
        self.out = MaskedDense(
            self.event_size * self.params,
            out_mask,
            kernel_initializer=init,
            name="masked_out",
            dtype=self.dtype_policy,
        )
        self.context_dense = (
            keras.layers.Dense(
                self.hidden_units[0], use_bias=False, name="context", dtype=self.dtype_policy
            )
            if self.context_size
            else None
        )
        # The first dimension in the order sees no hidden unit; a direct context -> output
        # connection conditions it too (and every other output).
        self.context_out = (
            keras.layers.Dense(
                self.event_size * self.params,
                use_bias=False,
                kernel_initializer=init,
                name="context_out",
                dtype=self.dtype_policy,
            )
            if self.context_size
            else None
        )

    def build(self, x_shape, context_shape=None):
        input_shape = x_shape
        shape = tuple(input_shape)
        if shape[-1] != self.event_size:
            raise ValueError(
                f"MADE was configured for event_size={self.event_size}. Received: "
                f"input_shape={shape}"
            )
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.out.build(shape)
        if self.context_dense is not None:
            self.context_dense.build(tuple(input_shape[:-1]) + (self.context_size,))
            self.context_out.build(tuple(input_shape[:-1]) + (self.context_size,))

    def call(self, x, context=None):
        h = x
        for i, layer in enumerate(self.hidden):
            h = layer(h)
            if i == 0 and self.context_dense is not None:
                if context is None:
                    raise ValueError(
                        f"This MADE was built with context_size={self.context_size}; "
                        "call it with a context. Received: context=None"
                    )
                h = h + self.context_dense(context)
            h = self.activation(h)
        out = self.out(h)
        if self.context_out is not None:
            out = out + self.context_out(context)
        return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [self.event_size, self.params]], 0))

    def get_config(self):
        config = super().get_config()
        config.update(
            event_size=self.event_size,
            params=self.params,
            hidden_units=list(self.hidden_units),
            input_order=self.input_order,
            context_size=self.context_size,
            activation=keras.activations.serialize(self.activation),
            seed=self.seed,
            zero_init=self.zero_init,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class CouplingMLP(keras.layers.Layer):
    """MLP conditioner of a coupling layer: ``[..., d_in] (+ context) -> [..., d_out, params]``.

    Args:
        output_size: number of transformed dimensions ``d_out``.
        params: parameters per transformed dimension.
        hidden_units: hidden sizes.
        context_size: size of an optional conditioning input (0: none).
        activation: hidden activation.
        zero_init: zero output layer (the coupling starts as the identity).

    Returns:
        A layer with output ``[..., d_out, params]``.

    Example:
        >>> net = CouplingMLP(2, params=2, hidden_units=[8])
        >>> tuple(net(np.zeros((4, 3), "float32")).shape)
        (4, 2, 2)
    """

    def __init__(
        self,
        output_size,
        params=2,
        hidden_units=(64, 64),
        context_size=0,
        activation="relu",
        zero_init=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_size = int(output_size)
        self.params = int(params)
        self.hidden_units = _units(hidden_units)
        self.context_size = int(context_size)
        self.activation = keras.activations.get(activation)
        self.zero_init = bool(zero_init)
        self.hidden = [
            keras.layers.Dense(u, name=f"dense_{i}", dtype=self.dtype_policy)
            for i, u in enumerate(self.hidden_units)
        ]
        self.out = keras.layers.Dense(
            self.output_size * self.params,
            kernel_initializer="zeros" if self.zero_init else "glorot_uniform",
            name="dense_out",
            dtype=self.dtype_policy,
        )

    def build(self, x_shape, context_shape=None):
        input_shape = x_shape
        shape = tuple(input_shape[:-1]) + (input_shape[-1] + self.context_size,)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.out.build(shape)

    def call(self, x, context=None):
        h = _with_context(x, context, self.context_size)
        for layer in self.hidden:
            h = self.activation(layer(h))
        out = self.out(h)
        return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [self.output_size, self.params]], 0))

    def get_config(self):
        config = super().get_config()
        config.update(
            output_size=self.output_size,
            params=self.params,
            hidden_units=list(self.hidden_units),
            context_size=self.context_size,
            activation=keras.activations.serialize(self.activation),
            zero_init=self.zero_init,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class CouplingCNN(keras.layers.Layer):
    """Convolutional conditioner of an image coupling layer (Glow's / RealNVP's network).

    ``[B, H, W, c_in] (+ context) -> Conv3x3(h_1) -> ReLU -> [Conv1x1(h_k) -> ReLU]
    -> Conv3x3(c_out * params) -> [B, H, W, c_out, params]``, the last
    convolution zero-initialized so the coupling starts as the identity. With
    ``residual=True`` each 1x1 layer whose width equals its input's adds a
    skip connection (a small ResNet). A context vector is broadcast over the
    pixels and concatenated to the input channels.

    Args:
        output_channels: transformed channels ``c_out``.
        params: parameters per transformed value (2 for affine).
        hidden_channels: widths of the hidden convolutions (first 3x3, then 1x1).
        context_size: size of an optional conditioning vector (0: none).
        residual: skip connections between equal-width hidden layers.
        zero_init: zero output layer.

    Returns:
        A layer with output ``[B, H, W, c_out, params]``.

    Example:
        >>> net = CouplingCNN(2, params=2, hidden_channels=[8, 8])
        >>> tuple(net(np.zeros((4, 6, 6, 2), "float32")).shape)
        (4, 6, 6, 2, 2)

    Reference:
        Kingma and Dhariwal, 2018 (Glow); Dinh, Sohl-Dickstein and Bengio, 2017.
    """

    def __init__(
        self,
        output_channels,
        params=2,
        hidden_channels=(64, 64),
        context_size=0,
        residual=False,
        zero_init=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_channels = int(output_channels)
        self.params = int(params)
        self.hidden_channels = _units(hidden_channels, "hidden_channels")
        self.context_size = int(context_size)
        self.residual = bool(residual)
        self.zero_init = bool(zero_init)
        self.hidden = [
            keras.layers.Conv2D(
                c, 3 if i == 0 else 1, padding="same", name=f"conv_{i}", dtype=self.dtype_policy
            )
            for i, c in enumerate(self.hidden_channels)
        ]
        self.out = keras.layers.Conv2D(
            self.output_channels * self.params,
            3,
            padding="same",
            kernel_initializer="zeros" if self.zero_init else "glorot_uniform",
            name="conv_out",
            dtype=self.dtype_policy,
        )

    def build(self, x_shape, context_shape=None):
        if len(x_shape) != 4:
            raise ValueError(
                f"CouplingCNN takes images [B, H, W, C]. Received: input shape {tuple(x_shape)}"
            )
        shape = tuple(x_shape[:-1]) + (x_shape[-1] + self.context_size,)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (layer.filters,)
        self.out.build(shape)

    def call(self, x, context=None):
        h = _with_context(x, context, self.context_size)
        for i, layer in enumerate(self.hidden):
            out = ops.relu(layer(h))
            h = h + out if self.residual and i > 0 and h.shape[-1] == out.shape[-1] else out
        out = self.out(h)
        return tf.reshape(
            out, tf.concat([tf.shape(x)[:-1], [self.output_channels, self.params]], 0)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            output_channels=self.output_channels,
            params=self.params,
            hidden_channels=list(self.hidden_channels),
            context_size=self.context_size,
            residual=self.residual,
            zero_init=self.zero_init,
        )
        return config
