"""Sample-based evaluation of image generators: FID, KID, IS, PRDC by name.

A metric name is ``<kind>_<extractor suffix>``: ``fid_digits`` is FID with the
``fid_digits`` feature extractor, ``kid_inception_v3`` KID with
``fid_inception_v3``, ``is_digits`` the Inception Score of the digits
classifier's probabilities, ``prdc_digits`` precision/recall/density/coverage.
The extractor is part of the name because the numbers are only comparable
for the same network.

Metric kinds live in a registry: ``fid``, ``kid``, ``is`` and ``prdc`` are
built in; :func:`register_metric_kind` adds one (a function of the evaluator,
the extractor's name and the generated side's :class:`GeneratedFeatures`), and
every ``<kind>_<extractor>`` name then works in :class:`Evaluator`, the
evaluation callback and ``kerasgan evaluate``.

:class:`Evaluator` holds the real (reference) side: its feature statistics
are computed once, streamed, and cached on disk by (dataset, split,
extractor, n), the extractor named with a digest of its weights
(:func:`kerasgan.metrics.reference_statistics`). Generated
images are streamed through the extractor in batches into a float64
:class:`~kerasgan.metrics.StreamingMoments`, so FID over 50,000 samples never
holds them; KID and PRDC keep the features (float32) of at most
``max_kept_features`` samples.

Example:
    >>> ev = Evaluator(["fid_digits"], dataset="digits", split="test")  # doctest: +SKIP
    >>> ev.evaluate(gan.sample(2000))              # doctest: +SKIP
    {'fid_digits': 12.3}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from kerasgan.data import images as _images
from kerasgan.metrics.extractors.registry import get_extractor
from kerasgan.metrics.fid import frechet_distance
from kerasgan.metrics.inception_score import inception_score
from kerasgan.metrics.kid import kernel_inception_distance
from kerasgan.metrics.prdc import precision_recall_density_coverage
from kerasgan.metrics.statistics import StreamingMoments, reference_statistics

__all__ = [
    "KINDS",
    "Evaluator",
    "GeneratedFeatures",
    "metric_kinds",
    "parse_metric",
    "real_images",
    "register_metric_kind",
]

#: The built-in metric kinds (:func:`metric_kinds` also lists registered ones).
KINDS = ("fid", "kid", "is", "prdc")


@dataclasses.dataclass
class GeneratedFeatures:
    """What :meth:`Evaluator.evaluate` gathered from the generated images for one extractor.

    Attributes:
        moments: float64 :class:`~kerasgan.metrics.StreamingMoments` of the
            features of all generated images (``moments.statistics()`` gives
            ``mu`` and ``sigma``).
        kept: float32 feature batches of the first ``max_kept_features``
            images; empty unless a kind of this extractor keeps features.
        probability_batches: class-probability batches of all images; empty
            unless a kind of this extractor needs probabilities.
    """

    moments: StreamingMoments
    kept: list = dataclasses.field(default_factory=list)
    probability_batches: list = dataclasses.field(default_factory=list)

    @property
    def features(self) -> np.ndarray:
        """``[min(N, max_kept_features), d]`` float32 features (kinds with ``keep_features``)."""
        return np.concatenate(self.kept)

    @property
    def probabilities(self) -> np.ndarray:
        """``[N, num_classes]`` class probabilities (kinds with ``probabilities``)."""
        return np.concatenate(self.probability_batches)


@dataclasses.dataclass(frozen=True)
class _Kind:
    function: Callable
    keep_features: bool
    probabilities: bool


def _fid(evaluator, extractor_name, generated):
    # FID = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)), from streamed moments.
    ref, _ = evaluator.reference(extractor_name, need_features=False)
    gen = generated.moments.statistics()
    return {"": frechet_distance(ref.mu, ref.sigma, gen.mu, gen.sigma)}


def _kid(evaluator, extractor_name, generated):
    # KID: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, mean and std over subsets.
    _, ref_feats = evaluator.reference(extractor_name, need_features=True)
    mean, std = kernel_inception_distance(
        ref_feats,
        generated.features,
        num_subsets=evaluator.kid_subsets,
        subset_size=evaluator.kid_subset_size,
        seed=evaluator.seed,
    )
    return {"": mean, "std": std}


def _is(evaluator, extractor_name, generated):
    # IS = exp(E_x KL(p(y|x) || p(y))), mean and std over (at most) 10 splits.
    p = generated.probabilities
    mean, std = inception_score(p, splits=min(10, len(p)))
    return {"": mean, "std": std}


def _prdc(evaluator, extractor_name, generated):
    # k-NN manifold precision / recall and density / coverage.
    _, ref_feats = evaluator.reference(extractor_name, need_features=True)
    r = precision_recall_density_coverage(ref_feats, generated.features, k=evaluator.prdc_k)
    return r.as_dict()


_KINDS: dict[str, _Kind] = {
    "fid": _Kind(_fid, keep_features=False, probabilities=False),
    "kid": _Kind(_kid, keep_features=True, probabilities=False),
    "is": _Kind(_is, keep_features=False, probabilities=True),
    "prdc": _Kind(_prdc, keep_features=True, probabilities=False),
}


def metric_kinds() -> list[str]:
    """The metric kinds :func:`parse_metric` accepts, built-in ones first, then in registration order.

    Returns:
        e.g. ``['fid', 'kid', 'is', 'prdc']``.

    Example:
        >>> metric_kinds()[:4]
        ['fid', 'kid', 'is', 'prdc']
    """
    return list(_KINDS)


def register_metric_kind(
    kind: str,
    function: Callable,
    keep_features: bool = False,
    probabilities: bool = False,
    overwrite: bool = False,
) -> None:
    """Adds a metric kind: ``<kind>_<suffix>`` then names a metric for every extractor.

    ``function(evaluator, extractor_name, generated)`` computes the metric for
    the extractor ``fid_<suffix>``: ``evaluator`` is the :class:`Evaluator`
    (its ``reference(extractor_name, need_features)`` gives the real side's
    ``(FeatureStatistics, features or None)``, and it carries the settings such
    as ``seed``), ``generated`` a :class:`GeneratedFeatures`. It returns
    ``{suffix: value}``: the key ``""`` is the metric's own name, another key
    ``s`` is logged as ``<metric>_<s>`` (KID returns ``{"": mean, "std": std}``,
    logged as ``kid_digits`` and ``kid_digits_std``).

    Args:
        kind: a non-empty name without ``_`` or whitespace (``_`` separates
            the kind from the extractor in a metric name).
        function: the callable above.
        keep_features: keep the generated features of (at most)
            ``max_kept_features`` images for ``generated.features``.
        probabilities: gather class probabilities for ``generated.probabilities``
            (the extractor needs a classifier head).
        overwrite: replace an existing kind of that name.

    Raises:
        ValueError: bad kind, function or flags, or the kind is taken and not ``overwrite``.

    Example:
        >>> def mean_gap(evaluator, extractor_name, generated):
        ...     ref, _ = evaluator.reference(extractor_name)
        ...     gap = ref.mu - generated.moments.statistics().mu
        ...     return {"": float(np.sqrt(gap @ gap))}  # |mu_r - mu_g|
        >>> register_metric_kind("meangap", mean_gap, overwrite=True)
        >>> parse_metric("meangap_digits")
        ('meangap', 'fid_digits')
    """
    if not isinstance(kind, str) or not kind or "_" in kind or any(ch.isspace() for ch in kind):
        raise ValueError(
            f"kind must be a non-empty string without '_' or spaces. Received: kind={kind!r}"
        )
    if not callable(function):
        raise ValueError(f"function must be callable. Received: function={function!r}")
    for value, arg in ((keep_features, "keep_features"), (probabilities, "probabilities")):
        if not isinstance(value, bool):
            raise ValueError(f"{arg} must be a bool. Received: {arg}={value!r}")
    if kind in _KINDS and not overwrite:
        raise ValueError(
            f"A metric kind named {kind!r} is already registered; pass overwrite=True to "
            f"replace it. Received: kind={kind!r}"
        )
    _KINDS[kind] = _Kind(function, keep_features=keep_features, probabilities=probabilities)


def parse_metric(name):
    """``"fid_digits"`` -> ``("fid", "fid_digits")``: the metric kind and its extractor's name.

    Raises:
        ValueError: for a name that is not ``<kind>_<suffix>`` with a known kind
            (see :func:`metric_kinds`).
    """
    if not isinstance(name, str) or "_" not in name:
        raise ValueError(
            f"A metric name is <kind>_<extractor>, kind in {metric_kinds()} (e.g. 'fid_digits', "
            f"'kid_inception_v3'). Received: metric={name!r}"
        )
    kind, suffix = name.split("_", 1)
    if kind not in _KINDS or not suffix:
        raise ValueError(
            f"A metric name is <kind>_<extractor>, kind in {metric_kinds()} (e.g. 'fid_digits', "
            f"'kid_inception_v3'). Received: metric={name!r}"
        )
    return kind, f"fid_{suffix}"


def real_images(dataset, split, image_size=None, max_images=None, seed=0):
    """Real images in ``[-1, 1]``, NHWC, for the reference side.

    Args:
        dataset: ``"digits"`` (the offline 8x8 digits, resized) or a tfds
            image dataset name known to :mod:`kerasgan.data.images` (it must be
            prepared locally).
        split: ``"train"``/``"test"`` (digits) or a tfds split.
        image_size: side of the images (digits; default 16).
        max_images: keep at most this many (the first ones).
        seed: digits' split seed.

    Returns:
        ``np.ndarray`` float32 ``[N, H, W, C]``.
    """
    if dataset == "digits":
        x, _ = _images.digits(size=image_size or 16, split=split, seed=seed)
    else:
        ds = _images.load_tfds(dataset, split=split, batch_size=256, shuffle=False)
        x = np.concatenate([np.asarray(b[0] if isinstance(b, tuple) else b) for b in ds])
    x = np.asarray(x, dtype="float32")
    return x if max_images is None else x[:max_images]


class Evaluator:
    """Computes named metrics of generated images against a fixed real set.

    Args:
        metrics: metric names (see :func:`parse_metric`), e.g. ``["fid_digits", "kid_digits"]``.
        dataset: the real images' dataset (see :func:`real_images`), or None
            when ``real`` is given.
        split: its split.
        real: optional real images ``[N, H, W, C]`` in ``[-1, 1]`` instead of a dataset.
        image_size: digits' image side (match the generator's output).
        batch_size: images per feature-extractor call.
        cache: cache the reference statistics on disk (dataset given only).
        cache_directory: cache location; default :func:`kerasgan.metrics.cache_dir`.
        kid_subsets: KID's number of subsets.
        kid_subset_size: KID's subset size (capped by the set sizes).
        prdc_k: PRDC's neighbourhood size.
        max_kept_features: generated features kept for KID/PRDC.
        extractor_kwargs: ``{extractor name: kwargs}`` for ``get_extractor``.
        seed: KID's subset seed.

    Example:
        See the module docstring.
    """

    def __init__(
        self,
        metrics,
        dataset="digits",
        split="test",
        real=None,
        image_size=None,
        batch_size=256,
        cache=True,
        cache_directory=None,
        kid_subsets=100,
        kid_subset_size=1000,
        prdc_k=5,
        max_kept_features=10_000,
        extractor_kwargs=None,
        seed=0,
    ):
        if isinstance(metrics, str):
            metrics = [metrics]
        metrics = list(metrics)
        if not metrics:
            raise ValueError("metrics must name at least one metric. Received: metrics=[]")
        self.metrics = {name: parse_metric(name) for name in metrics}
        if real is None and dataset is None:
            raise ValueError("Give a dataset or real images. Received: dataset=None, real=None")
        self.dataset, self.split, self.image_size = dataset, split, image_size
        self.batch_size = int(batch_size)
        self.cache, self.cache_directory = bool(cache), cache_directory
        self.kid_subsets, self.kid_subset_size = int(kid_subsets), int(kid_subset_size)
        self.prdc_k, self.max_kept_features, self.seed = int(prdc_k), int(max_kept_features), seed
        self._real = None if real is None else np.asarray(real, dtype="float32")
        self._user_real = real is not None
        kwargs = extractor_kwargs or {}
        self.extractors = {
            ext: get_extractor(ext, **kwargs.get(ext, {})) for _, ext in self.metrics.values()
        }
        self._reference = {}

    # -- the real side -------------------------------------------------------------------------

    def _real_images(self):
        if self._real is None:
            self._real = real_images(self.dataset, self.split, self.image_size)
        return self._real

    def reference(self, extractor_name, need_features=False):
        """``(FeatureStatistics, features or None)`` of the real images for one extractor.

        With a dataset (not user-given images) and ``cache=True`` the statistics
        come from the on-disk cache when present; the features themselves
        (KID, PRDC) are always recomputed and then memoized.
        """
        memo = self._reference.get(extractor_name)
        if memo is not None and (memo[1] is not None or not need_features):
            return memo
        extractor = self.extractors[extractor_name]
        feats = None

        def features():
            return extractor.features(self._real_images(), batch_size=self.batch_size)

        if need_features:
            feats = features()

        def compute():
            return (
                StreamingMoments().update(feats if feats is not None else features()).statistics()
            )

        if self.cache and not self._user_real:
            n = len(self._real_images())
            # The key names the weights too: statistics of a retrained extractor are not reused.
            fingerprint = getattr(extractor, "fingerprint", None)
            stats, _, _ = reference_statistics(
                f"{self.dataset}-{self.image_size or 'default'}px",
                self.split,
                f"{extractor_name}-{fingerprint}" if fingerprint else extractor_name,
                n,
                compute,
                self.cache_directory,
            )
        else:
            stats = compute()
        self._reference[extractor_name] = (stats, feats)
        return stats, feats

    # -- the generated side --------------------------------------------------------------------

    def evaluate(self, images, num_samples=None):
        """The metrics of generated images.

        Args:
            images: ``[N, H, W, C]`` images in ``[-1, 1]``, an iterable of such
                batches, or a callable ``f(n) -> [n, H, W, C]`` (called in
                batches of ``batch_size`` until ``num_samples`` images).
            num_samples: required with a callable.

        Returns:
            dict: ``{metric: value}``; KID adds ``<name>_std``, IS ``<name>_std``,
            PRDC ``<name>_precision``, ``_recall``, ``_density``, ``_coverage``
            (a registered kind: the keys its function returns, see
            :func:`register_metric_kind`).
        """
        generated = {ext: GeneratedFeatures(StreamingMoments()) for ext in self.extractors}
        kinds = {metric: _KINDS[kind] for metric, (kind, _) in self.metrics.items()}
        need_kept = {ext for m, (_, ext) in self.metrics.items() if kinds[m].keep_features}
        need_probs = {ext for m, (_, ext) in self.metrics.items() if kinds[m].probabilities}
        count = 0
        for batch in self._batches(images, num_samples):
            batch = np.asarray(batch, dtype="float32")
            if not np.all(np.isfinite(batch)):
                raise ValueError("Generated images contain NaN or Inf. Received: non-finite batch")
            for name, extractor in self.extractors.items():
                side = generated[name]
                both = getattr(extractor, "features_and_probabilities", None)
                if name in need_probs and both is not None:  # one forward pass for both
                    f, p = both(batch, batch_size=self.batch_size)
                    side.probability_batches.append(p)
                else:
                    f = extractor.features(batch, batch_size=self.batch_size)
                    if name in need_probs:
                        side.probability_batches.append(
                            extractor.probabilities(batch, batch_size=self.batch_size)
                        )
                side.moments.update(f)
                if name in need_kept and count < self.max_kept_features:
                    side.kept.append(f[: self.max_kept_features - count].astype("float32"))
            count += len(batch)
        if count < 2:
            raise ValueError(f"Need at least 2 generated images. Received: {count}")
        out = {}
        for metric, (_, ext) in self.metrics.items():
            values = kinds[metric].function(self, ext, generated[ext])
            for key, value in values.items():
                out[f"{metric}_{key}" if key else metric] = value
        return out

    def _batches(self, images, num_samples):
        if callable(images):
            if num_samples is None or int(num_samples) < 2:
                raise ValueError(
                    f"num_samples must be >= 2 with a sampler. Received: num_samples={num_samples!r}"
                )
            done = 0
            while done < num_samples:
                n = min(self.batch_size, int(num_samples) - done)
                batch = np.asarray(images(n))
                if batch.shape[0] != n:
                    raise ValueError(
                        f"The sampler returned {batch.shape[0]} images for n={n}. Received: "
                        f"shape {batch.shape}"
                    )
                done += n
                yield batch
        elif isinstance(images, np.ndarray) or hasattr(images, "shape"):
            x = np.asarray(images)
            for i in range(0, len(x), self.batch_size):
                yield x[i : i + self.batch_size]
        else:
            yield from images
