"""Normalizing flows: Keras 3 layers owning the variables, TFP bijectors owning the math."""

from kerasgan.flows.conditioners import MADE, CouplingMLP, MaskedDense, made_degrees, made_masks
from kerasgan.flows.distillation import DensityDistiller
from kerasgan.flows.flow_model import FlowModel
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

__all__ = [
    "IAF",
    "MADE",
    "MAF",
    "AdditiveCoupling",
    "AffineCoupling",
    "CouplingMLP",
    "DensityDistiller",
    "FlowLayer",
    "FlowModel",
    "MaskedDense",
    "NeuralSplineAutoregressive",
    "NeuralSplineCoupling",
    "Permute",
    "made_degrees",
    "made_masks",
    "soft_clip",
]
