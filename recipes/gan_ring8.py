"""Non-saturating GAN on ring8 (8 Gaussians on the unit circle, sigma 0.01).

python recipes/gan_ring8.py [--smoke] [--dry-run]
kerasgan train gan_ring8
"""

import sys

from kerasgan import training

CONFIG = {
    "name": "gan_ring8",
    "model": "gan",
    "dataset": "ring8",
    "latent_dim": 2,
    "g_hidden_units": [400, 400, 400],
    "d_hidden_units": [200, 200, 200],
    "batch_size": 256,
    "epochs": 20,
    "steps_per_epoch": 500,
    "g_lr": 1e-4,
    "d_lr": 1e-4,
}
SMOKE = {"epochs": 1, "steps_per_epoch": 5, "eval_samples": 500, "num_train_samples": 2000}

if __name__ == "__main__":
    sys.exit(training.main(CONFIG, SMOKE, description=__doc__))
