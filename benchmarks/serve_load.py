"""Load test of ``kerasgan serve``: HTTP predict against calling the SavedModel in process.

For every combination of ``--clients`` C and ``--rows`` R, C concurrent clients (threads,
each with one keep-alive connection) send the same row-format predict request
(``{"instances": z}``, z of R rows) to ``POST /v1/models/<name>:predict`` for ``--seconds``
after a warm-up; every answer is checked (status 200, R predictions). Then, in this
process, for the same time and on the same rows:

- ``signature, 1 at a time``: one thread calling ``loaded.signatures["serving_default"]``
  in a loop, the SavedModel called one request at a time (the reference of the ratios);
- ``signature, C threads``: C threads calling it concurrently;
- ``predict() + JSON``: C threads calling ``ModelServer.predict`` on the decoded JSON
  request plus ``json.dumps`` of the answer, i.e. the server's own work per request
  without the HTTP transport and without batching.

The server runs in a subprocess (``python -m kerasgan.cli serve``) started once for all
combinations; ``--server-args`` passes flags to it (e.g. ``--enable-batching``). The
clients are raw sockets sending a pre-encoded request and reading the answer by its
Content-Length (``--client raw``, a light load generator, as ``wrk`` would be) or
``http.client`` (``--client httpclient``, about twice the client-side CPU per request).
Latency is measured by the clients (request sent to answer parsed). The clients and the
server share the machine's cores. "server CPU" and "client CPU" are the CPU
seconds per second the server process and this process used (2.0 = both of 2 cores); "other
CPU" is the share of the machine used by processes other than this one and the server while
timing: a concurrent job (e.g. a test
run) makes every number worse; rerun when it is high.

Usage:
    python benchmarks/serve_load.py [--export DIR] [--clients 8 32] [--rows 1 16]
        [--seconds 10] [--server-args="--enable-batching"] [--client raw|httpclient]
        [--results FILE.jsonl]

Without ``--export`` a small GAN generator (MLP 3 x 128 hidden units, latent 16, output 2)
is exported to a temporary directory.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import pathlib
import platform
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--export", help="model base path DIR/<version>/ (default: a small GAN)")
    p.add_argument("--model-name", help="model name in the URLs (default: DIR's basename)")
    p.add_argument(
        "--clients", type=int, nargs="+", default=[8], help="concurrent clients (8); several: each"
    )
    p.add_argument(
        "--rows",
        "--batch",
        dest="rows",
        type=int,
        nargs="+",
        default=[16],
        help="rows of z per request (16); several: each",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="timed seconds per path (10)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per path (2)")
    p.add_argument(
        "--server-args",
        default="",
        help="extra flags for `kerasgan serve` (write --server-args=\"--enable-batching ...\")",
    )
    p.add_argument(
        "--client",
        choices=["raw", "httpclient"],
        default="raw",
        help="raw sockets (default, light) or http.client connections",
    )
    p.add_argument(
        "--skip-in-process",
        action="store_true",
        help="measure HTTP only (no in-process reference paths)",
    )
    p.add_argument("--results", help="append one JSON line per measured path to this file")
    args = p.parse_args(argv)
    for name in ("clients", "rows"):
        if min(getattr(args, name)) < 1:
            p.error(f"--{name} must be >= 1. Received: {getattr(args, name)}")
    if not (args.seconds > 0 and args.warmup >= 0):
        p.error(f"--seconds must be > 0 and --warmup >= 0. Received: {args.seconds}, {args.warmup}")
    return args


def _export_small_gan(base):
    import kerasgan
    from kerasgan import export

    gan = kerasgan.GAN(
        kerasgan.models.build_mlp_generator(16, 2),
        kerasgan.models.build_mlp_discriminator(2),
        latent_dim=16,
    )
    export.export_generator(gan, base, version=1)
    return base


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _machine_busy():
    """(busy CPU seconds of the machine, wall time); Linux only."""
    wall = time.perf_counter()
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None, wall
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK"), wall


def _process_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None,) * 3
    return {"cpu": model, "cores": os.cpu_count(), "loadavg_1_5_15": [round(v, 2) for v in load]}


def _source_state():
    state = {"commit": None, "uncommitted": None}
    try:
        run = dict(cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
        state["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "kerasgan/export", "benchmarks"], **run
        ).stdout
        state["uncommitted"] = [line[3:] for line in status.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def _run_clients(make_call, clients, seconds, warmup):
    """Runs ``clients`` threads calling ``make_call()()`` until the deadline; returns latencies."""
    latencies = [[] for _ in range(clients)]
    errors = []
    start = threading.Barrier(clients + 1)
    times = {}

    def worker(k):
        try:
            call = make_call()
            start.wait()
            while time.perf_counter() < times["warm"]:
                call()
            out = latencies[k]
            while True:
                t0 = time.perf_counter()
                if t0 >= times["end"]:
                    break
                call()
                out.append(time.perf_counter() - t0)
        except Exception as e:  # reported by the caller
            errors.append(e)
            start.abort()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    now = time.perf_counter()
    times["warm"] = now + warmup
    times["end"] = now + warmup + seconds
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(timeout=warmup + seconds + 120)
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]!r}") from errors[0]
    # Requests that finished after the deadline were started before it: count them all over
    # the measured window (they end at most one latency after it).
    return np.array([x for lat in latencies for x in lat])


def _measure(name, make_call, clients, rows, args, server_pid=None):
    own0, (busy0, wall0) = _process_cpu("self"), _machine_busy()
    srv0 = _process_cpu(server_pid) if server_pid is not None else 0.0
    lat = _run_clients(make_call, clients, args.seconds, args.warmup)
    own1, (busy1, wall1) = _process_cpu("self"), _machine_busy()
    srv1 = _process_cpu(server_pid) if server_pid is not None else 0.0
    other = None
    if busy0 is not None and busy1 is not None:
        used = (busy1 - busy0) - (own1 - own0) - (srv1 - srv0)
        other = max(used, 0.0) / ((wall1 - wall0) * (os.cpu_count() or 1))
    wall = wall1 - wall0
    return {
        "path": name,
        "clients": clients,
        "rows": rows,
        "requests": int(lat.size),
        "rps": lat.size / args.seconds,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "other_cpu": other,
        "client_cpu": (own1 - own0) / wall,
        "server_cpu": (srv1 - srv0) / wall if server_pid is not None else None,
    }


def _wait_until_up(url, proc, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    raise RuntimeError(f"the server did not come up within {timeout} s at {url}")


def _raw_client(port, request, rows):
    def make():
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = [b""]

        def call():
            sock.sendall(request)
            buf = pending[0]
            while (end := buf.find(b"\r\n\r\n")) < 0:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                buf += chunk
            head = buf[:end]
            length = int(_LENGTH.search(head)[1])
            body_end = end + 4 + length
            while len(buf) < body_end:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                buf += chunk
            body, pending[0] = buf[end + 4 : body_end], buf[body_end:]
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{head[:15]!r}: {body[:300]!r}")
            if len(json.loads(body)["predictions"]) != rows:
                raise RuntimeError("wrong number of predictions")

        return call

    return make


def _httpclient_client(port, target, body, rows):
    def make():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}

        def call():
            conn.request("POST", target, body=body, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            if reply.status != 200:
                raise RuntimeError(f"HTTP {reply.status}: {data[:300]!r}")
            if len(json.loads(data)["predictions"]) != rows:
                raise RuntimeError("wrong number of predictions")

        return call

    return make


def main(argv=None):
    args = _parse_args(argv)
    import tensorflow as tf

    from kerasgan.export.server import ModelServer, resolve_export

    tmp = None
    if args.export:
        base = os.path.abspath(args.export)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kerasgan-serve-load-")
        base = _export_small_gan(os.path.join(tmp.name, "gan"))
    version, path = resolve_export(base)
    name = args.model_name or os.path.basename(base)
    loaded = tf.saved_model.load(path)
    fn = loaded.signatures["serving_default"]
    (input_name, spec), *more = fn.structured_input_signature[1].items()
    if more or spec.shape.rank is None or None in spec.shape.as_list()[1:]:
        raise SystemExit(
            "error: the load test needs a serving_default with one input [None, ...] of known "
            f"size. Received: {fn.structured_input_signature[1]}"
        )
    out_key = sorted(fn.structured_outputs)[0]
    rng = np.random.default_rng(0)
    inputs = {
        r: rng.standard_normal((r, *spec.shape.as_list()[1:])).astype(spec.dtype.as_numpy_dtype)
        for r in args.rows
    }
    bodies = {r: json.dumps({"instances": z.tolist()}).encode() for r, z in inputs.items()}
    target = f"/v1/models/{name}:predict"

    port = _free_port()
    server_args = shlex.split(args.server_args)
    cmd = [sys.executable, "-m", "kerasgan.cli", "serve", base, "--port", str(port)]
    cmd += (["--model-name", args.model_name] if args.model_name else []) + server_args
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = []
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/v1/models/{name}", proc)
        for rows in args.rows:
            body = bodies[rows]
            request = (
                f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            for clients in args.clients:
                if args.client == "raw":
                    make = _raw_client(port, request, rows)
                else:
                    make = _httpclient_client(port, target, body, rows)
                results.append(_measure("HTTP predict", make, clients, rows, args, proc.pid))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    if not args.skip_in_process:
        local = ModelServer(base, model_name=name, port=0)  # bound, never started
        for rows in args.rows:
            z = tf.constant(inputs[rows])
            body = bodies[rows]

            def signature_call(z=z):
                return lambda: fn(**{input_name: z})[out_key].numpy()

            def predict_call(body=body):
                def call():
                    json.dumps(local.predict(json.loads(body)))

                return call

            results.append(_measure("signature, 1 at a time", signature_call, 1, rows, args))
            for clients in args.clients:
                results.append(
                    _measure("signature, C threads", signature_call, clients, rows, args)
                )
                results.append(_measure("predict() + JSON", predict_call, clients, rows, args))
        local.shutdown()
    if tmp is not None:
        tmp.cleanup()

    reference = {
        r["rows"]: r["rps"] for r in results if r["path"] == "signature, 1 at a time"
    }
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    import starlette
    import uvicorn

    config = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "export": args.export or "small GAN (MLP 3x128, latent 16)",
        "version": version,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "server_args": args.server_args,
        "client": args.client,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "uvicorn": uvicorn.__version__,
        "starlette": starlette.__version__,
        "time": stamp,
        **_machine_info(),
        "source": _source_state(),
    }
    print(
        f"\n{args.seconds:g} s per path, server `kerasgan serve {args.server_args}` in a "
        f"subprocess, {args.client} clients, {os.cpu_count()} CPUs, load "
        f"{config['loadavg_1_5_15']}\n"
    )
    print(
        "| path | clients | rows | requests/s | p50 ms | p99 ms | vs signature 1 at a time "
        "| server CPU | client CPU | other CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")

    def share(x):
        return "n/a" if x is None else f"{x:.0%}"

    for r in results:
        ratio = r["rps"] / reference[r["rows"]] if r["rows"] in reference else None
        r["vs_signature_1_at_a_time"] = ratio
        shown = "n/a" if ratio is None else f"{ratio:.2f}"
        print(
            f"| {r['path']} | {r['clients']} | {r['rows']} | {r['rps']:.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {shown} | "
            f"{share(r['server_cpu'])} | {share(r['client_cpu'])} | {share(r['other_cpu'])} |"
        )
    if args.results:
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "a") as f:
            for r in results:
                f.write(json.dumps({**config, **r}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
