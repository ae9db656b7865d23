"""kerasgan: GANs and normalizing flows for Keras 3 / TensorFlow."""

import pathlib
import re

from setuptools import find_packages, setup

here = pathlib.Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"', (here / "kerasgan" / "__init__.py").read_text()).group(1)

setup(
    name="kerasgan",
    version=version,
    description="Generative adversarial networks and normalizing flows for Keras 3 / TensorFlow",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["kerasgan", "kerasgan.*"]),
    install_requires=[
        "tensorflow==2.21.*",
        "tf-keras==2.21.*",
        "keras>=3.15,<3.16",
        "tensorflow-probability==0.25.*",
        "tensorflow-datasets>=4.9.10",
        "importlib-resources",
        "tensorboard==2.21.*",
        "numpy>=2.0,<2.4",
        "scipy",
        "matplotlib",
        "starlette==1.10.*",
        "uvicorn==0.54.*",
        "httptools>=0.6",
        "uvloop==0.23.*",
        "orjson==3.13.*",
    ],
    extras_require={
        # scikit-learn ships the offline 8x8 digits used by `kerasgan.data.images.digits`.
        "data": ["scikit-learn"],
        "dev": ["scikit-learn", "pytest", "ruff"],
    },
    # A script, not a console-script entry point: `kerasgan --help` answers without
    # importing TensorFlow (see kerasgan/bin/kerasgan).
    scripts=["kerasgan/bin/kerasgan"],
)
