"""kerasgan serve: TF Serving's REST API (status, metadata, row and columnar predict) on
exported GANs and flows, equal to calling the SavedModel in process; every bad request gets a
JSON error and the server keeps serving; concurrency; versions; the CLI in a subprocess."""

import http.client
import json
import math
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import kerasgan
from kerasgan import export, flows
from kerasgan.export.server import ModelServer, RequestError, available_versions, resolve_export

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _randomize(model, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(rng.normal(0.0, scale, v.shape))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Tiny exports: an MLP GAN, a MAF flow, a conditional flow, a two-output custom module."""
    root = tmp_path_factory.mktemp("exports")
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(2, 2),
        kerasgan.models.build_mlp_discriminator(2),
        latent_dim=2,
    )
    _randomize(gan.generator)
    export.export_generator(gan, str(root / "gan"), version=1)
    flow = flows.FlowModel((2,), [flows.MAF([8])])
    _randomize(flow, seed=1)
    export.export_flow(flow, str(root / "flow"), version=1)
    cflow = flows.FlowModel((3,), [flows.MAF([8], context_size=2)], context_size=2)
    _randomize(cflow, seed=2)
    export.export_flow(cflow, str(root / "cflow"), version=2)

    class TwoOutputs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"double": 2.0 * x, "log": tf.math.log(x)}  # log(<0) = NaN, log(0) = -inf

    module = TwoOutputs()
    tf.saved_model.save(
        module, str(root / "two" / "1"), signatures={"serving_default": module.serve}
    )
    return {k: str(root / k) for k in ("gan", "flow", "cflow", "two")}


@pytest.fixture(scope="module")
def servers(exports):
    started = {k: ModelServer(d, port=0).start() for k, d in exports.items()}
    yield started
    for s in started.values():
        s.shutdown()


def _loaded(server):
    return tf.saved_model.load(os.path.join(server.base_dir, str(server.version)))


def _call(url, body=None, method=None):
    """(status, parsed JSON, headers) of one request on a fresh connection."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers


def _conn_call(conn, method, path, body=None):
    """(status, parsed JSON) of one request on a persistent connection."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())


# -- status and metadata ---------------------------------------------------------------------


def test_status_and_metadata(servers):
    s = servers["gan"]
    assert s.model_name == "gan" and s.version == 1
    want = {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    status, body, headers = _call(s.model_url)
    assert status == 200 and body == want
    assert headers["Content-Type"] == "application/json"
    assert _call(s.model_url + "/versions/1")[1] == want
    status, meta, _ = _call(s.model_url + "/metadata")
    assert status == 200
    assert meta["model_spec"] == {"name": "gan", "signature_name": "", "version": "1"}
    defs = meta["metadata"]["signature_def"]["signature_def"]
    z = defs["serving_default"]["inputs"]["z"]
    assert z["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in z["tensor_shape"]["dim"]] == ["-1", "2"]
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"
    assert defs["serving_default"]["outputs"]["samples"]["dtype"] == "DT_FLOAT"
    n = defs["sample"]["inputs"]["num_samples"]
    assert n["dtype"] == "DT_INT32" and n["tensor_shape"] == {"dim": [], "unknown_rank": False}
    assert _call(s.model_url + "/versions/1/metadata")[1] == meta
    # The flow: log_prob [None] output, float32 x [None, 2].
    defs = _call(servers["flow"].model_url + "/metadata")[1]["metadata"]["signature_def"]
    lp = defs["signature_def"]["log_prob"]
    assert [d["size"] for d in lp["outputs"]["log_prob"]["tensor_shape"]["dim"]] == ["-1"]


# -- predict equals the SavedModel called in process -----------------------------------------


def test_gan_row_and_columnar_predict_equal_in_process(servers):
    s = servers["gan"]
    z = np.random.default_rng(3).normal(size=(7, 2)).astype("float32")
    want = _loaded(s).signatures["serving_default"](z=tf.constant(z))["samples"].numpy()
    url = s.model_url + ":predict"
    status, body, _ = _call(url, {"instances": z.tolist()})
    assert status == 200 and list(body) == ["predictions"]
    np.testing.assert_allclose(np.array(body["predictions"]), want, atol=1e-6)
    status, body, _ = _call(url, {"signature_name": "serving_default", "inputs": z.tolist()})
    assert status == 200 and list(body) == ["outputs"]
    np.testing.assert_allclose(np.array(body["outputs"]), want, atol=1e-6)
    # Named forms and an explicit version give the same answer.
    for request in (
        {"instances": [{"z": row} for row in z.tolist()]},
        {"inputs": {"z": z.tolist()}},
    ):
        status, body, _ = _call(s.model_url + "/versions/1:predict", request)
        assert status == 200
        np.testing.assert_allclose(np.array(next(iter(body.values()))), want, atol=1e-6)
    # The in-process path behind the handler gives the same JSON.
    assert s.predict({"instances": z.tolist()})["predictions"] == want.tolist()


def test_flow_log_prob_equals_in_process(servers):
    s = servers["flow"]
    x = np.random.default_rng(4).normal(size=(6, 2)).astype("float32")
    loaded = _loaded(s)
    for sig in ("serving_default", "log_prob"):
        want = loaded.signatures[sig](x=tf.constant(x))["log_prob"].numpy()
        assert want.shape == (6,) and np.all(np.isfinite(want))
        body = _call(s.model_url + ":predict", {"signature_name": sig, "instances": x.tolist()})[1]
        np.testing.assert_allclose(body["predictions"], want, atol=1e-6)
        body = _call(
            s.model_url + ":predict", {"signature_name": sig, "inputs": {"x": x.tolist()}}
        )[1]
        np.testing.assert_allclose(body["outputs"], want, atol=1e-6)


def test_conditional_flow_named_inputs_equal_in_process(servers):
    s = servers["cflow"]
    assert s.version == 2
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 3)).astype("float32")
    c = rng.normal(size=(4, 2)).astype("float32")
    want = _loaded(s).signatures["log_prob"](x=tf.constant(x), context=tf.constant(c))
    want = want["log_prob"].numpy()
    rows = [{"x": xi, "context": ci} for xi, ci in zip(x.tolist(), c.tolist())]
    url = s.model_url + ":predict"
    body = _call(url, {"signature_name": "log_prob", "instances": rows})[1]
    np.testing.assert_allclose(body["predictions"], want, atol=1e-6)
    body = _call(url, {"inputs": {"x": x.tolist(), "context": c.tolist()}})[1]
    np.testing.assert_allclose(body["outputs"], want, atol=1e-6)
    # The conditional sampler: one sample per context row.
    status, body, _ = _call(url, {"signature_name": "sample", "instances": c.tolist()})
    assert status == 200 and np.array(body["predictions"]).shape == (4, 3)


def test_sample_signature_with_scalar_num_samples(servers):
    for name, dim in (("gan", 2), ("flow", 2)):
        url = servers[name].model_url + ":predict"
        for inputs in ({"num_samples": 5}, 5):
            status, body, _ = _call(url, {"signature_name": "sample", "inputs": inputs})
            assert status == 200, body
            samples = np.array(body["outputs"])
            assert samples.shape == (5, dim) and np.all(np.isfinite(samples))
        status, body, _ = _call(url, {"signature_name": "sample", "inputs": {"num_samples": 0}})
        assert status == 200 and body["outputs"] == []


def test_several_outputs_and_non_finite_values(servers, exports):
    s = servers["two"]
    x = [[1.0, 0.0], [-1.0, 4.0]]
    status, body, _ = _call(s.model_url + ":predict", {"instances": x})
    assert status == 200
    assert body["predictions"][0]["double"] == [2.0, 0.0]
    assert body["predictions"][1]["double"] == [-2.0, 8.0]
    log0, log1 = body["predictions"][0]["log"], body["predictions"][1]["log"]
    assert log0[0] == 0.0 and log0[1] == -math.inf
    assert math.isnan(log1[0]) and log1[1] == pytest.approx(math.log(4.0))
    status, body, _ = _call(s.model_url + ":predict", {"inputs": x})
    assert sorted(body["outputs"]) == ["double", "log"]
    assert body["outputs"]["double"] == [[2.0, 0.0], [-2.0, 8.0]]
    # As TF Serving does: the bare tokens NaN / -Infinity (not valid strict JSON).
    raw = urllib.request.urlopen(
        urllib.request.Request(s.model_url + ":predict", json.dumps({"inputs": x}).encode())
    ).read()
    assert b"NaN" in raw and b"-Infinity" in raw
    # non_finite="null": strict JSON.
    with ModelServer(exports["two"], port=0, non_finite="null") as strict:
        raw = urllib.request.urlopen(
            urllib.request.Request(
                strict.model_url + ":predict", json.dumps({"inputs": x}).encode()
            )
        ).read()

        def refuse(token):
            raise AssertionError(f"non-strict JSON token {token}")

        body = json.loads(raw, parse_constant=refuse)
        assert body["outputs"]["log"][0] == [0.0, None]
        assert body["outputs"]["log"][1][0] is None
        assert body["outputs"]["log"][1][1] == pytest.approx(math.log(4.0))


def test_non_finite_inputs_are_accepted(servers):
    s = servers["two"]
    raw = b'{"inputs": [[NaN, Infinity]]}'
    status, body, _ = _call(s.model_url + ":predict", raw)
    assert status == 200
    assert (
        math.isnan(body["outputs"]["double"][0][0]) and body["outputs"]["double"][0][1] == math.inf
    )


def test_example_request_printed_by_the_cli_is_valid(servers):
    for s in servers.values():
        status, body, _ = _call(s.model_url + ":predict", s.example_request())
        assert status == 200, (s.model_name, body)


# -- bad requests ----------------------------------------------------------------------------


def _nested(depth):
    value = 0.0
    for _ in range(depth):
        value = [value]
    return value


Z = [[0.0, 1.0]]
BAD_PREDICTS = [
    # (server, raw body or JSON, status, words the error must contain)
    ("gan", b'{"instances": [[0, 1]]', 400, ["malformed JSON"]),
    ("gan", b"\xff\xfe{}", 400, ["UTF-8"]),
    ("gan", b"", 400, ["malformed JSON"]),
    ("gan", [1, 2], 400, ["JSON object", "list"]),
    ("gan", {"instances": Z, "inputs": Z}, 400, ["exactly one", "both"]),
    ("gan", {"signature_name": "serving_default"}, 400, ["exactly one", "neither"]),
    ("gan", {"instance": Z}, 400, ["unknown request key", "instance"]),
    (
        "gan",
        {"signature_name": "nope", "instances": Z},
        400,
        ["'nope'", "'sample', 'sample_seeded', 'serving_default'"],
    ),
    ("gan", {"signature_name": 3, "instances": Z}, 400, ["signature_name must be a string"]),
    ("gan", {"instances": [[0.0, 1.0, 2.0]]}, 400, ["'z'", "shape [2]", "shape [3]"]),
    ("gan", {"inputs": [[0.0, 1.0, 2.0]]}, 400, ["'z'", "[None, 2]", "[1, 3]"]),
    ("gan", {"inputs": [0.0, 1.0]}, 400, ["'z'", "[None, 2]", "received shape [2]"]),
    ("gan", {"inputs": [[[0.0, 1.0]]]}, 400, ["'z'", "[None, 2]", "[1, 1, 2]"]),
    ("gan", {"instances": [[0.0, 1.0], [0.0]]}, 400, ["'z'", "ragged"]),
    ("gan", {"instances": [[0.0, 1.0], 2.0]}, 400, ["'z'", "ragged"]),
    ("gan", {"instances": [[0.0, "a"]]}, 400, ["'z'", "float32", "string"]),
    ("gan", {"instances": [[0.0, True]]}, 400, ["'z'", "float32", "boolean"]),
    ("gan", {"instances": [[0.0, None]]}, 400, ["'z'", "null"]),
    ("gan", {"instances": [[0.0, {"b64": "AA=="}]]}, 400, ["'z'", "object"]),
    ("gan", {"signature_name": "sample", "inputs": {"num_samples": 2.5}}, 400, ["int32", "2.5"]),
    ("gan", {"signature_name": "sample", "inputs": {"num_samples": 4.0}}, 400, ["int32"]),
    ("gan", {"signature_name": "sample", "inputs": {"num_samples": "4"}}, 400, ["int32", "string"]),
    (
        "gan",
        {"signature_name": "sample", "inputs": {"num_samples": 2**40}},
        400,
        ["int32", "2147483647"],
    ),
    (
        "gan",
        {"signature_name": "sample", "inputs": {"num_samples": 10**6}},
        400,
        ["num_samples", "max_batch"],
    ),
    (
        "gan",
        {"signature_name": "sample", "inputs": {"num_samples": -1}},
        400,
        ["num_samples", "-1"],
    ),
    (
        "gan",
        {"signature_name": "sample", "inputs": {"num_samples": [4]}},
        400,
        ["num_samples", "shape []", "[1]"],
    ),
    ("gan", {"signature_name": "sample", "instances": [4]}, 400, ["num_samples", "columnar"]),
    ("gan", {"inputs": {"x": Z}}, 400, ["missing input(s) ['z']", "unknown input(s) ['x']"]),
    (
        "gan",
        {"instances": [{"z": [0.0, 1.0], "w": 1}]},
        400,
        ["instances[0]", "unknown input(s) ['w']"],
    ),
    ("gan", {"instances": [{"z": [0.0, 1.0]}, [0.0, 1.0]]}, 400, ["mixes"]),
    ("gan", {"instances": []}, 400, ["empty"]),
    ("gan", {"instances": 3}, 400, ["must be a list"]),
    ("cflow", {"inputs": [[0.0, 0.0, 0.0]]}, 400, ["'context', 'x'", "keyed by input name"]),
    ("cflow", {"instances": [[0.0, 0.0, 0.0]]}, 400, ["'context', 'x'", "keyed by input name"]),
    ("cflow", {"instances": [{"x": [0.0, 0.0, 0.0]}]}, 400, ["missing input(s) ['context']"]),
    # Deeper than NumPy's 64 dimensions, a 400-digit integer literal, a value beyond float32.
    ("gan", {"instances": _nested(70)}, 400, ["'z'", "nested", "shape [2]"]),
    ("gan", {"inputs": _nested(70)}, 400, ["'z'", "nested", "[None, 2]"]),
    ("gan", {"instances": [[10**400, 1.0]]}, 400, ["'z'", "float32", "range"]),
    ("gan", {"instances": [[1e39, 1.0]]}, 400, ["'z'", "float32", "range", "1e+39"]),
    ("gan", {"instances": [[-1e300, 1.0]]}, 400, ["'z'", "float32", "range"]),
    ("gan", b'{"instances": [[1' + b"0" * 5000 + b', 1.0]]}', 400, ["digits"]),
]
GOOD = {
    "gan": {"instances": Z},
    "cflow": {"inputs": {"x": [[0.0, 0.0, 0.0]], "context": [[0.0, 0.0]]}},
}


@pytest.mark.parametrize("server, body, status, words", BAD_PREDICTS)
def test_bad_predict_request_gets_json_error_and_server_keeps_serving(
    servers, server, body, status, words
):
    s = servers[server]
    conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
    try:
        path = f"/v1/models/{s.model_name}:predict"
        got, reply = _conn_call(conn, "POST", path, body)
        assert got == status, reply
        assert list(reply) == ["error"]
        for word in words:
            assert word in reply["error"], (word, reply["error"])
        # Same keep-alive connection, then a fresh one: a good request still succeeds.
        assert _conn_call(conn, "POST", path, GOOD[server])[0] == 200
        assert _call(s.model_url + ":predict", GOOD[server])[0] == 200
    finally:
        conn.close()
    if not isinstance(body, bytes):  # the in-process path refuses it the same way
        with pytest.raises(RequestError) as e:
            s.predict(body)
        assert e.value.status == status


BAD_ROUTES = [
    ("GET", "/v1/models/other", 404, "Servable not found"),
    ("POST", "/v1/models/other:predict", 404, "Servable not found"),
    ("GET", "/v1/models/gan/versions/9", 404, "served version is 1"),
    ("POST", "/v1/models/gan/versions/9:predict", 404, "served version is 1"),
    ("GET", "/v1/models/gan/versions/abc", 400, "non-negative integer"),
    ("GET", "/v1/models/gan/labels/stable", 404, "labels are not supported"),
    ("POST", "/v1/models/gan:classify", 400, ":classify is not supported"),
    ("POST", "/v1/models/gan:regress", 400, ":regress is not supported"),
    ("POST", "/v1/models/gan:explode", 404, "unknown verb"),
    ("GET", "/v1/models/gan:predict", 405, "takes POST"),
    ("POST", "/v1/models/gan", 405, "takes GET"),
    ("DELETE", "/v1/models/gan", 405, "takes GET"),
    ("GET", "/v2/nope", 404, "unknown path"),
]


@pytest.mark.parametrize("method, path, status, word", BAD_ROUTES)
def test_bad_route_gets_json_error_and_server_keeps_serving(servers, method, path, status, word):
    s = servers["gan"]
    conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
    try:
        got, reply = _conn_call(conn, method, path, b"{}" if method == "POST" else None)
        assert got == status and word in reply["error"], reply
        assert _conn_call(conn, "POST", "/v1/models/gan:predict", GOOD["gan"])[0] == 200
    finally:
        conn.close()


def test_size_limits(exports):
    with ModelServer(exports["gan"], port=0, max_batch=8, max_body_bytes=2000) as s:
        conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
        path = "/v1/models/gan:predict"
        sample = {"signature_name": "sample", "inputs": {"num_samples": 8}}
        status, body = _conn_call(conn, "POST", path, sample)
        assert status == 200 and len(body["outputs"]) == 8
        sample["inputs"]["num_samples"] = 9
        status, body = _conn_call(conn, "POST", path, sample)
        assert status == 400 and "max_batch=8" in body["error"]
        status, body = _conn_call(conn, "POST", path, {"instances": [[0.0, 0.0]] * 9})
        assert status == 400 and "max_batch=8" in body["error"]
        status, body = _conn_call(conn, "POST", path, {"inputs": [[0.0, 0.0]] * 9})
        assert status == 400 and "max_batch=8" in body["error"]
        # Larger than the socket buffers: the client only sees the 413 (not a broken pipe)
        # because the server reads the body before answering.
        big = json.dumps({"inputs": [[0.0, 0.0]] * 8, "pad": " " * 4_000_000}).encode()
        status, body = _conn_call(conn, "POST", path, big)
        assert status == 413 and "max_body_bytes=2000" in body["error"]
        status, body, _ = _call(s.model_url + ":predict", big)
        assert status == 413 and "4000" in body["error"]
        status, body = _conn_call(conn, "POST", path, {"instances": [[0.0, 0.0]] * 8})
        assert status == 200 and len(body["predictions"]) == 8
        conn.close()


def test_verbose_logs_one_line_per_request(exports, capfd):
    with ModelServer(exports["gan"], port=0, verbose=True) as s:
        assert _call(s.model_url + ":predict", GOOD["gan"])[0] == 200
        assert _call(s.model_url + ":predict", {"instances": []})[0] == 400
    lines = [line for line in capfd.readouterr().err.splitlines() if "/v1/models/gan" in line]
    assert len(lines) == 2
    assert '"POST /v1/models/gan:predict HTTP/1.1" 200' in lines[0]
    assert '"POST /v1/models/gan:predict HTTP/1.1" 400' in lines[1]


def test_missing_content_length_is_refused(servers):
    s = servers["gan"]
    with socket.create_connection((s.host, s.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 411")
    assert "Content-Length" in json.loads(body)["error"]


def test_concurrent_requests_all_succeed_and_match(servers):
    s = servers["gan"]
    fn = _loaded(s).signatures["serving_default"]
    rng = np.random.default_rng(6)
    batches = [rng.normal(size=(3, 2)).astype("float32") for _ in range(48)]
    wants = [fn(z=tf.constant(z))["samples"].numpy() for z in batches]
    results = [None] * len(batches)
    errors = []

    def client(k):
        conn = http.client.HTTPConnection(s.host, s.port, timeout=60)
        try:
            for i in range(k, len(batches), 8):
                results[i] = _conn_call(
                    conn, "POST", "/v1/models/gan:predict", {"instances": batches[i].tolist()}
                )
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for (status, body), want in zip(results, wants):
        assert status == 200
        np.testing.assert_allclose(np.array(body["predictions"]), want, atol=1e-6)


# -- versions --------------------------------------------------------------------------------


def test_latest_version_is_served_and_reload_switches(exports, tmp_path):
    base = tmp_path / "model"
    src = os.path.join(exports["gan"], "1")
    shutil.copytree(src, base / "1")
    shutil.copytree(src, base / "3")
    (base / "7").mkdir()  # no SavedModel inside: not a version
    (base / ".tmp-export-x").mkdir()
    assert available_versions(base) == [1, 3]
    assert resolve_export(base) == (3, str(base / "3"))
    assert resolve_export(base, version=1) == (1, str(base / "1"))
    with ModelServer(base, model_name="m", port=0) as s:
        assert s.model_url.endswith("/v1/models/m")
        assert _call(s.model_url)[1]["model_version_status"][0]["version"] == "3"
        assert _call(s.model_url + "/versions/1")[0] == 404
        assert s.reload() is False
        shutil.copytree(src, base / "12")
        assert s.reload() is True
        assert _call(s.model_url)[1]["model_version_status"][0]["version"] == "12"
        assert _call(s.model_url + "/versions/12:predict", GOOD["gan"])[0] == 200
    # Polling picks up a new version by itself.
    with ModelServer(base, port=0, poll_seconds=0.1) as s:
        assert s.version == 12
        shutil.copytree(src, base / "13")
        deadline = time.monotonic() + 30
        while s.version != 13 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert s.version == 13
        assert _call(s.model_url + "/versions/13")[0] == 200


def test_resolve_export_errors(exports, tmp_path):
    with pytest.raises(ValueError, match="not found.*base_dir="):
        resolve_export(tmp_path / "missing")
    with pytest.raises(ValueError, match="No version subdirectory"):
        resolve_export(tmp_path)
    version_dir = os.path.join(exports["gan"], "1")
    with pytest.raises(ValueError, match="pass its parent directory"):
        resolve_export(version_dir)
    assert resolve_export(version_dir, allow_version_dir=True) == (1, version_dir)
    with pytest.raises(ValueError, match=r"available versions: \[1\]. Received: version=4"):
        resolve_export(exports["gan"], version=4)
    with pytest.raises(ValueError, match="version=-1"):
        resolve_export(exports["gan"], version=-1)
    with pytest.raises(ValueError, match="No version subdirectory"):
        ModelServer(tmp_path, port=0)


def test_interrupted_export_directories_are_ignored(exports, tmp_path):
    """A killed export leaves ``.tmp-export-*`` behind, complete or not: never a version."""
    base = tmp_path / "model"
    src = os.path.join(exports["gan"], "1")
    shutil.copytree(src, base / "2")
    shutil.copytree(src, base / ".tmp-export-k3j2h1")  # complete, but never renamed in
    (base / ".tmp-export-99").mkdir()
    shutil.copy(os.path.join(src, "saved_model.pb"), base / ".tmp-export-99")  # half written
    (base / "١٢").mkdir()  # non-ASCII digits are not a version either
    shutil.copy(os.path.join(src, "saved_model.pb"), base / "١٢")
    assert available_versions(base) == [2]
    assert resolve_export(base) == (2, str(base / "2"))
    with ModelServer(base, port=0, poll_seconds=0.05) as s:
        assert s.version == 2
        assert s.reload() is False
        time.sleep(0.3)  # a few polls
        assert s.version == 2
        assert _call(s.model_url + ":predict", GOOD["gan"])[0] == 200


def _publish(base, version, src, corrupt=False):
    """Copies a version in as an export does: built aside, then renamed to its number."""
    tmp = base / f".tmp-export-build-{version}"
    shutil.copytree(src, tmp)
    if corrupt:
        (tmp / "saved_model.pb").write_bytes(b"not a protocol buffer")
    os.rename(tmp, base / str(version))


def _corrupt_version(base, version, src):
    _publish(base, version, src, corrupt=True)


def test_corrupt_newest_version_serves_the_newest_loadable_one(exports, tmp_path, capfd):
    base = tmp_path / "model"
    src = os.path.join(exports["gan"], "1")
    shutil.copytree(src, base / "1")
    _corrupt_version(base, 3, src)
    with ModelServer(base, port=0) as s:
        assert s.version == 1
        assert _call(s.model_url + ":predict", GOOD["gan"])[0] == 200
        assert s.reload() is False  # still broken: keeps version 1, warns only once
    err = capfd.readouterr().err
    assert "version 3" in err and "serving version 1" in err, err
    assert err.count("version 3") == 1, err
    # Every version broken: the error names each one and why.
    _corrupt_version(base, 4, src)
    shutil.rmtree(base / "1")
    with pytest.raises(ValueError, match=r"version 4.*version 3") as e:
        ModelServer(base, port=0)
    assert "saved_model.pb" in str(e.value) or "parse" in str(e.value).lower()


def test_poller_skips_a_corrupt_new_version_and_takes_the_next_good_one(exports, tmp_path, capfd):
    base = tmp_path / "model"
    src = os.path.join(exports["gan"], "1")
    shutil.copytree(src, base / "1")
    with ModelServer(base, port=0, poll_seconds=0.05) as s:
        _corrupt_version(base, 2, src)
        time.sleep(0.5)
        assert s.version == 1
        _publish(base, 3, src)
        deadline = time.monotonic() + 30
        while s.version != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.version == 3
    err = capfd.readouterr().err
    assert err.count("version 2") == 1, err  # one warning, not one per poll


def test_cli_serve_corrupt_versions_are_named(exports, tmp_path, capsys):
    from kerasgan import cli

    base = tmp_path / "model"
    _corrupt_version(base, 5, os.path.join(exports["gan"], "1"))
    assert cli.main(["serve", str(base), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "version 5" in err, err
    assert "cannot listen" not in err


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"poll_seconds": float("nan")}, "poll_seconds=nan"),
        ({"poll_seconds": float("inf")}, "poll_seconds=inf"),
        ({"poll_seconds": True}, "poll_seconds=True"),
        ({"port": -1}, "port=-1"),
        ({"port": "80"}, "port='80'"),
        ({"max_batch": 0}, "max_batch=0"),
        ({"max_body_bytes": 1.5}, "max_body_bytes=1.5"),
        ({"non_finite": "zero"}, "non_finite='zero'"),
        ({"poll_seconds": -1}, "poll_seconds=-1"),
        ({"model_name": "a/b"}, "model_name='a/b'"),
        ({"model_name": ""}, "model_name=''"),
    ],
)
def test_model_server_argument_errors(exports, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelServer(exports["gan"], **{"port": 0, **kwargs})


def test_port_in_use_raises(servers, exports):
    with pytest.raises(OSError):
        ModelServer(exports["gan"], port=servers["gan"].port)


# -- the CLI ---------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_cli_serve_subprocess(exports):
    port = _free_port()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kerasgan.cli", "serve", exports["flow"], "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1/models/flow"
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body, _ = _call(url)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.25)
        assert status == 200, proc.stderr.read() if proc.poll() is not None else "timeout"
        assert body["model_version_status"][0]["state"] == "AVAILABLE"
        status, body, _ = _call(url + ":predict", {"instances": [[0.0, 0.0], [1.0, -1.0]]})
        assert status == 200 and len(body["predictions"]) == 2
        assert _call(url + ":predict", {"instances": [[0.0]]})[0] == 400
        assert _call(url + ":predict", {"signature_name": "sample", "inputs": 3})[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert url in out and "curl -s -X POST" in out and '"num_samples": 4' in out
    assert "log_prob(x float32 [None, 2])" in out
    assert "POST" not in err  # quiet by default: no per-request log lines


def test_cli_serve_bad_dir(tmp_path, capsys):
    from kerasgan import cli

    assert cli.main(["serve", str(tmp_path / "missing"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing" in err
    assert cli.main(["serve", str(tmp_path), "--port", "0"]) == 2
    assert "No version subdirectory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", str(tmp_path), "--bogus"])
    assert e.value.code == 2


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--poll-seconds", "nan"),
        ("--poll-seconds", "inf"),
        ("--poll-seconds", "-1"),
        ("--max-batch", "0"),
        ("--max-body-bytes", "-5"),
        ("--port", "70000"),
        ("--timeout-header", "0"),
        ("--timeout-keep-alive", "nan"),
        ("--limit-concurrency", "0"),
        ("--max-batch-size", "0"),
        ("--batch-timeout", "-0.5"),
        ("--model-threads", "0"),
        ("--tensorflow-intra-op-parallelism", "-1"),
    ],
)
def test_cli_serve_bad_flags(tmp_path, capsys, flag, value):
    from kerasgan import cli

    assert cli.main(["serve", str(tmp_path), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and flag in err and value in err, err
