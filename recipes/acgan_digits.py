"""AC-GAN on the offline digits (16x16): a discriminator with a source head and a class
head; D maximizes L_S + L_C, G maximizes L_C - L_S (Odena et al., 2017), here with D's
class loss on real digits only.

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
        # The class loss's weight in both players' losses (1 in the paper). Lower weights
        # leave less room for G to please the class head with texture instead of shape
        # (12,000 steps: fid_digits 41.3 at 1.0, 40.3 at 0.5, 38.3 at 0.3).
        "aux_weight": 0.3,
        # D's class head learns from real digits only: taught on early fakes, it passes
        # their artifacts on to G (8,000 steps: fid_digits 44.7 without; 48.8 and 48.9 with
        # it at aux_weight 0.5 and 0.2).
        "aux_fake_in_discriminator": False,
        "pair": "hinge",  # the source head's loss pair
    },
    "optimization": {
        "g_lr": 2e-4,
        "d_lr": 2e-4,
        "beta_1": 0.0,
        "beta_2": 0.9,
        "batch_size": 64,
        "epochs": 120,
        "steps_per_epoch": 100,
        # Both learning rates decay linearly to 0: the last iterate's quality swings by
        # several fid_digits points from epoch to epoch without it.
        "lr_decay": True,
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
