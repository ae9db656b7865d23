"""Mode coverage of samples from a Gaussian mixture (the VEEGAN / PacGAN protocol).

Protocol: draw ``NUM_SAMPLES = 2500`` samples from the generator, then

1. assign every sample to its nearest mode ``k(x) = argmin_k ||x - mu_k||``
   (Euclidean);
2. call the sample *high quality* if ``||x - mu_k(x)|| <= threshold * sigma``
   (``threshold = 3``);
3. report the number of modes captured (modes that are the nearest mode of at
   least one high-quality sample), the fraction of high-quality samples, and
   the reverse KL divergence between the histogram ``q`` of high-quality
   samples over the modes and the uniform distribution over the ``K`` modes:
   ``KL(q || u) = sum_k q_k log(q_k / (1 / K)) = sum_k q_k log(K q_k)`` with
   ``0 log 0 = 0`` (natural log).

For an exact 2-D isotropic Gaussian mixture with well separated modes, the
expected high-quality fraction is ``P(r <= 3 sigma) = 1 - exp(-9 / 2) = 0.98889``.

Example:
    >>> from kerasgan.data import toy
    >>> from kerasgan.metrics import mode_coverage
    >>> mix = toy.grid25()
    >>> result = mode_coverage(mix.sample(2500, seed=0), mix.modes, mix.std)
    >>> result.modes_captured
    25

Reference:
    VEEGAN: Reducing mode collapse in GANs using implicit variational
    learning, Srivastava, Valkov, Russell, Gutmann and Sutton, 2017.
    PacGAN: The power of two samples in generative adversarial networks,
    Lin, Khetan, Fanti and Oh, 2018.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from kerasgan._internal.checks import check_positive as _check_positive

__all__ = ["NUM_SAMPLES", "ModeCoverage", "mode_coverage"]

#: Number of generator samples in the VEEGAN / PacGAN protocol.
NUM_SAMPLES = 2500
# Upper bound on the elements of one [chunk, K, D] difference array (~32 MB of float64).
_MAX_CHUNK_ELEMENTS = 1 << 22


@dataclasses.dataclass(frozen=True, eq=False)
class ModeCoverage:
    """Result of :func:`mode_coverage`.

    Attributes:
        num_modes: number of modes ``K``.
        modes_captured: modes that are the nearest mode of >= 1 high-quality sample.
        high_quality_fraction: fraction of samples within ``threshold * std`` of
            their nearest mode, in ``[0, 1]``.
        reverse_kl: ``KL(q || uniform)`` in nats; ``inf`` without high-quality samples.
        counts: int64 ``[K]`` number of high-quality samples per mode (read-only).
        num_samples: number of samples ``N``.
    """

    num_modes: int
    modes_captured: int
    high_quality_fraction: float
    reverse_kl: float
    counts: np.ndarray
    num_samples: int

    @property
    def high_quality_percent(self) -> float:
        """``100 * high_quality_fraction``."""
        return 100.0 * self.high_quality_fraction

    def as_dict(self) -> dict[str, float | int]:
        """Plain Python numbers for logging / JSON.

        Returns:
            ``{"modes": modes_captured, "num_modes": K, "hq_percent": percent,
            "reverse_kl": kl}``; ``reverse_kl`` may be ``float("inf")``, which
            ``json.dumps`` writes as ``Infinity``.

        Example:
            >>> import numpy as np
            >>> mode_coverage(np.zeros((1, 2)), np.zeros((1, 2)), 1.0).as_dict()
            {'modes': 1, 'num_modes': 1, 'hq_percent': 100.0, 'reverse_kl': 0.0}
        """
        return {
            "modes": int(self.modes_captured),
            "num_modes": int(self.num_modes),
            "hq_percent": float(self.high_quality_percent),
            "reverse_kl": float(self.reverse_kl),
        }


def _as_2d_float(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as e:  # e.g. a symbolic tensor
        raise ValueError(
            f"{name} must be an array or an eager tensor. Received: {name}={value!r}"
        ) from e
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric. Received: {name} with dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must be a 2-D array with at least one row and one column. "
            f"Received: {name} with shape {arr.shape}"
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.all(np.isfinite(arr), axis=1)))
        raise ValueError(
            f"{name} must be finite. Received: {name} with {bad} row(s) containing NaN or inf"
        )
    return arr


def _nearest_modes(samples: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and squared distance to the nearest mode of every sample, chunked."""
    n, d = samples.shape
    k = modes.shape[0]
    chunk = max(1, _MAX_CHUNK_ELEMENTS // (k * d))
    nearest = np.empty((n,), dtype=np.int64)
    sq_dist = np.empty((n,), dtype=np.float64)
    for start in range(0, n, chunk):
        x = samples[start : start + chunk]
        sq = np.sum(np.square(x[:, None, :] - modes[None, :, :]), axis=-1)  # [c, K]
        idx = np.argmin(sq, axis=1)
        nearest[start : start + chunk] = idx
        sq_dist[start : start + chunk] = sq[np.arange(x.shape[0]), idx]
    return nearest, sq_dist


def mode_coverage(samples, modes, std: float, threshold: float = 3.0) -> ModeCoverage:
    """Modes captured, high-quality fraction and reverse KL of samples (VEEGAN / PacGAN).

    ``k(x) = argmin_k ||x - mu_k||``; ``x`` is high quality iff
    ``||x - mu_k(x)|| <= threshold * std``;
    ``counts_k = #{high-quality x : k(x) = k}``; ``q = counts / sum(counts)``;
    ``modes_captured = #{k : counts_k > 0}``;
    ``reverse_kl = sum_{k : q_k > 0} q_k log(K q_k)`` (``inf`` when no sample is
    high quality, since ``q`` is then undefined and every mode is missed).

    The standard protocol uses ``NUM_SAMPLES = 2500`` samples and ``threshold = 3``.
    Works for any dimension ``D``; memory stays bounded by processing the
    samples in chunks.

    Args:
        samples: ``[N, D]`` array or eager tensor of generated samples, ``N >= 1``,
            all finite.
        modes: ``[K, D]`` array or tensor of mode centres (e.g. ``toy.grid25().modes``).
        std: standard deviation ``sigma`` of the mixture components, > 0.
        threshold: high-quality radius in units of ``std``, > 0.

    Returns:
        A :class:`ModeCoverage`.

    Raises:
        ValueError: if ``samples`` or ``modes`` is not a finite 2-D array, their
            second dimensions differ, or ``std`` / ``threshold`` is not > 0.

    Example:
        >>> import numpy as np
        >>> modes = np.array([[0.0, 0.0], [10.0, 0.0]])
        >>> r = mode_coverage(np.array([[0.0, 0.1], [5.0, 5.0]]), modes, std=0.1)
        >>> r.modes_captured, r.high_quality_fraction, round(r.reverse_kl, 4)
        (1, 0.5, 0.6931)

    Reference:
        VEEGAN: Reducing mode collapse in GANs using implicit variational
        learning, Srivastava et al., 2017.
        PacGAN: The power of two samples in generative adversarial networks,
        Lin, Khetan, Fanti and Oh, 2018.
    """
    samples_arr = _as_2d_float(samples, "samples")
    modes_arr = _as_2d_float(modes, "modes")
    if samples_arr.shape[1] != modes_arr.shape[1]:
        raise ValueError(
            "samples and modes must have the same number of columns D. Received: samples "
            f"with shape {samples_arr.shape} and modes with shape {modes_arr.shape}"
        )
    std = _check_positive(std, "std")
    threshold = _check_positive(threshold, "threshold")

    n = samples_arr.shape[0]
    k = modes_arr.shape[0]
    nearest, sq_dist = _nearest_modes(samples_arr, modes_arr)
    high_quality = sq_dist <= (threshold * std) ** 2
    counts = np.bincount(nearest[high_quality], minlength=k).astype(np.int64)
    counts.setflags(write=False)
    total = int(counts.sum())

    if total == 0:
        reverse_kl = math.inf
    else:
        q = counts[counts > 0] / total
        # KL >= 0; clamp rounding noise (about -1e-17) for a perfectly uniform histogram.
        reverse_kl = max(0.0, float(np.sum(q * np.log(k * q))))

    return ModeCoverage(
        num_modes=int(k),
        modes_captured=int(np.count_nonzero(counts)),
        high_quality_fraction=total / n,
        reverse_kl=reverse_kl,
        counts=counts,
        num_samples=int(n),
    )
