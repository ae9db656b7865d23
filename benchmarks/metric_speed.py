"""Metric speed: kerasgan's FID, KID and MMD against plain NumPy/SciPy and clean-fid's math.

Features: two sets of 10,000 x 2,048 float64 vectors (correlated Gaussians,
the second shifted), the size of an InceptionV3 pool-feature FID on 10k images.

- FID. Ours: ``StreamingMoments`` over batches of 1,000 rows, then
  ``frechet_distance`` (two symmetric eigendecompositions). Plain: ``np.mean``
  / ``np.cov`` and ``scipy.linalg.sqrtm(C1 C2)`` (the reference FID code's
  arithmetic). clean-fid: its ``frechet_distance`` on the same statistics.
- KID (100 subsets of 1,000, cubic polynomial kernel). Ours:
  ``kernel_inception_distance``. Plain: the subset loop written with
  ``scipy.spatial.distance``-free NumPy, one kernel matrix at a time.
  clean-fid: its ``kernel_distance`` (mean only).
- MMD^2 (unbiased, RBF, fixed bandwidth). Ours: ``mmd2_unbiased``. Plain:
  ``scipy.spatial.distance.cdist`` squared distances and the same formula, and
  the same in NumPy with the ``|a|^2 + |b|^2 - 2 a.b`` expansion (BLAS).

clean-fid 0.1.35 and torch-fidelity 0.4.0 import torchvision at package import,
and no torchvision build matches this environment's torch 2.13 (both 0.28 and
0.29 fail with "operator torchvision::nms does not exist"). clean-fid's two
metric functions are plain NumPy/SciPy, so they are loaded from its installed
source file (``cleanfid/fid.py``) without importing the package. torch-fidelity
is not run (its metric functions need its torch-based helpers).

Each measurement is the best of ``--repeats`` wall-clock runs on 2 cores; the
results of all implementations are printed side by side (they agree).

Usage:
    python benchmarks/metric_speed.py [--n 10000] [--d 2048] [--repeats 2] [--quick]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import sys
import time

import numpy as np
import scipy.linalg
import scipy.spatial.distance

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kerasgan import metrics  # noqa: E402


def features(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + shift


def best_of(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


# --- the peers ---------------------------------------------------------------------------------


def plain_fid(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = scipy.linalg.sqrtm(s1 @ s2, disp=False)
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def plain_kid(x, y, num_subsets, subset_size, seed):
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        k_aa = (a @ a.T / d + 1) ** 3
        k_bb = (b @ b.T / d + 1) ** 3
        k_ab = (a @ b.T / d + 1) ** 3
        values.append(
            (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
            - 2 * k_ab.mean()
        )
    return float(np.mean(values))


def _unbiased_mmd2(kxx, kyy, kxy):
    m, n = len(kxx), len(kyy)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def plain_mmd(x, y, bandwidth):
    def k(a, b):
        return np.exp(-scipy.spatial.distance.cdist(a, b, "sqeuclidean") / (2 * bandwidth**2))

    return _unbiased_mmd2(k(x, x), k(y, y), k(x, y))


def plain_mmd_matmul(x, y, bandwidth):
    """The same formula with squared distances by the |a|^2 + |b|^2 - 2 a.b expansion (BLAS)."""

    def k(a, b):
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.exp(-np.maximum(sq, 0) / (2 * bandwidth**2))

    return _unbiased_mmd2(k(x, x), k(y, y), k(x, y))


def load_cleanfid_math():
    """clean-fid's ``frechet_distance`` and ``kernel_distance``, from its source file."""
    spec = importlib.util.find_spec("cleanfid")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "fid.py")
    tree = ast.parse(open(path).read())
    keep = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name in ("frechet_distance", "kernel_distance")
    ]
    namespace = {"np": np, "linalg": scipy.linalg}
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), namespace)  # noqa: S102
    return namespace["frechet_distance"], namespace["kernel_distance"]


# --- the runs ----------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--d", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--quick", action="store_true", help="2,000 x 256 features, 10 KID subsets")
    p.add_argument("--results", help="append the records (JSON lines) to this file")
    p.add_argument("--metrics", default="fid,kid,mmd", help="comma-separated subset to run")
    p.add_argument("--skip-cdist", action="store_true", help="skip the slow cdist MMD peer")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.d, args.kid_subsets, args.repeats = 2000, 256, 10, 1
    n, d = args.n, args.d
    print(f"features: 2 x [{n}, {d}] float64; best of {args.repeats}; 2 cores")
    x, y = features(n, d, 0), features(n, d, 1, shift=0.05)
    cleanfid = load_cleanfid_math()
    rows = []

    def record(metric, impl, seconds, value):
        rows.append({"metric": metric, "impl": impl, "seconds": seconds, "value": value})
        print(f"  {metric:5s} {impl:28s} {seconds:8.2f} s   value {value:.6g}", flush=True)

    chosen = set(args.metrics.split(","))

    # FID: statistics + distance.
    def ours_fid():
        acc1, acc2 = metrics.StreamingMoments(), metrics.StreamingMoments()
        for i in range(0, n, 1000):
            acc1.update(x[i : i + 1000])
            acc2.update(y[i : i + 1000])
        return metrics.fid_from_features(acc1.statistics(), acc2.statistics())

    if "fid" in chosen:
        record("FID", "kerasgan (streaming + eigh)", *best_of(ours_fid, args.repeats))
        record("FID", "plain NumPy/SciPy (sqrtm)", *best_of(lambda: plain_fid(x, y), args.repeats))
    if cleanfid is not None and "fid" in chosen:
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        m1, m2 = x.mean(0), y.mean(0)

        def cf_fid():
            return float(cleanfid[0](m1, s1, m2, s2))

        t_stats, _ = best_of(lambda: (np.cov(x, rowvar=False), np.cov(y, rowvar=False)), 1)
        t, v = best_of(cf_fid, args.repeats)
        record("FID", "clean-fid (np.cov + its math)", t + t_stats, v)

    # KID.
    kid_on = "kid" in chosen
    kid_on and record(
        "KID",
        "kerasgan",
        *best_of(
            lambda: metrics.kernel_inception_distance(
                x, y, num_subsets=args.kid_subsets, subset_size=args.kid_subset_size, seed=0
            )[0],
            args.repeats,
        ),
    )
    kid_on and record(
        "KID",
        "plain NumPy",
        *best_of(lambda: plain_kid(x, y, args.kid_subsets, args.kid_subset_size, 0), args.repeats),
    )
    if cleanfid is not None and kid_on:
        np.random.seed(0)
        record(
            "KID",
            "clean-fid kernel_distance",
            *best_of(
                lambda: cleanfid[1](
                    x, y, num_subsets=args.kid_subsets, max_subset_size=args.kid_subset_size
                ),
                args.repeats,
            ),
        )

    # MMD^2 (RBF, one bandwidth: the median heuristic on a subsample, fixed for all).
    if "mmd" in chosen:
        bandwidth = metrics.median_bandwidth(x, y)
        record(
            "MMD2",
            "kerasgan",
            *best_of(lambda: metrics.mmd2_unbiased(x, y, bandwidth=bandwidth), args.repeats),
        )
        record(
            "MMD2",
            "plain NumPy (matmul expansion)",
            *best_of(lambda: plain_mmd_matmul(x, y, bandwidth), args.repeats),
        )
        if not args.skip_cdist:
            record(
                "MMD2",
                "plain SciPy (cdist)",
                *best_of(lambda: plain_mmd(x, y, bandwidth), args.repeats),
            )

    print("\n| metric | implementation | seconds | value | peer time / ours |")
    print("|---|---|---|---|---|")
    for row in rows:
        ours = next(
            r for r in rows if r["metric"] == row["metric"] and r["impl"].startswith("kerasgan")
        )
        print(
            f"| {row['metric']} | {row['impl']} | {row['seconds']:.2f} | {row['value']:.6g} | "
            f"{row['seconds'] / ours['seconds']:.2f} |"
        )
    if args.results:
        with open(args.results, "a") as f:
            for row in rows:
                f.write(json.dumps(dict(row, n=n, d=d, time=time.time())) + "\n")


if __name__ == "__main__":
    main()
