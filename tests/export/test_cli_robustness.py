"""The CLI under hostile input: huge sample counts, broken .keras files, unwritable outputs,
version overwrites; and `kerasgan --help` without TensorFlow."""

import os
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import cli, export

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _gan(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return kerasgan.GAN(
        kerasgan.models.build_mlp_generator(2, 2, [8]),
        kerasgan.models.build_mlp_discriminator(2, [8]),
        latent_dim=2,
    )


@pytest.fixture(scope="module")
def gan_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    export.export_generator(_gan(), str(root / "gan"), version=1)
    return str(root / "gan")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    gan = _gan()
    gan.compile()
    path = root / "gan.keras"
    gan.save(path)
    return path


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- kerasgan sample: counts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, output, message",
    [
        (2_147_483_648, "x.npy", "-n is at most 100,000,000 for .npy"),
        (10**12, "x.npy", "Received: -n 1000000000000"),
        (10_001, "x.png", "-n is at most 10,000 for .png"),
    ],
)
def test_sample_refuses_counts_above_the_maximum(gan_export, tmp_path, capsys, n, output, message):
    code, _, err = _cli(capsys, "sample", gan_export, "-n", n, "-o", tmp_path / output)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / output).exists()


def test_sample_in_chunks_is_reproducible_and_its_first_chunk_is_one_call(
    gan_export, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "SAMPLE_CHUNK", 3)
    for name in ("a", "b"):
        code, out, err = _cli(
            capsys, "sample", gan_export, "-n", 10, "-o", tmp_path / f"{name}.npy", "--seed", 5
        )
        assert code == 0, err
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == (10, 2)
    np.testing.assert_array_equal(a, b)
    loaded = tf.saved_model.load(os.path.join(gan_export, "1"))
    one = loaded.signatures["sample_seeded"](
        num_samples=tf.constant(3), seed=tf.constant(5, tf.int64)
    )["samples"].numpy()
    np.testing.assert_array_equal(a[:3], one)
    assert len({tuple(np.round(r, 6)) for r in a}) == 10  # chunks draw distinct noise
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".kerasgan")]
    assert leftovers == []


@pytest.mark.slow
def test_sample_three_million_streams_to_disk(gan_export, tmp_path, capsys):
    out = tmp_path / "big.npy"
    code, stdout, err = _cli(capsys, "sample", gan_export, "-n", 3_000_000, "-o", out)
    assert code == 0, err
    big = np.load(out, mmap_mode="r")
    assert big.shape == (3_000_000, 2) and np.isfinite(big[-1000:]).all()


# -- output paths, checked before any work ------------------------------------------------------


def test_output_paths_are_checked_before_the_work(gan_export, checkpoint, tmp_path, capsys,
                                                  monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, _, err = _cli(capsys, "sample", gan_export, "-n", 2, "-o", a_file / "x.npy")
    assert code == 2 and "is a file, not a directory" in err
    code, _, err = _cli(capsys, "sample", gan_export, "-n", 2, "-o", "/proc/x.npy")
    assert code == 2 and "cannot write -o '/proc/x.npy'" in err
    (tmp_path / "dir.npy").mkdir()
    code, _, err = _cli(capsys, "sample", gan_export, "-n", 2, "-o", tmp_path / "dir.npy")
    assert code == 2 and "must be a file path" in err
    code, _, err = _cli(capsys, "export", checkpoint, "--to", a_file)
    assert code == 2 and "--to must be a directory" in err

    def never(*args, **kwargs):
        raise AssertionError("the evaluation ran although its output cannot be written")

    import kerasgan.metrics.evaluation as evaluation

    monkeypatch.setattr(evaluation, "Evaluator", never)
    code, _, err = _cli(
        capsys, "evaluate", gan_export, "--metric", "fid_digits", "--output", a_file / "x.json"
    )
    assert code == 2 and "cannot write --output" in err
    assert "Traceback" not in err


# -- kerasgan export: broken .keras files, overwrites -------------------------------------------


def _broken_files(checkpoint, root):
    data = checkpoint.read_bytes()
    truncated = root / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = root / "garbage.keras"
    garbage.write_bytes(b"not a zip file at all" * 50)
    empty = root / "empty.keras"
    empty.write_bytes(b"")
    bad_config = root / "bad_config.keras"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(bad_config, "w") as dst:
        for item in src.infolist():
            body = b"{not json" if item.filename == "config.json" else src.read(item)
            dst.writestr(item, body)
    no_config = root / "no_config.keras"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(no_config, "w") as dst:
        for item in src.infolist():
            if item.filename != "config.json":
                dst.writestr(item, src.read(item))
    return {
        truncated: "not a zip archive or truncated",
        garbage: "not a zip archive or truncated",
        empty: "not a zip archive or truncated",
        bad_config: "config.json is not valid JSON",
        no_config: "the archive has no config.json",
    }


def test_export_names_a_broken_keras_file(checkpoint, tmp_path, capsys):
    for path, reason in _broken_files(checkpoint, tmp_path).items():
        code, _, err = _cli(capsys, "export", path, "--to", tmp_path / "out")
        assert code == 2, path
        assert f"Not a valid .keras file: {path}: {reason}" in err, err
        assert "File not found" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing created for a failed export


def test_load_model_errors_name_the_file(checkpoint, tmp_path):
    from kerasgan import saving

    for path in _broken_files(checkpoint, tmp_path):
        with pytest.raises(ValueError, match=f"Not a valid .keras file: .*{path.name}"):
            saving.load_model(path)
    with pytest.raises(ValueError, match="no such file"):
        saving.load_model(tmp_path / "missing.keras")
    assert saving.load_model(checkpoint).latent_dim == 2


def test_export_refuses_to_overwrite_without_force(checkpoint, tmp_path, capsys):
    base = tmp_path / "D"
    assert _cli(capsys, "export", checkpoint, "--to", base, "--version", 1)[0] == 0
    before = (base / "1" / "saved_model.pb").stat().st_mtime_ns
    code, _, err = _cli(capsys, "export", checkpoint, "--to", base, "--version", 1)
    assert code == 2 and "already exists" in err and "--force" in err
    assert (base / "1" / "saved_model.pb").stat().st_mtime_ns == before
    code, out, err = _cli(capsys, "export", checkpoint, "--to", base, "--version", 1, "--force")
    assert code == 0, err
    assert sorted(os.listdir(base)) == [".export.lock", "1"]


# -- kerasgan --help without TensorFlow ---------------------------------------------------------

_NO_TF = (
    "import sys, runpy\n"
    "sys.argv = ['kerasgan'] + sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_path(sys.argv.pop(1), run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "heavy = sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules)\n"
    "print('HEAVY:', heavy)\n"
)


@pytest.mark.parametrize(
    "argv", [["--help"], ["serve", "--help"], ["sample", "--help"], ["export", "--help"],
             ["evaluate", "--help"], ["train", "--help"], ["recipes"]]
)
def test_help_does_not_import_tensorflow(argv):
    launcher = ROOT / "kerasgan" / "bin" / "kerasgan"
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TF, str(launcher), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY: []" in proc.stdout, proc.stdout[-500:]
    assert "usage: kerasgan" in proc.stdout or argv == ["recipes"]
    assert proc.stderr == ""
