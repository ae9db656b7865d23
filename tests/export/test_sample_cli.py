"""kerasgan sample: .npy and .png from GAN and flow exports, reproducible --seed,
pixel ranges, error exits."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import cli, export, flows
from kerasgan.callbacks import image_grid


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample_exports")
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(2, 2),
        kerasgan.models.build_mlp_discriminator(2),
        latent_dim=2,
    )
    export.export_generator(gan, str(root / "gan"), version=1)
    image_gan = kerasgan.GAN(
        kerasgan.models.build_dcgan_generator(4, (16, 16, 1), 8),
        kerasgan.models.build_dcgan_discriminator((16, 16, 1), 8),
        latent_dim=4,
    )
    export.export_generator(image_gan, str(root / "image_gan"), version=2)
    export.export_flow(flows.FlowModel((2,), [flows.MAF([8])]), str(root / "flow"), version=1)
    cflow = flows.FlowModel((3,), [flows.MAF([8], context_size=2)], context_size=2)
    export.export_flow(cflow, str(root / "cflow"), version=1)
    return {k: str(root / k) for k in ("gan", "image_gan", "flow", "cflow")}


def _run(capsys, *argv):
    code = cli.main(["sample", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["gan", "flow"])
def test_npy_has_the_samples(exports, tmp_path, capsys, name):
    out = tmp_path / "sub" / "s.npy"
    code, stdout, err = _run(capsys, exports[name], "-n", 5, "-o", out)
    assert code == 0, err
    samples = np.load(out)
    assert samples.shape == (5, 2) and samples.dtype == np.float32
    assert np.all(np.isfinite(samples)) and np.std(samples) > 0
    assert "[5, 2]" in stdout and "signature 'sample'" in stdout


@pytest.mark.parametrize("name", ["gan", "flow"])
def test_seed_is_reproducible(exports, tmp_path, capsys, name):
    paths = [tmp_path / f"{i}.npy" for i in range(3)]
    for path, seed in zip(paths, (3, 3, 4)):
        code, out, err = _run(capsys, exports[name], "-n", 6, "-o", path, "--seed", seed)
        assert code == 0, err
        assert "sample_seeded with seed" in out
    a, b, c = (np.load(p) for p in paths)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Golden: the export's sample_seeded signature with that seed.
    loaded = tf.saved_model.load(os.path.join(exports[name], "1"))
    want = loaded.signatures["sample_seeded"](
        num_samples=tf.constant(6), seed=tf.constant(3, tf.int64)
    )["samples"].numpy()
    np.testing.assert_array_equal(a, want)


def test_seed_for_an_old_gan_export_without_sample_seeded(tmp_path, capsys):
    """Exports written before sample_seeded: --seed draws z with NumPy and calls serving_default."""
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(2, 2),
        kerasgan.models.build_mlp_discriminator(2),
        latent_dim=2,
    )
    archive = keras.export.ExportArchive()
    archive.track(gan.generator)
    archive.add_endpoint(
        "serving_default",
        lambda z: {"samples": gan.generator(z, training=False)},
        input_signature=[tf.TensorSpec([None, 2], tf.float32, name="z")],
    )
    archive.write_out(str(tmp_path / "old" / "1"), verbose=False)
    out = tmp_path / "s.npy"
    code, stdout, err = _run(capsys, tmp_path / "old", "-n", 5, "-o", out, "--seed", 3)
    assert code == 0, err
    z = np.random.default_rng(3).standard_normal((5, 2)).astype("float32")
    np.testing.assert_allclose(np.load(out), gan.generate(z), rtol=1e-5, atol=1e-6)
    # An export with neither sample_seeded nor a latent input refuses --seed.
    archive = keras.export.ExportArchive()
    archive.track(gan.generator)
    archive.add_endpoint(
        "sample",
        lambda num_samples: {"samples": tf.zeros(tf.stack([num_samples, 2]))},
        input_signature=[tf.TensorSpec([], tf.int32, name="num_samples")],
    )
    archive.write_out(str(tmp_path / "other" / "1"), verbose=False)
    code, _, err = _run(capsys, tmp_path / "other", "-n", 2, "-o", tmp_path / "f.npy", "--seed", 1)
    assert code == 2 and err.startswith("error: ") and "sample_seeded" in err
    assert not (tmp_path / "f.npy").exists()


def test_png_image_grid_from_a_gan_export(exports, tmp_path, capsys):
    npy, png = tmp_path / "s.npy", tmp_path / "s.png"
    assert _run(capsys, exports["image_gan"], "-n", 4, "-o", npy, "--seed", 0)[0] == 0
    code, _, err = _run(capsys, exports["image_gan"], "-n", 4, "-o", png, "--seed", 0)
    assert code == 0, err
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = tf.io.decode_png(data).numpy()
    assert pixels.shape == (32, 32, 1)  # 2 x 2 grid of 16 x 16 images
    # GAN exports are in [-1, 1] (tanh): the grid is exactly image_grid of the samples.
    np.testing.assert_array_equal(pixels, image_grid(np.load(npy)))


def test_png_scatter_for_2d_points(exports, tmp_path, capsys):
    png = tmp_path / "points.png"
    assert _run(capsys, exports["flow"], "-n", 50, "-o", png)[0] == 0
    pixels = tf.io.decode_png(png.read_bytes()).numpy()
    assert pixels.shape[:2] == (320, 320)  # scatter_png: 4 x 4 inches at 80 dpi
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 2  # not blank


def test_samples_png_maps_the_pixel_range():
    x = np.linspace(0.0, 1.0, 4 * 4 * 4).reshape(4, 4, 4, 1)
    png, clipped = cli.samples_png(x, (0.0, 1.0))
    grid = tf.io.decode_png(png).numpy().astype(int)
    assert grid.shape == (8, 8, 1) and clipped == 0.0
    for i in range(4):  # a 2 x 2 grid; [0, 1] maps to 0..255
        r, c = divmod(i, 2)
        tile = grid[4 * r : 4 * r + 4, 4 * c : 4 * c + 4]
        np.testing.assert_allclose(tile, np.round(255 * x[i]), atol=1)
    x[0, 0, 0, 0], x[0, 0, 1, 0], x[0, 0, 2, 0] = 1.5, np.nan, -0.5
    png, clipped = cli.samples_png(x, (0.0, 1.0))
    assert clipped == pytest.approx(3 / x.size)
    grid = tf.io.decode_png(png).numpy()
    assert grid[0, 0, 0] == 255 and grid[0, 1, 0] == 0 and grid[0, 2, 0] == 0
    with pytest.raises(
        ValueError, match=r"write .npy instead. Received: samples of shape \[4, 3\]"
    ):
        cli.samples_png(np.zeros((4, 3)))


def test_auto_pixel_range(exports):
    images = np.zeros((1, 4, 4, 1))
    gan = tf.saved_model.load(os.path.join(exports["image_gan"], "2"))
    flow = tf.saved_model.load(os.path.join(exports["flow"], "1"))
    assert cli._pixel_range(gan, "auto", images) == (-1.0, 1.0)
    assert cli._pixel_range(flow, "auto", images) == (0.0, 1.0)
    assert cli._pixel_range(gan, "unit", images) == (0.0, 1.0)
    assert cli._pixel_range(flow, "symmetric", images) == (-1.0, 1.0)


def test_version_and_version_directory(exports, tmp_path, capsys):
    out = tmp_path / "v.npy"
    assert _run(capsys, exports["image_gan"], "-n", 2, "-o", out, "--version", 2)[0] == 0
    assert np.load(out).shape == (2, 16, 16, 1)
    assert _run(capsys, os.path.join(exports["gan"], "1"), "-n", 3, "-o", out)[0] == 0
    assert np.load(out).shape == (3, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["-n", 0, "-o", "x.npy"], "-n must be at least 1. Received: -n 0"),
        (["-n", 2, "-o", "x.jpg"], "must end in .npy or .png. Received: -o '"),
        (["-n", 2, "-o", "x.npy", "--seed", -1], "--seed must be >= 0"),
        (["-n", 2, "-o", "x.npy", "--version", 9], "available versions: [1]"),
        (["-n", 2, "-o", "x.npy", "--signature", "nope"], "no signature 'nope'; available"),
        (["-n", 2, "-o", "x.npy", "--signature", "serving_default"], "takes inputs ['z']"),
        (["-n", 2, "-o", "x.npy", "--seed", 1, "--signature", "x"], "cannot be combined"),
    ],
)
def test_error_exits(exports, tmp_path, capsys, args, message):
    args = [tmp_path / a if str(a).startswith("x.") else a for a in args]
    code, _, err = _run(capsys, exports["gan"], *args)
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert not any(p.name.startswith("x.") for p in tmp_path.iterdir())


def test_error_exits_for_missing_and_conditional_exports(exports, tmp_path, capsys):
    code, _, err = _run(capsys, tmp_path / "missing", "-n", 2, "-o", tmp_path / "x.npy")
    assert code == 2 and "Export directory not found" in err
    code, _, err = _run(capsys, exports["cflow"], "-n", 2, "-o", tmp_path / "x.npy")
    assert code == 2 and "'context'" in err
    with pytest.raises(SystemExit) as e:
        cli.main(["sample", exports["gan"], "-n", "2", "-o", "x.npy", "--bogus"])
    assert e.value.code == 2
