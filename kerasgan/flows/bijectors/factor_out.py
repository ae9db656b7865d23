"""Factor-out (multi-scale): transform some channels, pass the others straight to the noise."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan.flows.bijectors.memo import memo

tfb = tfp.bijectors

__all__ = ["ChannelSplitBijector"]


class ChannelSplitBijector(tfb.Bijector):
    """Applies ``inner`` to the first ``k`` channels and the identity to the rest (factor-out).

    ``inner`` maps noise of shape ``inner_noise_shape`` to data ``[H, W, k]``;
    its noise is laid out as ``[H, W, k]`` (a reshape, log-det 0) so that this
    bijector keeps the event shape ``[H, W, C]``::

        inverse: z = concat(inner^-1(x[..., :k]), x[..., k:])
        log|det dz/dx| = log|det d inner^-1 / d x[..., :k]|

    Args:
        inner: a ``tfb.Bijector`` from ``inner_noise_shape`` to ``data_shape``.
        k: number of transformed channels.
        data_shape: ``[H, W, k]``.
        inner_noise_shape: ``inner``'s noise-side event shape (same size).
        name: bijector name.

    Returns:
        A ``tfb.Bijector`` on events ``[H, W, C]``.

    Example:
        >>> bij = ChannelSplitBijector(tfb.Scale(2.0), 1, [2, 2, 1], [2, 2, 1])
        >>> bij.inverse(tf.ones([1, 2, 2, 2]))[0, 0, 0].numpy().tolist()
        [0.5, 1.0]

    Reference:
        Density estimation using Real NVP, Dinh, Sohl-Dickstein and Bengio, 2017
        (section 3.6).
    """

    def __init__(self, inner, k, data_shape, inner_noise_shape, name="multiscale"):
        parameters = dict(locals())
        self._inner = inner
        self._k = int(k)
        self._data_shape = list(data_shape)  # [H, W, k]
        self._noise_shape = list(inner_noise_shape)
        # The same slice object for the transform and the log-det, so TFP's cache and
        # the conditioners' memo hit inside ``inner``.
        self._first = memo(lambda t: t[..., : self._k])
        self._noise_part = memo(lambda t: self._to(t[..., : self._k], self._noise_shape))
        super().__init__(
            forward_min_event_ndims=3, dtype=inner.dtype, parameters=parameters, name=name
        )

    def _to(self, t, shape):
        return tf.reshape(t, tf.concat([tf.shape(t)[:-3], shape], 0))

    def _forward(self, z):
        x1 = self._inner.forward(self._noise_part(z))
        return tf.concat([x1, z[..., self._k :]], axis=-1)

    def _inverse(self, x):
        z1 = self._inner.inverse(self._first(x))
        return tf.concat([self._to(z1, self._data_shape), x[..., self._k :]], axis=-1)

    def _forward_log_det_jacobian(self, z):
        return self._inner.forward_log_det_jacobian(
            self._noise_part(z), event_ndims=len(self._noise_shape)
        )

    def _inverse_log_det_jacobian(self, x):
        return self._inner.inverse_log_det_jacobian(self._first(x), event_ndims=3)
