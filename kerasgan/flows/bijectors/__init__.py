"""The maths of the flow layers that TFP lacks, as ``tfb.Bijector`` subclasses and builders.

Pure TFP: no Keras variables are created here (a flow layer owns them and
passes tensors, or itself for batch normalization). One small module per
mechanism: squeeze, checkerboard (masked affine coupling), factor-out
(channel split), planar, radial, spline, batch norm; :func:`memo` shares a
network call between a transform and its log-det.
"""

from kerasgan.flows.bijectors.batch_norm import BatchNormBijector
from kerasgan.flows.bijectors.checkerboard import MaskedAffineBijector
from kerasgan.flows.bijectors.factor_out import ChannelSplitBijector
from kerasgan.flows.bijectors.memo import memo
from kerasgan.flows.bijectors.planar import PlanarBijector
from kerasgan.flows.bijectors.radial import RadialBijector
from kerasgan.flows.bijectors.spline import spline_bijector
from kerasgan.flows.bijectors.squeeze import SqueezeBijector, apply_to_images

__all__ = [
    "BatchNormBijector",
    "ChannelSplitBijector",
    "MaskedAffineBijector",
    "PlanarBijector",
    "RadialBijector",
    "SqueezeBijector",
    "apply_to_images",
    "memo",
    "spline_bijector",
]
