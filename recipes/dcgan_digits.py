"""DCGAN on scikit-learn's 8x8 digits resized to 16x16 (real data, works offline).

python recipes/dcgan_digits.py [--smoke] [--dry-run]
kerasgan train dcgan_digits
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "dcgan_digits",
    "data": {
        "dataset": "digits",
        "image_size": 16,
    },
    "model": {
        "class": "DCGAN",
        "latent_dim": 32,
        "base_filters": 32,
    },
    "optimization": {
        "batch_size": 64,
        "epochs": 30,
        "steps_per_epoch": 22,
    },
    "run": {
        # fid_digits / kid_digits against the 359 held-out digits every 5 epochs
        # (the shipped classifier in saved_models/fid_digits).
        "eval_metrics": ["fid_digits", "kid_digits"],
        "eval_every": 5,
        "eval_metric_samples": 2000,
    },
}
SMOKE = {
    "epochs": 1,
    "steps_per_epoch": 2,
    "base_filters": 8,
    "batch_size": 16,
    "eval_samples": 64,
    "eval_every": 1,
    "eval_metric_samples": 200,
}

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
