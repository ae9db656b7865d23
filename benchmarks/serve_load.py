"""Load test of ``kerasgan serve``: HTTP predict against calling the SavedModel in process.

C concurrent clients (threads, each with one keep-alive ``http.client.HTTPConnection``)
send the same row-format predict request (``{"instances": z}``, z of ``--batch`` rows) to
``POST /v1/models/<name>:predict`` for ``--seconds``, after a warm-up; every answer is checked
(status 200, ``--batch`` predictions). The same C threads then call, for the same time and
on the same batch:

- ``signature``: ``loaded.signatures["serving_default"](z=...)``, the SavedModel in process
  (the floor: no HTTP, no JSON);
- ``predict()``: ``ModelServer.predict`` on the decoded JSON request plus ``json.dumps`` of
  the answer, i.e. the server's own work per request without the HTTP transport.

By default the server runs in a subprocess (``python -m kerasgan.cli serve``), as it
would in production: with ``--server thread`` it shares this process's GIL with the client
threads and the numbers mostly measure that contention. Latency is measured by the
clients (request sent to answer parsed) and includes their own Python overhead. The
"other CPU" column is the share of the machine used by processes other than this one and
the server while timing: a concurrent job (e.g. a test run) makes every number worse.

Usage:
    python benchmarks/serve_load.py [--export DIR] [--clients 8] [--seconds 10] [--batch 16]
        [--server subprocess|thread] [--results FILE.jsonl]

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


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--export", help="model base path DIR/<version>/ (default: a small GAN)")
    p.add_argument("--model-name", help="model name in the URLs (default: DIR's basename)")
    p.add_argument("--clients", type=int, default=8, help="concurrent client threads (8)")
    p.add_argument("--seconds", type=float, default=10.0, help="timed seconds per path (10)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per path (2)")
    p.add_argument("--batch", type=int, default=16, help="rows of z per request (16)")
    p.add_argument(
        "--server",
        choices=["subprocess", "thread"],
        default="subprocess",
        help="run the server in a subprocess (default, fairer) or in a thread of this process",
    )
    p.add_argument("--results", help="append one JSON line per measured path to this file")
    args = p.parse_args(argv)
    for name in ("clients", "batch"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1. Received: {getattr(args, name)}")
    if args.seconds <= 0 or args.warmup < 0:
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


def _summary(name, lat, seconds, cpu):
    return {
        "path": name,
        "requests": int(lat.size),
        "rps": lat.size / seconds,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "other_cpu": cpu,
    }


def _measure(name, make_call, args, server_pid=None):
    own0, srv0, (busy0, wall0) = _process_cpu("self"), 0.0, _machine_busy()
    if server_pid is not None:
        srv0 = _process_cpu(server_pid)
    lat = _run_clients(make_call, args.clients, args.seconds, args.warmup)
    own1, (busy1, wall1) = _process_cpu("self"), _machine_busy()
    srv1 = _process_cpu(server_pid) if server_pid is not None else 0.0
    other = None
    if busy0 is not None and busy1 is not None:
        used = (busy1 - busy0) - (own1 - own0) - (srv1 - srv0)
        other = max(used, 0.0) / ((wall1 - wall0) * (os.cpu_count() or 1))
    return _summary(name, lat, args.seconds, other)


def _wait_until_up(url, proc, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    raise RuntimeError(f"the server did not come up within {timeout} s at {url}")


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
    rows = np.random.default_rng(0).standard_normal((args.batch, *spec.shape.as_list()[1:]))
    rows = rows.astype(spec.dtype.as_numpy_dtype)
    body = json.dumps({"instances": rows.tolist()}).encode()

    proc = server = None
    port = _free_port()
    if args.server == "subprocess":
        cmd = [sys.executable, "-m", "kerasgan.cli", "serve", base, "--port", str(port)]
        if args.model_name:
            cmd += ["--model-name", args.model_name]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    else:
        server = ModelServer(base, model_name=name, port=port).start()
    url = f"http://127.0.0.1:{port}/v1/models/{name}"
    results = []
    try:
        _wait_until_up(url, proc)

        def http_call():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Content-Type": "application/json"}
            target = f"/v1/models/{name}:predict"

            def call():
                conn.request("POST", target, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"HTTP {reply.status}: {data[:300]!r}")
                if len(json.loads(data)["predictions"]) != args.batch:
                    raise RuntimeError("wrong number of predictions")

            return call

        results.append(
            _measure("HTTP predict", http_call, args, proc.pid if proc is not None else None)
        )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if server is not None:
            server.shutdown()

    z = tf.constant(rows)

    out_key = sorted(fn.structured_outputs)[0]

    def signature_call():
        return lambda: fn(**{input_name: z})[out_key].numpy()

    results.append(_measure("signature (in process)", signature_call, args))
    local = ModelServer(base, model_name=name, port=0)  # bound, never started: predict() only

    def predict_call():
        def call():
            json.dumps(local.predict(json.loads(body)))

        return call

    results.append(_measure("predict() + JSON (in process)", predict_call, args))
    local.shutdown()
    if tmp is not None:
        tmp.cleanup()

    base_rps = results[1]["rps"]
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    config = {
        "export": args.export or "small GAN (MLP 3x128, latent 16)",
        "version": version,
        "clients": args.clients,
        "batch": args.batch,
        "seconds": args.seconds,
        "server": args.server,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "time": stamp,
    }
    print(
        f"\n{args.clients} clients, batch {args.batch}, {args.seconds:g} s per path, "
        f"server in a {args.server}, {os.cpu_count()} CPUs\n"
    )
    print("| path | requests/s | p50 ms | p99 ms | requests/s vs signature | other CPU |")
    print("|---|---|---|---|---|---|")
    for r in results:
        other = "n/a" if r["other_cpu"] is None else f"{r['other_cpu']:.0%}"
        print(
            f"| {r['path']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['rps'] / base_rps:.2f} | {other} |"
        )
    if args.results:
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "a") as f:
            for r in results:
                f.write(json.dumps({**config, **r, "vs_signature": r["rps"] / base_rps}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
