"""Trains the small CNN behind the `fid_digits` / `fid_mnist` feature extractors.

python recipes/train_digits_classifier.py [--dataset digits|mnist] [--output-dir DIR]
                                          [--smoke] [--dry-run] [--quiet] [--epochs N] [--seed S]

`digits`: scikit-learn's offline 8x8 digits resized to 16x16 (what
`recipes/dcgan_digits.py` generates), `images.digits(size=16, split="train")`,
evaluated on `split="test"` (359 images). `mnist`: TFDS MNIST at 28x28 (must be
prepared locally). Training uses random shifts of up to `--shift` pixels
(background-filled) as augmentation, Adam with a cosine learning-rate decay,
a fixed number of epochs (the test split is never used to choose anything),
and is seeded and deterministic on CPU.

Writes `classifier.keras` (loads with `keras.saving.load_model(..., safe_mode=True)`)
and `metadata.json` (data, sizes, test accuracy, epochs, seed, command, date,
versions) to `--output-dir` (default: `saved_models/fid_<dataset>/` of this
checkout). The test accuracy is measured through the feature extractor
itself (`kerasgan.metrics.extractors.digits_classifier_extractor`), the same path
the metrics use. `--smoke` trains 2 steps and requires `--output-dir`, so it never
overwrites the shipped model.

Exit codes: 0 done, 1 data unavailable, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import pathlib
import shlex
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = {
    "digits": {"image_size": 16, "epochs": 60, "batch_size": 32, "learning_rate": 2e-3},
    "mnist": {"image_size": 28, "epochs": 8, "batch_size": 128, "learning_rate": 1e-3},
}
SMOKE = {"epochs": 1, "train_images": 64, "batch_size": 32}
FEATURE_DIM = 64
DROPOUT = 0.3


def _parser():
    p = argparse.ArgumentParser(
        description="Train the digits / MNIST classifier behind the fid_digits / fid_mnist "
        "feature extractors."
    )
    p.add_argument("--dataset", choices=sorted(CONFIG), default="digits")
    p.add_argument(
        "--output-dir",
        help="directory for classifier.keras + metadata.json "
        "(default: saved_models/fid_<dataset>/ of this checkout)",
    )
    p.add_argument("--smoke", action="store_true", help="2 training steps (used by the tests)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved settings and exit")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--epochs", type=int, help="training epochs (default: per dataset)")
    p.add_argument("--batch-size", type=int, help="training batch size (default: per dataset)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization, shuffling, shifts")
    p.add_argument("--shift", type=int, default=1, help="max random shift in pixels (0: none)")
    p.add_argument("--data-dir", help="TFDS data directory (mnist)")
    return p


def _load(dataset, split, data_dir):
    """``(images [N, s, s, 1] float32 in [-1, 1], labels [N] int32)``."""
    import numpy as np

    from kerasgan.data import images

    if dataset == "digits":
        # seed=0 is the split every digits evaluation in kerasgan uses.
        return images.digits(size=CONFIG["digits"]["image_size"], split=split, seed=0)
    ds = images.load_tfds(
        "mnist",
        split=split,
        batch_size=1024,
        shuffle=False,
        drop_remainder=False,
        data_dir=data_dir,
    )
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(xs), np.concatenate(ys).astype("int32")


def _shifted(x, max_shift, rng):
    """Each image moved by a random integer offset in ``[-max_shift, max_shift]^2``, filled with -1."""
    import numpy as np

    if max_shift == 0:
        return x
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)), constant_values=-1.0)
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    out = np.empty_like(x)
    for i in range(n):
        out[i] = pad[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
    return out


def main(argv=None):
    args = _parser().parse_args(argv)
    error = None
    if args.smoke and not args.output_dir:
        error = "--smoke needs --output-dir (it must not overwrite the shipped model)"
    for flag in ("epochs", "batch_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            error = f"--{flag.replace('_', '-')} must be >= 1. Received: {value}"
    if args.seed < 0 or args.shift < 0:
        error = f"--seed and --shift must be >= 0. Received: {args.seed}, {args.shift}"
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    import keras
    import numpy as np
    import tensorflow as tf

    from kerasgan.data.images import DatasetUnavailableError
    from kerasgan.metrics import extractors as features

    cfg = dict(CONFIG[args.dataset])
    if args.smoke:
        cfg.update(SMOKE)
    for flag in ("epochs", "batch_size"):
        if getattr(args, flag) is not None:
            cfg[flag] = getattr(args, flag)
    name = f"fid_{args.dataset}"
    out_dir = pathlib.Path(args.output_dir or ROOT / "saved_models" / name)
    if args.dry_run:
        settings = {**cfg, "dataset": args.dataset, "seed": args.seed, "max_shift": args.shift}
        print(json.dumps({**settings, "output_dir": str(out_dir)}, indent=2))
        return 0

    try:
        x_train, y_train = _load(args.dataset, "train", args.data_dir)
        x_test, y_test = _load(args.dataset, "test", args.data_dir)
    except DatasetUnavailableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if "train_images" in cfg:
        x_train, y_train = x_train[: cfg["train_images"]], y_train[: cfg["train_images"]]

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = features.build_digits_classifier(
        image_size=cfg["image_size"], num_classes=10, feature_dim=FEATURE_DIM, dropout=DROPOUT
    )
    steps_per_epoch = -(-len(x_train) // cfg["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg["learning_rate"], decay_steps=cfg["epochs"] * steps_per_epoch
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    verbose = 0 if args.quiet else 2
    start = time.time()
    for epoch in range(cfg["epochs"]):
        # A fresh seeded augmentation each epoch; fit's own shuffle is seeded too.
        x_epoch = _shifted(x_train, args.shift, rng)
        history = model.fit(
            x_epoch,
            y_train,
            batch_size=cfg["batch_size"],
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=True,
            verbose=verbose,
        )
    seconds = time.time() - start
    train_loss = float(history.history["loss"][-1])

    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = out_dir / features.DIGITS_CLASSIFIER_FILE
    # Ship the weights only: an uncompiled copy saves without the optimizer state (3x smaller).
    shipped = features.build_digits_classifier(
        image_size=cfg["image_size"], num_classes=10, feature_dim=FEATURE_DIM, dropout=DROPOUT
    )
    shipped.set_weights(model.get_weights())
    shipped.save(model_file)
    # Accuracy through the extractor, exactly as the metrics and the tests see the model.
    extractor = features.digits_classifier_extractor(path=model_file, dataset=args.dataset)
    predicted = extractor.probabilities(x_test).argmax(axis=1)
    correct = int((predicted == y_test).sum())
    test_accuracy = correct / len(y_test)
    train_predicted = extractor.probabilities(x_train).argmax(axis=1)
    train_accuracy = float((train_predicted == y_train).mean())

    command = "python recipes/train_digits_classifier.py"
    if argv is None:
        argv = sys.argv[1:]
    if argv:
        command += " " + shlex.join(argv)
    metadata = {
        "extractor": name,
        "dataset": args.dataset,
        "data": (
            f"kerasgan.data.images.digits(size={cfg['image_size']}, split=..., seed=0)"
            if args.dataset == "digits"
            else f"kerasgan.data.images.load_tfds('mnist', split=...) ({cfg['image_size']}x"
            f"{cfg['image_size']})"
        ),
        "image_size": cfg["image_size"],
        "train_size": int(len(x_train)),
        "test_size": int(len(x_test)),
        "test_correct": correct,
        "test_accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        "final_train_loss": train_loss,
        "feature_dim": FEATURE_DIM,
        "num_params": int(model.count_params()),
        "epochs": cfg["epochs"],
        "batch_size": cfg["batch_size"],
        "learning_rate": cfg["learning_rate"],
        "max_shift": args.shift,
        "seed": args.seed,
        "smoke": bool(args.smoke),
        "train_seconds": round(seconds, 1),
        "command": command,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "classifier_sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
        "classifier_bytes": model_file.stat().st_size,
    }
    (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    print(
        f"\nTrained {name} ({args.dataset}, {cfg['image_size']}x{cfg['image_size']}, "
        f"{cfg['epochs']} epochs) in {seconds:.1f} s."
    )
    print(f"Train accuracy: {train_accuracy:.4f}")
    print(f"Test accuracy: {test_accuracy:.4f} ({correct}/{len(y_test)})")
    print(f"Saved {model_file} ({metadata['classifier_bytes']} bytes) and metadata.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
