"""CLI smoke runs through a real subprocess, as a user would type them."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy
from tiny_runs import TINY as SHARED_TINY

ENV = {**os.environ, "SDL_AUDIODRIVER": "dummy", "SDL_VIDEODRIVER": "dummy"}
TINY = ["--set", *(f"{k}={json.dumps(v)}" for k, v in SHARED_TINY.items())]  # the contract tests' programs
# the same with learning_curve.png (and aggregate.png for several seeds)
PLOTTED = ["--set", *(f"{k}={json.dumps(v)}" for k, v in {**SHARED_TINY, "plot": True}.items())]


def offpolicy(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "offpolicy.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run"
    result = offpolicy("train", "ddpg-pendulum", "--run-dir", str(path), "--no-progress", *PLOTTED)
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout and "final eval over 2 episodes" in result.stdout
    return path


def test_train_writes_the_whole_run_directory(run_dir):
    for name in ("config.yaml", "metrics.csv", "evaluations.csv", "eval.json", "summary.json", "learning_curve.png",
                 "video.mp4", "checkpoints/final/agent.safetensors", "checkpoints/final/meta.json",
                 "checkpoints/best/meta.json"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tb").glob("events.out.tfevents.*"))
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert header == ("step,episode,episode_return,episode_length,actor_loss,critic_loss,q_mean,steps_per_s,time_s")
    evals = (run_dir / "evaluations.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in evals[1:]] == ["200", "300"]
    assert json.loads((run_dir / "eval.json").read_text())["episodes"] == 2
    assert (run_dir / "video.mp4").stat().st_size > 10_000


def test_config_yaml_reruns_exactly(run_dir, tmp_path):
    again = tmp_path / "again"
    result = offpolicy("train", str(run_dir / "config.yaml"), "--run-dir", str(again), "--no-progress", "--no-video")
    assert result.returncode == 0, result.stderr
    assert json.loads((again / "eval.json").read_text())["returns"] == \
        json.loads((run_dir / "eval.json").read_text())["returns"]


def test_eval_and_plot_on_a_finished_run(run_dir, tmp_path):
    out = tmp_path / "e.json"
    result = offpolicy("eval", str(run_dir), "--episodes", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    # the same seeds as the run's own final evaluation: the same returns
    assert json.loads(out.read_text())["returns"] == json.loads((run_dir / "eval.json").read_text())["returns"]
    result = offpolicy("eval", str(run_dir), "--episodes", "1", "--checkpoint", "best", "--video")
    assert result.returncode == 0, result.stderr
    assert (run_dir / "eval_video.mp4").is_file()
    png = tmp_path / "curve.png"
    result = offpolicy("plot", str(run_dir), "--out", str(png))
    assert result.returncode == 0 and png.stat().st_size > 10_000


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "ddpg-pendulm"], "Did you mean 'ddpg-pendulum'"),
        (["train", "ddpg-pendulum", "--set", "actor_lrr=1"], "Did you mean 'agent.actor_lr'"),
        (["train", "--algo", "ddpg", "--env", "CartPole-v1"], "discrete action space"),
        (["train", "--algo", "ddpg", "--env", "NoSuchEnv-v0"], "cannot make environment"),
        (["train", "ddpg-pendulum", "--set", "batch_size=0"], "agent.batch_size=0"),
        # every --set applies (the first of two flags used to be dropped), and a key given twice is refused
        (["train", "ddpg-pendulum", "--set", "warmup_steps=abc", "--set", "total_steps=300"], "warmup_steps='abc'"),
        (["train", "ddpg-pendulum", "--set", "total_steps=300", "--set", "total_steps=400"], "given twice"),
        (["train", "ddpg-pendulum", "--set", "sigma=0.2", "noise.sigma=0.3"], "both set agent.noise.sigma"),
        (["train", "ddpg-pendulum", "--seed", str(2**32)], "seed=4294967296"),
        (["train", "ddpg-pendulum", "--seed", str(2**63)], "seed=9223372036854775808: must be in 0..4294967295"),
        (["train", "ddpg-pendulum", "--set", "seed=1e30"], "must be in 0..4294967295"),
        (["train", "ddpg-pendulum", "--set", "buffer_size=1000000000000"],
         "agent.buffer_size=1000000000000: must be <= 2147483647"),
        (["train"], "name a preset"),
        # rl-zoo's flags get ours named, never accepted
        (["train", "ddpg-pendulum", "-n", "5000"], "-n is rl-zoo's flag; offpolicy train takes --total-steps N"),
        (["train", "ddpg-pendulum", "--eval-freq=1000"], "takes --set eval_every=N"),
        (["sweep", "ddpg-pendulum", "--n-timesteps", "5000"], "offpolicy sweep takes --set total_steps=N"),
        (["eval", "does-not-exist"], "not found"),
        (["plot", "does-not-exist"], "no metrics.csv"),
    ],
)
def test_bad_input_is_one_clear_line_and_no_run_directory(tmp_path, monkeypatch, capsys, args, message):
    """In this process (the same main() the console script calls): an error a user can fix returns 2 with one line
    on stderr; anything else would raise here and fail the test."""
    from offpolicy.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([*args, "--out", str(tmp_path / "runs")] if args[0] == "train" else args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_existing_run_dir_is_not_overwritten(run_dir):
    result = offpolicy("train", "ddpg-pendulum", "--run-dir", str(run_dir), *TINY)
    assert result.returncode == 2 and "already exists" in result.stderr


def test_presets_lists_the_flagship():
    result = offpolicy("presets")
    assert result.returncode == 0 and "ddpg-pendulum " in result.stdout


def test_train_many_seeds_vmapped_on_the_compiled_loop(tmp_path):
    path = tmp_path / "seeds"
    result = offpolicy("train", "noisy-dqn-cartpole", "--loop", "compiled", "--seeds", "3-4", "--workers", "1",
                       "--run-dir", str(path), "--no-progress", "--no-video", *PLOTTED)
    assert result.returncode == 0, result.stderr
    assert "2 seeds (vmapped, one process)" in result.stdout
    for seed in (3, 4):
        run = path / f"s{seed}"
        assert (run / "eval.json").is_file() and (run / "checkpoints" / "final" / "meta.json").is_file()
        assert f"seed: {seed}" in (run / "config.yaml").read_text()
        assert json.loads((run / "summary.json").read_text())["loop"] == "compiled"
    rows = (path / "aggregate.csv").read_text().splitlines()
    assert rows[0].startswith("step,mean,ci95_low,ci95_high,n_seeds,seed_3,seed_4")
    assert [r.split(",")[0] for r in rows[1:]] == ["200", "300"]
    summary = json.loads((path / "summary.json").read_text())
    assert summary["seeds"] == [3, 4] and summary["vmapped"] is True
    assert (path / "aggregate.png").stat().st_size > 5_000
    # The two seeds are different agents (not one agent written twice): their final parameters differ.
    params = [safetensors.numpy.load_file(str(path / f"s{s}" / "checkpoints" / "final" / "agent.safetensors"))
              for s in (3, 4)]
    kernels = [k for k in params[0] if k.endswith("['kernel']")]
    assert kernels and not any(np.array_equal(params[0][k], params[1][k]) for k in kernels)


@pytest.mark.parametrize("args, message", [
    (["--seeds", "5-2"], "--seeds"),
    (["--loop", "compiled", "--set", "env_kwargs={sutton_barto_reward: true}"], "loop=host"),
])
def test_bad_seed_and_loop_input(tmp_path, args, message):
    result = offpolicy("train", "noisy-dqn-cartpole", "--run-dir", str(tmp_path / "r"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_train_says_what_it_is_doing_before_and_after_the_bar(tmp_path, capsys):
    from offpolicy.cli import main

    assert main(["train", "ddpg-pendulum", "--run-dir", str(tmp_path / "run"), "--no-video", *PLOTTED]) == 0
    err = capsys.readouterr().err
    assert err.startswith("offpolicy: building ddpg on Pendulum-v1 (host loop): compiling")  # before the compile
    assert "ddpg Pendulum-v1 (compiling)" in err  # the first step's program
    assert "ddpg Pendulum-v1 (compiling the update)" in err  # the step before learning_starts (100)
    after = err[err.rindex("100%"):]  # after the bar: the final evaluation and the plot, in that order
    assert after.index("offpolicy: evaluating the final policy (2 episodes)") < after.index("plotting learning_curve")


HEAVY = ("jax", "jaxlib", "flax", "optax", "matplotlib", "gymnasium", "gymnax", "tensorboardX")
IMPORTED = """
import sys
from offpolicy.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("IMPORTED", sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r})), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["presets"], ["train", "--help"], ["sweep", "--help"]])
def test_help_and_presets_import_no_jax_matplotlib_or_gymnasium(args):
    # what makes `offpolicy --help` slow (seconds): each command imports what it needs when it runs, not to be listed
    result = subprocess.run([sys.executable, "-c", IMPORTED.format(heavy=HEAVY), *args], capture_output=True,
                            text=True, env=ENV, timeout=120)
    assert "IMPORTED []" in result.stderr, result.stderr[-2000:]
    assert "ddpg-pendulum" in result.stdout or "usage: offpolicy" in result.stdout  # it did answer
