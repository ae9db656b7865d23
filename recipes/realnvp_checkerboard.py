"""RealNVP (8 affine couplings, alternating halves) on the 2-D checkerboard.

python recipes/realnvp_checkerboard.py [--smoke] [--dry-run]
kerasgan train realnvp_checkerboard
"""

import sys

from kerasgan import training

CONFIG = {
    "name": "realnvp_checkerboard",
    "model": "realnvp",
    "dataset": "checkerboard",
    "flow_transforms": 8,
    "flow_hidden_units": [128, 128],
    "batch_size": 512,
    "epochs": 10,
    "steps_per_epoch": 500,
    "lr": 1e-3,
    "lr_decay": True,
}
SMOKE = dict(training.TOY_SMOKE, flow_transforms=2, flow_hidden_units=[16], eval_test_samples=2000)

if __name__ == "__main__":
    sys.exit(training.main(CONFIG, SMOKE, description=__doc__))
