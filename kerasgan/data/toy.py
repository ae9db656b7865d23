"""Two-dimensional toy distributions for GANs and normalizing flows (numpy only).

Two kinds of data set:

- Gaussian mixtures with a known density, used to measure mode collapse:
  :func:`ring8` (8 Gaussians on a circle) and :func:`grid25` (25 Gaussians on a
  5x5 grid), with exactly the settings of the PacGAN benchmark. Both return a
  :class:`GaussianMixture` whose ``modes`` and ``std`` feed
  :func:`kerasgan.metrics.mode_coverage`.
- Shapes from the normalizing-flow literature (FFJORD's toy data):
  :func:`two_moons`, :func:`swiss_roll`, :func:`checkerboard`, :func:`pinwheel`
  and :func:`two_spirals`, each ``f(n, ..., seed) -> float32 [n, 2]``.

Every sampler takes ``seed``: an int (reproducible), a ``np.random.Generator``
(consumed in place) or ``None`` (fresh entropy).

Example:
    >>> from kerasgan.data import toy
    >>> toy.load("ring8", 4, seed=0).shape
    (4, 2)
    >>> mix = toy.get_mixture("grid25")
    >>> mix.modes.shape, mix.std
    ((25, 2), 0.05)

Reference:
    PacGAN: The power of two samples in generative adversarial networks,
    Lin, Khetan, Fanti and Oh, 2018.
    FFJORD: Free-form continuous dynamics for scalable reversible generative
    models, Grathwohl, Chen, Bettencourt, Sutskever and Duvenaud, 2019.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from kerasgan._internal.checks import check_positive as _check_positive
from kerasgan._internal.checks import check_positive_int

__all__ = [
    "GaussianMixture",
    "checkerboard",
    "gauss3",
    "get_mixture",
    "grid25",
    "load",
    "mixture_names",
    "names",
    "pinwheel",
    "ring8",
    "swiss_roll",
    "two_moons",
    "two_spirals",
]

SeedLike = int | np.random.Generator | None


# --- argument checks -----------------------------------------------------------


def _rng(seed: SeedLike) -> np.random.Generator:
    """Turns ``seed`` (int, Generator or None) into a ``np.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(
        "seed must be a non-negative int, a numpy.random.Generator or None. "
        f"Received: seed={seed!r}"
    )


def _check_n(n) -> int:
    return check_positive_int(n, "n")


def _check_non_negative(value, name: str) -> float:
    """Checks a finite float >= 0 (noise levels)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and v >= 0:
            return v
    raise ValueError(f"{name} must be a finite number >= 0. Received: {name}={value!r}")


# --- Gaussian mixtures ---------------------------------------------------------


class GaussianMixture:
    """Mixture of isotropic Gaussians ``p(x) = sum_k w_k N(x; mu_k, sigma_k^2 I)``.

    Attributes:
        means: float64 ``[K, D]`` component means (the modes). Read-only.
        stds: float64 ``[K]`` per-component standard deviations. Read-only.
        weights: float64 ``[K]`` mixture weights, normalized to sum to 1. Read-only.

    Args:
        means: array-like ``[K, D]`` of finite means, ``K >= 1``, ``D >= 1``.
        stds: a positive number (shared by all components) or array-like ``[K]``.
        weights: optional array-like ``[K]`` of non-negative weights with a
            positive sum (normalized here); uniform when ``None``.

    Raises:
        ValueError: if a shape is wrong, a mean is not finite, a std is not > 0,
            or the weights are negative / not finite / sum to 0.

    Example:
        >>> mix = GaussianMixture([[0.0, 0.0], [2.0, 0.0]], stds=0.1)
        >>> mix.sample(3, seed=0).shape
        (3, 2)
        >>> float(mix.log_prob([[0.0, 0.0]])[0]) > 0
        True

    Reference:
        PacGAN: The power of two samples in generative adversarial networks,
        Lin, Khetan, Fanti and Oh, 2018 (ring and grid mixtures).
    """

    def __init__(self, means, stds, weights=None):
        means_arr = np.array(means, dtype=np.float64)
        if means_arr.ndim != 2 or means_arr.shape[0] < 1 or means_arr.shape[1] < 1:
            raise ValueError(
                "means must be a 2-D array [K, D] with K >= 1 and D >= 1. "
                f"Received: means with shape {means_arr.shape}"
            )
        if not np.all(np.isfinite(means_arr)):
            raise ValueError(f"means must be finite. Received: means={means_arr!r}")
        k = means_arr.shape[0]

        stds_arr = np.array(stds, dtype=np.float64)
        if stds_arr.ndim == 0:
            stds_arr = np.full((k,), float(stds_arr))
        if stds_arr.shape != (k,) or not np.all(np.isfinite(stds_arr)) or np.any(stds_arr <= 0):
            raise ValueError(
                f"stds must be a positive number or an array of {k} positive numbers. "
                f"Received: stds={stds!r}"
            )

        if weights is None:
            weights_arr = np.full((k,), 1.0 / k)
        else:
            weights_arr = np.array(weights, dtype=np.float64)
            if (
                weights_arr.shape != (k,)
                or not np.all(np.isfinite(weights_arr))
                or np.any(weights_arr < 0)
                or weights_arr.sum() <= 0
            ):
                raise ValueError(
                    f"weights must be {k} non-negative finite numbers with a positive sum. "
                    f"Received: weights={weights!r}"
                )
            weights_arr = weights_arr / weights_arr.sum()

        for arr in (means_arr, stds_arr, weights_arr):
            arr.setflags(write=False)
        self.means = means_arr
        self.stds = stds_arr
        self.weights = weights_arr

    def __repr__(self) -> str:
        return (
            f"GaussianMixture(num_components={self.num_components}, dim={self.dim}, "
            f"stds={np.unique(self.stds).tolist()})"
        )

    @property
    def num_components(self) -> int:
        """Number of components ``K``."""
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        """Dimension ``D`` of a sample."""
        return int(self.means.shape[1])

    @property
    def modes(self) -> np.ndarray:
        """The component means ``[K, D]`` (the modes counted by mode coverage)."""
        return self.means

    @property
    def std(self) -> float:
        """The common standard deviation ``sigma`` of all components.

        Raises:
            ValueError: if the components have different standard deviations.
        """
        if np.all(self.stds == self.stds[0]):
            return float(self.stds[0])
        raise ValueError(
            "The components have different standard deviations, so there is no common "
            f"std; use .stds instead. Received: stds={self.stds.tolist()}"
        )

    def _sample64(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.choice(self.num_components, size=n, p=self.weights)
        noise = rng.standard_normal((n, self.dim))
        x = self.means[labels] + self.stds[labels, None] * noise
        return x, labels.astype(np.int32)

    def sample(self, n: int, seed: SeedLike = None, return_labels: bool = False):
        """Draws ``n`` samples: pick ``k ~ Categorical(w)``, then ``x = mu_k + sigma_k * eps``.

        Args:
            n: number of samples, a positive int.
            seed: int, ``np.random.Generator`` or ``None``.
            return_labels: also return the component index of every sample.

        Returns:
            float32 ``[n, D]``; or ``(samples, labels)`` with int32 ``[n]`` labels
            when ``return_labels`` is true.

        Raises:
            ValueError: if ``n`` is not a positive int or ``seed`` is invalid.

        Example:
            >>> x, k = ring8().sample(5, seed=0, return_labels=True)
            >>> x.dtype, k.shape
            (dtype('float32'), (5,))
        """
        x, labels = self._sample64(_check_n(n), _rng(seed))
        x = x.astype(np.float32)
        return (x, labels) if return_labels else x

    def component_log_prob(self, x) -> np.ndarray:
        """Per-component log densities ``log N(x; mu_k, sigma_k^2 I)``, float64 ``[n, K]``.

        ``log N = -||x - mu_k||^2 / (2 sigma_k^2) - D log(sigma_k) - (D / 2) log(2 pi)``

        Args:
            x: array-like ``[n, D]`` (or ``[D]`` for one point).

        Returns:
            float64 ``[n, K]``.

        Raises:
            ValueError: if ``x`` does not have ``D`` columns.

        Example:
            >>> GaussianMixture([[0.0]], stds=1.0).component_log_prob([[0.0]]).shape
            (1, 1)
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape [n, {self.dim}]. Received: x with shape {x.shape}")
        sq = np.sum(np.square(x[:, None, :] - self.means[None, :, :]), axis=-1)
        return (
            -0.5 * sq / np.square(self.stds)
            - self.dim * np.log(self.stds)
            - 0.5 * self.dim * math.log(2.0 * math.pi)
        )

    def log_prob(self, x) -> np.ndarray:
        """Exact log density ``log p(x) = logsumexp_k(log w_k + log N(x; mu_k, sigma_k^2 I))``.

        Args:
            x: array-like ``[n, D]`` (or ``[D]`` for one point).

        Returns:
            float64 ``[n]``.

        Raises:
            ValueError: if ``x`` does not have ``D`` columns.

        Example:
            >>> GaussianMixture([[0.0, 0.0]], stds=1.0).log_prob([[0.0, 0.0]])  # -log(2 pi)
            array([-1.83787707])
        """
        with np.errstate(divide="ignore"):  # log(0) = -inf for zero-weight components
            a = self.component_log_prob(x) + np.log(self.weights)[None, :]
        a_max = np.max(a, axis=1, keepdims=True)
        return (a_max + np.log(np.sum(np.exp(a - a_max), axis=1, keepdims=True)))[:, 0]

    def entropy_mc(self, n: int = 100_000, seed: SeedLike = 0) -> float:
        """Monte-Carlo estimate of the differential entropy ``H = -E_p[log p(x)]`` (nats).

        Args:
            n: number of samples, a positive int.
            seed: int, ``np.random.Generator`` or ``None``.

        Returns:
            The estimate as a Python float.

        Raises:
            ValueError: if ``n`` is not a positive int or ``seed`` is invalid.

        Example:
            >>> round(GaussianMixture([[0.0, 0.0]], stds=1.0).entropy_mc(), 1)  # 1 + log(2 pi)
            2.8
        """
        x, _ = self._sample64(_check_n(n), _rng(seed))
        return float(-np.mean(self.log_prob(x)))


def ring8(radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """Eight Gaussians on a circle (the PacGAN / VEEGAN "2D-ring").

    ``mu_i = radius * (cos(2 pi i / 8), sin(2 pi i / 8))`` for ``i = 0..7``,
    ``sigma = std``, uniform weights.

    Args:
        radius: radius of the circle, > 0.
        std: standard deviation of every component, > 0.

    Returns:
        A :class:`GaussianMixture` with 8 components.

    Raises:
        ValueError: if ``radius`` or ``std`` is not a finite number > 0.

    Example:
        >>> ring8().modes.shape
        (8, 2)

    Reference:
        PacGAN: The power of two samples in generative adversarial networks,
        Lin, Khetan, Fanti and Oh, 2018.
    """
    radius = _check_positive(radius, "radius")
    std = _check_positive(std, "std")
    # 2 pi i / 8 for i in range(8): linspace(0, 2 pi, 8) would repeat the first mode.
    angles = 2.0 * np.pi * np.arange(8) / 8.0
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixture(means, stds=std)


def grid25(std: float = 0.05) -> GaussianMixture:
    """Twenty-five Gaussians on a 5x5 grid (the PacGAN / VEEGAN "2D-grid").

    ``mu in {-4, -2, 0, 2, 4}^2``, ``sigma = std``, uniform weights.

    Args:
        std: standard deviation of every component, > 0.

    Returns:
        A :class:`GaussianMixture` with 25 components.

    Raises:
        ValueError: if ``std`` is not a finite number > 0.

    Example:
        >>> grid25().modes[:2].tolist()
        [[-4.0, -4.0], [-4.0, -2.0]]

    Reference:
        PacGAN: The power of two samples in generative adversarial networks,
        Lin, Khetan, Fanti and Oh, 2018.
    """
    std = _check_positive(std, "std")
    ticks = np.arange(-4.0, 5.0, 2.0)
    means = np.array([[a, b] for a in ticks for b in ticks])
    return GaussianMixture(means, stds=std)


# --- shapes from the flow literature -------------------------------------------


def gauss3() -> GaussianMixture:
    """Three unequal Gaussians: weights 0.5/0.3/0.2, sigmas 0.3/0.6/0.15.

    Means ``(-2, 0)``, ``(2, 1)``, ``(0, -2)``. A mixture with an exact density
    whose components differ in weight and width (used by the flow benchmark).

    Returns:
        A :class:`GaussianMixture`.

    Example:
        >>> gauss3().weights.tolist()
        [0.5, 0.3, 0.2]
    """
    return GaussianMixture(
        [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]], [0.3, 0.6, 0.15], [0.5, 0.3, 0.2]
    )


def two_moons(n: int, noise: float = 0.05, seed: SeedLike = None) -> np.ndarray:
    """Two interleaving half circles, centred and scaled as in FFJORD's "moons".

    Upper moon ``(cos t, sin t)``, lower moon ``(1 - cos t, 0.5 - sin t)``, with
    ``t ~ U[0, pi]`` and half of the points on each; add ``noise * N(0, I)``,
    then map ``x -> 2 x + (-1, -0.2)``.

    Args:
        n: number of samples, a positive int.
        noise: standard deviation of the Gaussian noise before scaling, >= 0.
        seed: int, ``np.random.Generator`` or ``None``.

    Returns:
        float32 ``[n, 2]``.

    Raises:
        ValueError: if ``n``, ``noise`` or ``seed`` is invalid.

    Example:
        >>> two_moons(10, seed=0).shape
        (10, 2)

    Reference:
        FFJORD: Free-form continuous dynamics for scalable reversible generative
        models, Grathwohl et al., 2019.
    """
    n = _check_n(n)
    noise = _check_non_negative(noise, "noise")
    rng = _rng(seed)
    upper = rng.permutation(np.arange(n) < (n + 1) // 2)
    t = rng.uniform(0.0, np.pi, size=n)
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))
    return (2.0 * pts + np.array([-1.0, -0.2])).astype(np.float32)


def swiss_roll(n: int, noise: float = 0.2, seed: SeedLike = None) -> np.ndarray:
    """Two-dimensional Swiss roll (FFJORD's "swissroll").

    ``t = 1.5 pi (1 + 2 u)``, ``u ~ U[0, 1]``; ``x = (t cos t, t sin t) / 5 + noise * N(0, I)``.
    The default ``noise=0.2`` equals FFJORD's ``noise=1.0`` before its division by 5.

    Args:
        n: number of samples, a positive int.
        noise: standard deviation of the Gaussian noise (output units), >= 0.
        seed: int, ``np.random.Generator`` or ``None``.

    Returns:
        float32 ``[n, 2]``.

    Raises:
        ValueError: if ``n``, ``noise`` or ``seed`` is invalid.

    Example:
        >>> swiss_roll(10, seed=0).dtype
        dtype('float32')

    Reference:
        FFJORD: Free-form continuous dynamics for scalable reversible generative
        models, Grathwohl et al., 2019.
    """
    n = _check_n(n)
    noise = _check_non_negative(noise, "noise")
    rng = _rng(seed)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(size=n))
    pts = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0
    return (pts + noise * rng.standard_normal((n, 2))).astype(np.float32)


def checkerboard(n: int, seed: SeedLike = None) -> np.ndarray:
    """Uniform density on the dark squares of a 4x4 checkerboard over ``[-4, 4]^2``.

    ``x1 ~ U[-2, 2]``; ``x2 = u - 2 b + (floor(x1) mod 2)`` with ``u ~ U[0, 1]``,
    ``b ~ Bernoulli(1/2)``; the point is ``2 (x1, x2)`` (FFJORD's "checkerboard").

    Args:
        n: number of samples, a positive int.
        seed: int, ``np.random.Generator`` or ``None``.

    Returns:
        float32 ``[n, 2]`` in ``[-4, 4]^2``.

    Raises:
        ValueError: if ``n`` or ``seed`` is invalid.

    Example:
        >>> bool(abs(checkerboard(100, seed=0)).max() <= 4)
        True

    Reference:
        FFJORD: Free-form continuous dynamics for scalable reversible generative
        models, Grathwohl et al., 2019.
    """
    n = _check_n(n)
    rng = _rng(seed)
    x1 = rng.uniform(-2.0, 2.0, size=n)
    x2 = rng.uniform(size=n) - 2.0 * rng.integers(0, 2, size=n) + np.mod(np.floor(x1), 2.0)
    return (2.0 * np.stack([x1, x2], axis=1)).astype(np.float32)


def pinwheel(n: int, seed: SeedLike = None) -> np.ndarray:
    """Five curved arms (FFJORD's "pinwheel").

    Arm ``c = 0..4`` (assigned round robin, then shuffled): draw
    ``f = (1 + 0.3 e1, 0.1 e2)``, ``e ~ N(0, I)``; rotate ``f`` by the angle
    ``2 pi c / 5 + 0.25 exp(f_1)``; the point is ``2 * R f``.

    Args:
        n: number of samples, a positive int.
        seed: int, ``np.random.Generator`` or ``None``.

    Returns:
        float32 ``[n, 2]``.

    Raises:
        ValueError: if ``n`` or ``seed`` is invalid.

    Example:
        >>> pinwheel(7, seed=0).shape
        (7, 2)

    Reference:
        FFJORD: Free-form continuous dynamics for scalable reversible generative
        models, Grathwohl et al., 2019.
    """
    n = _check_n(n)
    rng = _rng(seed)
    num_arms, radial_std, tangential_std, rate = 5, 0.3, 0.1, 0.25
    arms = rng.permutation(np.arange(n) % num_arms)
    f = rng.standard_normal((n, 2)) * np.array([radial_std, tangential_std])
    f[:, 0] += 1.0
    angles = 2.0 * np.pi * arms / num_arms + rate * np.exp(f[:, 0])
    c, s = np.cos(angles), np.sin(angles)
    x = c * f[:, 0] - s * f[:, 1]
    y = s * f[:, 0] + c * f[:, 1]
    return (2.0 * np.stack([x, y], axis=1)).astype(np.float32)


def two_spirals(n: int, noise: float = 0.1, seed: SeedLike = None) -> np.ndarray:
    """Two interleaved spirals (FFJORD's "2spirals").

    ``t = 3 pi sqrt(u)``, ``u ~ U[0, 1]``; arm ``a = (-t cos t, t sin t) + U[0, 0.5)^2``;
    half of the points are ``a / 3``, the other half ``-a / 3``; finally add
    ``noise * N(0, I)``.

    Args:
        n: number of samples, a positive int.
        noise: standard deviation of the Gaussian noise, >= 0.
        seed: int, ``np.random.Generator`` or ``None``.

    Returns:
        float32 ``[n, 2]``.

    Raises:
        ValueError: if ``n``, ``noise`` or ``seed`` is invalid.

    Example:
        >>> two_spirals(9, seed=0).shape
        (9, 2)

    Reference:
        FFJORD: Free-form continuous dynamics for scalable reversible generative
        models, Grathwohl et al., 2019.
    """
    n = _check_n(n)
    noise = _check_non_negative(noise, "noise")
    rng = _rng(seed)
    t = 3.0 * np.pi * np.sqrt(rng.uniform(size=n))  # 540 degrees
    arm = np.stack([-np.cos(t) * t, np.sin(t) * t], axis=1) + rng.uniform(0.0, 0.5, (n, 2))
    sign = np.where(rng.permutation(np.arange(n) < (n + 1) // 2), 1.0, -1.0)
    pts = sign[:, None] * arm / 3.0 + noise * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


# --- dispatch ------------------------------------------------------------------

_MIXTURES: dict[str, Callable[[], GaussianMixture]] = {
    "ring8": ring8,
    "grid25": grid25,
    "gauss3": gauss3,
}
_SHAPES: dict[str, Callable[..., np.ndarray]] = {
    "two_moons": two_moons,
    "swiss_roll": swiss_roll,
    "checkerboard": checkerboard,
    "pinwheel": pinwheel,
    "two_spirals": two_spirals,
}


def mixture_names() -> list[str]:
    """Names of the data sets that are Gaussian mixtures (exact ``log_prob`` and modes)."""
    return sorted(_MIXTURES)


def names() -> list[str]:
    """Names accepted by :func:`load`.

    Returns:
        Sorted list of data set names.

    Example:
        >>> "ring8" in names()
        True
    """
    return sorted([*_MIXTURES, *_SHAPES])


def get_mixture(name: str) -> GaussianMixture:
    """The :class:`GaussianMixture` behind a mixture data set, with default settings.

    Args:
        name: ``"ring8"`` or ``"grid25"``.

    Returns:
        The mixture (``modes`` and ``std`` are what mode coverage needs).

    Raises:
        ValueError: if ``name`` is not a mixture data set.

    Example:
        >>> get_mixture("ring8").num_components
        8
    """
    if not isinstance(name, str) or name not in _MIXTURES:
        raise ValueError(
            f"name must be one of the mixture data sets {sorted(_MIXTURES)}. "
            f"Received: name={name!r}"
        )
    return _MIXTURES[name]()


def load(name: str, n: int, seed: SeedLike = None) -> np.ndarray:
    """Draws ``n`` points of a named toy data set with its default settings.

    Args:
        name: one of :func:`names`.
        n: number of samples, a positive int.
        seed: int, ``np.random.Generator`` or ``None``.

    Returns:
        float32 ``[n, 2]``.

    Raises:
        ValueError: if ``name`` is unknown (the message lists the valid names),
            or ``n`` / ``seed`` is invalid.

    Example:
        >>> load("checkerboard", 3, seed=1).shape
        (3, 2)
    """
    if isinstance(name, str) and name in _MIXTURES:
        return _MIXTURES[name]().sample(n, seed=seed)
    if isinstance(name, str) and name in _SHAPES:
        return _SHAPES[name](n, seed=seed)
    raise ValueError(f"Unknown toy data set; valid names are {names()}. Received: name={name!r}")
