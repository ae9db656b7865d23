"""Glow's layers: ActNorm (data-dependent init) and an invertible linear map via LU.

A Glow step is ``ActNorm -> InvertibleLinear -> AffineCoupling`` (data side
first); :func:`glow_step` returns the three layers for vectors. On images
(events ``[H, W, C]``) the same layers act per pixel on the channels: ActNorm
is per channel and ``InvertibleLinear`` is Glow's invertible 1x1 convolution
(``tfb.ScaleMatvecLU`` on the last axis, its log-det summed over the ``H * W``
pixels by TFP). The multi-scale image architecture is
:func:`kerasgan.flows.glow` in :mod:`kerasgan.flows.image`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.layers import AffineCoupling, FlowLayer

tfb = tfp.bijectors

__all__ = ["ActNorm", "InvertibleLinear", "glow_step"]


@keras.saving.register_keras_serializable(package="kerasgan")
class ActNorm(FlowLayer):
    """Per-dimension affine map with data-dependent initialization.

    Sampling direction ``x = z * exp(s) + b``; density direction ``z = (x - b) *
    exp(-s)``, ``log|det dz/dx| = -sum(s)``. :meth:`initialize` sets ``b`` to the
    mean and ``s`` to the log standard deviation of a batch arriving at this
    layer, so its output starts standardized; :class:`FlowModel` calls it on the
    first training batch (``FlowModel.initialize``).

    Args:
        epsilon: added to the standard deviation at initialization.

    Returns:
        A flow layer.

    Example:
        >>> layer = ActNorm()
        >>> layer.build((None, 2))
        >>> layer.initialize(np.array([[0.0, 1.0], [2.0, 3.0]], "float32"))

    Reference:
        Glow: Generative Flow with Invertible 1x1 Convolutions, Kingma and
        Dhariwal, 2018.
    """

    needs_data_init = True

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if not float(epsilon) > 0.0:
            raise ValueError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)

    def build_flow(self, event_size):
        self.log_scale = self.add_weight(shape=(event_size,), initializer="zeros", name="log_scale")
        self.bias = self.add_weight(shape=(event_size,), initializer="zeros", name="bias")
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="initialized"
        )

    def initialize(self, x):
        """Data-dependent initialization from a batch at this layer's data side.

        ``x`` is ``[N, D]`` (vectors) or ``[N, H, W, C]`` (images: statistics per
        channel over the batch and all pixels, as in Glow).
        """
        x = tf.convert_to_tensor(x, self.log_scale.dtype)
        mean, var = tf.nn.moments(x, axes=list(range(x.shape.rank - 1)))
        self.bias.assign(mean)
        self.log_scale.assign(tf.math.log(tf.sqrt(var) + self.epsilon))
        self.initialized.assign(1.0)

    @property
    def is_initialized(self):
        return bool(self.initialized.numpy() > 0)

    def bijector(self, context=None):
        return tfb.Chain(
            [
                tfb.Shift(tf.convert_to_tensor(self.bias)),
                tfb.Scale(log_scale=tf.convert_to_tensor(self.log_scale)),
            ]
        )

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


@keras.saving.register_keras_serializable(package="kerasgan")
class InvertibleLinear(FlowLayer):
    """Invertible linear map ``x = W z`` with ``W = P L U`` (``tfb.ScaleMatvecLU``).

    ``P`` is a fixed permutation, ``L`` unit lower triangular and ``U`` upper
    triangular, stored together as the trainable ``lower_upper`` matrix, so
    ``log|det W| = sum log|diag(U)|`` costs O(D) (Glow's LU-decomposed 1x1
    convolution). Initialized from a random rotation (seeded).

    Args:
        seed: seed of the initial rotation.

    Returns:
        A flow layer.

    Example:
        >>> layer = InvertibleLinear(seed=0)
        >>> layer.build((None, 3))

    Reference:
        Kingma and Dhariwal, 2018.
    """

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def build_flow(self, event_size):
        import scipy.linalg

        rng = np.random.default_rng(self.seed)
        q, _ = np.linalg.qr(rng.normal(size=(event_size, event_size)))
        p, lower, upper = scipy.linalg.lu(q)  # q = p @ lower @ upper
        lower_upper = np.tril(lower, -1) + upper
        # tfb.ScaleMatvecLU applies rows of L U in the order given by `permutation`:
        # W = P L U with P[i, perm[i]] = 1, i.e. perm = argmax over columns of P^T.
        perm = np.argmax(p.T, axis=1).astype("int32")
        self.lower_upper = self.add_weight(
            shape=(event_size, event_size),
            initializer=keras.initializers.Constant(lower_upper),
            name="lower_upper",
        )
        self._permutation = perm

    def bijector(self, context=None):
        return tfb.ScaleMatvecLU(
            tf.convert_to_tensor(self.lower_upper), tf.constant(self._permutation)
        )

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


def glow_step(hidden_units=(64, 64), parity=0, seed=0, context_size=0, dtype=None):
    """The three layers of one Glow step on vectors: ActNorm, InvertibleLinear, AffineCoupling.

    Args:
        hidden_units: coupling network sizes.
        parity: coupling half (alternate between steps).
        seed: seed of the invertible linear map's initial rotation.
        context_size: conditioning input size of the coupling.
        dtype: the layers' dtype (policy), e.g. ``"float64"``.

    Returns:
        A list of three flow layers (data side first), to extend a layer list.
    """
    kw = {} if dtype is None else {"dtype": dtype}
    return [
        ActNorm(**kw),
        InvertibleLinear(seed=seed, **kw),
        AffineCoupling(hidden_units, parity=parity, context_size=context_size, **kw),
    ]
