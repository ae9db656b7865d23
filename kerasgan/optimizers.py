"""Optimizers: Adam with TensorFlow's fused update kernel.

Why our own: Keras 3's ``Adam.update_step`` is written with backend-agnostic
ops, so on TensorFlow each variable's update is about ten element-wise kernels
and three assignments; TensorFlow's ``ResourceApplyAdam`` does the same update
in one pass over the variable (and XLA compiles it too). The formula, the
hyperparameters, the slot variables (``_momentums``, ``_velocities``), the
config and everything ``keras.optimizers.Optimizer.apply`` does around the
update (gradient clipping, weight decay, EMA, loss scaling, distribution) are
Keras's; only the per-variable arithmetic is the fused kernel. Sparse
gradients and ``amsgrad`` use Keras's code.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["Adam"]


def _handle(variable):
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle


@keras.saving.register_keras_serializable(package="kerasgan")
class Adam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose dense update is ``ResourceApplyAdam``.

    For step ``t`` (1-based), gradient ``g`` and learning rate ``lr``::

        m <- m + (1 - beta_1) * (g - m)
        v <- v + (1 - beta_2) * (g^2 - v)
        w <- w - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    identical to Keras's Adam (same epsilon placement), in one fused kernel.

    Args:
        **kwargs: those of ``keras.optimizers.Adam`` (``learning_rate``,
            ``beta_1``, ``beta_2``, ``epsilon``, ``amsgrad``, ``clipnorm``, ...).

    Returns:
        An optimizer usable anywhere ``keras.optimizers.Adam`` is.

    Example:
        >>> opt = Adam(2e-4, beta_1=0.5)
        >>> opt.get_config()["beta_1"]
        0.5
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
