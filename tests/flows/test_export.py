"""Flow SavedModel export: log_prob/sample signatures match the Keras model; saved_model_cli lists them."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kerasgan import export, flows


def _flow(context_size=0):
    model = flows.FlowModel(
        (3,),
        [
            flows.MAF([8], context_size=context_size),
            flows.Permute(),
            flows.AffineCoupling([8], context_size=context_size),
        ],
        context_size=context_size,
    )
    rng = np.random.default_rng(0)
    for v in model.trainable_variables:
        v.assign(rng.normal(0.0, 0.2, v.shape))
    return model


def test_export_round_trip(tmp_path):
    model = _flow()
    path = export.export_flow(model, str(tmp_path / "flow"), version=3)
    assert path.endswith(os.path.join("flow", "3"))
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "log_prob", "sample", "sample_seeded"}
    x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    want = model.log_prob(x).numpy()
    for name in ("serving_default", "log_prob"):
        got = loaded.signatures[name](x=tf.constant(x))["log_prob"].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    samples = loaded.signatures["sample"](num_samples=tf.constant(11))["samples"].numpy()
    assert samples.shape == (11, 3) and np.all(np.isfinite(samples))
    # sample_seeded: the flow's own sampler with the stateless seed the signature derives.
    seeded = loaded.signatures["sample_seeded"]
    a = seeded(num_samples=tf.constant(7), seed=tf.constant(5, tf.int64))["samples"].numpy()
    want = model.distribution().sample(7, seed=tf.constant([5, 0], tf.int32)).numpy()
    np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-5)


def test_conditional_export(tmp_path):
    model = _flow(context_size=2)
    path = export.export_flow(model, str(tmp_path / "cflow"))
    loaded = tf.saved_model.load(path)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    c = np.random.default_rng(2).normal(size=(4, 2)).astype("float32")
    got = loaded.signatures["log_prob"](x=tf.constant(x), context=tf.constant(c))["log_prob"]
    np.testing.assert_allclose(got.numpy(), model.log_prob(x, c).numpy(), rtol=1e-5, atol=1e-5)
    assert loaded.signatures["sample"](context=tf.constant(c))["samples"].shape == (4, 3)


def test_saved_model_cli_lists_the_signatures(tmp_path):
    path = export.export_flow(_flow(), str(tmp_path / "flow"), version=1)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run(
        [cli, "show", "--dir", path, "--all"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("serving_default", "log_prob", "sample", "sample_seeded"):
        assert f"signature_def['{name}']" in out
    assert "log_prob" in out and "num_samples" in out


def test_export_flow_rejects_other_models(tmp_path):
    with pytest.raises(ValueError, match="FlowModel"):
        export.export_flow(object(), str(tmp_path / "x"))
