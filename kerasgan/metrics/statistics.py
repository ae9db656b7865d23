"""Streaming float64 feature statistics and an on-disk cache of reference statistics.

FID needs the mean and covariance of tens of thousands of feature vectors.
:class:`StreamingMoments` accumulates them batch by batch in float64 with the
pairwise update of Chan, Golub and LeVeque (1979): for batches A and B with
counts ``n_a, n_b``, means ``m_a, m_b`` and centred cross-products
``M_a, M_b`` (``M = sum (x - m)(x - m)^T``),

    n = n_a + n_b,   d = m_b - m_a,
    m = m_a + d * n_b / n,
    M = M_a + M_b + d d^T * n_a n_b / n,

so no more than one batch is ever held, and the result equals ``np.mean`` /
``np.cov`` of the concatenated features to rounding.

Example:
    >>> import numpy as np
    >>> acc = StreamingMoments()
    >>> x = np.random.default_rng(0).normal(size=(100, 3))
    >>> for i in range(0, 100, 30):
    ...     _ = acc.update(x[i:i + 30])
    >>> bool(np.allclose(acc.covariance, np.cov(x, rowvar=False)))
    True
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile

import numpy as np

from kerasgan.metrics._arrays import feature_matrix

__all__ = [
    "FeatureStatistics",
    "StreamingMoments",
    "cache_dir",
    "reference_statistics",
]


@dataclasses.dataclass(frozen=True)
class FeatureStatistics:
    """Mean ``mu [d]``, covariance ``sigma [d, d]`` (ddof 1) and count ``n`` of features."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def save(self, path):
        """Writes ``mu``, ``sigma`` and ``n`` to an ``.npz`` file atomically (temp file + rename)."""
        path = str(path)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, mu=self.mu, sigma=self.sigma, n=np.int64(self.n))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def load(cls, path):
        """Reads statistics written by :meth:`save`."""
        with np.load(str(path)) as data:
            return cls(np.array(data["mu"]), np.array(data["sigma"]), int(data["n"]))


class StreamingMoments:
    """Accumulates the float64 mean and covariance of ``[n, d]`` batches.

    Args:
        dim: optional feature size; by default taken from the first batch.

    Returns:
        An accumulator: :meth:`update` with batches, then read :attr:`mean`,
        :attr:`covariance` (``ddof=1``, as ``np.cov``) and :attr:`count`, or
        :meth:`statistics`.

    Example:
        See the module docstring.
    """

    def __init__(self, dim=None):
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise ValueError(f"dim must be a positive int. Received: dim={dim!r}")
        self.dim = dim
        self.count = 0
        self._mean = None if dim is None else np.zeros(dim)
        self._m2 = None if dim is None else np.zeros((dim, dim))

    def update(self, batch):
        """Adds a batch ``[n, d]`` of features; returns ``self``."""
        x = feature_matrix(batch, "batch", min_rows=0)
        if self.dim is None:
            self.dim = x.shape[1]
            self._mean = np.zeros(self.dim)
            self._m2 = np.zeros((self.dim, self.dim))
        if x.shape[1] != self.dim:
            raise ValueError(
                f"batch must have {self.dim} features. Received: batch.shape={x.shape}"
            )
        n_b = x.shape[0]
        if n_b == 0:
            return self
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        m2_b = centred.T @ centred
        self._combine(n_b, mean_b, m2_b)
        return self

    def _combine(self, n_b, mean_b, m2_b):
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n

    def merge(self, other):
        """Adds another accumulator's features (e.g. from another worker); returns ``self``."""
        if not isinstance(other, StreamingMoments):
            raise ValueError(f"other must be a StreamingMoments. Received: {type(other).__name__}")
        if other.count == 0:
            return self
        if self.dim is None:
            self.dim = other.dim
            self._mean = np.zeros(self.dim)
            self._m2 = np.zeros((self.dim, self.dim))
        if other.dim != self.dim:
            raise ValueError(f"other has {other.dim} features; this one {self.dim}")
        self._combine(other.count, other._mean, other._m2)
        return self

    @property
    def mean(self):
        if self.count == 0:
            raise ValueError("No features were added yet (count=0)")
        return self._mean.copy()

    @property
    def covariance(self):
        if self.count < 2:
            raise ValueError(
                f"The covariance needs at least 2 features. Received: count={self.count}"
            )
        return self._m2 / (self.count - 1)

    def statistics(self) -> FeatureStatistics:
        """The accumulated :class:`FeatureStatistics`."""
        return FeatureStatistics(self.mean, self.covariance, self.count)


def cache_dir():
    """Where reference statistics are cached: ``$KERASGAN_CACHE`` or ``~/.cache/kerasgan/stats``."""
    base = os.environ.get("KERASGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kerasgan"
    )
    return os.path.join(base, "stats")


def _safe(part):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(part))


def reference_statistics(dataset, split, extractor, n, compute, directory=None):
    """Reference feature statistics, cached on disk by ``(dataset, split, extractor, n)``.

    On a cache miss ``compute()`` is called and must return
    :class:`FeatureStatistics` (typically from a :class:`StreamingMoments`
    over the reference images); the result is written atomically, so a crash
    never leaves a truncated file that a later run would trust.

    Args:
        dataset: dataset name (e.g. ``"digits"``).
        split: split name (e.g. ``"test"``).
        extractor: feature extractor name (e.g. ``"fid_digits"``).
        n: number of reference images (part of the key).
        compute: zero-argument callable returning :class:`FeatureStatistics`.
        directory: cache directory; default :func:`cache_dir`.

    Returns:
        ``(statistics, path, cached)``: the statistics, the cache file and
        whether it was read from the cache.

    Example:
        >>> import numpy as np, tempfile
        >>> f = np.random.default_rng(0).normal(size=(10, 2))
        >>> stats, path, cached = reference_statistics(
        ...     "toy", "test", "identity", 10,
        ...     lambda: StreamingMoments().update(f).statistics(), tempfile.mkdtemp())
        >>> cached
        False
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2. Received: n={n!r}")
    directory = directory or cache_dir()
    name = f"{_safe(dataset)}__{_safe(split)}__{_safe(extractor)}__n{n}.npz"
    path = os.path.join(str(directory), name)
    if os.path.isfile(path):
        return FeatureStatistics.load(path), path, True
    stats = compute()
    if not isinstance(stats, FeatureStatistics):
        raise ValueError(
            f"compute() must return FeatureStatistics. Received: {type(stats).__name__}"
        )
    if stats.n != n:
        raise ValueError(
            f"compute() used {stats.n} images but the cache key says n={n}. Received: n={n!r}"
        )
    stats.save(path)
    return stats, path, False
