"""Former home of the adversarial models, kept so that ``kerasgan.models.X`` keeps working.

The models are in :mod:`kerasgan.gan` (one file per variant) and the network builders in
:mod:`kerasgan.gan.networks`; this module only re-exports their public names.
"""

from kerasgan.gan import *  # noqa: F403
from kerasgan.gan import __all__ as _gan_all

__all__ = [name for name in _gan_all if name not in ("layers", "networks")]
