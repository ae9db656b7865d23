"""MAF (5 MADE layers, alternating orders) on two moons, by maximum likelihood.

python recipes/maf_moons.py [--smoke] [--dry-run]
kerasgan train maf_moons
"""

import sys

from kerasgan import training

CONFIG = {
    "name": "maf_moons",
    "model": "maf",
    "dataset": "two_moons",
    "flow_transforms": 5,
    "flow_hidden_units": [128, 128],
    "batch_size": 512,
    "epochs": 10,
    "steps_per_epoch": 500,
    "lr": 2e-3,
    "lr_decay": True,
}
SMOKE = dict(training.TOY_SMOKE, flow_transforms=2, flow_hidden_units=[16], eval_test_samples=2000)

if __name__ == "__main__":
    sys.exit(training.main(CONFIG, SMOKE, description=__doc__))
