"""Normalizing flows: Keras 3 layers own the variables, TFP bijectors own the math.

Laid out by mechanism: :mod:`~kerasgan.flows.base` (``FlowLayer``),
:mod:`~kerasgan.flows.bijectors` (the TFP maths TFP lacks),
:mod:`~kerasgan.flows.autoregressive`, :mod:`~kerasgan.flows.coupling`,
:mod:`~kerasgan.flows.linear`, :mod:`~kerasgan.flows.normalization`,
:mod:`~kerasgan.flows.residual`, :mod:`~kerasgan.flows.image`,
:mod:`~kerasgan.flows.conditioners`, :mod:`~kerasgan.flows.families` (builders and
their name registry), :mod:`~kerasgan.flows.model` (``FlowModel``),
:mod:`~kerasgan.flows.distillation`, :mod:`~kerasgan.flows.targets`,
:mod:`~kerasgan.flows.preprocessing`.
"""

from kerasgan.flows.autoregressive import IAF, MAF, NeuralSplineAutoregressive
from kerasgan.flows.base import FlowLayer, soft_clip
from kerasgan.flows.conditioners import (
    MADE,
    CouplingCNN,
    CouplingMLP,
    MaskedDense,
    made_degrees,
    made_masks,
)
from kerasgan.flows.coupling import (
    AdditiveCoupling,
    AffineCoupling,
    CheckerboardCoupling,
    NeuralSplineCoupling,
)
from kerasgan.flows.distillation import DensityDistiller
from kerasgan.flows.families import glow, glow_step, realnvp_image
from kerasgan.flows.image import MultiScale, Squeeze, checkerboard_mask
from kerasgan.flows.linear import InvertibleLinear, Permute
from kerasgan.flows.model import FlowModel
from kerasgan.flows.normalization import ActNorm, BatchNorm
from kerasgan.flows.preprocessing import LogitTransform, bits_per_dim, dequantize
from kerasgan.flows.residual import Planar, Radial
from kerasgan.flows.targets import EnergyTarget, energy_names, potential

__all__ = [
    "BatchNorm",
    "CheckerboardCoupling",
    "CouplingCNN",
    "MultiScale",
    "Squeeze",
    "checkerboard_mask",
    "glow",
    "realnvp_image",
    "LogitTransform",
    "bits_per_dim",
    "dequantize",
    "ActNorm",
    "InvertibleLinear",
    "glow_step",
    "IAF",
    "MADE",
    "MAF",
    "AdditiveCoupling",
    "AffineCoupling",
    "CouplingMLP",
    "DensityDistiller",
    "EnergyTarget",
    "FlowLayer",
    "FlowModel",
    "MaskedDense",
    "NeuralSplineAutoregressive",
    "NeuralSplineCoupling",
    "Permute",
    "Planar",
    "Radial",
    "energy_names",
    "made_degrees",
    "made_masks",
    "potential",
    "soft_clip",
]
