"""The rational-quadratic spline of neural spline flows, from raw network outputs."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["spline_bijector"]


def spline_bijector(
    params: tf.Tensor,
    num_bins: int,
    bound: float,
    min_size: float = 1e-3,
    min_slope: float = 1e-3,
) -> tfb.Bijector:
    """``tfb.RationalQuadraticSpline`` on ``[-bound, bound]`` (identity outside) from raw params.

    With ``K = num_bins`` and ``W = 2 * bound``::

        widths  = softmax(params[..., :K])   * (W - K * min_size * W) + min_size * W
        heights = softmax(params[..., K:2K]) * (W - K * min_size * W) + min_size * W
        slopes  = softplus(params[..., 2K:]) + min_slope      # the K - 1 interior knots

    Args:
        params: ``[..., 3K - 1]`` unconstrained network outputs.
        num_bins: ``K``.
        bound: half-width of the spline's interval.
        min_size: smallest bin width and height, as a fraction of ``2 * bound``.
        min_slope: smallest interior knot slope.

    Returns:
        A ``tfb.RationalQuadraticSpline`` acting elementwise on ``[...]``.

    Example:
        >>> bij = spline_bijector(tf.zeros([3, 11]), num_bins=4, bound=3.0)
        >>> bij.forward(tf.zeros([3])).shape
        TensorShape([3])

    Reference:
        Neural Spline Flows, Durkan, Bekasov, Murray and Papamakarios, 2019.
    """
    k = num_bins
    width = 2.0 * bound
    dtype = params.dtype
    floor = tf.cast(min_size * width, dtype)

    def sizes(raw):
        return tf.nn.softmax(raw, axis=-1) * (width - k * floor) + floor

    slopes = tf.nn.softplus(params[..., 2 * k :]) + tf.cast(min_slope, dtype)
    return tfb.RationalQuadraticSpline(
        bin_widths=sizes(params[..., :k]),
        bin_heights=sizes(params[..., k : 2 * k]),
        knot_slopes=slopes,
        range_min=tf.cast(-bound, dtype),
    )
