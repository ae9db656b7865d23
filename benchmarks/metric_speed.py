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

Each measurement is the best of ``--repeats`` wall-clock runs. Both sides are
NumPy/SciPy in this one process: ``--threads N`` (default 2) caps every BLAS/LAPACK
pool (NumPy's and SciPy's OpenBLAS) at N threads with ``threadpoolctl``, so ours and
the peers run on the same N threads; the counts in effect are printed and stored in
every raw record, with the share of the CPU other processes used during each
measurement.

Every value is checked: each peer's result must equal ours to a relative
tolerance of ``RTOL`` (1e-6), else the script exits with status 1 after printing
the table. clean-fid's ``kernel_distance`` draws its subsets from the global NumPy
generator; here it is given a generator replaying our subset draws (and the two
sets in the order that makes its draws ours: KID is symmetric), so all three KIDs
average the same 100 subsets.

Usage:
    python benchmarks/metric_speed.py [--n 10000] [--d 2048] [--repeats 2] [--quick]
        [--threads N] [--results benchmarks/results/metric_speed.jsonl]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
import types

import numpy as np
import scipy
import scipy.linalg
import scipy.spatial.distance
import threadpoolctl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kerasgan import metrics  # noqa: E402


def features(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + shift


# Each peer's value must equal ours to this relative tolerance (float64 on both sides).
RTOL = 1e-6


def _cpu_sample():
    """(machine busy seconds, this process's CPU seconds, wall time); Linux only."""
    wall = time.perf_counter()
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None, None, wall
    tick = os.sysconf("SC_CLK_TCK")
    busy = (sum(fields) - fields[3] - fields[4]) / tick
    return busy, (int(own[11]) + int(own[12])) / tick, wall


def foreign_share(s0, s1):
    """Share of the machine's CPU used by other processes between two samples."""
    if s0[0] is None or s1[0] is None or s1[2] <= s0[2]:
        return 0.0
    other = (s1[0] - s0[0]) - (s1[1] - s0[1])
    return max(other, 0.0) / ((s1[2] - s0[2]) * (os.cpu_count() or 1))


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model
            )
    except OSError:
        pass
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"cpu": model, "cores": os.cpu_count(), "loadavg_1_5_15": load}


def source_state():
    """Where kerasgan was imported from, its git commit and uncommitted changes there."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(metrics.__file__))))
    state = {"path": root, "commit": None, "uncommitted": None}
    try:
        run = dict(cwd=root, capture_output=True, text=True, timeout=30, check=True)
        state["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "kerasgan", "benchmarks"], **run
        ).stdout
        state["uncommitted"] = [line[3:] for line in status.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def best_of(fn, repeats):
    """(best seconds, value, other processes' largest CPU share over the runs)."""
    times, shares, out = [], [], None
    for _ in range(repeats):
        s0 = _cpu_sample()
        out = fn()
        s1 = _cpu_sample()
        times.append(s1[2] - s0[2])
        shares.append(foreign_share(s0, s1))
    return min(times), out, max(shares)


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
    return namespace


class _NumpyDrawingFrom:
    """``numpy`` whose ``np.random.choice`` draws from ``rng`` (for clean-fid's KID)."""

    def __init__(self, rng):
        self.random = types.SimpleNamespace(choice=rng.choice)

    def __getattr__(self, name):
        return getattr(np, name)


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
    p.add_argument("--threads", type=int, default=2, help="BLAS threads on both sides")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be >= 1. Received: {args.threads}")
    chosen = {m.strip() for m in args.metrics.split(",") if m.strip()}
    if not chosen or chosen - {"fid", "kid", "mmd"}:
        p.error(f"--metrics takes fid, kid and/or mmd. Received: {args.metrics!r}")
    if args.quick:
        args.n, args.d, args.kid_subsets, args.repeats = 2000, 256, 10, 1
    threadpoolctl.threadpool_limits(limits=args.threads)
    pools = [
        {k: info[k] for k in ("internal_api", "prefix", "num_threads")}
        for info in threadpoolctl.threadpool_info()
    ]
    machine = machine_info()
    n, d = args.n, args.d
    print(
        f"features: 2 x [{n}, {d}] float64; best of {args.repeats}; CPU {machine['cpu']}, "
        f"{machine['cores']} cores, load average {machine['loadavg_1_5_15']}\n"
        f"threads (both sides, same process): "
        + ", ".join(
            f"{pool['prefix']} ({pool['internal_api']}) {pool['num_threads']}" for pool in pools
        )
    )
    x, y = features(n, d, 0), features(n, d, 1, shift=0.05)
    cleanfid = load_cleanfid_math()
    rows = []

    def record(metric, impl, seconds, value, other_cpu):
        rows.append(
            {
                "metric": metric,
                "impl": impl,
                "seconds": seconds,
                "value": value,
                "other_cpu": other_cpu,
            }
        )
        print(
            f"  {metric:5s} {impl:30s} {seconds:8.2f} s   value {value:.10g}   "
            f"other processes' CPU {other_cpu:.0%}",
            flush=True,
        )

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
            return float(cleanfid["frechet_distance"](m1, s1, m2, s2))

        t_stats, _, o_stats = best_of(lambda: (np.cov(x, rowvar=False), np.cov(y, rowvar=False)), 1)
        t, v, o = best_of(cf_fid, args.repeats)
        record("FID", "clean-fid (np.cov + its math)", t + t_stats, v, max(o, o_stats))

    # KID: the same subsets everywhere (seed 0 of NumPy's default_rng, x's rows then y's).
    if "kid" in chosen:
        kw = dict(num_subsets=args.kid_subsets, subset_size=args.kid_subset_size, seed=0)
        record(
            "KID",
            "kerasgan",
            *best_of(lambda: metrics.kernel_inception_distance(x, y, **kw)[0], args.repeats),
        )
        record(
            "KID",
            "plain NumPy",
            *best_of(
                lambda: plain_kid(x, y, args.kid_subsets, args.kid_subset_size, 0), args.repeats
            ),
        )
    if cleanfid is not None and "kid" in chosen:

        def cf_kid():
            # Its first draw is from its second argument: pass (y, x) to draw x's rows first.
            cleanfid["np"] = _NumpyDrawingFrom(np.random.default_rng(0))
            try:
                return cleanfid["kernel_distance"](
                    y, x, num_subsets=args.kid_subsets, max_subset_size=args.kid_subset_size
                )
            finally:
                cleanfid["np"] = np

        record("KID", "clean-fid kernel_distance", *best_of(cf_kid, args.repeats))

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

    mismatches = []
    for row in rows:
        ours = next(
            r for r in rows if r["metric"] == row["metric"] and r["impl"].startswith("kerasgan")
        )
        row["ratio"] = row["seconds"] / ours["seconds"]
        row["reldiff"] = abs(row["value"] - ours["value"]) / max(abs(ours["value"]), 1e-300)
        row["agrees"] = row["reldiff"] <= RTOL
        if not row["agrees"]:
            mismatches.append(
                f"{row['metric']} {row['impl']}: {row['value']!r} vs ours {ours['value']!r} "
                f"(relative difference {row['reldiff']:.3g} > {RTOL})"
            )

    print(
        "\n| metric | implementation | seconds | value | |value - ours| / ours | peer time / ours |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['metric']} | {row['impl']} | {row['seconds']:.2f} | {row['value']:.9g} | "
            f"{row['reldiff']:.2g} | {row['ratio']:.2f} |"
        )
    print(
        f"\nlargest other-process CPU share during a measurement: "
        f"{max(r['other_cpu'] for r in rows):.0%}"
    )
    if args.results:
        base = {
            "bench": "metric_speed",
            "command": "python "
            + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:]),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "n": n,
            "d": d,
            "repeats": args.repeats,
            "kid_subsets": args.kid_subsets,
            "kid_subset_size": args.kid_subset_size,
            "threads": {"blas_limit": args.threads, "pools": pools},
            "machine": machine,
            "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
            "source": source_state(),
            "rtol": RTOL,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "a") as f:
            for row in rows:
                f.write(json.dumps(dict(base, **row)) + "\n")
        print(f"appended {len(rows)} records to {args.results}")
    if mismatches:
        print("values disagree:\n  " + "\n  ".join(mismatches), file=sys.stderr)
        sys.exit(1)
    print(f"all values agree with ours to a relative {RTOL}")


if __name__ == "__main__":
    main()
