"""RealNVP (8 affine couplings, alternating halves) on the 2-D checkerboard.

python recipes/realnvp_checkerboard.py [--smoke] [--dry-run]
kerasgan train realnvp_checkerboard
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "realnvp_checkerboard",
    "data": {
        "dataset": "checkerboard",
    },
    "model": {
        "family": "realnvp",
        "flow_transforms": 8,
        "flow_hidden_units": [128, 128],
    },
    "optimization": {
        "batch_size": 512,
        "epochs": 10,
        "steps_per_epoch": 500,
        "lr": 1e-3,
        "lr_decay": True,
    },
}
SMOKE = dict(runner.TOY_SMOKE, flow_transforms=2, flow_hidden_units=[16], eval_test_samples=2000)

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
