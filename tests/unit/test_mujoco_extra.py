"""A MuJoCo (or Box2D) env without its package: one line naming the install command, from wherever envs are made.

Nothing is uninstalled: ``sys.modules["mujoco"] = None`` makes ``import mujoco`` fail, and Gymnasium's cached MuJoCo
modules are dropped so ``gym.make`` imports them again and raises its own DependencyNotInstalled, as it does on a
machine without the extra. Runs with or without the extra installed."""

import sys

import gymnasium as gym
import pytest

from offpolicy.cli import main
from offpolicy.envs import BOX2D_INSTALL, MUJOCO_INSTALL, make_env
from offpolicy.errors import EnvError


@pytest.fixture
def no_mujoco(monkeypatch):
    for name in [m for m in sys.modules if m == "mujoco" or m.startswith(("mujoco.", "gymnasium.envs.mujoco"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mujoco", None)  # `import mujoco` raises ImportError


# Ant-v5 and Walker2d-v5 have no preset: any Gymnasium MuJoCo env gets the message, not a list of ids.
@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Hopper-v5", "Ant-v5", "Walker2d-v5"])
def test_a_mujoco_env_without_the_extra_names_the_install_command(no_mujoco, env_id):
    with pytest.raises(gym.error.DependencyNotInstalled):  # what Gymnasium itself raises here
        gym.make(env_id)
    with pytest.raises(EnvError) as info:
        make_env(env_id, "sac")
    assert str(info.value) == f"{env_id} needs MuJoCo, which is not installed: {MUJOCO_INSTALL}"
    assert MUJOCO_INSTALL == 'pip install "offpolicy[mujoco]"'


def test_the_cli_prints_one_line_and_makes_no_run_directory(no_mujoco, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "td3-hopper", "--no-progress", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert err == f'offpolicy: error: Hopper-v5 needs MuJoCo, which is not installed: {MUJOCO_INSTALL}\n'
    assert not run.exists()


def _raise(exc):
    def make(*args, **kwargs):
        raise exc
    return make


def test_a_third_party_env_importing_mujoco_gets_the_same_message(monkeypatch):
    missing = ModuleNotFoundError("No module named 'mujoco'", name="mujoco")
    monkeypatch.setattr(gym, "make", _raise(missing))
    with pytest.raises(EnvError, match=r"^MyRobot-v0 needs MuJoCo, which is not installed: pip install"):
        make_env("MyRobot-v0", "td3")


def test_a_box2d_env_without_the_extra_names_its_install_command(monkeypatch):
    for name in [m for m in sys.modules if m == "Box2D" or m.startswith(("Box2D.", "gymnasium.envs.box2d"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "Box2D", None)
    with pytest.raises(EnvError) as info:
        make_env("LunarLander-v3", "dqn")
    assert str(info.value) == f"LunarLander-v3 needs Box2D, which is not installed: {BOX2D_INSTALL}"
    assert BOX2D_INSTALL == 'pip install "offpolicy[box2d]"'


def test_other_missing_dependencies_keep_gymnasiums_message(monkeypatch):
    old_bindings = gym.error.DependencyNotInstalled("No module named 'mujoco_py'. (HINT: install mujoco-py)")
    monkeypatch.setattr(gym, "make", _raise(old_bindings))
    with pytest.raises(EnvError, match=r"^cannot make environment 'HalfCheetah-v3': No module named 'mujoco_py'"):
        make_env("HalfCheetah-v3", "td3")  # the old mujoco-py bindings: not what the extra installs
    other = ModuleNotFoundError("No module named 'pybullet'", name="pybullet")
    monkeypatch.setattr(gym, "make", _raise(other))
    with pytest.raises(ModuleNotFoundError):  # not ours to rename
        make_env("HalfCheetahBulletEnv-v0", "td3")
