"""Normalizing flows: Keras 3 layers owning the variables, TFP bijectors owning the math."""

from kerasgan.flows.batch_norm import BatchNorm
from kerasgan.flows.conditioners import (
    MADE,
    CouplingCNN,
    CouplingMLP,
    MaskedDense,
    made_degrees,
    made_masks,
)
from kerasgan.flows.distillation import DensityDistiller
from kerasgan.flows.flow_model import FlowModel
from kerasgan.flows.glow import ActNorm, InvertibleLinear, glow_step
from kerasgan.flows.image import (
    CheckerboardCoupling,
    MultiScale,
    Squeeze,
    checkerboard_mask,
    glow,
    realnvp_image,
)
from kerasgan.flows.layers import (
    IAF,
    MAF,
    AdditiveCoupling,
    AffineCoupling,
    FlowLayer,
    NeuralSplineAutoregressive,
    NeuralSplineCoupling,
    Permute,
    soft_clip,
)
from kerasgan.flows.planar_radial import EnergyTarget, Planar, Radial, energy_names, potential
from kerasgan.flows.preprocessing import LogitTransform, bits_per_dim, dequantize

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
