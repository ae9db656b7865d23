"""Mode coverage on ring8 and grid25 (the VEEGAN / PacGAN toy benchmark).

Trains the shipped recipes (``recipes/{gan,wgan_gp}_{ring8,grid25}.py``) for several
seeds each and prints a table beside the published rows of PacGAN's Table 1
(Lin, Khetan, Fanti and Oh, 2018). Each run is scored with
``kerasgan.metrics.mode_coverage`` on 2,500 samples.

    python benchmarks/mode_coverage.py                 # 5 seeds x 4 recipes
    python benchmarks/mode_coverage.py --seeds 2 --recipes wgan_gp_grid25 --jobs 2
    python benchmarks/mode_coverage.py --quick         # a minute: 1 seed, few steps (smoke)

Runs are independent processes (``--jobs`` at a time, each limited to
``2 / jobs`` threads), so the figures do not depend on the order.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import runpy
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECIPES = ["gan_ring8", "wgan_gp_ring8", "gan_grid25", "wgan_gp_grid25"]

# PacGAN (Lin et al. 2018), Table 1: modes (max 8 / 25), high-quality %, reverse KL.
PUBLISHED = [
    ("ring8", "GAN (PacGAN Table 1)", 6.3, 98.2, 0.45),
    ("ring8", "PacGAN4 (PacGAN Table 1)", 7.8, 95.9, 0.07),
    ("grid25", "GAN (PacGAN Table 1)", 17.3, 94.8, 0.70),
    ("grid25", "PacGAN4 (PacGAN Table 1)", 24.8, 93.6, 0.04),
]


def _single(recipe, seed, epochs, steps):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from kerasgan import runner

    config = runpy.run_path(str(ROOT / "recipes" / f"{recipe}.py"), run_name="benchmark")["CONFIG"]
    overrides = {
        "seed": seed,
        "export": False,
        "tensorboard": False,
        "verbose": 0,
        "runs_dir": str(ROOT / "runs" / "benchmark"),
        "name": f"{recipe}_seed{seed}",
        "eval_every": 10**6,
    }
    if epochs:
        overrides["epochs"] = epochs
    if steps:
        overrides["steps_per_epoch"] = steps
    start = time.perf_counter()
    result = runner.run(config, overrides)
    out = dict(result["mode_coverage"])
    out.update(
        recipe=recipe, seed=seed, seconds=time.perf_counter() - start, dataset=config["dataset"]
    )
    out["g_steps"] = result["config"]["epochs"] * result["config"]["steps_per_epoch"]
    print("RESULT " + json.dumps(out))


def _launch(recipe, seed, threads, epochs, steps):
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_NUM_INTRAOP_THREADS=str(threads),
        TF_NUM_INTEROP_THREADS="1",
        OMP_NUM_THREADS=str(threads),
    )
    cmd = [sys.executable, __file__, "--single", recipe, "--seed", str(seed)]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    if steps:
        cmd += ["--steps-per-epoch", str(steps)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _mean_std(values):
    import numpy as np

    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--recipes", nargs="+", default=RECIPES, choices=RECIPES)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--threads", type=int, help="threads per run (default: cores / jobs)")
    p.add_argument("--results", help="append each run's JSON to this file (runs resume from it)")
    p.add_argument(
        "--table-only", action="store_true", help="print the table of --results and exit"
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument(
        "--quick", action="store_true", help="1 seed, 2 epochs of 50 steps: a smoke check"
    )
    p.add_argument("--single", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.single:
        _single(args.single, args.seed, args.epochs, args.steps_per_epoch)
        return 0
    if args.quick:
        args.seeds, args.epochs, args.steps_per_epoch = 1, 2, 50
    threads = args.threads or max(1, (os.cpu_count() or 2) // args.jobs)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results = []
    if args.results and os.path.exists(args.results):
        with open(args.results) as f:
            results = [json.loads(line) for line in f if line.strip()]
    if args.table_only:
        _table(results, args.recipes, wall=None, seeds=args.seeds, jobs=args.jobs)
        return 0
    done = {(r["recipe"], r["seed"]) for r in results}
    queue = [(r, s) for r in args.recipes for s in seeds if (r, s) not in done]
    running = []
    start = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            recipe, seed = queue.pop(0)
            running.append(_launch(recipe, seed, threads, args.epochs, args.steps_per_epoch))
        proc = running.pop(0)
        out, err = proc.communicate()
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(err[-3000:], file=sys.stderr)
            raise SystemExit(f"benchmark run failed: {proc.args}")
        res = json.loads(lines[-1][len("RESULT ") :])
        results.append(res)
        if args.results:
            with open(args.results, "a") as f:
                f.write(json.dumps(res) + "\n")
        print(
            f"{res['recipe']} seed {res['seed']}: {res['modes']}/{res['num_modes']} modes, "
            f"{res['hq_percent']:.1f}% HQ, reverse KL {res['reverse_kl']:.3f}, {res['seconds']:.0f} s",
            flush=True,
        )
    _table(results, args.recipes, time.perf_counter() - start, args.seeds, args.jobs)
    return 0


def _table(results, recipes, wall, seeds, jobs):
    when = "" if wall is None else f"; {wall / 60:.1f} min wall time, {jobs} runs in parallel"
    print(f"\nMode coverage, 2,500 samples per run (mean ± std over seeds{when})\n")
    print("| data | model | modes | high-quality % | reverse KL | G steps | s / run |")
    print("|---|---|---|---|---|---|---|")
    for dataset in ("ring8", "grid25"):
        for recipe in recipes:
            rows = [r for r in results if r["recipe"] == recipe and r["dataset"] == dataset]
            if not rows:
                continue
            m, ms = _mean_std([r["modes"] for r in rows])
            h, hs = _mean_std([r["hq_percent"] for r in rows])
            k, ks = _mean_std([r["reverse_kl"] for r in rows])
            secs = _mean_std([r["seconds"] for r in rows])[0]
            print(
                f"| {dataset} | kerasgan `{recipe}` ({len(rows)} seeds) | {m:.1f} ± {ms:.1f} | "
                f"{h:.1f} ± {hs:.1f} | {k:.3f} ± {ks:.3f} | {rows[0]['g_steps']} | {secs:.0f} |"
            )
        for ds, name, modes, hq, kl in PUBLISHED:
            if ds == dataset:
                print(f"| {dataset} | {name} | {modes} | {hq} | {kl} | | |")


if __name__ == "__main__":
    sys.exit(main())
