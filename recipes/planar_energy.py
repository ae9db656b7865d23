"""Planar flow (32 layers) fit to the ring energy U1 of Rezende and Mohamed (2015) by reverse KL.

The flow samples z ~ N(0, I), maps it through the layers and scores its own
samples; the loss is E_q[log q(x) + U(x)] = KL(q || p) - log Z. The run prints
KL(q || p) with log Z computed by quadrature. Other targets: "energy": "u2".."u4".

python recipes/planar_energy.py [--smoke] [--dry-run]
kerasgan train planar_energy
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "planar_energy",
    "model": {
        "family": "planar",
        "energy": "u1",
        "flow_transforms": 32,
    },
    "loss": {
        # beta annealing of the energy over the first half (Rezende and Mohamed): without it the
        # flow settled on one of U1's two lobes (KL 0.70 = log 2); with it KL 0.007.
        "anneal_steps": 2500,
    },
    "optimization": {
        "batch_size": 256,
        "epochs": 10,
        "steps_per_epoch": 500,
        "lr": 1e-2,
        "lr_decay": True,
        "clipnorm": 10.0,
    },
}
SMOKE = dict(runner.TOY_SMOKE, flow_transforms=4, eval_test_samples=2000, anneal_steps=2)

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
