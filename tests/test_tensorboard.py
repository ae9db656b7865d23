"""TensorBoard summaries written by the recipes, read back from the event files."""

import pathlib

import matplotlib
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import callbacks as cbs
from kerasgan import runner


def _events(directory):
    """``{tag: [(step, value)]}`` over every event file under ``directory``."""
    out = {}
    for path in sorted(pathlib.Path(directory).rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((event.step, value))
    return out


def _image(value):
    """Decodes an image summary value: ``tensor.string_val = [width, height, png, ...]``."""
    strings = value.tensor.string_val
    width, height = int(strings[0]), int(strings[1])
    image = tf.io.decode_png(strings[2]).numpy()
    assert image.shape[:2] == (height, width)
    return image


def _scalar(value):
    return float(tf.make_ndarray(value.tensor))


def test_density_image_golden_orientation_and_colours():
    # A Gaussian centred at (1, 2) on [-3, 3]^2: the brightest pixel is near the top right.
    mean = np.array([1.0, 2.0])
    image, log_p = cbs.density_image(
        lambda x: -0.5 * np.sum((x - mean) ** 2, axis=-1), (-3, 3), resolution=61, log_range=4.0
    )
    assert image.shape == (61, 61, 3) and image.dtype == np.uint8
    row, col = np.unravel_index(np.argmax(log_p), log_p.shape)
    xs = np.linspace(-3, 3, 61)
    assert (xs[col], xs[::-1][row]) == pytest.approx((1.0, 2.0))
    viridis = matplotlib.colormaps["viridis"]
    top = np.round(np.array(viridis(1.0)[:3]) * 255)
    bottom = np.round(np.array(viridis(0.0)[:3]) * 255)
    np.testing.assert_array_equal(image[row, col], top)
    # (-3, -3) is 0.5 * (16 + 25) = 20.5 nats below the peak: past log_range, the bottom colour.
    np.testing.assert_array_equal(image[-1, 0], bottom)
    # 2 nats below the peak, half way up a 4-nat range: colour 0.5 exactly ((x, y) = (3, 2)).
    np.testing.assert_allclose(image[row, -1], np.round(np.array(viridis(0.5)[:3]) * 255))
    with pytest.raises(ValueError, match="limits"):
        cbs.density_image(lambda x: x[:, 0], (1, 1))


def _flow_cfg(tmp_path, **kw):
    cfg = {
        "name": "tb_flow",
        "model": "maf",
        "dataset": "gauss3",
        "flow_transforms": 2,
        "flow_hidden_units": [16],
        "epochs": 2,
        "steps_per_epoch": 3,
        "batch_size": 64,
        "num_train_samples": 1000,
        "eval_test_samples": 500,
        "eval_samples": 200,
        "runs_dir": str(tmp_path),
        "export": False,
        "verbose": 0,
        "lr_decay": True,
    }
    cfg.update(kw)
    return cfg


def test_flow_run_logs_density_heatmaps_scalars_and_learning_rate(tmp_path):
    result = runner.run(_flow_cfg(tmp_path))
    events = _events(tmp_path / "tb_flow" / "tb")
    # The true density once (step 0), the flow's exact density each epoch.
    assert [step for step, _ in events["density/true"]] == [0]
    assert [step for step, _ in events["density/model"]] == [1, 2]
    for tag in ("density/true", "density/model"):
        assert _image(events[tag][-1][1]).shape == (128, 128, 3)
    assert [step for step, _ in events["samples/scatter"]] == [1, 2]
    assert _image(events["samples/scatter"][0][1]).shape == (320, 320, 3)  # 4x4 in at 80 dpi
    # A scalar per log key and epoch; the logged NLL equals the History's.
    history = result["history"]
    losses = [_scalar(v) for _, v in events["epoch_nll"]]
    np.testing.assert_allclose(losses, history["nll"], rtol=1e-6)
    # The cosine-decayed learning rate, as the optimizer reports it after each epoch.
    lrs = [_scalar(v) for _, v in events["epoch_learning_rate"]]
    assert len(lrs) == 2 and lrs[0] > lrs[1] > 0


def test_energy_flow_without_inverse_logs_a_sample_histogram(tmp_path):
    cfg = _flow_cfg(tmp_path, name="tb_planar", model="planar", epochs=1, eval_test_samples=500)
    runner.run(cfg)
    events = _events(tmp_path / "tb_planar" / "tb")
    assert "density/model" not in events
    assert _image(events["density/samples"][0][1]).shape == (128, 128, 3)
    # The target energy as the reference density.
    assert _image(events["density/true"][0][1]).shape == (128, 128, 3)


def test_gan_image_grid_and_scalars(tmp_path):
    cfg = {
        "name": "tb_dcgan",
        "model": "dcgan",
        "dataset": "digits",
        "latent_dim": 8,
        "image_size": 16,
        "base_filters": 8,
        "batch_size": 32,
        "epochs": 2,
        "steps_per_epoch": 2,
        "runs_dir": str(tmp_path),
        "export": False,
        "verbose": 0,
    }
    runner.run(cfg)
    events = _events(tmp_path / "tb_dcgan" / "tb")
    grids = events["samples/grid"]
    assert [step for step, _ in grids] == [1, 2]
    # 64 images of 16x16x1 tiled 8 x 8.
    assert _image(grids[0][1]).shape == (128, 128, 1)
    for tag in ("epoch_d_loss", "epoch_g_loss", "epoch_g_lr", "epoch_d_lr"):
        assert [step for step, _ in events[tag]] == [0, 1], tag
    assert "density/model" not in events
