"""Inception Score from class probabilities.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

(Salimans et al., 2016), computed per split of the samples, reported as the mean
and standard deviation over splits. It lies in ``[1, K]`` for ``K`` classes: 1
when every prediction is the same (e.g. uniform), ``K`` when predictions are
one-hot and spread evenly over the classes (the seeds' worked examples:
``[[1,0,0],[0,1,0],[0,0,1]]`` scores 3, uniform rows score 1). It depends on the
classifier: name it (``is_inception_v3``, ``is_digits``).

Example:
    >>> import numpy as np
    >>> tuple(round(v, 9) for v in inception_score(np.eye(3), splits=1))
    (3.0, 0.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["inception_score"]


def inception_score(probs, splits=10, eps=1e-12):
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))``: mean and std over ``splits``.

    Args:
        probs: ``[N, K]`` class probabilities (rows non-negative, summing to 1).
        splits: number of equal consecutive splits (the usual 10); ``N >= splits``.
        eps: floor of the marginal inside its logarithm (terms with
            ``p(y|x) = 0`` contribute 0: ``0 log 0 = 0``).

    Returns:
        ``(mean, std)`` over the splits (std with ``ddof=0``, as the reference code).

    Raises:
        ValueError: bad shape, negative or non-finite entries, rows not summing
            to 1 (within 1e-3), or a bad ``splits``.

    Example:
        >>> inception_score(np.full((4, 5), 0.2), splits=2)
        (1.0, 0.0)
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be [N, K] with K >= 2. Received: probs.shape={p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probs must be finite and non-negative. Received: NaN, Inf or < 0")
    sums = p.sum(axis=1)
    if np.max(np.abs(sums - 1.0)) > 1e-3:
        raise ValueError(
            "probs rows must sum to 1 (softmax outputs, not logits). Received: row sums in "
            f"[{sums.min():.4g}, {sums.max():.4g}]"
        )
    if isinstance(splits, bool) or not isinstance(splits, int) or not 1 <= splits <= p.shape[0]:
        raise ValueError(
            f"splits must be an int in [1, N={p.shape[0]}]. Received: splits={splits!r}"
        )
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)  # > 0 wherever part > 0
        positive = part > 0
        terms = np.where(
            positive,
            part * (np.log(np.where(positive, part, 1.0)) - np.log(np.maximum(marginal, eps))),
            0.0,  # 0 log 0 = 0
        )
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))
