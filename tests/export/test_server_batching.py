"""Server-side batching: concurrent predict requests merged into one model call give the
answers of unbatched calls; a bad request fails alone; random, scalar-input and
non-row-wise signatures are never merged."""

import http.client
import json
import os
import re
import threading

import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import export, flows
from kerasgan.export.server import ModelServer


class _Checked(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def serve(self, x):
        tf.debugging.assert_non_negative(x, message="x must be >= 0")
        return {"root": tf.sqrt(x), "total": tf.reduce_sum(x, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def noisy(self, x):  # random: never merged
        return {"y": x + tf.random.normal(tf.shape(x))}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def pooled(self, x):  # an output without a batch dimension: never merged
        return {"mean": tf.reduce_mean(x, axis=0)}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("batching")
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(4, 3),
        kerasgan.models.build_mlp_discriminator(3),
        latent_dim=4,
    )
    rng = np.random.default_rng(0)
    for v in gan.generator.trainable_variables:
        v.assign(rng.normal(0.0, 0.3, v.shape))
    export.export_generator(gan, str(root / "gan"), version=1)
    cflow = flows.FlowModel((2,), [flows.MAF([8], context_size=2)], context_size=2)
    export.export_flow(cflow, str(root / "cflow"), version=1)
    module = _Checked()
    tf.saved_model.save(
        module,
        str(root / "checked" / "1"),
        signatures={
            "serving_default": module.serve,
            "noisy": module.noisy,
            "pooled": module.pooled,
        },
    )
    return {k: str(root / k) for k in ("gan", "cflow", "checked")}


def _post(s, body):
    conn = http.client.HTTPConnection(s.host, s.port, timeout=60)
    try:
        conn.request("POST", f"/v1/models/{s.model_name}:predict", body=json.dumps(body))
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def _concurrently(s, bodies):
    """Posts all bodies at once (one thread each, released together); the answers in order."""
    results = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def client(i):
        barrier.wait(timeout=60)
        results[i] = _post(s, bodies[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _metric(s, name, **labels):
    conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
    conn.request("GET", "/monitoring/prometheus/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(re.escape(f"{name}{{{want}}}") + r" (\S+)", text)
    return None if m is None else float(m[1])


def test_which_signatures_are_batched(exports):
    want = {
        "gan": {"serving_default"},  # not sample / sample_seeded: scalar inputs, random
        "cflow": {"serving_default", "log_prob"},  # not sample(context): random
        "checked": {"serving_default"},  # not noisy (random) or pooled (no batch dim)
    }
    for name, batched in want.items():
        with ModelServer(exports[name], port=0, enable_batching=True) as s:
            assert set(s.batched_signatures) == batched, name
        with ModelServer(exports[name], port=0) as s:
            assert s.batched_signatures == []


def test_merged_requests_answer_as_unbatched_calls(exports):
    rng = np.random.default_rng(1)
    sizes = [1 + i % 5 for i in range(48)]
    with ModelServer(
        exports["gan"], port=0, enable_batching=True, batch_timeout=0.05, model_threads=1
    ) as s:
        fn = tf.saved_model.load(os.path.join(exports["gan"], "1")).signatures["serving_default"]
        zs = [rng.normal(size=(n, 4)).astype("float32") for n in sizes]
        wants = [fn(z=tf.constant(z))["samples"].numpy() for z in zs]
        results = _concurrently(s, [{"instances": z.tolist()} for z in zs])
        for (status, body), want in zip(results, wants):
            assert status == 200, body
            got = np.array(body["predictions"], dtype=np.float32)
            assert got.shape == want.shape
            # Equal up to float32 rounding (a few ulps through three 128-wide layers): the
            # matrix kernels sum in another order for another batch size, as they do for
            # unbatched requests of 1 and of 16 rows.
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        labels = {"model_name": "gan", "signature_name": "serving_default"}
        calls = _metric(s, ":tensorflow:serving:batching_session:processed_batch_size_count",
                        **labels)
        rows = _metric(s, ":tensorflow:serving:batching_session:processed_batch_size_sum",
                       **labels)
        inputs = _metric(s, ":tensorflow:serving:batching_session:input_batch_size_count",
                         **labels)
        assert inputs == len(sizes) and rows == sum(sizes)
        assert calls < len(sizes) / 2, calls  # requests were merged


def test_row_wise_signature_is_bitwise_identical_and_a_bad_request_fails_alone(exports):
    rng = np.random.default_rng(2)
    with ModelServer(
        exports["checked"], port=0, enable_batching=True, batch_timeout=0.05, model_threads=1
    ) as s:
        xs = [rng.uniform(0, 4, size=(1 + i % 3, 3)).astype("float32") for i in range(30)]
        bad = {3, 11, 20}
        for i in bad:
            xs[i][0, 1] = -1.0
        results = _concurrently(s, [{"instances": x.tolist()} for x in xs])
        for i, ((status, body), x) in enumerate(zip(results, xs)):
            if i in bad:
                assert status == 400 and "x must be >= 0" in body["error"], body
                continue
            assert status == 200, body
            root = np.array([row["root"] for row in body["predictions"]], dtype=np.float32)
            np.testing.assert_array_equal(root, np.sqrt(x))
            total = np.array([row["total"] for row in body["predictions"]], dtype=np.float32)
            np.testing.assert_allclose(total, x.sum(axis=1), rtol=1e-6)
        calls = _metric(
            s,
            ":tensorflow:serving:batching_session:processed_batch_size_count",
            model_name="checked",
            signature_name="serving_default",
        )
        assert calls < 30


def test_requests_that_cannot_be_merged_still_answer(exports):
    with ModelServer(exports["cflow"], port=0, enable_batching=True, max_batch_size=4) as s:
        rng = np.random.default_rng(3)
        # Inputs with different row counts are refused by the model as when unbatched.
        status, body = _post(
            s, {"inputs": {"x": [[0.0, 0.0]] * 4, "context": [[0.0, 0.0]] * 3}}
        )
        assert status == 400 and "rejected" in body["error"], body
        # More rows than max_batch_size: one call of its own.
        x = rng.normal(size=(10, 2)).astype("float32")
        c = rng.normal(size=(10, 2)).astype("float32")
        fn = tf.saved_model.load(os.path.join(exports["cflow"], "1")).signatures["log_prob"]
        want = fn(x=tf.constant(x), context=tf.constant(c))["log_prob"].numpy()
        status, body = _post(s, {"inputs": {"x": x.tolist(), "context": c.tolist()}})
        assert status == 200
        np.testing.assert_allclose(body["outputs"], want, rtol=1e-5, atol=1e-5)
        # The random sampler is called once per request, never merged.
        results = _concurrently(
            s, [{"signature_name": "sample", "instances": c[: 1 + i % 3].tolist()}
                for i in range(8)]
        )
        for i, (status, body) in enumerate(results):
            assert status == 200 and np.array(body["predictions"]).shape == (1 + i % 3, 2)
        assert _metric(
            s,
            ":tensorflow:serving:batching_session:input_batch_size_count",
            model_name="cflow",
            signature_name="sample",
        ) is None
