"""Fréchet distance between Gaussians fitted to features (FID).

    d^2((m1, C1), (m2, C2)) = |m1 - m2|^2 + Tr(C1 + C2 - 2 (C1 C2)^{1/2})

(Heusel et al., 2017), the squared 2-Wasserstein distance between
``N(m1, C1)`` and ``N(m2, C2)``. Computed in float64.

The trace of the matrix square root is taken without ever forming a
non-symmetric matrix: ``C1 C2`` is similar to ``C1^{1/2} C2 C1^{1/2}``, which is
symmetric positive semi-definite, so

    Tr (C1 C2)^{1/2} = sum_i sqrt(lambda_i(C1^{1/2} C2 C1^{1/2})),

two symmetric eigendecompositions (``method="eigh"``, the default). There are
no imaginary parts to discard and singular covariances (fewer samples than
features) need no ``eps * I`` offset; round-off eigenvalues below zero are
clipped to 0. ``method="sqrtm"`` is the classic computation of the reference
FID code (``scipy.linalg.sqrtm`` of ``C1 C2``, an ``eps * I`` offset when the
product is singular, the imaginary part dropped if it is negligible and an
error otherwise) for reproducing published numbers' arithmetic.

The number depends on the feature extractor: name it with the score
(``fid_inception_v3``, ``fid_digits``); FIDs from Keras's InceptionV3 are not
comparable with FIDs from the original TF Inception graph.

Example:
    >>> import numpy as np
    >>> mu, sigma = np.zeros(2), np.eye(2)
    >>> float(frechet_distance(mu, sigma, mu + 1.0, 4.0 * sigma))  # 2 + 2 (1 + 4 - 2 * 2)
    4.0
"""

from __future__ import annotations

import numpy as np

from kerasgan.metrics.statistics import FeatureStatistics, StreamingMoments

__all__ = ["fid_from_features", "frechet_distance", "trace_sqrt_product"]


def _check_moments(mu, sigma, name):
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise ValueError(f"mu{name} must be a vector [d]. Received: mu{name}.shape={mu.shape}")
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise ValueError(
            f"sigma{name} must be [d, d] = [{d}, {d}] to match mu{name}. "
            f"Received: sigma{name}.shape={sigma.shape}"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"mu{name} and sigma{name} must be finite. Received: NaN or Inf values")
    scale = max(float(np.max(np.abs(sigma))), 1e-300)
    if np.max(np.abs(sigma - sigma.T)) > 1e-8 * scale:
        raise ValueError(f"sigma{name} must be symmetric (a covariance). Received: asymmetric")
    return mu, (sigma + sigma.T) / 2.0


def _sqrtm_psd(a):
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1, sigma2):
    """``Tr (sigma1 sigma2)^{1/2}`` for symmetric positive semi-definite matrices.

    Args:
        sigma1: ``[d, d]`` covariance.
        sigma2: ``[d, d]`` covariance.

    Returns:
        float: ``sum_i sqrt(lambda_i(S^{1/2} sigma2 S^{1/2}))`` with ``S = sigma1``.

    Example:
        >>> float(trace_sqrt_product(np.eye(3), 4.0 * np.eye(3)))
        6.0
    """
    root = _sqrtm_psd(np.asarray(sigma1, dtype=np.float64))
    m = root @ np.asarray(sigma2, dtype=np.float64) @ root
    w = np.linalg.eigvalsh((m + m.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(w, 0.0, None))))


def _trace_sqrt_sqrtm(sigma1, sigma2, eps):
    import scipy.linalg

    covmean, _ = scipy.linalg.sqrtm(sigma1 @ sigma2, disp=False)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if imag > 1e-3:
            raise ValueError(
                f"The matrix square root has a large imaginary component ({imag:.3g}): the "
                "covariances are ill-conditioned. Use method='eigh'. "
                f"Received: max |imag(diag)|={imag:.3g}"
            )
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh", eps=1e-6):
    """Fréchet distance ``|m1 - m2|^2 + Tr(C1 + C2 - 2 (C1 C2)^{1/2})`` between two Gaussians.

    Args:
        mu1: ``[d]`` mean of the first set of features.
        sigma1: ``[d, d]`` covariance of the first set.
        mu2: ``[d]`` mean of the second set.
        sigma2: ``[d, d]`` covariance of the second set.
        method: ``"eigh"`` (default: exact for singular covariances, no
            imaginary parts) or ``"sqrtm"`` (the reference FID code's arithmetic).
        eps: ``"sqrtm"`` only: the diagonal offset used when ``C1 C2`` is singular.

    Returns:
        float >= 0 (float64 arithmetic; tiny negative round-off is clipped to 0).

    Raises:
        ValueError: mismatched shapes, non-finite or asymmetric inputs, an
            unknown ``method``.

    Example:
        >>> d = frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))
        >>> float(d)
        0.0
    """
    mu1, sigma1 = _check_moments(mu1, sigma1, "1")
    mu2, sigma2 = _check_moments(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"Both sets need the same feature size. Received: mu1.shape={mu1.shape}, "
            f"mu2.shape={mu2.shape}"
        )
    if method == "eigh":
        tr_covmean = trace_sqrt_product(sigma1, sigma2)
    elif method == "sqrtm":
        tr_covmean = _trace_sqrt_sqrtm(sigma1, sigma2, eps)
    else:
        raise ValueError(f"method must be 'eigh' or 'sqrtm'. Received: method={method!r}")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(features1, features2, method="eigh"):
    """Fréchet distance between the Gaussians fitted to two feature sets ``[n, d]``.

    Accepts arrays or :class:`~kerasgan.metrics.statistics.FeatureStatistics`
    (e.g. cached reference statistics) for either side.

    Args:
        features1: ``[n1, d]`` features or ``FeatureStatistics``.
        features2: ``[n2, d]`` features or ``FeatureStatistics``.
        method: see :func:`frechet_distance`.

    Returns:
        float.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(500, 4))
        >>> round(fid_from_features(x, x), 9)
        0.0
    """

    def stats(f, name):
        if isinstance(f, FeatureStatistics):
            return f
        f = np.asarray(f, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] < 2:
            raise ValueError(f"{name} must be [n, d] with n >= 2. Received: {name}.shape={f.shape}")
        return StreamingMoments().update(f).statistics()

    a, b = stats(features1, "features1"), stats(features2, "features2")
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma, method=method)
