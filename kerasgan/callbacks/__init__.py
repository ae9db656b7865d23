"""Keras callbacks for monitoring and protecting GAN and flow training."""

from kerasgan.callbacks.monitoring import (
    ImageGrid,
    LearningRateLogger,
    MetricsLogger,
    ModeCoverageCallback,
    SampleScatter,
    image_grid,
    scatter_png,
)
from kerasgan.callbacks.safety import DivergenceGuard, GoodCheckpoint, TrainingDiverged

__all__ = [
    "DivergenceGuard",
    "GoodCheckpoint",
    "ImageGrid",
    "LearningRateLogger",
    "MetricsLogger",
    "ModeCoverageCallback",
    "SampleScatter",
    "TrainingDiverged",
    "image_grid",
    "scatter_png",
]
