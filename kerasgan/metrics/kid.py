"""Kernel Inception Distance: unbiased polynomial-kernel MMD^2 on features.

    k(x, y) = (x . y / d + 1)^3
    MMD^2_u = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
              - 2/m^2 sum_{i,j} k(x_i, y_j)

averaged over ``num_subsets`` random subsets of ``subset_size`` from each side
(Bińkowski et al., 2018, "Demystifying MMD GANs"); reported as mean and
standard deviation over subsets. Unbiased: its expectation is 0 when both sets
come from the same distribution (so single estimates can be negative).

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(200, 8))
    >>> y = np.random.default_rng(1).normal(size=(200, 8)) + 1.0
    >>> mean, std = kernel_inception_distance(x, y, num_subsets=10, subset_size=100)
    >>> mean > 0.1
    True
"""

from __future__ import annotations

import numpy as np

from kerasgan.metrics._arrays import feature_matrix as _features

__all__ = ["kernel_inception_distance", "polynomial_mmd2_unbiased"]


def polynomial_mmd2_unbiased(x, y, degree=3, gamma=None, coef0=1.0):
    """Unbiased MMD^2 of two equal-size sets with ``k(a, b) = (gamma a.b + coef0)^degree``.

    Args:
        x: ``[m, d]`` features.
        y: ``[m, d]`` features.
        degree: polynomial degree (3 for KID).
        gamma: default ``1 / d``.
        coef0: additive constant (1 for KID).

    Returns:
        float.
    """
    x, y = _features(x, "x"), _features(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape. Received: {x.shape} and {y.shape}")
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)
    return _poly_mmd2(x, y, degree, gamma, coef0)


def _poly_mmd2(x, y, degree, gamma, coef0):
    m = x.shape[0]
    sums = []
    for a, b in ((x, x), (y, y), (x, y)):
        k = a @ b.T  # a @ a.T runs as a symmetric rank-k update in BLAS
        k *= gamma
        k += coef0
        k **= degree  # in place: no temporaries of m x m beyond k
        sums.append(k.sum() - (np.trace(k) if a is b else 0.0))
    return float((sums[0] + sums[1]) / (m * (m - 1)) - 2.0 * sums[2] / (m * m))


def kernel_inception_distance(
    features1, features2, num_subsets=100, subset_size=1000, degree=3, gamma=None, coef0=1.0, seed=0
):
    """KID: the mean and std of unbiased polynomial-kernel MMD^2 over random subsets.

    Each subset draws ``subset_size`` rows without replacement from each
    side (``min(subset_size, n1, n2)`` when a side is smaller), as the
    reference implementation does.

    Args:
        features1: ``[n1, d]`` features (e.g. real images').
        features2: ``[n2, d]`` features (e.g. generated images').
        num_subsets: number of subsets (100 in the paper's code).
        subset_size: rows per subset and side (1000 in the paper's code).
        degree, gamma, coef0: the kernel ``(gamma x.y + coef0)^degree``;
            ``gamma`` defaults to ``1 / d``.
        seed: seeds the subset draws (NumPy ``default_rng``).

    Returns:
        ``(mean, std)`` over subsets (``std`` with ``ddof=0``).

    Example:
        See the module docstring.
    """
    x, y = _features(features1, "features1"), _features(features2, "features2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"Both sets need the same feature size. Received: {x.shape[1]} and {y.shape[1]}"
        )
    for key, value in (("num_subsets", num_subsets), ("subset_size", subset_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int. Received: {key}={value!r}")
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError(f"subset_size must be >= 2. Received: subset_size={subset_size!r}")
    rng = np.random.default_rng(seed)
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        a = x[rng.choice(x.shape[0], m, replace=False)]
        b = y[rng.choice(y.shape[0], m, replace=False)]
        values[i] = _poly_mmd2(a, b, degree, gamma, coef0)
    return float(values.mean()), float(values.std())
