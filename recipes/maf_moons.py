"""MAF (5 MADE layers, alternating orders) on two moons, by maximum likelihood.

python recipes/maf_moons.py [--smoke] [--dry-run]
kerasgan train maf_moons
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "maf_moons",
    "data": {
        "dataset": "two_moons",
    },
    "model": {
        "family": "maf",
        "flow_transforms": 5,
        "flow_hidden_units": [128, 128],
    },
    "optimization": {
        "batch_size": 512,
        "epochs": 10,
        "steps_per_epoch": 500,
        "lr": 2e-3,
        "lr_decay": True,
    },
}
SMOKE = dict(runner.TOY_SMOKE, flow_transforms=2, flow_hidden_units=[16], eval_test_samples=2000)

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
