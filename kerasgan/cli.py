"""The ``kerasgan`` command line.

kerasgan train NAME [recipe flags...]   run recipes/NAME.py (--smoke, --dry-run, ...)
kerasgan recipes                        list the recipes
"""

from __future__ import annotations

import argparse
import os
import pathlib
import runpy
import sys

__all__ = ["find_recipe", "main", "recipe_dirs"]


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


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="kerasgan", description="Train and use kerasgan models.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="run a recipe (flags after NAME go to the recipe)")
    train.add_argument("name")
    sub.add_parser("recipes", help="list the recipes")
    args, rest = parser.parse_known_args(argv)
    if args.command == "recipes":
        for name in _available():
            print(name)
        return 0
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


if __name__ == "__main__":
    sys.exit(main())
