"""The algorithm registry is the one place that names algorithms, and every entry is complete."""

import ast
import importlib
from pathlib import Path

import pytest

import offpolicy
from offpolicy import registry
from offpolicy.config import make_config, preset_names
from offpolicy.errors import ConfigError

SRC = Path(offpolicy.__file__).parent


def test_no_module_but_the_registry_names_an_algorithm():
    """A string literal equal to an algorithm's name (or its API class) may appear only in the registry and in that
    algorithm's own agent module: every other place must ask the registry."""
    names = {a.name for a in registry.ALGORITHMS.values()} | {a.api_class for a in registry.ALGORITHMS.values()}
    own = {a.agent_module.replace(".", "/") + ".py": {a.name, a.api_class} for a in registry.ALGORITHMS.values()}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = "offpolicy/" + path.relative_to(SRC).as_posix()
        if rel == "offpolicy/registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names and node.value not in own.get(rel, set()):
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not found, "algorithm names outside the registry:\n" + "\n".join(found)


@pytest.mark.parametrize("name", registry.names())
def test_every_entry_is_complete(name):
    entry = registry.get(name)
    module = importlib.import_module(entry.agent_module)
    assert callable(module.make)
    assert entry.default_preset in preset_names()
    preset = make_config(entry.default_preset)
    assert preset.algo == name and isinstance(preset.agent, entry.config_class)
    assert entry.action_kind in ("continuous", "discrete")
    assert (SRC.parents[1] / entry.docs).is_file()
    assert getattr(offpolicy, entry.api_class).algo == name


def test_unknown_algorithm_names_the_closest():
    with pytest.raises(ConfigError, match="Did you mean 'ddpg'"):
        registry.get("dpg")
    with pytest.raises(ConfigError, match="unknown algorithm"):
        make_config(None, {"algo": "sac9"})
