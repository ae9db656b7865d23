"""Normalization flow layers: ActNorm (data-dependent init) and batch normalization.

Both are per-feature affine maps (per channel on images). ActNorm's shift and
scale are weights initialized from the first batch (Glow); BatchNorm uses the
batch moments in training and their moving averages otherwise (RealNVP, MAF).
``tfb.BatchNormalization`` only accepts a tf_keras (Keras 2) layer, whose
variables a Keras 3 model neither trains nor saves, hence
:class:`kerasgan.flows.bijectors.BatchNormBijector` over this layer's weights.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.base import FlowLayer
from kerasgan.flows.bijectors import BatchNormBijector

tfb = tfp.bijectors

__all__ = ["ActNorm", "BatchNorm"]


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
class BatchNorm(FlowLayer):
    """Batch normalization flow layer (per feature; per channel on images).

    Density direction ``z = (x - mu) / sqrt(var + eps) * exp(log_gamma) + beta``
    with ``log|det dz/dx| = sum(log_gamma - 0.5 log(var + eps))``. In training
    (``fit``) ``(mu, var)`` are the batch's moments and the moving averages are
    updated after each step (``moving = momentum * moving + (1 - momentum) *
    batch``); otherwise (``log_prob``, ``sample``, export) the moving averages
    are used, so the layer is then a fixed affine map.

    Args:
        momentum: moving-average momentum.
        epsilon: added to the variance.

    Returns:
        A flow layer.

    Example:
        >>> layer = BatchNorm()
        >>> layer.build((None, 2))

    Reference:
        Dinh, Sohl-Dickstein and Bengio, 2017 (RealNVP); Papamakarios, Pavlakou
        and Murray, 2017 (MAF).
    """

    takes_training = True

    def __init__(self, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1). Received: momentum={momentum!r}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        # Batch moments recorded while tracing a training step (plain list: not tracked).
        object.__setattr__(self, "_pending", [])

    def build_flow(self, event_size):
        self.log_gamma = self.add_weight(shape=(event_size,), initializer="zeros", name="log_gamma")
        self.beta = self.add_weight(shape=(event_size,), initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=(event_size,), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(event_size,), initializer="ones", trainable=False, name="moving_variance"
        )

    def bijector(self, context=None, training=False):
        return BatchNormBijector(self, training)

    def update_moving_statistics(self):
        """Folds the batch moments recorded by training-mode bijectors into the moving averages."""
        m = self.momentum
        for mean, var in self._pending:
            self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
            self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * var)
        self._pending.clear()

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config
