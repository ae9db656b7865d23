"""The ``kerasgan`` command line.

kerasgan train NAME [recipe flags...]   run recipes/NAME.py (--smoke, --dry-run, ...)
kerasgan recipes                        list the recipes
kerasgan serve DIR [--port 8501]        serve an export over TF Serving's REST API
kerasgan sample DIR -n N -o OUT         draw N samples from an export into OUT (.npy or .png)
kerasgan evaluate DIR --metric fid_digits -n N   score an image export (FID, KID, IS, PRDC)
kerasgan export MODEL.keras --to DIR    SavedModel for TF Serving from a .keras checkpoint

Errors in arguments or inputs exit with status 2 and ``error: ...`` on stderr.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import runpy
import shutil
import signal
import sys
import tempfile

__all__ = [
    "MAX_SAMPLES_NPY",
    "MAX_SAMPLES_PNG",
    "draw_samples",
    "find_recipe",
    "iter_samples",
    "main",
    "recipe_dirs",
    "samples_png",
]


def recipe_dirs():
    """Where recipes are looked up: ``$KERASGAN_RECIPES``, ``./recipes``, the source checkout's."""
    dirs = []
    if os.environ.get("KERASGAN_RECIPES"):
        dirs.append(pathlib.Path(os.environ["KERASGAN_RECIPES"]))
    dirs.append(pathlib.Path.cwd() / "recipes")
    dirs.append(pathlib.Path(__file__).resolve().parent.parent / "recipes")
    seen, out = set(), []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.add(d.resolve())
            out.append(d)
    return out


def _available():
    names = set()
    for d in recipe_dirs():
        names.update(p.stem for p in d.glob("*.py") if not p.stem.startswith("_"))
    return sorted(names)


def find_recipe(name):
    """Path of ``recipes/<name>.py``.

    Raises:
        ValueError: if there is no such recipe (the message lists the recipes).
    """
    name = name[:-3] if name.endswith(".py") else name
    for d in recipe_dirs():
        path = d / f"{name}.py"
        if path.is_file():
            return path
    raise ValueError(f"Unknown recipe. Available: {_available()}. Received: name={name!r}")


def _error(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def _add_serve_parser(sub):
    p = sub.add_parser(
        "serve",
        help="serve an export over TF Serving's REST API",
        description="Serves the latest version of an export (DIR/<version>/saved_model.pb) over "
        "TF Serving's REST API: GET /v1/models/NAME[/metadata], POST /v1/models/NAME:predict.",
    )
    p.add_argument("dir", help="model base path holding DIR/<version>/saved_model.pb")
    p.add_argument("--port", type=int, default=8501, help="TCP port (default 8501; 0: any free)")
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--model-name", help="the NAME in the URLs (default: DIR's basename)")
    p.add_argument(
        "--max-batch", type=int, default=None, help="largest batch or num_samples (default 10000)"
    )
    p.add_argument(
        "--max-body-bytes", type=int, default=None, help="largest request body (default 32 MiB)"
    )
    p.add_argument(
        "--non-finite",
        choices=["nan", "null"],
        default="nan",
        help="write NaN/Infinity as bare tokens like TF Serving (nan, default) or as null",
    )
    p.add_argument(
        "--poll-seconds",
        type=float,
        default=0.0,
        help="check DIR for a newer version this often (default 0: never)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="log one line per request")
    # Defaults of these live in kerasgan.export.server (not imported here: it loads TensorFlow).
    p.add_argument(
        "--limit-concurrency",
        type=int,
        help="most open connections plus running requests; past it, 503 (default 1000)",
    )
    p.add_argument(
        "--timeout-keep-alive",
        type=float,
        help="seconds an idle keep-alive connection stays open (default 30)",
    )
    p.add_argument(
        "--timeout-header",
        type=float,
        help="seconds a client has to send a request head (default 10)",
    )
    p.add_argument(
        "--timeout-body", type=float, help="seconds a client has to send a body (default 60)"
    )
    p.add_argument(
        "--timeout-graceful-shutdown",
        type=float,
        help="on SIGINT/SIGTERM, seconds in-flight requests have to finish (default 3)",
    )
    p.add_argument(
        "--enable-batching",
        action="store_true",
        help="merge concurrent predict requests of one signature into one model call",
    )
    p.add_argument(
        "--max-batch-size", type=int, help="most rows in one merged call (default 256)"
    )
    p.add_argument(
        "--batch-timeout",
        type=float,
        help="seconds a batch waits for more requests (default 0: none)",
    )
    p.add_argument(
        "--model-threads",
        type=int,
        help="concurrent model calls (default: 1 with --enable-batching, else CPUs, at most 4)",
    )
    p.add_argument(
        "--tensorflow-intra-op-parallelism",
        type=int,
        help="threads TensorFlow runs one op on, as TF Serving's flag (default 0: TensorFlow "
        "picks; 1 suits small models served with batching)",
    )
    p.add_argument(
        "--tensorflow-inter-op-parallelism",
        type=int,
        help="threads TensorFlow runs independent ops on (default 0: TensorFlow picks)",
    )


def _add_sample_parser(sub):
    p = sub.add_parser(
        "sample",
        help="draw samples from an export into .npy or .png",
        description="Calls an export's 'sample' signature with num_samples=N and writes the "
        "samples: .npy (the raw array [N, ...]) or .png (an image grid for [N, H, W, C], "
        "a scatter plot for 2-D points [N, 2]).",
    )
    p.add_argument("dir", help="model base path DIR/<version>/ (or one version directory)")
    p.add_argument("-n", "--num-samples", type=int, required=True, help="number of samples")
    p.add_argument("-o", "--output", required=True, help="output file, .npy or .png")
    p.add_argument("--version", type=int, help="version to load (default: the latest)")
    p.add_argument(
        "--signature",
        default="sample",
        help="signature taking num_samples (default: sample)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="reproducible samples through the export's sample_seeded signature",
    )
    p.add_argument(
        "--label",
        type=int,
        help="class of every sample, for a conditional GAN's export (required there)",
    )
    p.add_argument(
        "--range",
        choices=["auto", "symmetric", "unit"],
        default="auto",
        help="pixel range of image samples for .png: symmetric = [-1, 1] (GAN tanh output), "
        "unit = [0, 1] (image flows); auto: symmetric for GAN exports, unit for flow exports",
    )


def _add_evaluate_parser(sub):
    p = sub.add_parser(
        "evaluate",
        help="score an image export with FID / KID / IS / PRDC",
        description="Draws N images from an export (its sample_seeded or sample signature) and "
        "scores them against a real dataset's split with the named metrics "
        "(<kind>_<extractor>: fid_digits, kid_digits, is_digits, prdc_digits, fid_inception_v3, "
        "...). Prints one JSON object.",
    )
    p.add_argument("dir", help="model base path DIR/<version>/ (or one version directory)")
    p.add_argument(
        "--metric", action="append", required=True, help="metric name; repeat for several"
    )
    p.add_argument("-n", "--num-samples", type=int, default=10_000, help="generated images")
    p.add_argument("--dataset", default="digits", help="real images (default: digits)")
    p.add_argument("--split", default="test", help="their split (default: test)")
    p.add_argument("--version", type=int, help="version to load (default: the latest)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (sample_seeded)")
    p.add_argument("--batch-size", type=int, default=500, help="images per sampling call")
    p.add_argument(
        "--range",
        choices=["auto", "symmetric", "unit"],
        default="auto",
        help="pixel range of the export's samples (auto: [-1, 1] GANs, [0, 1] flows)",
    )
    p.add_argument("--output", help="also write the JSON to this file")


def _add_export_parser(sub):
    p = sub.add_parser(
        "export",
        help="write a SavedModel (TF Serving layout) from a .keras checkpoint",
        description="Loads a kerasgan model saved as .keras (e.g. runs/<name>/checkpoint.keras; "
        "safe_mode=True) and exports it to DIR/<version>/: GAN generators with serving_default / "
        "sample / sample_seeded, flows with log_prob / sample / sample_seeded, image-to-image "
        "models (one [None, H, W, C] input and output) with translate.",
    )
    p.add_argument("model", help="the .keras file")
    p.add_argument("--to", required=True, help="model base directory, e.g. saved_models/my_gan")
    p.add_argument(
        "--version",
        type=int,
        help="version number (default: the next free one, claimed atomically)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --version (atomically: readers see the old or the new one)",
    )


def _export(args):
    if not args.model.endswith(".keras") or not os.path.isfile(args.model):
        return _error(f"MODEL must be an existing .keras file. Received: {args.model!r}")
    if args.version is not None and args.version < 1:
        return _error(f"--version must be a positive int. Received: version={args.version}")
    if os.path.exists(args.to) and not os.path.isdir(args.to):
        return _error(f"--to must be a directory (it exists as a file). Received: --to {args.to!r}")
    problem = _unwritable_dir(args.to)
    if problem:
        return _error(f"cannot write to --to {args.to!r}: {problem}")
    if (
        args.version is not None
        and not args.force
        and os.path.exists(os.path.join(args.to, str(args.version)))
    ):
        return _error(
            f"version {args.version} already exists in {args.to}; pass --force to replace it "
            f"(atomically) or omit --version for the next free one. Received: --version "
            f"{args.version}"
        )
    from kerasgan import export as export_lib
    from kerasgan import saving
    from kerasgan.flows import FlowModel

    try:
        model = saving.load_model(args.model, safe_mode=True)
        kwargs = {"version": args.version, "overwrite": args.force}
        if isinstance(model, FlowModel):
            path = export_lib.export_flow(model, args.to, **kwargs)
            kind = "flow: serving_default/log_prob, sample, sample_seeded"
        elif hasattr(model, "generator") and hasattr(model, "latent_dim"):
            path = export_lib.export_generator(model, args.to, **kwargs)
            kind = "generator: serving_default (z), sample, sample_seeded"
        elif export_lib.is_image_to_image(model):
            path = export_lib.export_translator(model, args.to, **kwargs)
            kind = "image-to-image: serving_default/translate (images)"
        else:
            raise ValueError(
                "kerasgan export takes a GAN, a FlowModel or an image-to-image model "
                f"(one [None, H, W, C] input and output). Received: a {type(model).__name__} "
                f"from {args.model!r}"
            )
    except (ValueError, FileExistsError) as e:
        return _error(e)
    print(f"SavedModel ({kind}): {path}")
    return 0


def _unwritable_dir(path):
    """Why files cannot be created in directory ``path``, or None.

    Nothing is created: a file is made and removed in ``path`` or, when it does
    not exist yet, in its nearest existing ancestor (which must be a directory).
    """
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return f"{probe} is a file, not a directory"
    try:
        fd, name = tempfile.mkstemp(prefix=".kerasgan-write-test-", dir=probe)
        os.close(fd)
        os.remove(name)
    except OSError as e:
        return f"{probe}: {e.strerror or e}"
    return None


def _check_output_file(path, flag):
    """An error message if ``path`` (a file to write later) cannot be written, else None.

    Checked before any work starts: a parent that is a file, an unwritable or
    pseudo file system directory (``/proc``), an existing directory at ``path``.
    """
    if os.path.isdir(path):
        return f"{flag} must be a file path, not a directory. Received: {flag} {path!r}"
    problem = _unwritable_dir(os.path.dirname(os.path.abspath(path)) or ".")
    if problem:
        return f"cannot write {flag} {path!r}: {problem}"
    return None


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="kerasgan", description="Train and use kerasgan models.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="run a recipe (flags after NAME go to the recipe)")
    train.add_argument("name")
    sub.add_parser("recipes", help="list the recipes")
    _add_serve_parser(sub)
    _add_sample_parser(sub)
    _add_evaluate_parser(sub)
    _add_export_parser(sub)
    args, rest = parser.parse_known_args(argv)
    if args.command in ("serve", "sample", "evaluate", "export") and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "recipes":
        for name in _available():
            print(name)
        return 0
    if args.command == "serve":
        return _serve(args)
    if args.command == "sample":
        return _sample(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "export":
        return _export(args)
    try:
        path = find_recipe(args.name)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    old_argv = sys.argv
    sys.argv = [str(path), *rest]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old_argv
    return 0


def _serve(args):
    import json
    import math
    import shlex

    # Checked before the server (and TensorFlow) is imported: (flag, value, lowest, above?).
    checks = [
        ("--port", args.port, 0, False),
        ("--poll-seconds", args.poll_seconds, 0, False),
        ("--max-batch", args.max_batch, 1, False),
        ("--max-body-bytes", args.max_body_bytes, 1, False),
        ("--limit-concurrency", args.limit_concurrency, 1, False),
        ("--timeout-keep-alive", args.timeout_keep_alive, 0, True),
        ("--timeout-header", args.timeout_header, 0, True),
        ("--timeout-body", args.timeout_body, 0, True),
        ("--timeout-graceful-shutdown", args.timeout_graceful_shutdown, 0, False),
        ("--max-batch-size", args.max_batch_size, 1, False),
        ("--batch-timeout", args.batch_timeout, 0, False),
        ("--model-threads", args.model_threads, 1, False),
        ("--tensorflow-intra-op-parallelism", args.tensorflow_intra_op_parallelism, 0, False),
        ("--tensorflow-inter-op-parallelism", args.tensorflow_inter_op_parallelism, 0, False),
    ]
    for flag, value, lowest, above in checks:
        if value is None:
            continue
        if not math.isfinite(value) or value < lowest or (above and value == lowest):
            bound = f"> {lowest}" if above else f">= {lowest}"
            kind = "a finite number" if isinstance(value, float) else "an integer"
            return _error(f"{flag} must be {kind} {bound}. Received: {flag} {value}")
    if args.port > 65535:
        return _error(f"--port must be in [0, 65535]. Received: --port {args.port}")

    # TensorFlow reads these when its runtime starts (before the first op), as TF Serving's
    # --tensorflow_intra_op_parallelism / --tensorflow_inter_op_parallelism.
    for name, value in (
        ("TF_NUM_INTRAOP_THREADS", args.tensorflow_intra_op_parallelism),
        ("TF_NUM_INTEROP_THREADS", args.tensorflow_inter_op_parallelism),
    ):
        if value:
            os.environ[name] = str(value)

    from kerasgan.export.server import ModelServer

    options = {
        k: v
        for k, v in (
            ("max_batch", args.max_batch),
            ("max_body_bytes", args.max_body_bytes),
            ("limit_concurrency", args.limit_concurrency),
            ("timeout_keep_alive", args.timeout_keep_alive),
            ("timeout_header", args.timeout_header),
            ("timeout_body", args.timeout_body),
            ("timeout_graceful_shutdown", args.timeout_graceful_shutdown),
            ("max_batch_size", args.max_batch_size),
            ("batch_timeout", args.batch_timeout),
            ("model_threads", args.model_threads),
        )
        if v is not None
    }
    try:
        server = ModelServer(
            args.dir,
            model_name=args.model_name,
            host=args.host,
            port=args.port,
            non_finite=args.non_finite,
            poll_seconds=args.poll_seconds,
            verbose=args.verbose,
            enable_batching=args.enable_batching,
            **options,
        )
    except ValueError as e:  # bad arguments, or no version that loads (each one named)
        return _error(e)
    except OSError as e:  # loading errors are ValueErrors: this one is the socket's
        return _error(f"cannot listen on {args.host}:{args.port}: {e}")
    body = json.dumps(server.example_request())
    batched = server.batched_signatures
    print(
        f"Serving model {server.model_name!r} version {server.version} from {server.base_dir}\n"
        f"  {server.model_url}\n"
        f"  signatures: {', '.join(server.describe_signatures())}\n"
        + (
            f"  batching: {', '.join(batched) or 'no batchable signature'} "
            f"(up to {server.max_batch_size} rows per call)\n"
            if args.enable_batching
            else ""
        )
        + f"  metrics: {server.url}/monitoring/prometheus/metrics\n"
        "Try:\n"
        f"  curl -s {server.model_url}\n"
        f"  curl -s -X POST {server.model_url}:predict -d {shlex.quote(body)}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )

    def _stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _stop)  # docker stop / kill: a clean exit 0 as well
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        signal.signal(signal.SIGTERM, old)
    print("kerasgan serve: stopped", file=sys.stderr)
    return 0


# Largest -n of `kerasgan sample`: .npy files are written chunk by chunk (memory stays
# flat), .png holds one grid or scatter plot, which is unreadable long before this.
MAX_SAMPLES_NPY = 100_000_000
MAX_SAMPLES_PNG = 10_000
# Rows per signature call: bounded memory per call and far below int32 num_samples.
SAMPLE_CHUNK = 4096


def _sample(args):
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".npy", ".png"):
        return _error(f"the output must end in .npy or .png. Received: -o {args.output!r}")
    if args.num_samples < 1:
        return _error(f"-n must be at least 1. Received: -n {args.num_samples}")
    limit = MAX_SAMPLES_NPY if ext == ".npy" else MAX_SAMPLES_PNG
    if args.num_samples > limit:
        return _error(
            f"-n is at most {limit:,} for {ext} output (.npy: {MAX_SAMPLES_NPY:,}, .png: "
            f"{MAX_SAMPLES_PNG:,}). Received: -n {args.num_samples}"
        )
    if args.seed is not None and not 0 <= args.seed < 2**40:
        return _error(f"--seed must be >= 0 and < 2**40. Received: --seed {args.seed}")
    problem = _check_output_file(args.output, "-o")
    if problem:
        return _error(problem)
    import numpy as np
    import tensorflow as tf

    from kerasgan.export.server import resolve_export

    tmp = None
    try:
        version, path = resolve_export(args.dir, args.version, allow_version_dir=True)
        loaded = tf.saved_model.load(path)
        chunks = iter_samples(
            loaded, args.num_samples, args.seed, args.signature, label=args.label
        )
        first, how = next(chunks)
        parent = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(parent, exist_ok=True)
        if ext == ".png":
            samples = np.concatenate([first] + [c for c, _ in chunks])
            png, clipped = samples_png(samples, _pixel_range(loaded, args.range, samples))
            shape = samples.shape
            _write_file_atomic(args.output, png)
        else:
            shape = (args.num_samples, *first.shape[1:])
            need = int(np.prod(shape, dtype=np.int64)) * first.dtype.itemsize
            free = shutil.disk_usage(parent).free
            if need > free:
                raise ValueError(
                    f"{args.num_samples:,} samples of shape {list(first.shape[1:])} "
                    f"({first.dtype}) need {need / 2**30:.2f} GiB; {parent} has "
                    f"{free / 2**30:.2f} GiB free. Received: -n {args.num_samples}"
                )
            # Written as the chunks come, under a temporary name renamed at the end: memory
            # stays flat and a killed run leaves no truncated file at -o.
            fd, tmp = tempfile.mkstemp(prefix=".kerasgan-sample-", suffix=".npy", dir=parent)
            os.close(fd)
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=first.dtype, shape=shape)
            row = 0
            for chunk in _chain_first(first, chunks):
                out[row : row + len(chunk)] = chunk
                row += len(chunk)
            out.flush()
            del out
            os.chmod(tmp, 0o644)
            os.replace(tmp, args.output)
            tmp = None
            clipped = 0.0
    except ValueError as e:
        return _error(e)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    if ext == ".png" and clipped:
        print(
            f"note: {clipped:.2%} of the values were outside the pixel range (or not "
            "finite) and were clipped; see --range",
            file=sys.stderr,
        )
    print(f"Wrote {args.output}: {list(shape)} samples from {path} ({how})")
    return 0


def _chain_first(first, chunks):
    yield first
    for chunk, _ in chunks:
        yield chunk


def _write_file_atomic(path, data):
    parent = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kerasgan-", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _evaluate(args):
    if args.num_samples < 2:
        return _error(f"-n must be at least 2. Received: -n {args.num_samples}")
    if args.batch_size < 1 or args.batch_size > SAMPLE_CHUNK:
        return _error(
            f"--batch-size must be in [1, {SAMPLE_CHUNK}]. Received: --batch-size {args.batch_size}"
        )
    if args.output:  # checked before the (long) evaluation runs
        problem = _check_output_file(args.output, "--output")
        if problem:
            return _error(problem)
    import json
    import time

    import numpy as np
    import tensorflow as tf

    from kerasgan.export.server import resolve_export
    from kerasgan.metrics.evaluation import Evaluator

    try:
        version, path = resolve_export(args.dir, args.version, allow_version_dir=True)
        loaded = tf.saved_model.load(path)
        probe, _ = draw_samples(loaded, 2, seed=args.seed)
        if probe.ndim != 4:
            raise ValueError(
                "kerasgan evaluate scores image exports ([N, H, W, C] samples). Received: "
                f"samples of shape {list(probe.shape)}"
            )
        lo, hi = _pixel_range(loaded, args.range, probe)
        evaluator = Evaluator(
            args.metric, dataset=args.dataset, split=args.split, image_size=probe.shape[1]
        )
        calls = iter(range(10**9))

        def sampler(n):
            x, _ = draw_samples(loaded, n, seed=args.seed + next(calls))
            return (np.clip(x, lo, hi) - lo) / (hi - lo) * 2.0 - 1.0  # to [-1, 1]

        evaluator.batch_size = args.batch_size
        start = time.perf_counter()
        results = evaluator.evaluate(sampler, args.num_samples)
    except (ValueError, FileNotFoundError) as e:
        return _error(e)
    record = {
        "export": path,
        "num_samples": args.num_samples,
        "dataset": args.dataset,
        "split": args.split,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - start, 3),
        **{k: float(v) for k, v in results.items()},
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        _write_file_atomic(args.output, (text + "\n").encode())
    return 0


def draw_samples(loaded, num_samples, seed=None, signature="sample", chunk=None):
    """Draws ``num_samples`` samples from a loaded kerasgan export.

    Without ``seed`` the ``signature`` (default ``sample``, taking only
    ``num_samples``) is called; kerasgan exports draw fresh noise there on
    every call. With ``seed`` the export's ``sample_seeded`` signature gives
    reproducible samples (GANs: ``z = stateless_normal([n, latent_dim],
    seed=[seed, 0])``; flows: their sampler with that stateless seed). Exports
    written before ``sample_seeded`` existed: GAN generators are sampled by
    drawing ``z ~ N(0, I)`` with ``numpy.random.default_rng(seed)`` and calling
    ``serving_default``; flows are refused.

    The signature is called on chunks of at most ``chunk`` rows (default
    :data:`SAMPLE_CHUNK`); see :func:`iter_samples`.

    Args:
        loaded: the result of ``tf.saved_model.load``.
        num_samples: positive int.
        seed: optional non-negative int.
        signature: the signature taking ``num_samples`` when ``seed`` is None.
        chunk: rows per call (default :data:`SAMPLE_CHUNK`).

    Returns:
        ``(samples, description)``: a NumPy array ``[num_samples, ...]`` and a
        short description of how it was drawn.

    Raises:
        ValueError: for a missing or unsuitable signature, or a seed for an
            export that cannot take one.

    Example:
        >>> import tensorflow as tf
        >>> import kerasgan
        >>> from kerasgan import export
        >>> gan = kerasgan.GAN(kerasgan.models.build_mlp_generator(2, 2),
        ...                    kerasgan.models.build_mlp_discriminator(2), latent_dim=2)
        >>> path = export.export_generator(gan, "/tmp/kerasgan_doc_sample/gan", version=1)
        >>> samples, how = draw_samples(tf.saved_model.load(path), 4, seed=0)
        >>> samples.shape, how
        ((4, 2), 'sample_seeded with seed 0')
    """
    import numpy as np

    drawn = list(iter_samples(loaded, num_samples, seed, signature, chunk))
    parts, how = [part for part, _ in drawn], drawn[-1][1]
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)), how


def iter_samples(loaded, num_samples, seed=None, signature="sample", chunk=None, label=None):
    """Yields ``(samples, description)`` chunks of at most ``chunk`` rows, ``num_samples`` in all.

    Seeded draws: chunk ``i`` calls ``sample_seeded`` with ``seed + i * (2**31 - 1)``,
    which moves the second word of the stateless seed pair ``[seed mod (2**31 - 1),
    seed // (2**31 - 1)]``: the first chunk equals a single call with ``seed`` and
    the chunks' streams are distinct. The old-export fallback draws ``z`` from one
    ``numpy.random.default_rng(seed)`` stream, so it does not depend on the chunk size.

    Args:
        loaded, num_samples, seed, signature: as in :func:`draw_samples`.
        chunk: rows per call (default :data:`SAMPLE_CHUNK`).
        label: the class of every sample, for a conditional GAN's export (whose
            ``sample`` takes ``labels``); required there and refused elsewhere.

    Raises:
        ValueError: as :func:`draw_samples`.
    """
    import numpy as np
    import tensorflow as tf

    chunk = SAMPLE_CHUNK if chunk is None else int(chunk)
    if chunk < 1:
        raise ValueError(f"chunk must be a positive int. Received: chunk={chunk!r}")
    sigs = loaded.signatures
    sample_fn = sigs.get("sample")
    conditional = sample_fn is not None and "labels" in sample_fn.structured_input_signature[1]
    if conditional or label is not None:
        yield from _iter_conditional(loaded, num_samples, seed, signature, chunk, label)
        return
    if seed is not None:
        if signature != "sample":
            raise ValueError(
                "--seed draws the latent z and calls serving_default; it cannot be combined "
                f"with --signature. Received: --signature {signature!r}"
            )
        seeded = sigs.get("sample_seeded")
        if seeded is not None:
            how = f"sample_seeded with seed {seed}"

            def call(n, i):
                out = seeded(
                    num_samples=tf.constant(n, tf.int32),
                    seed=tf.constant(seed + i * (2**31 - 1), tf.int64),
                )
                return out["samples"]

        else:
            fn = sigs.get("serving_default")
            inputs = {} if fn is None else fn.structured_input_signature[1]
            z = inputs.get("z")
            if set(inputs) != {"z"} or z.shape.rank != 2 or z.shape[1] is None:
                raise ValueError(
                    "--seed needs an export with a 'sample_seeded' signature (re-export with "
                    "this kerasgan version) or a GAN generator export, whose serving_default "
                    "takes the latent 'z'; drop --seed for this one. "
                    f"Received: serving_default inputs {sorted(inputs)}"
                )
            rng = np.random.default_rng(seed)
            how = f"serving_default on z ~ N(0, I) drawn with seed {seed}"

            def call(n, i):
                noise = rng.standard_normal((n, z.shape[1]))
                return _samples_of(fn(z=tf.constant(noise, dtype=z.dtype)), "serving_default")

    else:
        fn = sigs.get(signature)
        if fn is None:
            raise ValueError(
                f"The export has no signature {signature!r}; available: {sorted(sigs)}. "
                f"Received: --signature {signature!r}"
            )
        inputs = fn.structured_input_signature[1]
        if set(inputs) != {"num_samples"} or inputs["num_samples"].shape.rank != 0:
            raise ValueError(
                f"Signature {signature!r} takes inputs {sorted(inputs)}, but kerasgan sample "
                "needs one taking only a scalar 'num_samples' (a conditional flow's 'sample' "
                "takes 'context': call it through kerasgan serve or the SavedModel)"
            )
        how = f"signature {signature!r}"
        dtype = inputs["num_samples"].dtype

        def call(n, i):
            return _samples_of(fn(num_samples=tf.constant(n, dtype=dtype)), signature)

    done = i = 0
    while done < num_samples:
        n = min(chunk, num_samples - done)
        yield np.asarray(call(n, i)), how
        done += n
        i += 1


def _iter_conditional(loaded, num_samples, seed, signature, chunk, label):
    """Chunks from a conditional GAN's export: ``sample(labels)`` / ``sample_seeded``."""
    import numpy as np
    import tensorflow as tf

    sigs = loaded.signatures
    sample_fn = sigs.get("sample")
    if sample_fn is None or "labels" not in sample_fn.structured_input_signature[1]:
        raise ValueError(
            "--label is for a conditional GAN's export (whose 'sample' signature takes "
            f"'labels'); this one has signatures {sorted(sigs)}. Received: --label {label}"
        )
    if label is None:
        raise ValueError(
            "This export is a conditional GAN's: say which class to draw with --label K. "
            "Received: no --label"
        )
    if signature != "sample":
        raise ValueError(
            "--label calls the conditional export's sample / sample_seeded signatures; it "
            f"cannot be combined with --signature. Received: --signature {signature!r}"
        )
    if label < 0:
        raise ValueError(f"--label must be >= 0. Received: --label {label}")
    how = f"class {label}" + ("" if seed is None else f", sample_seeded with seed {seed}")
    done = i = 0
    while done < num_samples:
        n = min(chunk, num_samples - done)
        labels = tf.fill([n], tf.constant(label, tf.int32))
        try:
            if seed is None:
                out = sample_fn(labels=labels)
            else:
                out = sigs["sample_seeded"](
                    labels=labels, seed=tf.constant(seed + i * (2**31 - 1), tf.int64)
                )
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(
                f"The export refused the label ({e.message.strip().splitlines()[0]}). "
                f"Received: --label {label}"
            ) from None
        yield np.asarray(out["samples"]), how
        done += n
        i += 1


def _samples_of(out, signature):
    if "samples" in out:
        return out["samples"]
    if len(out) == 1:
        return next(iter(out.values()))
    raise ValueError(f"Signature {signature!r} returns {sorted(out)}, none of them named 'samples'")


def _pixel_range(loaded, choice, samples):
    if choice == "symmetric" or samples.ndim != 4:
        return (-1.0, 1.0)
    if choice == "unit":
        return (0.0, 1.0)
    sigs = loaded.signatures
    default = sigs.get("serving_default")
    if default is not None and "z" in default.structured_input_signature[1]:
        return (-1.0, 1.0)  # GAN generators end in tanh
    if "log_prob" in sigs or any("log_prob" in fn.structured_outputs for fn in sigs.values()):
        return (0.0, 1.0)  # kerasgan's image flows model dequantized pixels in [0, 1]
    raise ValueError(
        "Cannot tell the pixel range of this export (neither a GAN generator nor a flow); "
        "pass --range symmetric ([-1, 1]) or --range unit ([0, 1])"
    )


def samples_png(samples, value_range=(-1.0, 1.0)):
    """PNG bytes for samples: a tiled grid of images, or a scatter plot of 2-D points.

    Args:
        samples: ``[N, H, W, C]`` images (``C`` in 1, 3, 4) or ``[N, 2]`` points.
        value_range: ``(lo, hi)`` pixel range of the images, mapped to 0..255;
            values outside it (and non-finite ones) are clipped.

    Returns:
        ``(png_bytes, clipped_fraction)``.

    Raises:
        ValueError: for samples of any other shape.

    Example:
        >>> import numpy as np
        >>> png, clipped = samples_png(np.zeros((4, 8, 8, 1)), (0.0, 1.0))
        >>> png[:4], clipped
        (b'\\x89PNG', 0.0)
    """
    import numpy as np

    from kerasgan.callbacks import image_grid, scatter_png

    samples = np.asarray(samples)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return scatter_png(samples, title=f"{len(samples)} samples"), 0.0
    if samples.ndim != 4 or samples.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "PNG output needs images [N, H, W, C] with C in 1, 3 or 4, or 2-D points [N, 2]; "
            f"write .npy instead. Received: samples of shape {list(samples.shape)}"
        )
    import tensorflow as tf

    lo, hi = (float(v) for v in value_range)
    x = samples.astype("float64")
    clipped = float(np.mean(~(np.isfinite(x) & (x >= lo) & (x <= hi))))
    x = np.clip(np.nan_to_num(x, nan=lo, posinf=hi, neginf=lo), lo, hi)
    grid = image_grid((x - lo) / (hi - lo) * 2.0 - 1.0)  # image_grid takes [-1, 1]
    return tf.io.encode_png(grid).numpy(), clipped


if __name__ == "__main__":
    sys.exit(main())
