"""Named image metrics end to end: Evaluator, the evaluation callback, `kerasgan evaluate`."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import cli, export, runner
from kerasgan.data import images
from kerasgan.metrics import evaluation, extractors, fid_from_features, inception_score
from kerasgan.metrics.extractors import registry


class _Pixels:
    """A transparent extractor for the plumbing tests: features = the flattened pixels,
    probabilities = softmax of fixed projections."""

    name = "fid_pixels"

    def __init__(self, dim=16 * 16):
        self.feature_dim = dim
        self.num_classes = 4
        self.w = np.random.default_rng(0).normal(size=(dim, 4))

    def features(self, x, batch_size=256):
        x = np.asarray(x, dtype=np.float64)
        return x.reshape(len(x), -1)

    def probabilities(self, x, batch_size=256):
        z = self.features(x) @ self.w
        z = np.exp(z - z.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)


@pytest.fixture(autouse=True)
def _pixels_extractor(monkeypatch):
    # A private copy of the registry: fid_pixels does not leak into other tests.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    extractors.register_extractor("fid_pixels", lambda **kw: _Pixels(**kw))
    yield


def test_parse_metric_names():
    assert evaluation.parse_metric("fid_digits") == ("fid", "fid_digits")
    assert evaluation.parse_metric("kid_inception_v3") == ("kid", "fid_inception_v3")
    assert evaluation.parse_metric("is_digits") == ("is", "fid_digits")
    for bad in ("fid", "nope_digits", "fid_", 3):
        with pytest.raises(ValueError, match="<kind>_<extractor>"):
            evaluation.parse_metric(bad)


def test_evaluator_equals_the_metric_functions(tmp_path):
    real, _ = images.digits(size=16, split="test")
    noise = 0.3 * np.random.default_rng(1).normal(size=real.shape)
    fake = np.clip(real[::-1] + noise, -1, 1).astype("float32")
    ev = evaluation.Evaluator(
        ["fid_pixels", "kid_pixels", "is_pixels", "prdc_pixels"],
        dataset="digits",
        split="test",
        image_size=16,
        batch_size=50,
        kid_subsets=5,
        kid_subset_size=100,
        cache_directory=tmp_path,
    )
    # Streamed in batches of 50 from a sampler, or given as an array: the same numbers.
    calls = iter(range(100))

    def sampler(n):
        i = next(calls) * 50
        return fake[i : i + n]

    out = ev.evaluate(sampler, len(fake))
    again = ev.evaluate(fake)
    for key in out:
        assert out[key] == pytest.approx(again[key], rel=1e-9, abs=1e-12), key
    flat_real, flat_fake = real.reshape(len(real), -1), fake.reshape(len(fake), -1)
    # Streamed vs one-batch moments differ by round-off, amplified by singular pixel covariances.
    assert out["fid_pixels"] == pytest.approx(fid_from_features(flat_real, flat_fake), rel=1e-6)
    probs = _Pixels().probabilities(fake)
    assert out["is_pixels"] == pytest.approx(inception_score(probs, splits=10)[0], rel=1e-9)
    assert {"kid_pixels", "kid_pixels_std", "prdc_pixels_precision", "prdc_pixels_coverage"} <= set(
        out
    )
    # The reference statistics were cached under (dataset, split, extractor, n).
    cached = sorted(p.name for p in pathlib.Path(tmp_path).iterdir())
    assert cached == [f"digits-16px__test__fid_pixels__n{len(real)}.npz"]


def test_reference_cache_is_keyed_by_the_extractor_weights(tmp_path, monkeypatch):
    """Retraining the network behind an extractor's name must not reuse stale statistics."""
    import keras

    inp = keras.Input((16, 16, 1))
    feats = keras.layers.Dense(3, name="feat")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, keras.layers.Dense(2, name="logits")(feats))
    ext = extractors.KerasFeatureExtractor(model, "fid_tiny", "feat", "logits")
    monkeypatch.setitem(registry._REGISTRY, "fid_tiny", lambda **kw: ext)
    first = ext.fingerprint
    assert len(first) == 12 and first == ext.fingerprint  # computed once, stable

    def reference():
        ev = evaluation.Evaluator(
            ["fid_tiny"], split="test", image_size=16, cache_directory=tmp_path
        )
        return ev.reference("fid_tiny")[0]

    real, _ = images.digits(size=16, split="test")
    old = reference()
    # The cache streams features in other batch sizes: float32 rounding (~1e-9 rel. on a mean).
    np.testing.assert_allclose(old.mu, ext.features(real).mean(0), rtol=1e-7)
    assert reference().mu.tolist() == old.mu.tolist()  # same weights: read back from the cache
    model.get_layer("feat").kernel.assign(2.0 * model.get_layer("feat").kernel)
    retrained = extractors.KerasFeatureExtractor(model, "fid_tiny", "feat", "logits")
    monkeypatch.setitem(registry._REGISTRY, "fid_tiny", lambda **kw: retrained)
    assert retrained.fingerprint != first
    new = reference()
    np.testing.assert_allclose(new.mu, retrained.features(real).mean(0), rtol=1e-7)
    assert not np.allclose(new.mu, old.mu)
    names = sorted(p.name for p in pathlib.Path(tmp_path).iterdir())
    assert names == sorted(
        f"digits-16px__test__fid_tiny-{fp}__n{len(real)}.npz"
        for fp in (first, retrained.fingerprint)
    )


def test_a_registered_metric_kind_runs_through_the_evaluator(monkeypatch):
    # A private copy of the kinds: "gap" does not leak into other tests.
    monkeypatch.setattr(evaluation, "_KINDS", dict(evaluation._KINDS))
    seen = []

    def gap(evaluator, extractor_name, generated):
        # |mu_real - mu_kept|, the kept features' row count, and the mean entropy of p(y|x).
        ref, _ = evaluator.reference(extractor_name)
        seen.append((extractor_name, generated.features.dtype))
        diff = ref.mu - generated.features.mean(0)
        p = generated.probabilities
        return {
            "": float(np.sqrt(diff @ diff)),
            "kept": len(generated.features),
            "entropy": float(-(p * np.log(p)).sum(1).mean()),
        }

    evaluation.register_metric_kind("gap", gap, keep_features=True, probabilities=True)
    assert evaluation.metric_kinds() == ["fid", "kid", "is", "prdc", "gap"]
    assert evaluation.parse_metric("gap_pixels") == ("gap", "fid_pixels")
    real, _ = images.digits(size=16, split="test")
    noise = 0.3 * np.random.default_rng(1).normal(size=real.shape)
    fake = np.clip(real[::-1] + noise, -1, 1).astype("float32")
    ev = evaluation.Evaluator(
        ["gap_pixels", "fid_pixels"], real=real, batch_size=64, max_kept_features=100
    )
    out = ev.evaluate(fake)
    assert list(out) == ["gap_pixels", "gap_pixels_kept", "gap_pixels_entropy", "fid_pixels"]
    assert seen == [("fid_pixels", np.float32)]
    flat_real, flat_fake = real.reshape(len(real), -1), fake.reshape(len(fake), -1)
    # Only the first max_kept_features generated images are kept (float32 pixels).
    expected_gap = np.linalg.norm(flat_real.mean(0) - flat_fake[:100].mean(0))
    assert out["gap_pixels"] == pytest.approx(expected_gap, rel=1e-6)
    assert out["gap_pixels_kept"] == 100
    probs = _Pixels().probabilities(fake)  # all images, not only the kept ones
    entropy = -(probs * np.log(probs)).sum(1).mean()
    assert out["gap_pixels_entropy"] == pytest.approx(entropy, rel=1e-9)
    # A built-in kind gives the same number next to a registered one.
    alone = evaluation.Evaluator(["fid_pixels"], real=real, batch_size=64).evaluate(fake)
    assert out["fid_pixels"] == alone["fid_pixels"]

    with pytest.raises(ValueError, match="already registered"):
        evaluation.register_metric_kind("gap", gap)
    evaluation.register_metric_kind("gap", lambda ev, name, gen: {"": 1.0}, overwrite=True)
    assert evaluation.Evaluator(["gap_pixels"], real=real).evaluate(fake) == {"gap_pixels": 1.0}
    for bad, match in (("my_gap", "kind='my_gap'"), ("", "kind=''"), (3, "kind=3")):
        with pytest.raises(ValueError, match=match):
            evaluation.register_metric_kind(bad, gap)
    with pytest.raises(ValueError, match="function must be callable"):
        evaluation.register_metric_kind("gap2", 3)
    with pytest.raises(ValueError, match="keep_features=1"):
        evaluation.register_metric_kind("gap2", gap, keep_features=1)
    with pytest.raises(ValueError, match=r"kind in \['fid', 'kid', 'is', 'prdc', 'gap'\]"):
        evaluation.parse_metric("gap2_pixels")


def test_evaluator_errors():
    with pytest.raises(ValueError, match="metrics"):
        evaluation.Evaluator([])
    ev = evaluation.Evaluator(["fid_pixels"], real=np.zeros((10, 16, 16, 1)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        ev.evaluate(np.full((4, 16, 16, 1), np.nan))
    with pytest.raises(ValueError, match="num_samples"):
        ev.evaluate(lambda n: np.zeros((n, 16, 16, 1)))


def _digits_gan_config(tmp_path, **kw):
    cfg = {
        "name": "eval_dcgan",
        "model": "dcgan",
        "dataset": "digits",
        "latent_dim": 16,
        "image_size": 16,
        "base_filters": 16,
        "batch_size": 64,
        "epochs": 2,
        "steps_per_epoch": 10,
        "runs_dir": str(tmp_path / "runs"),
        "export_dir": str(tmp_path / "sm"),
        "verbose": 0,
        "eval_metrics": ["fid_pixels", "kid_pixels"],
        "eval_metric_samples": 200,
    }
    cfg.update(kw)
    return cfg


def test_evaluation_callback_logs_to_history_tensorboard_and_metrics_jsonl(tmp_path):
    result = runner.run(_digits_gan_config(tmp_path))
    history = result["history"]
    assert len(history["fid_pixels"]) == 2 and all(np.isfinite(history["fid_pixels"]))
    assert "kid_pixels_std" in history
    run_dir = tmp_path / "runs" / "eval_dcgan"
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["fid_pixels"] for r in records] == pytest.approx(history["fid_pixels"])
    tags = set()
    for path in (run_dir / "tb").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(v.tag for v in event.summary.value)
    assert {"epoch_fid_pixels", "epoch_kid_pixels"} <= tags


def test_kerasgan_evaluate_on_an_export(tmp_path, capsys):
    gan = kerasgan.GAN(
        kerasgan.models.build_dcgan_generator(8, (16, 16, 1), 8),
        kerasgan.models.build_dcgan_discriminator((16, 16, 1), 8),
        latent_dim=8,
    )
    export.export_generator(gan, str(tmp_path / "gan"), version=1)
    out = tmp_path / "scores.json"
    argv = ["evaluate", str(tmp_path / "gan"), "--metric", "fid_pixels", "--metric", "is_pixels"]
    argv += ["-n", "300", "--batch-size", "128", "--output", str(out)]
    assert cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["num_samples"] == 300 and printed["fid_pixels"] > 0
    # The same seed gives the same score (sample_seeded), another seed another one.
    assert cli.main(argv[:-2]) == 0
    assert json.loads(capsys.readouterr().out)["fid_pixels"] == pytest.approx(printed["fid_pixels"])
    assert cli.main([*argv[:-2], "--seed", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["fid_pixels"] != printed["fid_pixels"]
    # Errors exit 2 with a message.
    assert cli.main(["evaluate", str(tmp_path / "gan"), "--metric", "fid_nope", "-n", "10"]) == 2
    assert "fid_nope" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "gan"), "--metric", "fid_pixels", "-n", "1"]) == 2
    assert "-n must be at least 2" in capsys.readouterr().err


@pytest.mark.slow
def test_fid_digits_ranks_real_above_a_briefly_trained_gan_above_noise(tmp_path):
    """Held-out real digits < a DCGAN after a few hundred steps < uniform noise (fid_digits)."""
    cfg = _digits_gan_config(
        tmp_path,
        name="fid_rank",
        epochs=1,
        steps_per_epoch=500,  # fid_digits ~ 1200 after 100 steps, ~ 300 after 500 (noise: 770)
        batch_size=64,
        latent_dim=32,
        base_filters=32,
        eval_metrics=[],
        export=False,
        tensorboard=False,
    )
    gan = runner.run(cfg)["model"]
    reference, _ = images.digits(size=16, split="test")  # the 359 held-out digits
    ev = evaluation.Evaluator(["fid_digits", "kid_digits"], real=reference, kid_subsets=20)
    held_out_real = images.digits(size=16, split="train")[0][:1000]
    noise = np.random.default_rng(0).uniform(-1, 1, size=(1000, 16, 16, 1)).astype("float32")
    scores = {
        "real": ev.evaluate(held_out_real),
        "gan": ev.evaluate(gan.sample(1000, seed=1)),
        "noise": ev.evaluate(noise),
    }
    fids = {k: v["fid_digits"] for k, v in scores.items()}
    kids = {k: v["kid_digits"] for k, v in scores.items()}
    assert fids["real"] < fids["gan"] < fids["noise"], fids
    assert kids["real"] < kids["gan"] < kids["noise"], kids
    # Real digits against held-out real digits: small in absolute terms too.
    assert fids["real"] < 0.2 * fids["gan"], fids
