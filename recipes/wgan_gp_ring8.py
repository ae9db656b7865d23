"""WGAN-GP on ring8 (8 Gaussians on the unit circle, sigma 0.01).

python recipes/wgan_gp_ring8.py [--smoke] [--dry-run]
kerasgan train wgan_gp_ring8
"""

import sys

from kerasgan import training

CONFIG = {
    "name": "wgan_gp_ring8",
    "model": "wgan_gp",
    "dataset": "ring8",
    "latent_dim": 2,
    "g_hidden_units": [256, 256, 256],
    "d_hidden_units": [256, 256, 256],
    "batch_size": 256,
    "epochs": 20,
    "steps_per_epoch": 200,
}
SMOKE = {"epochs": 1, "steps_per_epoch": 3, "eval_samples": 500, "num_train_samples": 2000}

if __name__ == "__main__":
    sys.exit(training.main(CONFIG, SMOKE, description=__doc__))
