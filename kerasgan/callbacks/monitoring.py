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
    "DensityHeatmap",
    "ImageGrid",
    "LearningRateLogger",
    "MetricsLogger",
    "ModeCoverageCallback",
    "SampleScatter",
    "density_image",
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


def image_grid(images, rows=None, pad=0) -> np.ndarray:
    """Tiles ``[N, H, W, C]`` images in ``[-1, 1]`` into one uint8 ``[H', W', C]`` grid.

    Args:
        images: ``[N, H, W, C]`` in ``[-1, 1]``.
        rows: number of rows (default: a square-ish grid).
        pad: pixels of mid-grey between the images (0: none).

    Returns:
        uint8 ``[rows * (H + pad) - pad, cols * (W + pad) - pad, C]``.
    """
    images = np.asarray(images)
    n, h, w, c = images.shape
    rows = rows or int(math.ceil(math.sqrt(n)))
    cols = int(math.ceil(n / rows))
    fill = 0.0 if pad else -1.0  # grey separators; no padding: empty cells black
    grid = np.full(
        (rows * (h + pad) - pad, cols * (w + pad) - pad, c), fill, dtype="float32"
    )
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = r * (h + pad), col * (w + pad)
        grid[top : top + h, left : left + w] = images[i]
    return np.clip((grid + 1.0) * 127.5, 0, 255).round().astype("uint8")


class ImageGrid(keras.callbacks.Callback):
    """Logs a grid of images generated from fixed latents to TensorBoard.

    GANs: ``generate`` on fixed latents (images in ``[-1, 1]``); conditional
    GANs: one row per class, the same latents in every row (so a column shows
    one latent across the classes); image flows: ``sample`` with a fixed seed
    (images in ``[0, 1]``).

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
        self._labels = None
        classes = getattr(self.model, "num_classes", None)
        if hasattr(self.model, "latent_dim"):
            rng = np.random.default_rng(self.seed)
            if classes:
                per_row = max(1, self.num_images // classes)
                z = rng.standard_normal((per_row, self.model.latent_dim)).astype("float32")
                self._z = np.tile(z, (classes, 1))
                self._labels = np.repeat(np.arange(classes), per_row)
            else:
                self._z = rng.standard_normal((self.num_images, self.model.latent_dim))
                self._z = self._z.astype("float32")

    def _rows(self):
        return None if self._labels is None else int(self._labels.max()) + 1

    def _images(self):
        if self._labels is not None:  # a conditional GAN: one row per class
            return self.model.generate(self._z, labels=self._labels)
        if self._z is not None:  # a GAN: fixed latents
            return self.model.generate(self._z)
        # A flow on data in [0, 1]: fixed noise through the sampler's seed.
        x = np.asarray(self.model.sample(self.num_images, seed=self.seed))
        return np.clip(x, 0.0, 1.0) * 2.0 - 1.0

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        rows = self._rows()
        grid = image_grid(self._images(), rows=rows, pad=2 if rows else 0)
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
    """Adds each player's learning rate (``g_lr``, ``d_lr``, ...) to the epoch logs.

    ``keras.callbacks.TensorBoard`` only logs ``model.optimizer``, which a GAN
    does not use; place this callback before it.

    Example:
        >>> cb = LearningRateLogger()
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        players = getattr(self.model, "players", None)
        optimizers = getattr(self.model, "optimizers", None)
        if not isinstance(players, dict) or not isinstance(optimizers, dict):
            return
        for player, optimizer in optimizers.items():
            prefix = players[player][1]
            logs[f"{prefix}_lr"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def density_image(log_prob_fn, limits, resolution=128, log_range=12.0, cmap="viridis"):
    """Colour image of a 2-D (log-)density on a square grid, ``uint8 [resolution, resolution, 3]``.

    The colour is the log-density relative to its maximum over the grid,
    ``c = clip((log p(x) - max log p + log_range) / log_range, 0, 1)``: a log
    scale, so narrow modes (ring8's sigma is 0.01) and the low-density bridges
    between them both show. Row 0 is the top (largest y), column 0 the left.
    Non-finite values are drawn as 0.

    Args:
        log_prob_fn: maps ``[N, 2]`` float32 points to ``[N]`` log-densities
            (an unnormalized log-density is fine).
        limits: ``(lo, hi)`` for both axes.
        resolution: grid points per axis.
        log_range: nats below the maximum mapped to the bottom of the colour map.
        cmap: a matplotlib colour map name.

    Returns:
        ``(image, log_p)``: the uint8 image and the ``[resolution, resolution]``
        log-density grid it was drawn from.

    Example:
        >>> img, lp = density_image(lambda x: -0.5 * (x**2).sum(-1), (-3, 3), resolution=8)
        >>> img.shape
        (8, 8, 3)
    """
    import matplotlib

    lo, hi = float(limits[0]), float(limits[1])
    if not hi > lo:
        raise ValueError(f"limits must be (lo, hi) with hi > lo. Received: limits={limits!r}")
    xs = np.linspace(lo, hi, int(resolution), dtype="float32")
    ys = xs[::-1]  # image rows run downwards
    gx, gy = np.meshgrid(xs, ys)
    points = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    log_p = np.asarray(log_prob_fn(points), dtype="float64").reshape(gx.shape)
    finite = np.isfinite(log_p)
    top = np.max(log_p[finite]) if finite.any() else 0.0
    level = np.where(finite, np.clip((log_p - top + log_range) / log_range, 0.0, 1.0), 0.0)
    rgb = matplotlib.colormaps[cmap](level)[..., :3]
    return np.round(rgb * 255.0).astype("uint8"), log_p


def _histogram_log_prob(samples, limits, resolution):
    """A log-histogram of samples as a step function on the grid (for flows without an inverse)."""
    lo, hi = limits
    counts, _, _ = np.histogram2d(
        samples[:, 0], samples[:, 1], bins=resolution, range=[[lo, hi], [lo, hi]]
    )
    width = (hi - lo) / resolution

    def log_prob(points):
        i = np.clip(((points[:, 0] - lo) / width).astype(int), 0, resolution - 1)
        j = np.clip(((points[:, 1] - lo) / width).astype(int), 0, resolution - 1)
        with np.errstate(divide="ignore"):
            return np.log(counts[i, j] / len(samples) / width**2)

    return log_prob


class DensityHeatmap(keras.callbacks.Callback):
    """Logs the density of a 2-D flow as a heatmap image to TensorBoard.

    Tags (images ``[1, resolution, resolution, 3]``, written to ``log_dir/density``):
        ``density/model``: the flow's exact ``log_prob`` on a grid, every
        ``every`` epochs. Flows without an inverse (planar, radial) cannot
        score arbitrary points: they get ``density/samples``, a 2-D histogram
        of ``num_samples`` samples, instead.
        ``density/true``: the reference density, once at step 0 (the data's
        exact density when given, or a ``DensityDistiller``'s teacher / target
        energy).

    For a :class:`kerasgan.flows.DensityDistiller` the student is drawn. See
    :func:`density_image` for the colour scale.

    Args:
        log_dir: the run's TensorBoard directory.
        limits: ``(lo, hi)`` for both axes; default: from ``reference``
            points, else from the first epoch's samples.
        reference: optional points (data or true modes) setting the limits.
        true_log_prob: optional function ``[N, 2] -> [N]``, the data's log-density.
        resolution: grid points per axis.
        num_samples: samples for the histogram fallback.
        every: log every ``every`` epochs.
        seed: sampling seed of the histogram fallback.

    Example:
        >>> cb = DensityHeatmap("/tmp/kerasgan_doc/tb", limits=(-4, 4), resolution=64)
    """

    def __init__(
        self,
        log_dir,
        limits=None,
        reference=None,
        true_log_prob=None,
        resolution=128,
        num_samples=20_000,
        every=1,
        seed=0,
    ):
        super().__init__()
        self.log_dir = os.path.join(str(log_dir), "density")
        if limits is None and reference is not None:
            limits = _auto_limits(np.asarray(reference))
        self.limits = None if limits is None else (float(limits[0]), float(limits[1]))
        self.true_log_prob = true_log_prob
        self.resolution = int(resolution)
        self.num_samples = int(num_samples)
        self.every = int(every)
        self.seed = seed
        self._writer = None
        self.last = None

    def _flow(self):
        return getattr(self.model, "student", self.model)

    def _reference(self):
        if self.true_log_prob is not None:
            return self.true_log_prob
        teacher = getattr(self.model, "teacher", None)
        if teacher is None:
            return None
        return lambda x: np.asarray(teacher.log_prob(tf.constant(x, tf.float32)))

    def _model_log_prob(self):
        from kerasgan.flows import Planar, Radial

        flow = self._flow()
        invertible = not any(isinstance(layer, (Planar, Radial)) for layer in flow.flow_layers)
        if invertible:
            return "density/model", lambda x: np.asarray(flow.log_prob(x))
        samples = np.asarray(flow.sample(self.num_samples, seed=self.seed))
        samples = samples[np.all(np.isfinite(samples), axis=-1)]
        return "density/samples", _histogram_log_prob(samples, self.limits, self.resolution)

    def _log(self, tag, log_prob_fn, step):
        image, log_p = density_image(log_prob_fn, self.limits, self.resolution)
        with self._writer.as_default():
            tf.summary.image(tag, image[np.newaxis], step=step)
        self._writer.flush()
        return image, log_p

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.limits is None:
            samples = np.asarray(self._flow().sample(2000, seed=self.seed))
            self.limits = _auto_limits(samples[np.all(np.isfinite(samples), axis=-1)])
        reference = self._reference()
        if reference is not None:
            self._log("density/true", reference, 0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        tag, fn = self._model_log_prob()
        self.last = (tag, *self._log(tag, fn, epoch + 1))

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
