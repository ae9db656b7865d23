"""Conditional GAN on the offline digits (16x16): projection discriminator, hinge loss,
spectral norm, class-conditional batch norm in the generator.

python recipes/cgan_digits.py [--smoke] [--dry-run]
kerasgan train cgan_digits
kerasgan sample saved_models/cgan_digits --label 3 -n 64 -o three.png
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "cgan_digits",
    "data": {
        "dataset": "digits",  # (images, labels); 10 classes
        "image_size": 16,
    },
    "model": {
        "class": "ConditionalGAN",
        "latent_dim": 64,
        "base_filters": 32,
        "d_mode": "projection",  # logit = psi(phi(x)) + <embed(y), phi(x)>
        "conditional_batch_norm": True,
        "d_spectral_norm": True,
    },
    "loss": {
        "pair": "hinge",
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
