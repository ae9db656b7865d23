"""Package-level behaviour: backend check, public API."""

import os
import subprocess
import sys

import kerasgan


def test_import_refuses_non_tensorflow_backend():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", "import kerasgan"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "KERAS_BACKEND='jax'" in proc.stderr and "export KERAS_BACKEND=tensorflow" in proc.stderr


def test_public_api():
    for name in kerasgan.__all__:
        assert hasattr(kerasgan, name), name
    assert kerasgan.__version__
