"""Conditional GANs on the offline digits: does each sample carry its label, and how good is it?

Trains a recipe (``cgan_digits``, ``acgan_digits``; timed) or takes an existing export,
draws 10,000 samples with uniform labels (1,000 per class, through the export's
``sample_seeded(labels, seed)`` signature: what a user of the SavedModel gets) and
measures, with the shipped ``fid_digits`` classifier (``saved_models/fid_digits``):

- label accuracy: the share of samples the classifier puts in the requested class
  (bar: >= 95%);
- fid_digits of the 10,000 samples against the 359 held-out digits (bar: <= 40), next
  to the same figure for the 1,438 real training digits (the floor, 12.0);
- the mean intra-class fid_digits: per class, its 1,000 samples against the held-out
  digits of that class (~36 each; with 64 features and so few reference images the
  figure is biased upwards, so the real training digits of each class are scored the
  same way as the floor).

Usage:
    python benchmarks/conditional.py cgan_digits acgan_digits \\
        [--results benchmarks/results/conditional.jsonl]
    python benchmarks/conditional.py --export saved_models/cgan_digits   # no training
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

N_SAMPLES = 10_000
NUM_CLASSES = 10
ACCURACY_BAR = 0.95
FID_BAR = 40.0


def _recipe(name):
    path = os.path.join(ROOT, "recipes", f"{name}.py")
    if not os.path.exists(path):
        raise SystemExit(f"error: no recipe {path}")
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate_export(path, seed=0):
    """Label accuracy, FID and intra-class FID of an export's samples (a dict)."""
    import numpy as np
    import tensorflow as tf

    from kerasgan.data import images
    from kerasgan.export.server import resolve_export
    from kerasgan.metrics import extractors as features
    from kerasgan.metrics.fid import fid_from_features

    _, version_path = resolve_export(path, allow_version_dir=True)
    loaded = tf.saved_model.load(version_path)
    if "labels" not in loaded.signatures["sample_seeded"].structured_input_signature[1]:
        raise SystemExit(f"error: {version_path} is not a conditional GAN's export")
    labels = np.random.default_rng(seed).permutation(np.arange(N_SAMPLES) % NUM_CLASSES)
    chunks = []
    for i, start in enumerate(range(0, N_SAMPLES, 2000)):
        out = loaded.signatures["sample_seeded"](
            labels=tf.constant(labels[start : start + 2000], tf.int32),
            seed=tf.constant(seed * 1000 + i, tf.int64),
        )
        chunks.append(out["samples"].numpy())
    samples = np.concatenate(chunks)
    extractor = features.get_extractor("fid_digits")
    feats, probs = extractor.features_and_probabilities(samples)
    predicted = probs.argmax(-1)
    accuracy = float(np.mean(predicted == labels))
    per_class_accuracy = [float(np.mean(predicted[labels == c] == c)) for c in range(NUM_CLASSES)]
    size = samples.shape[1]
    test_x, test_y = images.digits(size=size, split="test", seed=0)
    train_x, train_y = images.digits(size=size, split="train", seed=0)
    test_f = extractor.features(test_x)
    train_f = extractor.features(train_x)
    fid = float(fid_from_features(feats, test_f))
    fid_real = float(fid_from_features(train_f, test_f))
    intra = [
        float(fid_from_features(feats[labels == c], test_f[test_y == c]))
        for c in range(NUM_CLASSES)
    ]
    intra_real = [
        float(fid_from_features(train_f[train_y == c], test_f[test_y == c]))
        for c in range(NUM_CLASSES)
    ]
    return {
        "export": version_path,
        "num_samples": N_SAMPLES,
        "label_accuracy": accuracy,
        "per_class_accuracy": per_class_accuracy,
        "fid_digits": fid,
        "fid_digits_real_train": fid_real,
        "intra_class_fid_digits": float(np.mean(intra)),
        "intra_class_fid_digits_per_class": intra,
        "intra_class_fid_digits_real_train": float(np.mean(intra_real)),
        "bars": {
            "label_accuracy >= 0.95": accuracy >= ACCURACY_BAR,
            "fid_digits <= 40": fid <= FID_BAR,
        },
    }


def _source_state():
    run = {"cwd": ROOT, "capture_output": True, "text": True}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], **run).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "dirty": dirty}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="*", help="recipes to train and measure (e.g. cgan_digits)")
    p.add_argument("--export", help="measure this export instead of training a recipe")
    p.add_argument("--seed", type=int, default=0, help="seed of the labels and latents")
    p.add_argument("--results", help="append one JSON record per measurement to this file")
    args = p.parse_args(argv)
    if bool(args.recipes) == bool(args.export):
        p.error("name recipes to train, or --export DIR, not both")

    records = []
    if args.export:
        records.append(evaluate_export(args.export, args.seed))
    for name in args.recipes:
        from kerasgan import runner

        recipe = _recipe(name)
        start = time.perf_counter()
        result = runner.run(recipe.CONFIG, {"resume": False, "verbose": 0})
        seconds = time.perf_counter() - start
        record = evaluate_export(os.path.dirname(result["export_path"]), args.seed)
        cfg = result["config"]
        record.update(
            {
                "recipe": name,
                "model": cfg["model"],
                "train_seconds_fit": round(result["seconds"], 1),
                "train_seconds_total": round(seconds, 1),
                "steps": cfg["epochs"] * cfg["steps_per_epoch"],
                "run_dir": result["run_dir"],
            }
        )
        records.append(record)

    command = "python benchmarks/conditional.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    print(f"\n{command}\n")
    print("| recipe | model | train s | label accuracy | fid_digits | intra-class fid_digits |")
    print("|---|---|---|---|---|---|")
    for r in records:
        print(
            f"| {r.get('recipe', r['export'])} | {r.get('model', '-')} | "
            f"{r.get('train_seconds_fit', '-')} | {r['label_accuracy']:.2%} | "
            f"{r['fid_digits']:.1f} (real train {r['fid_digits_real_train']:.1f}) | "
            f"{r['intra_class_fid_digits']:.1f} (real train "
            f"{r['intra_class_fid_digits_real_train']:.1f}) |"
        )
    if args.results:
        import tensorflow as tf

        base = {
            "command": command,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "tensorflow": tf.__version__,
            **_source_state(),
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "a") as f:
            for r in records:
                f.write(json.dumps({**base, **r}) + "\n")
    failed = [r for r in records if not all(r["bars"].values())]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
