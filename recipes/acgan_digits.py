"""AC-GAN on the offline digits (16x16): a discriminator with a source head and a class
head; D maximizes L_S + L_C, G maximizes L_C - L_S (Odena et al., 2017).

python recipes/acgan_digits.py [--smoke] [--dry-run]
kerasgan train acgan_digits
kerasgan sample saved_models/acgan_digits --label 7 -n 64 -o seven.png
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "acgan_digits",
    "data": {
        "dataset": "digits",  # (images, labels); 10 classes
        "image_size": 16,
    },
    "model": {
        "class": "ACGAN",
        "latent_dim": 64,
        "base_filters": 32,
        "conditional_batch_norm": True,
        "d_spectral_norm": True,
    },
    "loss": {
        "aux_weight": 1.0,  # the class loss's weight in both players' losses
        "pair": "hinge",  # the source head's loss pair
    },
    "optimization": {
        "g_lr": 2e-4,
        "d_lr": 2e-4,
        "beta_1": 0.0,
        "beta_2": 0.9,
        "batch_size": 64,
        "epochs": 60,
        "steps_per_epoch": 100,
    },
    "run": {
        "eval_metrics": ["fid_digits"],
        "eval_every": 20,
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
