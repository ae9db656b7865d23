"""A recipe's command line: ``python recipes/NAME.py [--smoke] [--dry-run] [--epochs N] ...``.

``kerasgan train NAME`` runs the recipe file, whose ``__main__`` calls :func:`main`
with its config; :func:`main` applies the flags and calls
:func:`kerasgan.runner.run`. Exit codes: 0 done (or already finished), 2 bad
config or unusable backups, 3 diverged (NaN/Inf; the last good checkpoint is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from kerasgan.callbacks import BackupError, TrainingDiverged
from kerasgan.runner import config as config_lib
from kerasgan.runner.loop import resolve, run
from kerasgan.runner.rundir import RunAlreadyFinished

__all__ = ["main"]


def _parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny run in seconds (used by the tests)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--strategy", choices=["auto", "default", "mirrored", "multi_worker"])
    p.add_argument("--runs-dir")
    p.add_argument("--export-dir")
    p.add_argument("--no-export", action="store_true")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        help="full-state backup every N steps as well as at epoch ends (a rerun resumes)",
    )
    p.add_argument("--fresh", action="store_true", help="ignore (and delete) earlier backups")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(config, smoke=None, argv=None, description=None):
    """Command-line entry point of a recipe.

    Args:
        config: the recipe's config.
        smoke: overrides applied with ``--smoke``.
        argv: arguments (default ``sys.argv[1:]``).
        description: help text.

    Returns:
        Process exit code (0 on success).
    """
    args = _parser(description or f"Train {config.get('name')}").parse_args(argv)
    overrides = dict(smoke or {}) if args.smoke else {}
    for flag in (
        "epochs",
        "steps_per_epoch",
        "batch_size",
        "seed",
        "strategy",
        "runs_dir",
        "export_dir",
        "checkpoint_every",
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides[flag] = value
    if args.no_export:
        overrides["export"] = False
    if args.fresh:
        overrides["resume"] = False
    if args.quiet:
        overrides["verbose"] = 2
    try:
        cfg = resolve(config, overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(config_lib.sectioned(cfg), indent=2))
        return 0
    try:
        result = run(cfg)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except BackupError as e:  # backups that do not fit this run, or none that verifies
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RunAlreadyFinished as e:
        print(e)
        return 0
    print(
        f"\nTrained {cfg['name']} in {result['seconds']:.1f} s; run directory: {result['run_dir']}"
    )
    if "mode_coverage" in result:
        mc = result["mode_coverage"]
        print(
            f"Mode coverage ({cfg['eval_samples']} samples): {mc['modes']}/{mc['num_modes']} modes, "
            f"{mc['hq_percent']:.1f}% high-quality samples, reverse KL {mc['reverse_kl']:.3f}"
        )
    history = result.get("history") or {}
    scored = [m for m in cfg["eval_metrics"] if history.get(m)]
    if scored:
        print(
            "Evaluation (last): "
            + ", ".join(f"{m} {history[m][-1]:.4g}" for m in scored)
            + f" ({cfg['eval_metric_samples']} samples vs the {cfg['eval_metric_split']} split)"
        )
    if "test_nll" in result:
        print(f"Held-out NLL: {result['test_nll']:.4f} nats")
    if "test_bits_per_dim" in result:
        print(
            f"Held-out bits/dim: {result['test_bits_per_dim']:.4f} "
            f"(train {result['train_bits_per_dim']:.4f})"
        )
    if "kl" in result:
        print(f"{result.get('kl_label', 'KL')}: {result['kl']:.4f} nats")
    if "kl_after_warm_start" in result:
        print(f"(KL after the maximum-likelihood warm start: {result['kl_after_warm_start']:.4f})")
    if "entropy" in result and "student_history" in result:
        print(
            f"Teacher: test NLL - true entropy = {result['test_nll'] - result['entropy']:.4f} nats"
        )
    if "sampling_speedup" in result:
        print(f"Student sampling speed-up over the teacher: {result['sampling_speedup']:.1f}x")
    if "export_path" in result:
        print(f"SavedModel: {result['export_path']}")
    print(f"Final samples: {os.path.join(result['run_dir'], 'samples.png')}")
    print(f"TensorBoard: tensorboard --logdir {os.path.join(result['run_dir'], 'tb')}")
    return 0
