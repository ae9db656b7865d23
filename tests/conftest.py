"""Shared test set-up: quiet TensorFlow, two logical CPU devices, seeds.

Logical devices must be configured before TensorFlow initializes its devices,
so this runs at import time of the test session, before any test module.
"""

import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

# Subprocesses (CLI runs, SIGKILL fault injection) write their temporary files, TF's
# __autograph_generated_file*.py among them, under one directory removed when the session
# ends: a killed process never runs the atexit hook that would delete them. This process
# already fixed its own temp dir (mkdtemp calls gettempdir before TMPDIR changes).
_SUBPROCESS_TMP = tempfile.mkdtemp(prefix="kerasgan-tests-")
os.environ["TMPDIR"] = _SUBPROCESS_TMP

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
except RuntimeError:  # devices already initialized by an earlier import
    pass

import keras  # noqa: E402

LOGICAL_CPUS = ["/cpu:0", "/cpu:1"]


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def two_cpu_strategy():
    # One strategy per session: several MirroredStrategy objects in a process
    # were seen to mix up their collective instances (shape mismatch aborts).
    if len(tf.config.list_logical_devices("CPU")) < 2:
        raise RuntimeError("conftest failed to create two logical CPU devices")
    return tf.distribute.MirroredStrategy(LOGICAL_CPUS)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SUBPROCESS_TMP, ignore_errors=True)
