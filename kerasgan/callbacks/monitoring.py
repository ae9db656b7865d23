"""Monitoring callbacks: sample plots and image grids in TensorBoard, metrics.jsonl."""

from __future__ import annotations

import io
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "ImageGrid",
    "LearningRateLogger",
    "MetricsLogger",
    "ModeCoverageCallback",
    "SampleScatter",
    "image_grid",
    "scatter_png",
]


def _to_python(value):
    value = np.asarray(value)
    if value.size == 1:
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # JSON has no NaN/Inf
        return value
    return value.tolist()


class MetricsLogger(keras.callbacks.Callback):
    """Appends one JSON object per epoch (``{"epoch": e, **logs}``) to a file.

    Args:
        path: the ``metrics.jsonl`` file (parent directories are created).

    Example:
        >>> cb = MetricsLogger("/tmp/kerasgan_doc/metrics.jsonl")
    """

    def __init__(self, path):
        super().__init__()
        self.path = str(path)

    def on_train_begin(self, logs=None):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": int(epoch) + 1}
        record.update({k: _to_python(v) for k, v in (logs or {}).items()})
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def scatter_png(samples, modes=None, reference=None, title=None, limits=None) -> bytes:
    """Renders a 2-D scatter of samples (over true modes / reference data) as PNG bytes.

    Args:
        samples: ``[N, 2]`` generated points.
        modes: optional ``[K, 2]`` true mode centres (drawn as red crosses).
        reference: optional ``[M, 2]`` real data (drawn in grey under the samples).
        title: optional title.
        limits: optional ``(lo, hi)`` for both axes.

    Returns:
        PNG-encoded bytes.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    samples = np.asarray(samples)
    fig = Figure(figsize=(4, 4), dpi=80)
    ax = fig.add_subplot(1, 1, 1)
    if reference is not None:
        reference = np.asarray(reference)
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.7", label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", alpha=0.6, label="samples")
    if modes is not None:
        modes = np.asarray(modes)
        ax.scatter(modes[:, 0], modes[:, 1], s=40, c="red", marker="x", label="modes")
    if limits is not None:
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _auto_limits(points):
    lo, hi = float(np.min(points)), float(np.max(points))
    pad = 0.1 * max(hi - lo, 1e-3)
    return lo - pad, hi + pad


class SampleScatter(keras.callbacks.Callback):
    """Logs a scatter plot of generated 2-D samples to TensorBoard every epoch.

    The tag is ``samples/scatter``; the image is written to
    ``log_dir/samples``. Latents are fixed (seeded) so frames are comparable.

    Args:
        log_dir: the run's TensorBoard directory.
        modes: optional ``[K, 2]`` true modes to draw.
        reference: optional real samples to draw.
        num_samples: points per plot.
        seed: latent seed.
        every: log every ``every`` epochs.

    Example:
        >>> cb = SampleScatter("/tmp/kerasgan_doc/tb", modes=[[0.0, 0.0]])
    """

    def __init__(self, log_dir, modes=None, reference=None, num_samples=1000, seed=0, every=1):
        super().__init__()
        self.log_dir = os.path.join(str(log_dir), "samples")
        self.modes = None if modes is None else np.asarray(modes)
        self.reference = None if reference is None else np.asarray(reference)[:num_samples]
        self.num_samples = int(num_samples)
        self.seed = seed
        self.every = int(every)
        self._writer = None
        ref = self.modes if self.modes is not None else self.reference
        self.limits = None if ref is None else _auto_limits(ref)

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.log_dir)
        # GANs: fixed latents through generate(); flows (no latent_dim): a fixed sampler seed.
        self._z = None
        if hasattr(self.model, "latent_dim") and hasattr(self.model, "generate"):
            self._z = (
                np.random.default_rng(self.seed)
                .standard_normal((self.num_samples, self.model.latent_dim))
                .astype("float32")
            )

    def _samples(self):
        if self._z is not None:
            return self.model.generate(self._z)
        return np.asarray(self.model.sample(self.num_samples, seed=self.seed))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        samples = self._samples()
        limits = self.limits or _auto_limits(samples)
        png = scatter_png(samples, self.modes, self.reference, f"epoch {epoch + 1}", limits)
        image = tf.image.decode_png(png, channels=3)[tf.newaxis]
        with self._writer.as_default():
            tf.summary.image("samples/scatter", image, step=epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def image_grid(images, rows=None) -> np.ndarray:
    """Tiles ``[N, H, W, C]`` images in ``[-1, 1]`` into one uint8 ``[H', W', C]`` grid."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    rows = rows or int(math.ceil(math.sqrt(n)))
    cols = int(math.ceil(n / rows))
    grid = np.full((rows * h, cols * w, c), -1.0, dtype="float32")
    for i in range(n):
        r, col = divmod(i, cols)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = images[i]
    return np.clip((grid + 1.0) * 127.5, 0, 255).round().astype("uint8")


class ImageGrid(keras.callbacks.Callback):
    """Logs a grid of images generated from fixed latents to TensorBoard.

    GANs: ``generate`` on fixed latents (images in ``[-1, 1]``); image flows:
    ``sample`` with a fixed seed (images in ``[0, 1]``).

    The tag is ``samples/grid``; written to ``log_dir/samples``.

    Args:
        log_dir: the run's TensorBoard directory.
        num_images: images in the grid.
        seed: latent seed (fixed across epochs).
        every: log every ``every`` epochs.

    Example:
        >>> cb = ImageGrid("/tmp/kerasgan_doc/tb", num_images=16)
    """

    def __init__(self, log_dir, num_images=64, seed=0, every=1):
        super().__init__()
        self.log_dir = os.path.join(str(log_dir), "samples")
        self.num_images = int(num_images)
        self.seed = seed
        self.every = int(every)
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.log_dir)
        self._z = None
        if hasattr(self.model, "latent_dim"):
            self._z = (
                np.random.default_rng(self.seed)
                .standard_normal((self.num_images, self.model.latent_dim))
                .astype("float32")
            )

    def _images(self):
        if self._z is not None:  # a GAN: fixed latents
            return self.model.generate(self._z)
        # A flow on data in [0, 1]: fixed noise through the sampler's seed.
        x = np.asarray(self.model.sample(self.num_images, seed=self.seed))
        return np.clip(x, 0.0, 1.0) * 2.0 - 1.0

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        grid = image_grid(self._images())
        with self._writer.as_default():
            tf.summary.image("samples/grid", grid[np.newaxis], step=epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


class ModeCoverageCallback(keras.callbacks.Callback):
    """Adds mode-coverage figures (``modes``, ``hq_percent``, ``reverse_kl``) to the epoch logs.

    Place it before ``TensorBoard`` and :class:`MetricsLogger` in the callback
    list so that they record the figures.

    Args:
        modes: ``[K, 2]`` true modes.
        std: the mixture's component standard deviation.
        num_samples: samples per evaluation (2,500 in the PacGAN protocol).
        seed: latent seed.
        every: evaluate every ``every`` epochs.

    Example:
        >>> cb = ModeCoverageCallback([[0.0, 0.0]], std=0.05)
    """

    def __init__(self, modes, std, num_samples=2500, seed=0, every=1):
        super().__init__()
        self.modes = np.asarray(modes)
        self.std = float(std)
        self.num_samples = int(num_samples)
        self.seed = seed
        self.every = int(every)
        self.last = None

    def on_epoch_end(self, epoch, logs=None):
        from kerasgan.metrics.mode_coverage import mode_coverage

        if (epoch + 1) % self.every:
            return
        samples = self.model.sample(self.num_samples, seed=self.seed)
        if not np.all(np.isfinite(samples)):
            return  # the divergence guard reports this
        self.last = mode_coverage(samples, self.modes, self.std)
        if logs is not None:
            d = self.last.as_dict()
            logs["modes"] = float(d["modes"])
            logs["hq_percent"] = float(d["hq_percent"])
            logs["reverse_kl"] = float(d["reverse_kl"])


class LearningRateLogger(keras.callbacks.Callback):
    """Adds each optimizer's current learning rate (``g_lr``, ``d_lr``) to the epoch logs.

    ``keras.callbacks.TensorBoard`` only logs ``model.optimizer``, which a GAN
    does not use; place this callback before it.

    Example:
        >>> cb = LearningRateLogger()
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("g", "d"):
            optimizer = getattr(self.model, f"{prefix}_optimizer", None)
            if optimizer is not None:
                logs[f"{prefix}_lr"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
