"""Recipes, the training runner, the CLI and the exported SavedModel."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kerasgan import cli, runner

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECIPES = [
    "gan_ring8",
    "wgan_gp_ring8",
    "gan_grid25",
    "wgan_gp_grid25",
    "dcgan_mnist",
    "dcgan_digits",
    "cgan_digits",
    "acgan_digits",
]


def _load_recipe(name):
    import runpy

    return runpy.run_path(str(ROOT / "recipes" / f"{name}.py"), run_name="not_main")


def _event_tags(directory):
    tags = {}
    for path in pathlib.Path(directory).rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(value)
    return tags


def _run_smoke(recipe, tmp_path):
    """``--smoke --quiet`` run of a recipe into ``tmp_path/runs`` and ``tmp_path/sm``."""
    argv = ["--smoke", "--quiet", "--runs-dir", str(tmp_path / "runs")]
    argv += ["--export-dir", str(tmp_path / "sm")]
    return runner.main(recipe["CONFIG"], recipe["SMOKE"], argv=argv)


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_smoke(name, tmp_path):
    recipe = _load_recipe(name)
    assert _run_smoke(recipe, tmp_path) == 0
    run_dir = tmp_path / "runs" / name
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == recipe["SMOKE"]["epochs"]
    record = json.loads(lines[-1])
    assert {"epoch", "d_loss", "g_loss"} <= set(record)
    assert (run_dir / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "checkpoint.keras").is_file()
    export = tmp_path / "sm" / name / "1"
    loaded = tf.saved_model.load(str(export))
    fn = loaded.signatures["serving_default"]
    resolved = runner.resolve(recipe["CONFIG"])
    latent = resolved["latent_dim"]
    assert fn.structured_input_signature[1]["z"].shape.as_list() == [None, latent]
    inputs = {"z": tf.zeros([3, latent])}
    if runner.registry.is_conditional(resolved):  # serving_default(z, labels)
        assert fn.structured_input_signature[1]["labels"].shape.as_list() == [None]
        inputs["labels"] = tf.constant([0, 5, 9])
    out = fn(**inputs)["samples"]
    assert out.shape[0] == 3 and np.all(np.isfinite(out.numpy()))


@pytest.mark.slow
def test_demo_outputs_tensorboard_and_mode_coverage(tmp_path):
    recipe = _load_recipe("wgan_gp_grid25")
    overrides = dict(recipe["SMOKE"], epochs=2, runs_dir=str(tmp_path), export=False, verbose=0)
    result = runner.run(recipe["CONFIG"], overrides)
    mc = result["mode_coverage"]
    assert mc["num_modes"] == 25 and 0 <= mc["modes"] <= 25
    tags = _event_tags(tmp_path / "wgan_gp_grid25" / "tb")
    for scalar in (
        "epoch_d_loss",
        "epoch_g_loss",
        "epoch_gp",
        "epoch_modes",
        "epoch_hq_percent",
        "epoch_reverse_kl",
        "epoch_g_lr",
        "epoch_d_lr",
    ):
        assert len(tags[scalar]) == 2, scalar
    images = tags["samples/scatter"]
    assert len(images) == 2
    # image summaries store [width, height, png...]
    assert images[0].tensor.string_val[2][:4] == b"\x89PNG"
    records = [
        json.loads(x)
        for x in (tmp_path / "wgan_gp_grid25" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epoch"] for r in records] == [1, 2]
    assert "modes" in records[-1]


def test_export_matches_keras_at_another_batch_size(tmp_path):
    recipe = _load_recipe("gan_ring8")
    overrides = dict(
        recipe["SMOKE"], runs_dir=str(tmp_path), export_dir=str(tmp_path / "sm"), verbose=0
    )
    result = runner.run(recipe["CONFIG"], overrides)
    model = result["model"]
    z = np.random.default_rng(0).normal(size=(37, model.latent_dim)).astype("float32")
    loaded = tf.saved_model.load(result["export_path"])
    served = loaded.signatures["serving_default"](z=tf.constant(z))["samples"].numpy()
    np.testing.assert_allclose(served, model.generate(z), rtol=1e-5, atol=1e-6)
    sampled = loaded.signatures["sample"](num_samples=tf.constant(11))["samples"]
    assert sampled.shape == (11, 2)


def test_dry_run_prints_resolved_config(capsys):
    recipe = _load_recipe("gan_ring8")
    assert runner.main(recipe["CONFIG"], recipe["SMOKE"], argv=["--dry-run", "--smoke"]) == 0
    printed = json.loads(capsys.readouterr().out)  # the resolved config, in sections
    assert printed["name"] == "gan_ring8"
    assert printed["optimization"]["epochs"] == recipe["SMOKE"]["epochs"]
    assert printed["optimization"]["batch_size"] == recipe["CONFIG"]["optimization"]["batch_size"]
    assert printed["model"]["class"] == "GAN"


def test_bad_config_values():
    with pytest.raises(ValueError, match="epochs=0"):
        runner.resolve({"name": "x", "epochs": 0})
    with pytest.raises(ValueError, match="model='nope'"):
        runner.resolve({"name": "x", "model": "nope"})
    with pytest.raises(ValueError, match="unknown key 'epoch'"):
        runner.resolve({"name": "x", "epoch": 3})
    with pytest.raises(ValueError, match="d_steps=-1"):
        runner.resolve({"name": "x", "d_steps": -1})


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path):
    from kerasgan.callbacks import TrainingDiverged

    cfg = {
        "name": "diverge",
        "model": "gan",
        "dataset": "ring8",
        "epochs": 3,
        "steps_per_epoch": 4,
        "num_train_samples": 2000,
        "runs_dir": str(tmp_path),
        "export": False,
        "verbose": 0,
        "tensorboard": False,
        "eval_samples": 200,
    }
    calls = {"n": 0}
    original = runner.tasks.gan.build_model

    def poisoned(cfg, shape):
        model = original(cfg, shape)
        step = model.train_step

        def train_step(data):
            logs = step(data)
            bad = model.g_optimizer.iterations >= 6  # from step 6 on (second epoch)
            return {k: tf.where(bad, tf.constant(np.nan), v) for k, v in logs.items()}

        calls["n"] += 1
        model.train_step = train_step
        return model

    runner.tasks.gan.build_model = poisoned
    try:
        with pytest.raises(TrainingDiverged, match=r"step 6 \(epoch 2"):
            runner.run(cfg)
    finally:
        runner.tasks.gan.build_model = original
    assert calls["n"] == 1
    ckpt = tmp_path / "diverge" / "checkpoint.keras"
    assert ckpt.is_file()  # epoch 1's checkpoint kept, not overwritten by the NaN epoch
    import keras

    restored = keras.saving.load_model(ckpt)
    assert int(restored.g_optimizer.iterations.numpy()) == 4
    assert all(np.all(np.isfinite(w)) for w in restored.get_weights())


@pytest.mark.slow
def test_cli_train_subprocess(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    exe = [sys.executable, "-m", "kerasgan.cli"]
    ok = subprocess.run(
        [
            *exe,
            "train",
            "gan_ring8",
            "--smoke",
            "--quiet",
            "--runs-dir",
            str(tmp_path),
            "--no-export",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "tensorboard --logdir" in ok.stdout
    assert "modes" in ok.stdout
    unknown = subprocess.run(
        [*exe, "train", "nope"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert (
        unknown.returncode == 2
        and "name='nope'" in unknown.stderr
        and "gan_ring8" in unknown.stderr
    )
    bad = subprocess.run(
        [*exe, "train", "gan_ring8", "--epochs", "0", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "epochs=0" in bad.stderr


def test_cli_lists_recipes(capsys):
    assert cli.main(["recipes"]) == 0
    listed = capsys.readouterr().out.split()
    assert set(RECIPES) <= set(listed)


FLOW_RECIPES = ["maf_moons", "realnvp_checkerboard", "planar_energy", "distill_maf_to_iaf"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FLOW_RECIPES)
def test_flow_recipe_smoke(name, tmp_path, capsys):
    recipe = _load_recipe(name)
    assert _run_smoke(recipe, tmp_path) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "runs" / name
    record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert ("kl" if name == "planar_energy" else "nll") in record
    if name == "distill_maf_to_iaf":  # the student's run lives beside the teacher's
        student = (run_dir / "student" / "metrics.jsonl").read_text().splitlines()[-1]
        assert "kl" in json.loads(student)
    assert (run_dir / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "checkpoint.keras").is_file()
    assert "samples/scatter" in _event_tags(run_dir / "tb")
    loaded = tf.saved_model.load(str(tmp_path / "sm" / name / "1"))
    samples = loaded.signatures["sample"](num_samples=tf.constant(5))["samples"]
    assert samples.shape == (5, 2) and np.all(np.isfinite(samples.numpy()))
    if name == "planar_energy":
        assert "KL(q || target)" in out
    else:
        lp = loaded.signatures["log_prob"](x=samples)["log_prob"]
        assert lp.shape == (5,) and np.all(np.isfinite(lp.numpy()))
    if name == "distill_maf_to_iaf":
        assert "KL(student || teacher)" in out and "speed-up" in out
        assert (tmp_path / "sm" / "distill_maf_to_iaf_teacher" / "1").is_dir()


def test_flow_run_reports_kl_against_the_true_entropy(tmp_path):
    cfg = {
        "name": "maf_ring8",
        "model": "maf",
        "dataset": "ring8",
        "flow_transforms": 2,
        "flow_hidden_units": [16],
        "epochs": 1,
        "steps_per_epoch": 5,
        "num_train_samples": 2000,
        "eval_test_samples": 4000,
        "runs_dir": str(tmp_path),
        "export": False,
        "tensorboard": False,
        "verbose": 0,
    }
    result = runner.run(cfg)
    assert np.isclose(result["kl"], result["test_nll"] - result["entropy"])
    assert result["kl"] > 0  # an untrained flow is far from the data
    # ring8's entropy: 8 equal, well separated N(m, 0.01^2 I) -> log 8 + log(2 pi e 0.01^2)
    np.testing.assert_allclose(
        result["entropy"], np.log(8) + np.log(2 * np.pi * np.e * 0.01**2), atol=0.05
    )


@pytest.mark.slow
def test_glow_digits_smoke_reports_bits_per_dim_and_exports(tmp_path, capsys):
    recipe = _load_recipe("glow_digits")
    assert _run_smoke(recipe, tmp_path) == 0
    out = capsys.readouterr().out
    assert "Held-out bits/dim" in out
    bpd = float(out.split("Held-out bits/dim: ")[1].split()[0])
    # 17 grey levels: a uniform model scores log2(17) = 4.09 bits/dim; a finite score.
    assert np.isfinite(bpd) and 0.0 < bpd < 20.0
    run_dir = tmp_path / "runs" / "glow_digits"
    record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert "nll" in record
    # The evaluation callback scored the flow's samples with the digits classifier.
    assert np.isfinite(record["fid_digits"]) and record["fid_digits"] > 0
    assert "fid_digits" in out
    assert (run_dir / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert "samples/grid" in _event_tags(run_dir / "tb")
    loaded = tf.saved_model.load(str(tmp_path / "sm" / "glow_digits" / "1"))
    samples = loaded.signatures["sample"](num_samples=tf.constant(3))["samples"]
    assert samples.shape == (3, 8, 8, 1)
    lp = loaded.signatures["log_prob"](x=tf.clip_by_value(samples, 0.01, 0.99))["log_prob"]
    assert lp.shape == (3,) and np.all(np.isfinite(lp.numpy()))
