"""Probability density distillation: a MAF teacher fit to gauss3, then an IAF student.

The teacher (5 MAF layers) is trained by maximum likelihood on gauss3 (three
unequal Gaussians with an exact density, so the teacher's own KL is reported
too). The student (5 IAF layers, same sizes) is warm-started by maximum
likelihood on teacher samples (reverse KL alone collapsed onto one component:
KL 1.2 nats = -log 0.3), then minimizes KL(student || teacher) on its own
samples. The run prints the final KL and how much faster the student samples.

python recipes/distill_maf_to_iaf.py [--smoke] [--dry-run]
kerasgan train distill_maf_to_iaf
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "distill_maf_to_iaf",
    "data": {
        "dataset": "gauss3",
    },
    "model": {
        "class": "distill",
        "flow_transforms": 5,
        "flow_hidden_units": [64, 64],
    },
    "optimization": {
        "batch_size": 512,
        "epochs": 8,
        "student_epochs": 8,
        "steps_per_epoch": 500,
        "lr": 2e-3,
        "lr_decay": True,
        "clipnorm": 1.0,
        "warm_start_epochs": 4,
    },
}
SMOKE = dict(
    runner.TOY_SMOKE,
    flow_transforms=2,
    flow_hidden_units=[16],
    student_epochs=1,
    warm_start_epochs=1,
    eval_test_samples=2000,
)

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
