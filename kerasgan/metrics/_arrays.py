"""Shared input checks and distance computation for the metric functions."""

from __future__ import annotations

import numpy as np


def feature_matrix(f, name, min_rows=2, vectors_as_columns=False, flatten=False):
    """``f`` as a finite float64 ``[n, d]`` matrix, or a ValueError naming ``name``.

    Args:
        f: array-like.
        name: the argument's name, for messages.
        min_rows: the fewest rows accepted.
        vectors_as_columns: treat a 1-D ``[n]`` input as ``[n, 1]``.
        flatten: reshape ``[n, ...]`` to ``[n, prod(...)]``.
    """
    x = np.asarray(f, dtype=np.float64)
    if vectors_as_columns and x.ndim == 1:
        x = x[:, None]
    if flatten and x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    if x.ndim != 2 or x.shape[0] < min_rows:
        rows = f" with n >= {min_rows}" if min_rows else ""
        raise ValueError(f"{name} must be [n, d]{rows}. Received: {name}.shape={x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf. Received: non-finite values in {name}")
    return x


def squared_distances(a, b):
    """``|a_i - b_j|^2`` by the ``|a|^2 + |b|^2 - 2 a.b`` expansion, in place in one buffer."""
    sq = a @ b.T  # BLAS; a symmetric rank-k update when b is a
    sq *= -2.0
    sq += np.einsum("ij,ij->i", a, a)[:, None]
    sq += np.einsum("ij,ij->i", b, b)[None, :]
    np.maximum(sq, 0.0, out=sq)
    return sq
