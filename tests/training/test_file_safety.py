"""Files never choose code to run: an env id read from a config, sweep file or checkpoint may not name a module to
import (gymnasium's ``gym.make("module:EnvId")`` would import it); only a module the user typed is imported."""

import json
import sys

import gymnasium as gym
import pytest

from offpolicy.errors import CheckpointError, ConfigError

EVIL = "import pathlib\npathlib.Path('IMPORTED').write_text('a file chose this import')\n"
REFUSAL = "a 'module:' env id imports module 'evilmod'"


@pytest.fixture
def evil_dir(tmp_path, monkeypatch):
    """A working directory (on sys.path) holding evilmod.py, which leaves IMPORTED behind when imported."""
    (tmp_path / "evilmod.py").write_text(EVIL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("evilmod", None)
    yield tmp_path
    assert not (tmp_path / "IMPORTED").exists() and "evilmod" not in sys.modules


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    """A policy checkpoint (untrained: its arrays only need the right shapes) and a run directory holding it."""
    from offpolicy import DDPG

    run = tmp_path_factory.mktemp("safety") / "run"
    model = DDPG("Pendulum-v1", total_steps=300, warmup_steps=100, learning_starts=128, eval_episodes=1,
                 video=False, hidden_sizes=[8, 8], progress=False)
    model.save(run / "checkpoints" / "final")
    return run


def _tamper(run, tmp_path, env):
    copy = tmp_path / "run"
    (copy / "checkpoints").mkdir(parents=True)
    ckpt = copy / "checkpoints" / "final"
    ckpt.mkdir()
    for f in (run / "checkpoints" / "final").iterdir():
        (ckpt / f.name).write_bytes(f.read_bytes())
    meta = json.loads((ckpt / "meta.json").read_text())
    meta["config"]["env"] = env
    (ckpt / "meta.json").write_text(json.dumps(meta))
    return copy


def test_a_checkpoint_naming_a_module_env_is_refused_before_any_import(evil_dir, checkpoint_dir, capsys):
    from offpolicy import DDPG
    from offpolicy.cli import main
    from offpolicy.policy import Policy

    run = _tamper(checkpoint_dir, evil_dir, "evilmod:Pendulum-v1")
    for load in (DDPG.load, Policy.load):
        with pytest.raises(CheckpointError, match=REFUSAL):
            load(run)
    for command in (["eval", str(run), "--episodes", "1"], ["export", str(run)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert REFUSAL in err and len(err.strip().splitlines()) == 1


def test_a_yaml_or_sweep_file_naming_a_module_env_is_refused(evil_dir, capsys):
    from offpolicy.cli import main
    from offpolicy.config import make_config

    (evil_dir / "c.yaml").write_text("algo: ddpg\nenv: evilmod:Pendulum-v1\n")
    with pytest.raises(ConfigError, match=REFUSAL):
        make_config(str(evil_dir / "c.yaml"))
    (evil_dir / "sweep.yaml").write_text("preset: ddpg-pendulum\nset: {env: 'evilmod:Pendulum-v1'}\n")
    for command in (["train", "c.yaml", "--run-dir", "r"], ["sweep", "sweep.yaml", "--sweep-dir", "s"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert REFUSAL in err and len(err.strip().splitlines()) == 1
    assert not (evil_dir / "r").exists() and not (evil_dir / "s").exists()


TYPED = ("import gymnasium as gym\n"
         "gym.register('OffpolicyTest/Typed-v0', entry_point='gymnasium.envs.classic_control.pendulum:PendulumEnv',\n"
         "             max_episode_steps=100)\n")


def test_a_module_the_user_typed_is_imported_recorded_and_asked_for_again(tmp_path, monkeypatch, capsys):
    """`--env typedmod:OffpolicyTest/Typed-v0` imports typedmod; the run stores the plain id and the module's name;
    eval and resume import it again only when `--env-module` says so."""
    from offpolicy.cli import main
    from offpolicy.config import from_dict, read_yaml_mapping

    (tmp_path / "typedmod.py").write_text(TYPED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def forget():  # as in a new process: the module not imported, the env not registered
        sys.modules.pop("typedmod", None)
        gym.registry.pop("OffpolicyTest/Typed-v0", None)

    forget()
    tiny = ["--set", "total_steps=200", "warmup_steps=100", "learning_starts=100", "batch_size=32",
            "hidden_sizes=[8,8]", "eval_every=0", "eval_episodes=1", "plot=false"]
    try:
        assert main(["train", "--algo", "ddpg", "--env", "typedmod:OffpolicyTest/Typed-v0", "--run-dir", "run",
                     "--checkpoint-every", "100", "--no-video", "--no-progress", *tiny]) == 0
        config = from_dict(read_yaml_mapping(tmp_path / "run" / "config.yaml"))
        assert (config.env, config.env_module) == ("OffpolicyTest/Typed-v0", "typedmod")
        capsys.readouterr()
        forget()
        assert main(["eval", "run", "--episodes", "1"]) == 2
        err = capsys.readouterr().err
        assert "comes from module 'typedmod'" in err and "--env-module typedmod" in err
        assert "typedmod" not in sys.modules
        assert main(["eval", "run", "--episodes", "1", "--env-module", "typedmod"]) == 0
        forget()
        assert main(["train", "--resume", "run", "--total-steps", "300", "--no-progress"]) == 2
        assert "--env-module typedmod" in capsys.readouterr().err
        assert main(["train", "--resume", "run", "--total-steps", "300", "--env-module", "typedmod",
                     "--no-progress", "--no-video"]) == 0
    finally:
        forget()


# --------------------------------------------------------------------------------------------------------------------
# Inputs that used to end in a traceback, or in a long wait before one


def test_a_replay_buffer_larger_than_free_memory_is_refused_before_allocating(monkeypatch):
    from offpolicy.config import make_config
    from offpolicy.run import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "available_memory", lambda device: 1_000_000)
    config = make_config(None, {"algo": "ddpg", "env": "Pendulum-v1", "buffer_size": 100_000, "eval_every": 0,
                                "eval_episodes": 1, "video": False})
    # Pendulum: obs 3 + next_obs 3 + action 1 + reward 1 float32, terminated and truncated 1 byte each = 34 bytes
    with pytest.raises(ConfigError, match=r"^agent.buffer_size=100000: the replay buffer needs 3.4 MB \(34 bytes per "
                                          r"transition x 100,000\), but cpu memory has 1.0 MB free; lower "
                                          r"agent.buffer_size \(about 29,411 transitions fit\)\.$"):
        trainer_module.Trainer(config, progress=False)
    with pytest.raises(ConfigError, match=r"needs 6.8 MB \(34 bytes per transition x 100,000 x 2 seeds\)"):
        trainer_module.Trainer(config, progress=False, seeds=[0, 1])


def test_eval_of_a_checkpoint_claiming_a_huge_buffer_allocates_none(checkpoint_dir, tmp_path, capsys):
    """2**31 - 1 transitions of Pendulum would be 73 GB: evaluation builds no buffer, so it runs."""
    from offpolicy.cli import main

    run = _tamper(checkpoint_dir, tmp_path, "Pendulum-v1")
    meta_path = run / "checkpoints" / "final" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["agent"]["buffer_size"] = 2**31 - 1
    meta_path.write_text(json.dumps(meta))
    assert main(["eval", str(run), "--episodes", "1"]) == 0
    assert "over 1 episodes" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["under a file", "in /proc"])
def test_an_uncreatable_run_dir_is_refused_before_any_env_or_compilation(tmp_path, where, capsys):
    from offpolicy.cli import main

    (tmp_path / "file").write_text("a regular file")
    run_dir = tmp_path / "file" / "run" if where == "under a file" else "/proc/offpolicy-run"
    message = "is a file, not a directory" if where == "under a file" else "/proc is not writable"
    assert main(["train", "ddpg-pendulum", "--run-dir", str(run_dir), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot create run directory {run_dir}: " in err and message in err and len(err.strip().splitlines()) == 1


METRICS = "step,episode,episode_return,episode_length\n200,1,-1500.5,200\n400,2,-1200.0,200\n"


@pytest.mark.parametrize("content, message", [
    (bytes(range(256)) * 4, "metrics.csv: not a readable CSV file ('utf-8' codec can't decode byte 0x80"),
    (b"a,b\n1,2\n", "metrics.csv: no column 'step', 'episode_return' (it has 'a', 'b'); not a file written by"),
    (METRICS.replace("-1200.0", "oops").encode(), "metrics.csv: line 3, column 'episode_return': 'oops' is not a "
     "number"),
    (METRICS.replace("-1200.0,200", "-1200.0,200,7").encode(), "metrics.csv: line 3 has 5 values for 4 columns"),
    (b"", "metrics.csv is missing or has no rows: nothing to plot"),
    (METRICS.splitlines()[0].encode() + b"\n", "metrics.csv is missing or has no rows"),
], ids=["random-bytes", "wrong-columns", "not-a-number", "long-row", "empty", "header-only"])
def test_plot_of_a_damaged_metrics_csv_is_one_line(tmp_path, capsys, content, message):
    from offpolicy.cli import main

    (tmp_path / "metrics.csv").write_bytes(content)
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "learning_curve.png").exists()


def test_a_run_shorter_than_one_episode_finishes_with_a_summary(tmp_path):
    from offpolicy.config import make_config
    from offpolicy.run.trainer import Trainer

    config = make_config(None, {"algo": "ddpg", "env": "Pendulum-v1", "total_steps": 20, "warmup_steps": 100,
                                "learning_starts": 128, "hidden_sizes": [8, 8], "eval_every": 0,
                                "eval_episodes": 1, "video": False})
    with pytest.warns(UserWarning, match=r"total_steps=20 is less than Pendulum-v1's time limit \(200 steps\)"):
        trainer = Trainer(config, run_dir=tmp_path / "run", progress=False)
    try:
        trainer.learn(20)
        summary = trainer.finish()
    finally:
        trainer.close()
    assert summary["episodes"] == 0 and summary["steps"] == 20
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 20
    assert not (tmp_path / "run" / "learning_curve.png").exists()


def test_a_sweep_of_an_unimported_module_env_asks_for_env_module_before_starting(tmp_path, monkeypatch, capsys):
    from offpolicy.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "ddpg-pendulum", "--set", "env=OffpolicyTest/NotImported-v0", "env_module=typedmod",
                 "--sweep-dir", "s", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "comes from module 'typedmod'" in err and "--env-module typedmod" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
