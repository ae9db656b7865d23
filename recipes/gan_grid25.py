"""Non-saturating GAN with a zero-centred gradient penalty on grid25: the demo job.

25 Gaussians on {-4,-2,0,2,4}^2, sigma 0.05 (the PacGAN benchmark).

python recipes/gan_grid25.py [--smoke] [--dry-run]
kerasgan train gan_grid25
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "gan_grid25",
    "data": {
        "dataset": "grid25",
    },
    "model": {
        "class": "GAN",
        "latent_dim": 2,
        # PacGAN's toy architecture: G 4x400 ReLU + batch norm, D 3x200.
        "g_hidden_units": [400, 400, 400, 400],
        "g_batch_norm": True,
        "d_hidden_units": [200, 200, 200],
    },
    "loss": {
        # Zero-centred gradient penalty on interpolates (Thanh-Tung, Tran and
        # Venkatesh 2019): keeps D smooth between modes, so G keeps all 25.
        "gp_weight": 10.0,
        "gp_target": 0.0,
    },
    "optimization": {
        "batch_size": 256,
        "epochs": 30,
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
