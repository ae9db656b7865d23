"""Linear flow layers: a fixed permutation and an invertible linear map (Glow's 1x1 convolution).

On images (events ``[H, W, C]``) both act per pixel on the channels:
``InvertibleLinear`` is Glow's invertible 1x1 convolution (``tfb.ScaleMatvecLU``
on the last axis, its log-det summed over the ``H * W`` pixels by TFP).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.base import FlowLayer

tfb = tfp.bijectors

__all__ = ["InvertibleLinear", "Permute"]


@keras.saving.register_keras_serializable(package="kerasgan")
class Permute(FlowLayer):
    """Fixed permutation of the last axis (``tfb.Permute``); ``log|det J| = 0``.

    Args:
        permutation: explicit permutation of ``0..D-1``, ``"reverse"`` or
            ``"random"`` (seeded by ``seed``).
        seed: seed for ``"random"``.

    Returns:
        A flow layer.

    Example:
        >>> layer = Permute("reverse")
        >>> layer.build((None, 3))
        >>> layer(np.array([[1.0, 2.0, 3.0]], "float32")).numpy().tolist()
        [[3.0, 2.0, 1.0]]
    """

    def __init__(self, permutation="reverse", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.permutation = permutation
        self.seed = int(seed)

    def build_flow(self, event_size):
        p = self.permutation
        if isinstance(p, str):
            if p == "reverse":
                perm = np.arange(event_size)[::-1]
            elif p == "random":
                perm = np.random.default_rng(self.seed).permutation(event_size)
            else:
                raise ValueError(
                    "permutation must be 'reverse', 'random' or a permutation of "
                    f"0..{event_size - 1}. Received: permutation={p!r}"
                )
        else:
            perm = np.asarray(p, dtype=int).reshape(-1)
            if sorted(perm.tolist()) != list(range(event_size)):
                raise ValueError(
                    f"permutation must be a permutation of 0..{event_size - 1}. "
                    f"Received: permutation={np.asarray(p).reshape(-1).tolist()!r}"
                )
        self._perm = perm.copy()

    def bijector(self, context=None):
        return tfb.Permute(self._perm)

    def get_config(self):
        config = super().get_config()
        p = self.permutation
        config.update(permutation=p if isinstance(p, str) else list(map(int, p)), seed=self.seed)
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
