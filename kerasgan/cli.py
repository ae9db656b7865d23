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
import signal
import sys

__all__ = ["draw_samples", "find_recipe", "main", "recipe_dirs", "samples_png"]


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
    p.add_argument("--version", type=int, help="version number (default: the next free one)")


def _export(args):
    import keras

    import kerasgan  # noqa: F401  (registers the serializable classes)
    from kerasgan import export as export_lib
    from kerasgan.flows import FlowModel

    if not args.model.endswith(".keras") or not os.path.isfile(args.model):
        return _error(f"MODEL must be an existing .keras file. Received: {args.model!r}")
    try:
        model = keras.saving.load_model(args.model, safe_mode=True)
        if isinstance(model, FlowModel):
            path = export_lib.export_flow(model, args.to, version=args.version)
            kind = "flow: serving_default/log_prob, sample, sample_seeded"
        elif hasattr(model, "generator") and hasattr(model, "latent_dim"):
            path = export_lib.export_generator(model, args.to, version=args.version)
            kind = "generator: serving_default (z), sample, sample_seeded"
        elif export_lib.is_image_to_image(model):
            path = export_lib.export_translator(model, args.to, version=args.version)
            kind = "image-to-image: serving_default/translate (images)"
        else:
            raise ValueError(
                "kerasgan export takes a GAN, a FlowModel or an image-to-image model "
                f"(one [None, H, W, C] input and output). Received: a {type(model).__name__} "
                f"from {args.model!r}"
            )
    except ValueError as e:
        return _error(e)
    print(f"SavedModel ({kind}): {path}")
    return 0


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
    import shlex

    from kerasgan.export.server import ModelServer

    limits = {
        k: v
        for k, v in (("max_batch", args.max_batch), ("max_body_bytes", args.max_body_bytes))
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
            **limits,
        )
    except ValueError as e:
        return _error(e)
    except OSError as e:
        return _error(f"cannot listen on {args.host}:{args.port}: {e}")
    body = json.dumps(server.example_request())
    print(
        f"Serving model {server.model_name!r} version {server.version} from {server.base_dir}\n"
        f"  {server.model_url}\n"
        f"  signatures: {', '.join(server.describe_signatures())}\n"
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


def _sample(args):
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".npy", ".png"):
        return _error(f"the output must end in .npy or .png. Received: -o {args.output!r}")
    if args.num_samples < 1:
        return _error(f"-n must be at least 1. Received: -n {args.num_samples}")
    if args.seed is not None and args.seed < 0:
        return _error(f"--seed must be >= 0. Received: --seed {args.seed}")
    import numpy as np
    import tensorflow as tf

    from kerasgan.export.server import resolve_export

    try:
        version, path = resolve_export(args.dir, args.version, allow_version_dir=True)
        loaded = tf.saved_model.load(path)
        samples, how = draw_samples(loaded, args.num_samples, args.seed, args.signature)
        if ext == ".png":
            png, clipped = samples_png(samples, _pixel_range(loaded, args.range, samples))
    except ValueError as e:
        return _error(e)
    parent = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(parent, exist_ok=True)
    if ext == ".npy":
        np.save(args.output, samples)
    else:
        with open(args.output, "wb") as f:
            f.write(png)
        if clipped:
            print(
                f"note: {clipped:.2%} of the values were outside the pixel range (or not "
                "finite) and were clipped; see --range",
                file=sys.stderr,
            )
    print(f"Wrote {args.output}: {list(samples.shape)} samples from {path} ({how})")
    return 0


def _evaluate(args):
    import json
    import time

    import numpy as np
    import tensorflow as tf

    from kerasgan.export.server import resolve_export
    from kerasgan.metrics.evaluation import Evaluator

    if args.num_samples < 2:
        return _error(f"-n must be at least 2. Received: -n {args.num_samples}")
    if args.batch_size < 1:
        return _error(f"--batch-size must be positive. Received: --batch-size {args.batch_size}")
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
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


def draw_samples(loaded, num_samples, seed=None, signature="sample"):
    """Draws ``num_samples`` samples from a loaded kerasgan export.

    Without ``seed`` the ``signature`` (default ``sample``, taking only
    ``num_samples``) is called; kerasgan exports draw fresh noise there on
    every call. With ``seed`` the export's ``sample_seeded`` signature gives
    reproducible samples (GANs: ``z = stateless_normal([n, latent_dim],
    seed=[seed, 0])``; flows: their sampler with that stateless seed). Exports
    written before ``sample_seeded`` existed: GAN generators are sampled by
    drawing ``z ~ N(0, I)`` with ``numpy.random.default_rng(seed)`` and calling
    ``serving_default``; flows are refused.

    Args:
        loaded: the result of ``tf.saved_model.load``.
        num_samples: positive int.
        seed: optional non-negative int.
        signature: the signature taking ``num_samples`` when ``seed`` is None.

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
    import tensorflow as tf

    sigs = loaded.signatures
    if seed is not None:
        if signature != "sample":
            raise ValueError(
                "--seed draws the latent z and calls serving_default; it cannot be combined "
                f"with --signature. Received: --signature {signature!r}"
            )
        seeded = sigs.get("sample_seeded")
        if seeded is not None:
            out = seeded(
                num_samples=tf.constant(num_samples, tf.int32), seed=tf.constant(seed, tf.int64)
            )
            samples = out["samples"]
            return np.asarray(samples), f"sample_seeded with seed {seed}"
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
        noise = np.random.default_rng(seed).standard_normal((num_samples, z.shape[1]))
        out = fn(z=tf.constant(noise, dtype=z.dtype))
        how = f"serving_default on z ~ N(0, I) drawn with seed {seed}"
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
        out = fn(num_samples=tf.constant(num_samples, dtype=inputs["num_samples"].dtype))
        how = f"signature {signature!r}"
    if "samples" in out:
        samples = out["samples"]
    elif len(out) == 1:
        samples = next(iter(out.values()))
    else:
        raise ValueError(
            f"Signature {signature!r} returns {sorted(out)}, none of them named 'samples'"
        )
    return np.asarray(samples), how


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
