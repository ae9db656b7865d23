"""Keras callbacks for monitoring and protecting GAN and flow training."""

from kerasgan.callbacks.evaluation import EvaluationCallback
from kerasgan.callbacks.monitoring import (
    DensityHeatmap,
    ImageGrid,
    LearningRateLogger,
    MetricsLogger,
    ModeCoverageCallback,
    SampleScatter,
    density_image,
    image_grid,
    scatter_png,
)
from kerasgan.callbacks.resume import (
    BackupError,
    ResumableBackup,
    RunProgbar,
    find_backups,
    read_backup_state,
)
from kerasgan.callbacks.safety import DivergenceGuard, GoodCheckpoint, TrainingDiverged

__all__ = [
    "DensityHeatmap",
    "DivergenceGuard",
    "EvaluationCallback",
    "GoodCheckpoint",
    "ImageGrid",
    "LearningRateLogger",
    "MetricsLogger",
    "ModeCoverageCallback",
    "BackupError",
    "ResumableBackup",
    "RunProgbar",
    "SampleScatter",
    "TrainingDiverged",
    "density_image",
    "image_grid",
    "find_backups",
    "read_backup_state",
    "scatter_png",
]
