"""Precision / recall (Kynkäänniemi et al., 2019) and density / coverage (Naeem et al., 2020).

Each real feature ``r_i`` gets a radius ``rho_i``, the distance to its k-th
nearest other real feature, and each fake ``f_j`` a radius ``sigma_j`` among
the fakes. With ``B(c, r)`` the closed ball:

    precision = 1/M sum_j 1[ f_j in U_i B(r_i, rho_i) ]        (fakes on the real manifold)
    recall    = 1/N sum_i 1[ r_i in U_j B(f_j, sigma_j) ]      (reals on the fake manifold)
    density   = 1/(kM) sum_j sum_i 1[ f_j in B(r_i, rho_i) ]   (can exceed 1)
    coverage  = 1/N sum_i 1[ exists j: f_j in B(r_i, rho_i) ]

Distances are Euclidean in feature space, computed in blocks so that
``N x M`` never needs to be held at once.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(300, 4))
    >>> r = precision_recall_density_coverage(x, x, k=5)
    >>> (r.precision, r.recall, r.coverage)
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kerasgan.metrics._arrays import feature_matrix as _features
from kerasgan.metrics._arrays import squared_distances

__all__ = ["PRDC", "precision_recall_density_coverage"]


@dataclasses.dataclass(frozen=True)
class PRDC:
    """Precision, recall, density and coverage of fake features against real ones."""

    precision: float
    recall: float
    density: float
    coverage: float

    def as_dict(self):
        return dataclasses.asdict(self)


def _distances(a, b):
    return np.sqrt(squared_distances(a, b))


def _kth_radii(x, k, block):
    """Distance from each row of ``x`` to its k-th nearest other row."""
    radii = np.empty(x.shape[0])
    for start in range(0, x.shape[0], block):
        d = _distances(x[start : start + block], x)
        # the row itself is at distance 0: the k-th other neighbour is the (k+1)-th smallest
        radii[start : start + block] = np.partition(d, k, axis=1)[:, k]
    return radii


def precision_recall_density_coverage(real, fake, k=5, block=1024):
    """Precision, recall, density and coverage of ``fake`` features against ``real`` ones.

    Args:
        real: ``[N, d]`` real features.
        fake: ``[M, d]`` generated features.
        k: the nearest-neighbour order of the radii (5 in both papers' defaults).
        block: rows per distance block.

    Returns:
        :class:`PRDC`.

    Example:
        See the module docstring.
    """
    real, fake = _features(real, "real"), _features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake need the same feature size. Received: {real.shape} and {fake.shape}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int. Received: k={k!r}")
    if k >= min(real.shape[0], fake.shape[0]):
        raise ValueError(
            f"k must be smaller than both set sizes ({real.shape[0]}, {fake.shape[0]}). "
            f"Received: k={k}"
        )
    rho = _kth_radii(real, k, block)
    sigma = _kth_radii(fake, k, block)
    n, m = real.shape[0], fake.shape[0]
    on_real = np.zeros(m, dtype=bool)  # fake j inside some real ball
    counts = np.zeros(m)  # number of real balls containing fake j
    covered = np.zeros(n, dtype=bool)  # real i's ball contains some fake
    on_fake = np.zeros(n, dtype=bool)  # real i inside some fake ball
    for start in range(0, n, block):
        d = _distances(real[start : start + block], fake)  # [b, M]
        inside_real = d <= rho[start : start + block, None]
        on_real |= inside_real.any(axis=0)
        counts += inside_real.sum(axis=0)
        covered[start : start + block] = inside_real.any(axis=1)
        on_fake[start : start + block] = (d <= sigma[None, :]).any(axis=1)
    return PRDC(
        precision=float(on_real.mean()),
        recall=float(on_fake.mean()),
        density=float(counts.sum() / (k * m)),
        coverage=float(covered.mean()),
    )
