"""Sample-based evaluation of image generators: FID, KID, IS, PRDC by name.

A metric name is ``<kind>_<extractor suffix>``: ``fid_digits`` is FID with the
``fid_digits`` feature extractor, ``kid_inception_v3`` KID with
``fid_inception_v3``, ``is_digits`` the Inception Score of the digits
classifier's probabilities, ``prdc_digits`` precision/recall/density/coverage.
The extractor is part of the name because the numbers are only comparable
for the same network.

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

import numpy as np

from kerasgan.metrics.fid import frechet_distance
from kerasgan.metrics.inception_score import inception_score
from kerasgan.metrics.kid import kernel_inception_distance
from kerasgan.metrics.prdc import precision_recall_density_coverage
from kerasgan.metrics.statistics import StreamingMoments, reference_statistics

__all__ = ["KINDS", "Evaluator", "parse_metric", "real_images"]

KINDS = ("fid", "kid", "is", "prdc")


def parse_metric(name):
    """``"fid_digits"`` -> ``("fid", "fid_digits")``: the metric kind and its extractor's name.

    Raises:
        ValueError: for a name that is not ``<kind>_<suffix>`` with a known kind.
    """
    if not isinstance(name, str) or "_" not in name:
        raise ValueError(
            f"A metric name is <kind>_<extractor>, kind in {list(KINDS)} (e.g. 'fid_digits', "
            f"'kid_inception_v3'). Received: metric={name!r}"
        )
    kind, suffix = name.split("_", 1)
    if kind not in KINDS or not suffix:
        raise ValueError(
            f"A metric name is <kind>_<extractor>, kind in {list(KINDS)} (e.g. 'fid_digits', "
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
    from kerasgan.data import images

    if dataset == "digits":
        x, _ = images.digits(size=image_size or 16, split=split, seed=seed)
    else:
        ds = images.load_tfds(dataset, split=split, batch_size=256, shuffle=False)
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
        from kerasgan.metrics.features import get_extractor

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
            PRDC ``<name>_precision``, ``_recall``, ``_density``, ``_coverage``.
        """
        moments = {ext: StreamingMoments() for ext in self.extractors}
        kept = {ext: [] for ext in self.extractors}
        probs = {ext: [] for ext in self.extractors}
        need_kept = {ext for kind, ext in self.metrics.values() if kind in ("kid", "prdc")}
        need_probs = {ext for kind, ext in self.metrics.values() if kind == "is"}
        count = 0
        for batch in self._batches(images, num_samples):
            batch = np.asarray(batch, dtype="float32")
            if not np.all(np.isfinite(batch)):
                raise ValueError("Generated images contain NaN or Inf. Received: non-finite batch")
            for name, extractor in self.extractors.items():
                both = getattr(extractor, "features_and_probabilities", None)
                if name in need_probs and both is not None:  # one forward pass for both
                    f, p = both(batch, batch_size=self.batch_size)
                    probs[name].append(p)
                else:
                    f = extractor.features(batch, batch_size=self.batch_size)
                    if name in need_probs:
                        probs[name].append(
                            extractor.probabilities(batch, batch_size=self.batch_size)
                        )
                moments[name].update(f)
                if name in need_kept and count < self.max_kept_features:
                    kept[name].append(f[: self.max_kept_features - count].astype("float32"))
            count += len(batch)
        if count < 2:
            raise ValueError(f"Need at least 2 generated images. Received: {count}")
        out = {}
        for metric, (kind, ext) in self.metrics.items():
            if kind == "fid":
                ref, _ = self.reference(ext, need_features=False)
                gen = moments[ext].statistics()
                out[metric] = frechet_distance(ref.mu, ref.sigma, gen.mu, gen.sigma)
            elif kind == "kid":
                _, ref_feats = self.reference(ext, need_features=True)
                mean, std = kernel_inception_distance(
                    ref_feats,
                    np.concatenate(kept[ext]),
                    num_subsets=self.kid_subsets,
                    subset_size=self.kid_subset_size,
                    seed=self.seed,
                )
                out[metric], out[f"{metric}_std"] = mean, std
            elif kind == "is":
                p = np.concatenate(probs[ext])
                mean, std = inception_score(p, splits=min(10, len(p)))
                out[metric], out[f"{metric}_std"] = mean, std
            else:
                _, ref_feats = self.reference(ext, need_features=True)
                r = precision_recall_density_coverage(
                    ref_feats, np.concatenate(kept[ext]), k=self.prdc_k
                )
                for key, value in r.as_dict().items():
                    out[f"{metric}_{key}"] = value
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
