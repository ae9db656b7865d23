"""Kernel maximum mean discrepancy: unbiased MMD^2 and a permutation two-sample test.

    MMD^2(P, Q) = E k(x, x') - 2 E k(x, y) + E k(y, y'),   x, x' ~ P, y, y' ~ Q

(Gretton et al., 2012). The unbiased estimate from ``x [m, d]`` and ``y [n, d]``
leaves out the diagonal terms:

    MMD^2_u = sum_{i!=j} k(x_i,x_j) / (m(m-1)) + sum_{i!=j} k(y_i,y_j) / (n(n-1))
              - 2 sum_{i,j} k(x_i,y_j) / (mn).

Kernels: ``"rbf"``, ``k(a, b) = exp(-|a - b|^2 / (2 s^2))`` with one bandwidth
``s`` (default: the median pairwise distance of the pooled sample, the
median heuristic), and ``"multiscale"``, the sum of RBF kernels over several
bandwidths (default: the median distance times 1/4, 1/2, 1, 2, 4).

The permutation test pools both samples, recomputes the statistic under
``num_permutations`` random relabellings and returns the p-value
``(1 + #{null >= observed}) / (1 + num_permutations)``, which is valid (its
false-rejection rate is at most the level) for any kernel.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 1.0
    >>> mmd_permutation_test(x, y, num_permutations=200).p_value < 0.05
    True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kerasgan.metrics._arrays import feature_matrix, squared_distances

__all__ = [
    "MMDTestResult",
    "median_bandwidth",
    "mmd2_unbiased",
    "mmd_permutation_test",
    "rbf_kernel",
]

_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def median_bandwidth(x, y, max_points=2000, seed=0):
    """The median heuristic: the median pairwise distance in the pooled sample.

    Uses at most ``max_points`` pooled points (a seeded subsample).
    """
    z = np.concatenate(
        [
            feature_matrix(x, "x", vectors_as_columns=True),
            feature_matrix(y, "y", vectors_as_columns=True),
        ]
    )
    if z.shape[0] > max_points:
        z = z[np.random.default_rng(seed).choice(z.shape[0], max_points, replace=False)]
    d = np.sqrt(squared_distances(z, z)[np.triu_indices(z.shape[0], 1)])
    med = float(np.median(d))
    if med <= 0:
        raise ValueError("All pooled points coincide: the median distance is 0; give a bandwidth")
    return med


def _bandwidths(kernel, bandwidth, x, y):
    if kernel not in ("rbf", "multiscale"):
        raise ValueError(f"kernel must be 'rbf' or 'multiscale'. Received: kernel={kernel!r}")
    if bandwidth is None:
        med = median_bandwidth(x, y)
        return (med,) if kernel == "rbf" else tuple(med * s for s in _SCALES)
    values = tuple(np.atleast_1d(np.asarray(bandwidth, dtype=np.float64)).tolist())
    if not values or any(not np.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"bandwidth must be positive. Received: bandwidth={bandwidth!r}")
    if kernel == "rbf" and len(values) != 1:
        raise ValueError(
            f"kernel='rbf' takes one bandwidth (use 'multiscale' for several). "
            f"Received: bandwidth={bandwidth!r}"
        )
    return values


def rbf_kernel(a, b, bandwidths):
    """``sum_s exp(-|a_i - b_j|^2 / (2 s^2))`` over the bandwidths ``s``: ``[len(a), len(b)]``."""
    a = np.asarray(a, np.float64)
    b = a if b is a else np.asarray(b, np.float64)
    sq = squared_distances(a, b)
    widths = np.atleast_1d(bandwidths)
    if len(widths) == 1:  # no second [len(a), len(b)] buffer
        sq *= -1.0 / (2.0 * widths[0] ** 2)
        return np.exp(sq, out=sq)
    out = np.exp(sq * (-1.0 / (2.0 * widths[0] ** 2)))
    for s in widths[1:]:
        out += np.exp(sq * (-1.0 / (2.0 * s * s)))
    return out


def mmd2_unbiased(x, y, kernel="rbf", bandwidth=None):
    """Unbiased MMD^2 between samples ``x [m, d]`` and ``y [n, d]``.

    Args:
        x: ``[m, d]`` samples (or ``[m]`` scalars).
        y: ``[n, d]`` samples.
        kernel: ``"rbf"`` or ``"multiscale"`` (a sum of RBF kernels).
        bandwidth: RBF bandwidth ``s`` (``"rbf"``) or a sequence of them
            (``"multiscale"``); default from the median heuristic.

    Returns:
        float; its expectation is 0 when ``x`` and ``y`` come from the same
        distribution (single values can be negative).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(50, 2))
        >>> round(mmd2_unbiased(x, x + 3.0, bandwidth=1.0), 2)
        0.63
    """
    x, y = (
        feature_matrix(x, "x", vectors_as_columns=True),
        feature_matrix(y, "y", vectors_as_columns=True),
    )
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y need the same dimension. Received: {x.shape} and {y.shape}")
    s = _bandwidths(kernel, bandwidth, x, y)
    m, n = x.shape[0], y.shape[0]

    def off_diagonal_sum(k):
        return k.sum() - np.trace(k)

    # One kernel block alive at a time.
    s_xx = off_diagonal_sum(rbf_kernel(x, x, s))
    s_yy = off_diagonal_sum(rbf_kernel(y, y, s))
    s_xy = rbf_kernel(x, y, s).sum()
    return float(s_xx / (m * (m - 1)) + s_yy / (n * (n - 1)) - 2.0 * s_xy / (m * n))


@dataclasses.dataclass(frozen=True)
class MMDTestResult:
    """A permutation test's outcome: the statistic, its p-value and the null draws."""

    mmd2: float
    p_value: float
    bandwidths: tuple
    null: np.ndarray

    def reject(self, level=0.05) -> bool:
        """Whether the test rejects "same distribution" at ``level``."""
        return self.p_value <= level


def mmd_permutation_test(
    x, y, num_permutations=1000, kernel="rbf", bandwidth=None, seed=0, chunk=200
):
    """Permutation two-sample test with the unbiased MMD^2 statistic.

    The pooled kernel matrix ``K [(m+n), (m+n)]`` is computed once; each
    relabelling's statistic is then a few quadratic forms of ``K`` (computed
    ``chunk`` permutations at a time as matrix products).

    Args:
        x: ``[m, d]`` samples.
        y: ``[n, d]`` samples.
        num_permutations: relabellings drawn (p-values are multiples of
            ``1 / (num_permutations + 1)``).
        kernel: ``"rbf"`` or ``"multiscale"``.
        bandwidth: as :func:`mmd2_unbiased`; chosen once on the pooled sample,
            so the same kernel scores every relabelling.
        seed: seeds the permutations.
        chunk: permutations per matrix product (memory ``(m+n) * chunk``).

    Returns:
        :class:`MMDTestResult`.

    Example:
        See the module docstring.
    """
    x, y = (
        feature_matrix(x, "x", vectors_as_columns=True),
        feature_matrix(y, "y", vectors_as_columns=True),
    )
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y need the same dimension. Received: {x.shape} and {y.shape}")
    if isinstance(num_permutations, bool) or not isinstance(num_permutations, int):
        raise ValueError(
            f"num_permutations must be a positive int. Received: num_permutations={num_permutations!r}"
        )
    if num_permutations < 1:
        raise ValueError(
            f"num_permutations must be a positive int. Received: num_permutations={num_permutations!r}"
        )
    s = _bandwidths(kernel, bandwidth, x, y)
    m, n = x.shape[0], y.shape[0]
    z = np.concatenate([x, y])
    k = rbf_kernel(z, z, s)
    diag = np.diag(k).copy()
    total = m + n

    def statistics(a):
        # a: [total, P] indicators of the x side; b = 1 - a.
        b = 1.0 - a
        ka = k @ a
        s_xx = np.einsum("ip,ip->p", a, ka) - diag @ a
        s_xy = np.einsum("ip,ip->p", b, ka)
        kb = k @ b
        s_yy = np.einsum("ip,ip->p", b, kb) - diag @ b
        return s_xx / (m * (m - 1)) + s_yy / (n * (n - 1)) - 2.0 * s_xy / (m * n)

    observed_labels = np.zeros((total, 1))
    observed_labels[:m] = 1.0
    observed = float(statistics(observed_labels)[0])
    rng = np.random.default_rng(seed)
    null = np.empty(num_permutations)
    for start in range(0, num_permutations, chunk):
        p = min(chunk, num_permutations - start)
        labels = np.zeros((total, p))
        for j in range(p):
            labels[rng.permutation(total)[:m], j] = 1.0
        null[start : start + p] = statistics(labels)
    p_value = (1.0 + np.sum(null >= observed - 1e-12 * abs(observed))) / (1.0 + num_permutations)
    return MMDTestResult(observed, float(p_value), s, null)
