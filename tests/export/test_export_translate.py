"""Image-to-image export: `translate` / `serving_default` equal the Keras model, through
saved_model_cli, `kerasgan export` and the REST server."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import cli, export
from kerasgan.export.server import ModelServer, RequestError


def _fully_convolutional(seed=0):
    """A tiny encoder-decoder with a skip (pix2pix's shape), any H, W divisible by 2."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((None, None, 3))
    down = keras.layers.Conv2D(8, 4, strides=2, padding="same", activation="relu")(x)
    up = keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same", activation="relu")(down)
    out = keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(
        keras.layers.Concatenate()([up, x])
    )
    return keras.Model(x, out)


def _images(n, h, w, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, h, w, 3)).astype("float32")


def test_translate_equals_the_keras_model_at_other_batch_and_image_sizes(tmp_path):
    model = _fully_convolutional()
    path = export.export_translator(model, str(tmp_path / "p2p"), version=1)
    assert path == str(tmp_path / "p2p" / "1")
    sigs = tf.saved_model.load(path).signatures
    assert set(sigs) == {"serving_default", "translate"}
    for n, h, w in [(3, 8, 8), (1, 16, 12)]:
        x = _images(n, h, w)
        want = model(x, training=False).numpy()
        for name in ("translate", "serving_default"):
            got = sigs[name](images=tf.constant(x))["translated"].numpy()
            assert got.shape == (n, h, w, 3)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_saved_model_cli_lists_translate(tmp_path):
    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(inp))
    path = export.export_translator(model, str(tmp_path / "t"), version=1)
    tool = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run(
        [tool, "show", "--dir", path, "--all"], capture_output=True, text=True, check=True
    ).stdout
    block = out.split("signature_def['translate']")[1].split("signature_def[")[0]
    assert "inputs['images']" in block and "shape: (-1, 8, 8, 1)" in block
    assert "outputs['translated']" in block and "shape: (-1, 8, 8, 3)" in block
    assert "tensorflow/serving/predict" in block
    assert "signature_def['serving_default']" in out


def test_cli_export_of_an_image_to_image_checkpoint_and_server_predict(tmp_path, capsys):
    model = _fully_convolutional(seed=3)
    ckpt = str(tmp_path / "translator.keras")
    model.save(ckpt)
    assert cli.main(["export", ckpt, "--to", str(tmp_path / "sm" / "p2p")]) == 0
    assert "image-to-image" in capsys.readouterr().out
    x = _images(2, 8, 8, seed=4)
    want = model(x, training=False).numpy()
    with ModelServer(str(tmp_path / "sm" / "p2p"), port=0) as server:
        rows = server.predict({"signature_name": "translate", "instances": x.tolist()})
        np.testing.assert_allclose(rows["predictions"], want, rtol=1e-5, atol=1e-6)
        cols = server.predict({"inputs": {"images": x.tolist()}})
        np.testing.assert_allclose(cols["outputs"], want, rtol=1e-5, atol=1e-6)
        # What `kerasgan serve` prints as the example: zeros the network accepts.
        example = server.predict(server.example_request())
        assert np.asarray(example["predictions"]).shape == (1, 16, 16, 3)
        # Wrong channels, or a size the skip connection cannot take: 400s, still serving.
        for bad, words in [(_images(1, 8, 8)[..., :2], "shape"), (_images(1, 7, 7), "rejected")]:
            with pytest.raises(RequestError, match=words) as err:
                server.predict({"instances": bad.tolist()})
            assert err.value.status == 400
        again = server.predict({"instances": x.tolist()})
        np.testing.assert_allclose(again["predictions"], want, rtol=1e-5, atol=1e-6)


def test_bad_models_raise_value_errors(tmp_path):
    inp = keras.Input((4,))
    dense = keras.Model(inp, keras.layers.Dense(2)(inp))
    with pytest.raises(ValueError, match=r"one image input.*Received: inputs \[\(None, 4\)\]"):
        export.export_translator(dense, str(tmp_path / "d"))
    img = keras.Input((8, 8, 1))
    to_vector = keras.Model(img, keras.layers.Dense(2)(keras.layers.Flatten()(img)))
    with pytest.raises(ValueError, match=r"outputs \[\(None, 2\)\]"):
        export.export_translator(to_vector, str(tmp_path / "v"))
    with pytest.raises(ValueError, match="Received: str"):
        export.export_translator("model", str(tmp_path / "s"))
    assert not export.is_image_to_image(dense) and export.is_image_to_image(_fully_convolutional())
    ckpt = str(tmp_path / "dense.keras")
    dense.save(ckpt)
    assert cli.main(["export", ckpt, "--to", str(tmp_path / "x")]) == 2
