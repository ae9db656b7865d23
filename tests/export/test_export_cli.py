"""kerasgan export: a .keras checkpoint to a SavedModel that matches the Keras model."""

import numpy as np
import tensorflow as tf

import kerasgan
from kerasgan import cli, flows


def test_export_a_gan_checkpoint(tmp_path, capsys):
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(3, 2, [8]),
        kerasgan.models.build_mlp_discriminator(2, [8]),
        latent_dim=3,
    )
    gan.compile()
    ckpt = str(tmp_path / "checkpoint.keras")
    gan.save(ckpt)
    assert cli.main(["export", ckpt, "--to", str(tmp_path / "sm" / "gan")]) == 0
    assert "generator" in capsys.readouterr().out
    sigs = tf.saved_model.load(str(tmp_path / "sm" / "gan" / "1")).signatures
    z = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    got = sigs["serving_default"](z=tf.constant(z))["samples"].numpy()
    np.testing.assert_allclose(got, gan.generate(z), rtol=1e-5, atol=1e-6)
    # The next export is version 2.
    assert cli.main(["export", ckpt, "--to", str(tmp_path / "sm" / "gan")]) == 0
    assert (tmp_path / "sm" / "gan" / "2").is_dir()


def test_export_a_flow_checkpoint_and_errors(tmp_path, capsys):
    flow = flows.FlowModel((2,), [flows.MAF([8]), flows.Permute(), flows.MAF([8])])
    flow.compile("adam")
    ckpt = str(tmp_path / "flow.keras")
    flow.save(ckpt)
    assert cli.main(["export", ckpt, "--to", str(tmp_path / "f"), "--version", "7"]) == 0
    assert "flow" in capsys.readouterr().out
    sigs = tf.saved_model.load(str(tmp_path / "f" / "7")).signatures
    x = np.random.default_rng(1).normal(size=(4, 2)).astype("float32")
    got = sigs["log_prob"](x=tf.constant(x))["log_prob"].numpy()
    np.testing.assert_allclose(got, flow.log_prob(x).numpy(), rtol=1e-5, atol=1e-5)
    assert cli.main(["export", str(tmp_path / "missing.keras"), "--to", str(tmp_path / "x")]) == 2
    assert "MODEL must be an existing .keras file" in capsys.readouterr().err
    assert cli.main(["export", ckpt, "--to", str(tmp_path / "f"), "--version", "0"]) == 2
    assert "version=0" in capsys.readouterr().err
