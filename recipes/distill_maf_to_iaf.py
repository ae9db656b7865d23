"""Probability density distillation: a MAF teacher fit to two moons, then an IAF student.

The teacher (5 MAF layers) is trained by maximum likelihood; the student (5 IAF
layers, same sizes) minimizes KL(student || teacher) on its own samples. The
run prints the final KL and how much faster the student samples.

python recipes/distill_maf_to_iaf.py [--smoke] [--dry-run]
kerasgan train distill_maf_to_iaf
"""

import sys

from kerasgan import training

CONFIG = {
    "name": "distill_maf_to_iaf",
    "model": "distill",
    "dataset": "two_moons",
    "flow_transforms": 5,
    "flow_hidden_units": [64, 64],
    "batch_size": 512,
    "epochs": 8,
    "student_epochs": 8,
    "steps_per_epoch": 500,
    "lr": 2e-3,
    "lr_decay": True,
    "clipnorm": 1.0,
}
SMOKE = dict(
    training.TOY_SMOKE,
    flow_transforms=2,
    flow_hidden_units=[16],
    student_epochs=1,
    eval_test_samples=2000,
)

if __name__ == "__main__":
    sys.exit(training.main(CONFIG, SMOKE, description=__doc__))
