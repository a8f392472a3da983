"""docs/config.md and ``offpolicy keys`` are generated from the config dataclasses, and stay in sync with them."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from offpolicy import registry
from offpolicy.config import DDPGConfig, NoiseConfig, RunConfig, field_docs, valid_keys
from offpolicy.config_docs import REGENERATE, render_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_docs_config_md_is_generated_from_the_dataclasses():
    assert DOCS.is_file(), f"docs/config.md is missing: run `{REGENERATE}`"
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), \
        f"docs/config.md is out of date with the config dataclasses: run `{REGENERATE}`"


def test_field_docs_are_read_from_the_source_on_one_line():
    assert field_docs(NoiseConfig)["sigma"] == "Noise scale (OU diffusion, or the Gaussian standard deviation)."
    assert field_docs(DDPGConfig)["actor_lr"] == "Adam learning rate of the actor."
    assert "\n" not in field_docs(RunConfig)["eval_max_steps"]
    for entry in registry.ALGORITHMS.values():  # every field has its doc
        for cls in (RunConfig, entry.config_class, NoiseConfig):
            missing = {f.name for f in dataclasses.fields(cls)} - set(field_docs(cls))
            assert not missing, f"{cls.__name__}: fields without a docstring: {sorted(missing)}"


@pytest.mark.parametrize("algo", registry.names())
def test_keys_lists_every_key_of_the_default_preset(algo, capsys):
    from offpolicy.cli import main

    preset = registry.get(algo).default_preset
    assert main(["keys", preset]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert listed == set(valid_keys(algo))
    assert "Run keys:" in out and f"Agent keys ({algo}:" in out


def test_keys_shows_the_preset_value_and_the_doc(capsys):
    from offpolicy.cli import main

    assert main(["keys", "td3-pendulum"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert lines["agent.noise.kind"].split()[1:3] == ["ou|gaussian|tutorial|none", "gaussian"]
    assert lines["agent.noise.sigma"].split()[1:3] == ["float", "0.1"]
    assert "Noise scale" in lines["agent.noise.sigma"]
    assert main(["keys", "--algo", "dqn"]) == 0  # no preset: the algorithm's dataclass defaults
    out = capsys.readouterr().out
    assert "agent.epsilon_end" in out and "agent.actor_lr" not in out
    assert main(["keys", "no-such-preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_version_prints_and_does_not_import_jax():
    from offpolicy._version import __version__

    code = ("import sys; from offpolicy.cli import main; code = main(['--version']); "
            "print('jax' in sys.modules, code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"offpolicy {__version__}", "False 0"]
