"""DCGAN on MNIST 28x28 (tfds; needs the dataset prepared, see README "Data").

    python recipes/dcgan_mnist.py [--smoke] [--dry-run]
    kerasgan train dcgan_mnist

Offline and without a prepared MNIST, the run stops at once with a message
naming the offline datasets. ``--smoke`` runs the real tfds loading code on
``tfds.testing.mock_data`` (random images with MNIST's metadata), so the
recipe stays tested offline; its samples mean nothing.
"""

import sys

from kerasgan import runner

CONFIG = {
    "name": "dcgan_mnist",
    "data": {
        "dataset": "mnist",
        "image_size": 28,
    },
    "model": {
        "class": "DCGAN",
        "latent_dim": 100,
        "base_filters": 64,
    },
    "optimization": {
        "batch_size": 64,
        "epochs": 20,
        "steps_per_epoch": 937,
    },
}
SMOKE = {
    "epochs": 1,
    "steps_per_epoch": 2,
    "base_filters": 8,
    "batch_size": 16,
    "eval_samples": 64,
    "tfds_mock": True,
}

if __name__ == "__main__":
    sys.exit(runner.main(CONFIG, SMOKE, description=__doc__))
