"""kerasgan: generative adversarial networks and normalizing flows for Keras 3.

Everything trainable is a ``keras.Model`` that trains with ``fit``, saves to
``.keras`` and exports a SavedModel that TF Serving can load.

Example:
    >>> import kerasgan
    >>> g = kerasgan.models.build_mlp_generator(latent_dim=2, output_dim=2)
    >>> d = kerasgan.models.build_mlp_discriminator(input_dim=2)
    >>> gan = kerasgan.GAN(g, d, latent_dim=2)
"""

import os

__version__ = "0.1.0"

# Keras picks its backend at first import; refuse anything but TensorFlow with a fix.
_backend = os.environ.get("KERAS_BACKEND", "tensorflow")
if _backend != "tensorflow":
    raise ImportError(
        "kerasgan needs the TensorFlow backend of Keras 3, but KERAS_BACKEND="
        f"{_backend!r}. Unset KERAS_BACKEND or run `export KERAS_BACKEND=tensorflow` "
        "before importing kerasgan."
    )
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":  # e.g. set in ~/.keras/keras.json
    raise ImportError(
        "kerasgan needs the TensorFlow backend of Keras 3, but Keras is using "
        f'{keras.backend.backend()!r}. Set `"backend": "tensorflow"` in '
        "~/.keras/keras.json or `export KERAS_BACKEND=tensorflow`."
    )

from kerasgan import (  # noqa: E402
    flows,
    gan,
    layers,
    losses,
    models,
    optimizers,
    regularizers,
)
from kerasgan.gan import (  # noqa: E402
    ACGAN,
    DCGAN,
    GAN,
    LSGAN,
    WGAN,
    WGANGP,
    ConditionalGAN,
    HingeGAN,
)

__all__ = [
    "ACGAN",
    "ConditionalGAN",
    "DCGAN",
    "GAN",
    "HingeGAN",
    "LSGAN",
    "WGAN",
    "WGANGP",
    "flows",
    "gan",
    "layers",
    "losses",
    "models",
    "optimizers",
    "regularizers",
    "__version__",
]
