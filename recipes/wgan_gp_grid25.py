"""WGAN-GP on grid25 (25 Gaussians on {-4,-2,0,2,4}^2, sigma 0.05).

python recipes/wgan_gp_grid25.py [--smoke] [--dry-run]
kerasgan train wgan_gp_grid25
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "wgan_gp_grid25",
    "data": {
        "dataset": "grid25",
    },
    "model": {
        "class": "WGANGP",
        "latent_dim": 2,
        "g_hidden_units": [400, 400, 400, 400],
        "g_batch_norm": True,
        "d_hidden_units": [256, 256, 256],
    },
    "optimization": {
        # WGAN-GP defaults: lambda 10, n_critic 5; Adam betas (0.5, 0.9), lr decayed to 0.
        "batch_size": 256,
        "epochs": 4,
        "steps_per_epoch": 500,
        "steps_per_execution": 50,
        "g_lr": 2e-4,
        "d_lr": 2e-4,
        "beta_1": 0.5,
        "beta_2": 0.9,
        "lr_decay": True,
    },
}
SMOKE = runner.TOY_SMOKE

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
