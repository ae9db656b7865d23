"""Runner configs: sections, flat keys, validation messages, the registry and its tasks."""

import json

import pytest

from kerasgan import gan, runner
from kerasgan.flows import families
from kerasgan.runner import config, registry

SECTIONED = {
    "name": "s",
    "data": {"dataset": "ring8", "num_train_samples": 500},
    "model": {"class": "WGANGP", "latent_dim": 3, "g_hidden_units": [16]},
    "loss": {"gp_weight": 5.0},
    "optimization": {"batch_size": 32, "epochs": 2, "g_lr": 1e-3},
    "run": {"seed": 4, "checkpoint_every": 3},
}


def test_sectioned_and_flat_configs_resolve_to_the_same_flat_config():
    flat = {
        "name": "s",
        "dataset": "ring8",
        "num_train_samples": 500,
        "model": "WGANGP",
        "latent_dim": 3,
        "g_hidden_units": [16],
        "gp_weight": 5.0,
        "batch_size": 32,
        "epochs": 2,
        "g_lr": 1e-3,
        "seed": 4,
        "checkpoint_every": 3,
    }
    a, b = runner.resolve(SECTIONED), runner.resolve(flat)
    assert a == b
    assert a["latent_dim"] == 3 and a["gp_weight"] == 5.0 and a["d_lr"] is None
    assert set(a) == set(config.DEFAULTS)


def test_sectioned_round_trips_through_json():
    cfg = runner.resolve(SECTIONED)
    text = json.dumps(runner.sectioned(cfg))
    assert runner.resolve(json.loads(text)) == cfg
    assert list(runner.sectioned(cfg)) == ["name", *config.SECTION_NAMES]


def test_every_key_has_one_section_and_a_validator():
    seen = [k for keys in config.SECTIONS.values() for k in keys]
    assert sorted(seen) == sorted(config.SCHEMA) and len(seen) == len(set(seen))


def test_overrides_win_and_may_be_flat_or_sectioned():
    cfg = runner.resolve(SECTIONED, {"epochs": 7})
    assert cfg["epochs"] == 7
    cfg = runner.resolve(SECTIONED, {"optimization": {"epochs": 9}, "run": {"seed": 1}})
    assert (cfg["epochs"], cfg["seed"]) == (9, 1)


def test_shorthands():
    cfg = runner.resolve({"name": "s", "model": "HingeGAN", "loss": "least_squares"})
    assert (cfg["model"], cfg["loss"]) == ("HingeGAN", "least_squares")
    cfg = runner.resolve(
        {"name": "s", "model": {"family": "maf"}, "data": {"dataset": "two_moons"}}
    )
    assert cfg["model"] == "maf" and registry.task_kind(cfg) == "flow"
    assert runner.sectioned(cfg)["model"]["class"] == "maf"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"optimization": {"epochs": 0}}, "epochs must be an int >= 1. Received: epochs=0"),
        ({"epochs": True}, "epochs=True"),
        ({"optimization": {"g_lr": -1.0}}, "g_lr=-1.0"),
        ({"optimization": {"g_lr": float("nan")}}, "g_lr=nan"),
        ({"model": {"g_hidden_units": [16, 0]}}, "g_hidden_units=[16, 0]"),
        ({"model": {"g_hidden_units": []}}, "g_hidden_units=[]"),
        ({"run": {"strategy": "tpu"}}, "strategy='tpu'"),
        ({"run": {"resume": "yes"}}, "resume='yes'"),
        ({"model": {"d_mode": "sum"}}, "d_mode='sum'"),
        ({"data": {"epochs": 3}}, "'epochs' belongs in section 'optimization', not 'data'"),
        ({"model": {"latentdim": 3}}, "unknown key 'latentdim' in section 'model'"),
        ({"model": {"model": "GAN"}}, "unknown key 'model' in section 'model'"),
        ({"epoch": 3}, "unknown key 'epoch'"),
        ({"model": {"class": "GAN", "family": "maf"}}, "'model' is given twice"),
        ({"model": "nope"}, "model='nope'"),
        ({"loss": "nope"}, "loss='nope'"),
        ({"model": "ACGAN"}, "ACGAN needs a labelled dataset"),
        ({"model": "nice", "data": {"dataset": "digits"}}, "Image flows are"),
        ({"model": "planar", "model_": 1}, "unknown key 'model_'"),
        ({"model": "planar", "energy": "u9"}, "energy='u9'"),
        ({"data": []}, "unknown key 'data'"),
    ],
)
def test_bad_configs_name_the_key_and_value(bad, message):
    with pytest.raises(ValueError) as e:
        runner.resolve({"name": "x", **bad})
    assert message in str(e.value)


def test_missing_name():
    with pytest.raises(ValueError, match="'name' must be a non-empty string"):
        runner.resolve({"model": "GAN"})


def test_old_names_resolve_to_class_names():
    for old, new in [
        ("wgan_gp", "WGANGP"),
        ("hinge", "HingeGAN"),
        ("gan", "GAN"),
        ("dcgan", "DCGAN"),
    ]:
        assert runner.resolve({"name": "x", "model": old})["model"] == new
    assert runner.resolve({"name": "x", "model": "minimax"})["loss"] == "minimax"
    # An explicit loss wins over the alias's.
    assert runner.resolve({"name": "x", "model": "minimax", "loss": "hinge"})["loss"] == "hinge"


def test_registry_covers_every_gan_class_and_flow_family():
    for name in gan.__all__:
        cls = getattr(gan, name)
        if isinstance(cls, type) and issubclass(cls, gan.GAN):
            assert registry.get_model(name).task == "gan"
    for name in families.names("vector"):
        if name != "iaf":  # a distillation student, not trained on data
            assert registry.get_model(name).task in ("flow", "distill")
    assert registry.task_names() == ["distill", "flow", "gan", "image_flow"]
    for family in families.names("image"):
        assert (
            registry.task_kind(runner.resolve({"name": "x", "model": family, "dataset": "digits"}))
            == "image_flow"
        )


def test_strategy_choices_match_distribute():
    from kerasgan import distribute

    check = config.SCHEMA["strategy"][2]
    for name in distribute.STRATEGIES:
        assert check("strategy", name) == name


def test_a_new_task_and_model_slot_in_without_touching_the_runner(tmp_path):
    calls = []

    def run_echo(cfg, run_dir, strategy):
        calls.append((cfg["model"], run_dir, strategy.num_replicas_in_sync))
        return {"run_dir": run_dir, "seconds": 0.0}

    registry.register_task("echo", run_echo)
    registry.register_model("Echo", "echo")
    try:
        result = runner.run({"name": "e", "model": "Echo", "run": {"runs_dir": str(tmp_path)}})
        assert calls == [("Echo", str(tmp_path / "e"), 1)] and result["seconds"] == 0.0
        assert (tmp_path / "e" / "finished.json").is_file()
        written = json.loads((tmp_path / "e" / "config.json").read_text())
        assert written["model"]["class"] == "Echo"
    finally:
        registry._TASKS.pop("echo")
        registry._MODELS.pop("Echo")


def _imports(path):
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_the_libraries_below_the_runner_never_import_it():
    import pathlib

    root = pathlib.Path(runner.__file__).parent.parent
    below = ("gan", "flows", "losses", "metrics", "callbacks", "export", "_internal", "data")
    for sub in below:
        for path in (root / sub).rglob("*.py"):
            bad = {
                n for n in _imports(path) if n.startswith(("kerasgan.runner", "kerasgan.training"))
            }
            assert not bad, (path, bad)


def test_runner_modules_import_at_top_level_only():
    """No function-level imports to dodge a cycle (tfds, optional and slow, is the exception)."""
    import ast
    import pathlib

    for path in pathlib.Path(runner.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        names = [a.name for a in node.names]
                        assert names == ["tensorflow_datasets"], (path, fn.name, names)


def test_docs_list_every_config_key_in_its_section():
    import pathlib

    text = (pathlib.Path(runner.__file__).parent.parent.parent / "docs" / "runner.md").read_text()
    for key, (section, *_) in config.SCHEMA.items():
        shown = "class` / `family" if key == "model" else "pair" if key == "loss" else key
        assert f"| `{section}` | `{shown}` |" in text, key
