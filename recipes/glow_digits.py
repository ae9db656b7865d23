"""Glow (2 levels x 4 steps, Conv3x3-Conv1x1-Conv3x3 couplings) on the offline 8x8 digits.

Maximum likelihood on uniformly dequantized images (17 grey levels), logit
transform first; reports bits/dim on the held-out test split.

python recipes/glow_digits.py [--smoke] [--dry-run]
kerasgan train glow_digits
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "glow_digits",
    "data": {
        "dataset": "digits",
    },
    "model": {
        "family": "glow",
        "flow_levels": 2,
        "flow_steps_per_level": 4,
        "flow_hidden_units": [64, 64],
    },
    "optimization": {
        "batch_size": 64,
        "epochs": 20,
        "steps_per_epoch": 200,
        "lr": 1e-3,
        "lr_decay": True,
        "clipnorm": 5.0,
    },
    "run": {
        "eval_samples": 64,
        # Sample quality as well as likelihood: fid_digits / kid_digits of 2,000 samples
        # (8x8, resized by the classifier) against the 359 held-out digits every 5 epochs.
        "eval_metrics": ["fid_digits", "kid_digits"],
        "eval_every": 5,
        "eval_metric_samples": 2000,
    },
}
SMOKE = {
    "epochs": 1,
    "steps_per_epoch": 3,
    "flow_steps_per_level": 1,
    "flow_hidden_units": [8],
    "dequantize_draws": 1,
    "eval_samples": 16,
    "eval_every": 1,
    "eval_metric_samples": 100,
}

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
