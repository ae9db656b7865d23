"""Exported ``sample`` signatures draw fresh noise in every process; ``sample_seeded`` repeats."""

import numpy as np
import tensorflow as tf

import kerasgan
from kerasgan import export, flows


def _gan():
    g = kerasgan.models.build_mlp_generator(3, 2, [8])
    d = kerasgan.models.build_mlp_discriminator(2, [8])
    return kerasgan.GAN(g, d, latent_dim=3)


def _flow():
    return flows.FlowModel((2,), [flows.MAF([8]), flows.Permute(), flows.MAF([8])])


def _two_loads(path):
    return tf.saved_model.load(path), tf.saved_model.load(path)


def test_gan_sample_is_fresh_across_loads_and_seeded_is_reproducible(tmp_path):
    gan = _gan()
    tf.random.set_seed(1234)  # recipes export with a global seed set: the old trap
    path = export.export_generator(gan, str(tmp_path / "gan"), version=1)
    a, b = _two_loads(path)  # two "processes" (e.g. two TF Serving restarts)
    n = tf.constant(16)
    first_a = a.signatures["sample"](num_samples=n)["samples"].numpy()
    first_b = b.signatures["sample"](num_samples=n)["samples"].numpy()
    again_a = a.signatures["sample"](num_samples=n)["samples"].numpy()
    assert not np.allclose(first_a, first_b)
    assert not np.allclose(first_a, again_a)
    seed = tf.constant(42, tf.int64)
    s1 = a.signatures["sample_seeded"](num_samples=n, seed=seed)["samples"].numpy()
    s2 = b.signatures["sample_seeded"](num_samples=n, seed=seed)["samples"].numpy()
    s3 = a.signatures["sample_seeded"](num_samples=n, seed=tf.constant(43, tf.int64))
    np.testing.assert_array_equal(s1, s2)
    assert not np.allclose(s1, s3["samples"].numpy())
    # Golden: the generator on z = stateless_normal([n, latent], seed=[42, 0]).
    z = tf.random.stateless_normal([16, 3], seed=[42, 0])
    np.testing.assert_allclose(s1, gan.generate(z.numpy()), rtol=1e-5, atol=1e-6)
    # Large int64 seeds are accepted (split into the two 31-bit halves).
    big = a.signatures["sample_seeded"](num_samples=n, seed=tf.constant(2**40 + 3, tf.int64))
    assert np.all(np.isfinite(big["samples"].numpy()))


def test_flow_sample_is_fresh_across_loads(tmp_path):
    tf.random.set_seed(99)
    path = export.export_flow(_flow(), str(tmp_path / "flow"), version=1)
    a, b = _two_loads(path)
    n = tf.constant(8)
    x_a = a.signatures["sample"](num_samples=n)["samples"].numpy()
    x_b = b.signatures["sample"](num_samples=n)["samples"].numpy()
    assert not np.allclose(x_a, x_b)
    seed = tf.constant(7, tf.int64)
    np.testing.assert_array_equal(
        a.signatures["sample_seeded"](num_samples=n, seed=seed)["samples"].numpy(),
        b.signatures["sample_seeded"](num_samples=n, seed=seed)["samples"].numpy(),
    )


def test_saved_model_cli_lists_the_generator_signatures(tmp_path):
    import os
    import subprocess
    import sys

    path = export.export_generator(_gan(), str(tmp_path / "gan"), version=1)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run(
        [cli, "show", "--dir", path, "--all"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("serving_default", "sample", "sample_seeded"):
        assert f"signature_def['{name}']" in out
    # serving_default: z float32 (-1, 3) -> samples (-1, 2).
    block = out.split("signature_def['serving_default']")[1].split("signature_def[")[0]
    assert "inputs['z']" in block and "shape: (-1, 3)" in block and "DT_FLOAT" in block
    assert "outputs['samples']" in block and "shape: (-1, 2)" in block


def _conditional_model(num_classes=3, latent_dim=4):
    """A generator taking [z, labels], as conditional GANs have (the export's contract)."""
    import types

    import keras

    z = keras.Input((latent_dim,), name="z")
    labels = keras.Input((), dtype="int32", name="labels")
    e = keras.layers.Embedding(num_classes, latent_dim)(labels)
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([z, e]))
    generator = keras.Model([z, labels], keras.layers.Dense(2)(h))
    return types.SimpleNamespace(
        generator=generator, latent_dim=latent_dim, num_classes=num_classes
    )


def test_conditional_generator_export_takes_labels(tmp_path):
    model = _conditional_model()
    path = export.export_generator(model, str(tmp_path / "cgan"), version=1)
    sigs = tf.saved_model.load(path).signatures
    assert set(sigs["serving_default"].structured_input_signature[1]) == {"z", "labels"}
    z = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    labels = np.array([0, 1, 2, 1, 0], "int32")
    got = sigs["serving_default"](z=tf.constant(z), labels=tf.constant(labels))["samples"]
    want = model.generator([z, labels], training=False)
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-5, atol=1e-6)
    # sample: one sample per label; sample_seeded: golden against stateless z.
    assert sigs["sample"](labels=tf.constant(labels))["samples"].shape == (5, 2)
    seeded = sigs["sample_seeded"](labels=tf.constant(labels), seed=tf.constant(9, tf.int64))
    z9 = tf.random.stateless_normal([5, 4], seed=[9, 0])
    want9 = model.generator([z9, tf.constant(labels)], training=False)
    np.testing.assert_allclose(seeded["samples"].numpy(), np.asarray(want9), rtol=1e-5, atol=1e-6)
    # Labels out of range are refused, not silently embedded.
    import pytest

    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < 3"):
        sigs["sample"](labels=tf.constant([3], tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be >= 0"):
        sigs["serving_default"](z=tf.constant(z[:1]), labels=tf.constant([-1], tf.int32))
