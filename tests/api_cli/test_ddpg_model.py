"""Contracts of the DDPG model shell: deterministic predict, save/load, safe checkpoint loading, env checks."""

import json
import pickle

import gymnasium as gym
import numpy as np
import pytest
from tiny_runs import TINY as SHARED_TINY

from offpolicy import DDPG
from offpolicy.agents import ddpg
from offpolicy.errors import CheckpointError, EnvError

# The contract tests' settings (tests/tiny_runs.py) on the DDPG preset's env: their programs serve this model too.
TINY = {**SHARED_TINY, "progress": False}


@pytest.fixture(scope="module")
def model():
    m = DDPG("Pendulum-v1", seed=0, **TINY)
    m.learn()
    return m


OBS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -3.0], [-0.6, 0.8, 5.0]], np.float32)


def test_predict_deterministic_is_noise_free_and_repeatable(model):
    a1, a2 = model.predict(OBS, deterministic=True)[0], model.predict(OBS, deterministic=True)[0]
    np.testing.assert_array_equal(a1, a2)
    assert a1.shape == (3, 1)
    # the actor's mu in [-1, 1], from the agent state and the actor network, mapped onto Pendulum's own bounds
    actor, _ = ddpg.networks(model.config.agent, model._trainer.spec)
    mu = np.asarray(actor.apply(model._trainer.state.actor, OBS), np.float64)
    space = gym.make("Pendulum-v1").action_space
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    assert np.all(np.abs(mu) < 1) and np.ptp(mu) > 0.01  # the check below can tell a scale or an offset
    np.testing.assert_allclose(a1, low + (mu + 1) / 2 * (high - low), rtol=1e-6, atol=1e-6)
    single, _ = model.predict(OBS[0], deterministic=True)
    assert single.shape == (1,)
    np.testing.assert_allclose(single, a1[0], rtol=1e-6)
    noisy, _ = model.predict(OBS)  # SB3's default: deterministic=False
    assert not np.array_equal(noisy, a1)


def test_predict_rejects_wrong_shapes(model):
    with pytest.raises(ValueError, match="expected"):
        model.predict(np.zeros(4, np.float32))


def test_save_load_gives_identical_actions_and_evaluation(model, tmp_path):
    path = model.save(tmp_path / "ckpt")
    loaded = DDPG.load(path, progress=False)
    np.testing.assert_array_equal(loaded.predict(OBS, deterministic=True)[0], model.predict(OBS, deterministic=True)[0])
    assert loaded.evaluate(2)["returns"] == model.evaluate(2)["returns"]
    assert loaded.config == model.config


def test_loading_refuses_tampered_checkpoints(model, tmp_path):
    path = model.save(tmp_path / "ckpt")
    arrays = path / "agent.safetensors"
    original = arrays.read_bytes()

    arrays.write_bytes(original[: len(original) // 2])  # truncated file
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        DDPG.load(path, progress=False)

    arrays.write_bytes(np.random.default_rng(0).bytes(4096))  # random bytes
    with pytest.raises(CheckpointError):
        DDPG.load(path, progress=False)

    arrays.write_bytes(pickle.dumps({"x": 1}))  # a pickle renamed: never unpickled
    with pytest.raises(CheckpointError):
        DDPG.load(path, progress=False)

    arrays.write_bytes(original)
    meta = json.loads((path / "meta.json").read_text())
    meta["config"]["agent"]["hidden_sizes"] = [64, 64]  # arrays no longer match the config's shapes
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="shape"):
        DDPG.load(path, progress=False)

    meta["config"]["agent"]["hidden_sizes"] = [128, 128]
    meta["format_version"] = 99
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format version"):
        DDPG.load(path, progress=False)

    (path / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        DDPG.load(path, progress=False)

    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        DDPG.load(tmp_path / "nowhere", progress=False)


def test_wrong_dtype_is_refused(model, tmp_path):
    import safetensors.numpy

    path = model.save(tmp_path / "ckpt")
    arrays = safetensors.numpy.load_file(str(path / "agent.safetensors"))
    key = next(k for k in arrays if k.endswith("['kernel']"))
    arrays[key] = arrays[key].astype(np.float64)
    safetensors.numpy.save_file(arrays, str(path / "agent.safetensors"))
    with pytest.raises(CheckpointError, match="dtype"):
        DDPG.load(path, progress=False)


@pytest.mark.parametrize("env,match", [("CartPole-v1", "discrete action space"),
                                       ("Pendulm-v1", "Did you mean"),
                                       ("Blackjack-v1", "not a flat Box")])
def test_unusable_envs_get_clear_errors(env, match):
    with pytest.raises(EnvError, match=match):
        DDPG(env, progress=False)


def test_unbounded_action_space_is_refused():
    from offpolicy.envs import check_spaces

    class Unbounded(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (2,))
        action_space = gym.spaces.Box(-np.inf, np.inf, (1,))

    with pytest.raises(EnvError, match="unbounded"):
        check_spaces(Unbounded(), "Unbounded", "ddpg")


def test_other_box_envs_work():
    m = DDPG("MountainCarContinuous-v0", seed=1, **{**TINY, "eval_every": 0, "eval_episodes": 1})
    m.learn()
    assert m.num_timesteps == 300
    assert m.predict(np.zeros(2, np.float32))[0].shape == (1,)
