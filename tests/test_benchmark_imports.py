"""The benchmark scripts' kerasgan imports resolve (a layout move once broke gan_step.py).

The scripts themselves need torch (``benchmarks/requirements.txt``), which the test
environment does not install, so their ``kerasgan`` imports are checked statically.
"""

import ast
import importlib
import pathlib

import pytest

BENCHMARKS = sorted((pathlib.Path(__file__).parent.parent / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_kerasgan_imports_resolve(path):
    checked = 0
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kerasgan":
                    importlib.import_module(alias.name)
                    checked += 1
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kerasgan":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    importlib.import_module(f"{node.module}.{alias.name}")  # a submodule
                checked += 1
    assert checked or path.name in ("serve_load.py",), f"{path.name} imports nothing from kerasgan"


def test_there_are_benchmarks():
    assert len(BENCHMARKS) >= 6
