"""Non-saturating GAN on ring8 (8 Gaussians on the unit circle, sigma 0.01).

python recipes/gan_ring8.py [--smoke] [--dry-run]
kerasgan train gan_ring8
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "gan_ring8",
    "data": {
        "dataset": "ring8",
    },
    "model": {
        "class": "GAN",
        "latent_dim": 2,
        # PacGAN's toy architecture: G 4x400 ReLU + batch norm, D 3x200.
        "g_hidden_units": [400, 400, 400, 400],
        "g_batch_norm": True,
        "d_hidden_units": [200, 200, 200],
    },
    "optimization": {
        "batch_size": 256,
        "epochs": 10,
        "steps_per_epoch": 2000,
        "steps_per_execution": 50,
        # Adam(2e-4, beta_1=0.5), decayed linearly to 0: the decay sharpens the modes.
        "g_lr": 2e-4,
        "d_lr": 2e-4,
        "lr_decay": True,
    },
}
SMOKE = runner.TOY_SMOKE

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
