"""JAX's persistent compilation cache is on by default for training runs, in the user's cache folder; it can be
turned off or moved, and a cache the user configured for JAX is left alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest
from run_files import assert_same_run, metric_rows
from tiny_runs import TINY

from offpolicy.config import make_config
from offpolicy.run import compile_cache
from offpolicy.run.trainer import Trainer


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),  # neither variable: ~/.cache/offpolicy/jax-cache
    ({"XDG_CACHE_HOME": "/x"}, "/x/offpolicy/jax-cache"),
    ({"XDG_CACHE_HOME": "/x", "OFFPOLICY_COMPILE_CACHE": "/mine"}, "/mine"),
    ({"OFFPOLICY_COMPILE_CACHE": "off"}, "off"),
    ({"OFFPOLICY_COMPILE_CACHE": "0"}, "off"),
    ({"OFFPOLICY_COMPILE_CACHE": "False"}, "off"),
    ({"XDG_CACHE_HOME": "/x", "JAX_COMPILATION_CACHE_DIR": "/jax"}, "off"),  # the user's JAX setting: theirs
])
def test_cache_folder_follows_the_variables(environ, expected):
    folder = compile_cache.cache_dir(environ)
    if expected is None:
        assert folder == Path.home() / ".cache" / "offpolicy" / "jax-cache"
    elif expected == "off":
        assert folder is None
    else:
        assert folder == Path(expected)


def test_a_cache_configured_for_jax_is_left_alone():
    # the suite sets JAX_COMPILATION_CACHE_DIR (tests/conftest.py), as a user may: a run keeps it
    before = jax.config.jax_compilation_cache_dir
    assert before
    assert compile_cache.enable() is None
    trainer = Trainer(make_config("ddpg-pendulum", {**TINY, "video": False}), progress=False)
    trainer.close()
    assert jax.config.jax_compilation_cache_dir == before


def test_a_training_run_fills_the_default_cache_and_off_turns_it_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}  # no cache set by the suite
    sets = [f"{k}={json.dumps(v)}" for k, v in {**TINY, "total_steps": 120, "learning_starts": 100,
                                                 "eval_every": 0}.items()]

    on = subprocess.run([sys.executable, "-m", "offpolicy.cli", "train", "ddpg-pendulum", "--no-progress", "--no-video",
                         "--run-dir", str(tmp_path / "on"), "--set", *sets],
                        capture_output=True, text=True, env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}, timeout=300)
    assert on.returncode == 0, on.stderr
    programs = [p for p in (tmp_path / "xdg" / "offpolicy" / "jax-cache").iterdir()
                if not p.name.startswith(".") and not p.name.endswith("-atime")]
    # every program, however fast it compiled (JAX's default keeps those over 1 s: two of this run's ~20)
    assert len(programs) >= 10, [p.name for p in programs]
    # off: what a Trainer calls at its start, in a fresh process (a whole run would only compile without a cache)
    off = subprocess.run([sys.executable, "-c", "import jax; from offpolicy.run import compile_cache; "
                          "print(compile_cache.enable(), jax.config.jax_compilation_cache_dir)"],
                         capture_output=True, text=True, timeout=120,
                         env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg-off"), "OFFPOLICY_COMPILE_CACHE": "off"})
    assert off.returncode == 0 and off.stdout.split() == ["None", "None"], off.stderr
    assert not (tmp_path / "xdg-off").exists()


_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # one per XLA compilation (or persistent-cache read)


@pytest.mark.parametrize("loop", ["host", "compiled"])
def test_a_second_run_of_one_config_in_a_process_compiles_nothing_and_gives_the_same_numbers(loop, tmp_path):
    # make_agent gives the same agent for the same config, and the loops and the policy keep their jitted programs
    # per agent: a resume, a sweep's next trial, or a second model in a notebook traces and compiles nothing again.
    cfg = make_config("noisy-dqn-cartpole", {**TINY, "loop": loop, "video": False})  # the contract tests' programs

    def train(name):
        trainer = Trainer(cfg, run_dir=tmp_path / name, progress=False)
        trainer.learn(cfg.total_steps)
        trainer.finish()
        trainer.close()
        return tmp_path / name

    first = train("first")
    compiled = []

    def on_duration(event, secs, fun_name=None, **_):
        if event == _COMPILE_EVENT:
            compiled.append(fun_name)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    try:
        second = train("second")
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
    assert compiled == []
    assert len(metric_rows(first / "metrics.csv")) > 3
    assert_same_run(first, second)
