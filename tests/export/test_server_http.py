"""kerasgan serve's HTTP layer (uvicorn): stalled and dropped connections, the concurrency
limit, timeouts, JSON answers for every method and malformed request, body limits applied
before reading, Prometheus metrics, and a graceful shutdown under load within 5 s."""

import http.client
import json
import os
import pathlib
import re
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
from kerasgan import export
from kerasgan.export.server import ModelServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREDICT = "/v1/models/gan:predict"
GOOD = json.dumps({"instances": [[0.0, 1.0]]}).encode()


@pytest.fixture(scope="module")
def gan_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("http") / "gan"
    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(2, 2),
        kerasgan.models.build_mlp_discriminator(2),
        latent_dim=2,
    )
    export.export_generator(gan, str(base), version=1)
    return str(base)


@pytest.fixture(scope="module")
def server(gan_dir):
    with ModelServer(gan_dir, port=0, timeout_header=30) as s:
        yield s


def _request(s, method, path, body=None, headers=None, timeout=30):
    """(status, headers, raw body) on a fresh connection."""
    conn = http.client.HTTPConnection(s.host, s.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def _raw(s, data, timeout=30):
    """Sends raw bytes, returns everything the server sends until it closes."""
    with socket.create_connection((s.host, s.port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def _split(raw):
    head, body = raw.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), head.decode("latin-1").lower(), body


def _good_predict_seconds(s):
    t0 = time.perf_counter()
    status, _, body = _request(s, "POST", PREDICT, GOOD)
    assert status == 200 and len(json.loads(body)["predictions"]) == 1
    return time.perf_counter() - t0


# -- bounded: stalled connections, the concurrency limit, timeouts -----------------------------


def test_200_stalled_connections_do_not_delay_a_good_predict(gan_dir):
    threads_before = threading.active_count()
    with ModelServer(gan_dir, port=0, timeout_header=2.0, timeout_body=2.0) as s:
        _good_predict_seconds(s)  # warm
        socks = []
        try:
            for i in range(200):
                sock = socket.create_connection((s.host, s.port), timeout=30)
                if i % 3 == 1:  # half a request head
                    sock.sendall(b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\n")
                elif i % 3 == 2:  # a complete head, half the body
                    sock.sendall(
                        b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 100\r\n\r\n{\"instances\": "
                    )
                socks.append(sock)
            time.sleep(0.2)
            # No thread per connection: the server's thread count did not grow with them.
            assert threading.active_count() - threads_before < 20
            assert _good_predict_seconds(s) < 1.0
            # The stalled ones are answered 408 (JSON) and closed by the head/body deadlines.
            for i in (0, 1, 2):
                socks[i].settimeout(10)
                raw = b""
                while chunk := socks[i].recv(65536):
                    raw += chunk
                status, _, body = _split(raw)
                assert status == 408, raw
                assert "timeout_" in json.loads(body)["error"]
        finally:
            for sock in socks:
                sock.close()
        assert _good_predict_seconds(s) < 1.0


def test_concurrency_limit_answers_json_503_and_recovers(gan_dir):
    with ModelServer(gan_dir, port=0, limit_concurrency=4, timeout_header=30) as s:
        idle = [socket.create_connection((s.host, s.port), timeout=30) for _ in range(4)]
        try:
            time.sleep(0.2)
            status, headers, body = _request(s, "POST", PREDICT, GOOD)
            assert status == 503, body
            assert headers["Content-Type"] == "application/json"
            assert "limit_concurrency=4" in json.loads(body)["error"]
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        assert _request(s, "POST", PREDICT, GOOD)[0] == 200
        metrics = _request(s, "GET", "/monitoring/prometheus/metrics")[2].decode()
        assert 'kerasgan_serve_http_responses_total{code="503"} 1' in metrics


def test_keep_alive_timeout_closes_idle_connections(gan_dir):
    with ModelServer(gan_dir, port=0, timeout_keep_alive=0.5) as s:
        conn = http.client.HTTPConnection(s.host, s.port, timeout=10)
        conn.request("GET", "/v1/models/gan")
        r = conn.getresponse()
        assert r.status == 200 and r.read()
        t0 = time.perf_counter()
        assert conn.sock.recv(1) == b""  # closed by the server while idle
        assert 0.3 < time.perf_counter() - t0 < 5
        conn.close()


def test_slow_body_gets_408(gan_dir):
    with ModelServer(gan_dir, port=0, timeout_body=0.5) as s:
        raw = _raw(
            s, b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"
        )
        status, head, body = _split(raw)
        assert status == 408 and "connection: close" in head
        assert "timeout_body=0.5" in json.loads(body)["error"]


# -- JSON for every method and malformed request -----------------------------------------------


@pytest.mark.parametrize(
    "method, path, status, allow",
    [
        ("OPTIONS", "/v1/models/gan", 405, "GET, HEAD"),
        ("TRACE", "/v1/models/gan", 405, "GET, HEAD"),
        ("PUT", "/v1/models/gan:predict", 405, "POST"),
        ("OPTIONS", "/v1/models/gan:predict", 405, "POST"),
        ("HEAD", "/v1/models/gan:predict", 405, "POST"),
        ("PROPFIND", "/v1/models/gan", 501, None),
        ("OPTIONS", "/", 404, None),
        ("POST", "/monitoring/prometheus/metrics", 405, "GET, HEAD"),
    ],
)
def test_methods_get_json_answers(server, method, path, status, allow):
    got, headers, body = _request(server, method, path, b"{}" if method == "POST" else None)
    assert got == status
    if method != "HEAD":
        assert headers["Content-Type"] == "application/json"
        assert list(json.loads(body)) == ["error"]
    if allow is not None:
        assert headers["Allow"] == allow


def test_head_on_status_has_headers_only(server):
    status, headers, body = _request(server, "HEAD", "/v1/models/gan")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


@pytest.mark.parametrize(
    "raw, status, word",
    [
        (b"FOO /v1/models/gan HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not implemented"),
        (b"GET /v1/models/gan HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "malformed"),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "malformed"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 501, "method"),  # TLS
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431, "exceeds"),
        (b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\n\r\n", 411, "Content-Length"),
    ],
)
def test_malformed_requests_get_json_errors(server, raw, status, word):
    got, head, body = _split(_raw(server, raw))
    assert got == status and "application/json" in head
    assert word in json.loads(body)["error"]
    assert _good_predict_seconds(server) < 5


def test_chunked_body_is_accepted_and_capped(gan_dir):
    with ModelServer(gan_dir, port=0, max_body_bytes=1000) as s:
        conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
        conn.request("POST", PREDICT, body=iter([GOOD[:10], GOOD[10:]]), encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 200 and len(json.loads(r.read())["predictions"]) == 1
        conn.close()
        big = json.dumps({"instances": [[0.0, 1.0]] * 100}).encode()
        conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
        conn.request("POST", PREDICT, body=iter([big]), encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 413 and "max_body_bytes=1000" in json.loads(r.read())["error"]
        conn.close()


def test_expect_continue_over_the_limit_is_refused_before_the_body(gan_dir):
    with ModelServer(gan_dir, port=0, max_body_bytes=1000) as s:
        raw = _raw(
            s,
            b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
            b"Expect: 100-continue\r\n\r\n",
        )
        status, head, body = _split(raw)
        assert status == 413 and "connection: close" in head and b"100 Continue" not in raw


def test_too_many_values_are_refused_while_reading(gan_dir):
    with ModelServer(gan_dir, port=0, max_batch=100) as s:
        # max_batch=100 rows of [2] floats: at most 100 * (1 + 1 + 2) + 64 values.
        assert s.max_values == 464
        ok = json.dumps({"instances": [[0.0, 1.0]] * 100}).encode()
        assert _request(s, "POST", PREDICT, ok)[0] == 200
        big = json.dumps({"instances": [[0.0, 1.0]] * 20_000}).encode()
        status, _, body = _request(s, "POST", PREDICT, big)
        assert status == 400 and "more than 464 JSON values" in json.loads(body)["error"]
        # The same through the in-process path.
        with pytest.raises(Exception, match="JSON values"):
            s.handle("POST", PREDICT, big)


# -- dropped clients: at most one log line each -------------------------------------------------


def test_dropped_clients_leave_no_tracebacks(gan_dir, capfd):
    with ModelServer(gan_dir, port=0) as s:
        for i in range(100):
            with socket.create_connection((s.host, s.port), timeout=10) as sock:
                if i % 2:
                    sock.sendall(
                        b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 100\r\n\r\n{\"inst"
                    )
                else:
                    body = json.dumps({"instances": [[0.0, 1.0]] * 500}).encode()
                    sock.sendall(
                        b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
        time.sleep(0.5)
        assert _good_predict_seconds(s) < 5
    err = capfd.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 100, err[-3000:]
    assert err.strip() == "", err[-3000:]  # in fact none: a quiet server logs no line


# -- metrics --------------------------------------------------------------------------------------


def _metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{") and line.split("{", 1)[1].rsplit("}", 1)[0] == want:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not in metrics:\n{text[:3000]}")


def test_prometheus_metrics(gan_dir):
    with ModelServer(gan_dir, port=0) as s:
        for _ in range(3):
            assert _request(s, "POST", PREDICT, GOOD)[0] == 200
        assert _request(s, "POST", PREDICT, b'{"instances": []}')[0] == 400
        assert _request(s, "GET", "/v1/models/gan")[0] == 200
        assert _request(s, "GET", "/nope")[0] == 404
        status, headers, body = _request(s, "GET", "/monitoring/prometheus/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = body.decode()
        count = ":tensorflow:serving:request_count"
        assert _metric(text, count, model_name="gan", status="OK") == 3
        assert _metric(text, count, model_name="gan", status="INVALID_ARGUMENT") == 1
        latency = ":tensorflow:serving:request_latency"
        labels = {"model_name": "gan", "API": "predict", "entrypoint": "REST"}
        assert _metric(text, latency + "_count", **labels) == 4
        assert _metric(text, latency + "_bucket", **labels, le="+Inf") == 4
        buckets = [
            float(m) for m in re.findall(re.escape(latency) + r'_bucket\{[^}]*\} (\S+)', text)
        ]
        assert buckets == sorted(buckets)  # cumulative
        assert _metric(text, ":tensorflow:serving:runtime_latency_count", model_name="gan",
                       API="predict", runtime="TF2") == 3
        assert _metric(text, "kerasgan_serve_http_responses_total", code="404") == 1
        assert "# TYPE kerasgan_serve_open_connections gauge" in text


# -- memory and shutdown, on the CLI in a subprocess ------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_cli(gan_dir, *flags):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kerasgan.cli", "serve", gan_dir, "--port", str(port), *flags],
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models/gan", timeout=5):
                return proc, port
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the server did not start: {proc.communicate()[1][-2000:]}")


def _peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read())[1]) / 1024


def _post(port, body, results, timeout=60):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", PREDICT, body=body)
        r = conn.getresponse()
        results.append((r.status, r.read()))
        conn.close()
    except Exception as e:  # reported by the test
        results.append((None, repr(e).encode()))


@pytest.mark.slow
def test_four_25mb_bodies_raise_peak_rss_by_less_than_200mb(gan_dir):
    proc, port = _start_cli(gan_dir)
    try:
        for _ in range(20):  # warm: the first predicts allocate their caches
            _post(port, GOOD, [])
        before = _peak_rss_mb(proc.pid)
        rows = json.dumps([[0.123456789, -0.987654321]] * 40).encode()[1:-1]
        numbers = b'{"instances": [' + b", ".join([rows] * 21_000) + b"]}"  # refused: too many
        spaces = b'{"instances": [[0.5, 0.25]]' + b" " * 25_000_000 + b"}"  # valid: parsed
        assert 24e6 < len(numbers) < 32e6
        results = []
        threads = [
            threading.Thread(target=_post, args=(port, body, results))
            for body in (numbers, numbers, spaces, spaces)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 200, 400, 400], results
        growth = _peak_rss_mb(proc.pid) - before
        print(f"peak RSS growth for four 25 MB bodies: {growth:.0f} MB")
        assert growth < 200, f"peak RSS grew by {growth:.0f} MB"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown_under_load_within_5s(gan_dir, sig):
    proc, port = _start_cli(gan_dir)
    stop = threading.Event()
    answered = []

    def client():
        while not stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                for _ in range(50):
                    conn.request("POST", PREDICT, body=GOOD)
                    r = conn.getresponse()
                    answered.append(r.status)
                    r.read()
                conn.close()
            except (OSError, http.client.HTTPException):
                time.sleep(0.01)  # refused or closed while shutting down

    clients = [threading.Thread(target=client, daemon=True) for _ in range(16)]
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"POST /v1/models/gan:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{")
    try:
        for t in clients:
            t.start()
        time.sleep(2.0)
        assert answered.count(200) > 50
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        for sock in [*stalled, slow]:
            sock.close()
        if proc.poll() is None:
            proc.kill()
    print(f"{signal.Signals(sig).name} to exit under load: {elapsed:.2f} s")
    assert elapsed < 5.0, (elapsed, err[-2000:])
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    # In-flight requests were answered; one still sending its body may get the JSON 503.
    assert set(answered) <= {200, 503}, set(answered)


def test_thread_pools_bound_concurrent_model_calls(gan_dir):
    """Model calls run in ``model_threads`` threads, whatever the number of clients."""
    with ModelServer(gan_dir, port=0, model_threads=2) as s:
        fn = tf.saved_model.load(os.path.join(gan_dir, "1")).signatures["serving_default"]
        z = np.random.default_rng(0).normal(size=(3, 2)).astype("float32")
        want = fn(z=tf.constant(z))["samples"].numpy()
        body = json.dumps({"instances": z.tolist()}).encode()
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(_request(s, "POST", PREDICT, body)))
            for _ in range(32)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(results) == 32
        for status, _, raw in results:
            assert status == 200
            np.testing.assert_allclose(json.loads(raw)["predictions"], want, atol=1e-6)
        names = [t.name for t in threading.enumerate()]
        assert sum(n.startswith(f"kerasgan-serve-{s.port}-model") for n in names) == 2
