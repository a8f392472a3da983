"""Stable-Baselines3 idioms on the model classes (issue 14): env objects and functions, callbacks, SB3's argument
names (accepted as aliases or refused in one line naming ours), and load -> learn continuing exactly."""

import warnings

import gymnasium as gym
import jax
import numpy as np
import pytest
from tiny_runs import TINY as SHARED_TINY

from offpolicy import DDPG, Callback
from offpolicy.errors import ConfigError, EnvError

# The suite's tiny settings (tests/tiny_runs.py) on Pendulum-v1: the contract tests' programs serve these models.
TINY = {**SHARED_TINY, "progress": False}
TIMING = ("steps_per_s", "time_s")  # wall-clock columns: the only ones allowed to differ between runs


class Recorder(Callback):
    """Counts and keeps what learn reports; ``stop_at``: (method, step) whose call returns False."""

    def __init__(self, stop_at=None):
        self.steps, self.rows, self.evals, self.stop_at, self.models = [], [], [], stop_at, set()

    def _stop(self, method, step):
        self.models.add(id(self.model))
        return False if self.stop_at == (method, step) else None

    def on_step(self, step):
        self.steps.append(step)
        return self._stop("on_step", step)

    def on_episode(self, row):
        self.rows.append({k: v for k, v in row.items() if k not in TIMING})
        return self._stop("on_episode", row["step"])

    def on_eval(self, step, result):
        self.evals.append((step, result["mean"]))
        return self._stop("on_eval", step)


def leaves(model):
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(model._trainer.loop.carry))
            if not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)]


@pytest.fixture(scope="module")
def uninterrupted():
    """600 steps in one learn call, every step, episode and evaluation recorded."""
    model, rec = DDPG("Pendulum-v1", seed=0, **TINY), Recorder()
    model.learn(600, callback=rec)
    return model, rec


def test_callbacks_are_called_with_the_right_counts(uninterrupted):
    model, rec = uninterrupted
    assert rec.steps == list(range(1, 601))  # host loop: after every step
    assert [row["step"] for row in rec.rows] == [200, 400, 600]  # Pendulum's 200-step episodes
    assert rec.rows[-1]["episode"] == 3 and "critic_loss" in rec.rows[-1]
    assert [step for step, _ in rec.evals] == [200, 400, 600]  # eval_every=200
    assert rec.models == {id(model)}  # learn set callback.model
    assert model._trainer.callbacks == []  # removed again after learn


@pytest.mark.parametrize("method, step", [("on_step", 250), ("on_episode", 200), ("on_eval", 400)])
def test_a_callback_returning_false_stops_after_that_step(method, step):
    model, rec, other = DDPG("Pendulum-v1", seed=0, **TINY), Recorder(stop_at=(method, step)), Recorder()
    model.learn(600, callback=[rec, other])  # a list: every callback is called, one stop ends the call
    assert model.num_timesteps == step and rec.steps[-1] == step and other.steps[-1] == step


def test_callbacks_that_are_not_offpolicy_callbacks_are_refused_naming_ours():
    model = DDPG("Pendulum-v1", seed=0, **TINY)

    class EvalCallback:  # what SB3 users pass: built into offpolicy as config keys
        pass

    with pytest.raises(ConfigError, match="eval_every=N and eval_episodes=K"):
        model.learn(10, callback=EvalCallback())
    with pytest.raises(ConfigError, match="subclass offpolicy.Callback"):
        model.learn(10, callback=lambda locals_, globals_: True)
    assert model.num_timesteps == 0


def test_load_then_learn_continues_bit_identically_with_the_buffer(uninterrupted, tmp_path):
    full, full_rec = uninterrupted
    part = DDPG("Pendulum-v1", seed=0, **TINY)
    part.learn(300)  # stops 100 steps into the second episode: the env's place in it must be restored too
    path = part.save(tmp_path / "model.zip", include_buffer=True)
    assert path == tmp_path / "model.zip" and path.is_dir()  # named as asked, no suffix added or dropped
    assert sorted(p.name for p in path.iterdir()) == ["agent.safetensors", "meta.json", "training"]
    loaded, rec = DDPG.load(path, progress=False), Recorder()
    assert loaded.num_timesteps == 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the buffer came along
        loaded.learn(300, callback=rec)
    assert loaded.num_timesteps == 600
    assert rec.rows == full_rec.rows[1:] and rec.evals == full_rec.evals[1:]
    for a, b in zip(leaves(loaded), leaves(full), strict=True):  # agent, optimizer, noise, buffer, keys
        np.testing.assert_array_equal(a, b)


def test_load_without_the_buffer_continues_its_counters_and_says_so(tmp_path):
    model = DDPG("Pendulum-v1", seed=0, **TINY)
    model.learn(200)
    loaded, rec = DDPG.load(model.save(tmp_path / "ckpt"), progress=False), Recorder()
    with pytest.warns(UserWarning, match="saved without its replay buffer: learn continues from step 200") as caught:
        loaded.learn(200, callback=rec)
    assert len(caught) == 1
    assert loaded.num_timesteps == 400 and rec.steps[0] == 201  # not step 0 again
    state = loaded._trainer.state
    assert int(state.updates) == 101 + 200  # the saved update count, then one update per step (none are random)
    assert int(loaded._trainer.loop.carry.buffer.size) == 200  # only what it collected since the load


def test_env_objects_and_functions(tmp_path):
    made = DDPG(gym.make("Pendulum-v1", g=9.0, max_episode_steps=100), **TINY)
    assert made.config.env == "Pendulum-v1"  # made by gymnasium.make: made again from its id and kwargs
    assert made.config.env_kwargs == {"g": 9.0, "max_episode_steps": 100}

    given = gym.wrappers.TransformReward(gym.make("Pendulum-v1"), lambda r: r / 2)  # wrapped after make: a template
    copied = DDPG(given, **TINY)
    assert copied.config.env.startswith("offpolicy-python/PendulumEnv-v")
    assert copied._trainer.envs[0].unwrapped is not given.unwrapped

    calls = []

    def make_pendulum():
        calls.append(1)
        return gym.make("Pendulum-v1")

    model = DDPG(make_pendulum, **{**TINY, "eval_every": 0}).learn(200)
    assert model.config.env.startswith("offpolicy-python/make_pendulum-v") and len(calls) >= 2  # train, evaluate
    assert model.evaluate(n_eval_episodes=2)["episodes"] == 2  # SB3's name for episodes
    path = model.save(tmp_path / "ckpt")
    del gym.registry[model.config.env]  # as in a new process, where the function was never registered
    loaded = DDPG.load(path, progress=False)
    assert loaded.predict(np.zeros(3, np.float32))[0].shape == (1,)  # acting needs no env
    with pytest.raises(EnvError, match=r"give it again: DDPG.load\(path, env=...\)"):
        loaded.evaluate(2)
    assert DDPG.load(path, env=make_pendulum, progress=False).evaluate(2)["episodes"] == 2


def test_env_inputs_that_cannot_work_are_refused_in_one_line():
    with pytest.raises(EnvError, match="SyncVectorEnv is a vector env"):
        DDPG(gym.make_vec("Pendulum-v1", 2), **TINY)
    with pytest.raises(EnvError, match="env must be an env id"):
        DDPG(3.5, **TINY)
    with pytest.raises(EnvError, match="returned int, not one gymnasium.Env"):
        DDPG(lambda: 7, **TINY)


def test_sb3_spellings_are_aliases_or_refused_naming_ours(tmp_path, capsys):
    quiet = DDPG("MlpPolicy", "Pendulum-v1", seed=2, verbose=0, policy_kwargs={"net_arch": [16, 16]},
                 tensorboard_log=tmp_path / "tb", video=False, **{k: v for k, v in TINY.items()
                                                                   if k not in ("progress", "hidden_sizes")})
    assert quiet.progress is False and quiet.config.seed == 2 and quiet.config.agent.hidden_sizes == (16, 16)
    quiet.learn(total_timesteps=200, reset_num_timesteps=True, progress_bar=False, tb_log_name="mine")
    (run,) = (tmp_path / "tb").iterdir()  # a full run directory under tensorboard_log, named after tb_log_name
    assert run.name.startswith("mine_s2_") and any((run / "tb").iterdir()) and (run / "metrics.csv").is_file()
    assert capsys.readouterr().err == ""  # verbose=0: nothing printed

    refusals = [
        (lambda: quiet.learn(10, reset_num_timesteps=True), "offpolicy always continues its step counter"),
        (lambda: quiet.learn(10, log_interval=4), "log_interval has no offpolicy equivalent"),
        (lambda: quiet.learn(total_timesteps=10, total_steps=10), "not both"),
        (lambda: quiet.evaluate(2, n_eval_episodes=2), "not both"),
        (lambda: DDPG("CnnPolicy", "Pendulum-v1", **TINY), "offpolicy's agents are MLPs"),
        (lambda: DDPG("Pendulum-v1", seed=None), "always seeded"),
        (lambda: DDPG("Pendulum-v1", verbose=1, progress=False), "disagree"),
        (lambda: DDPG("Pendulum-v1", policy_kwargs={"activation_fn": None}, **TINY), "'activation_fn' has no"),
        (lambda: DDPG("Pendulum-v1", policy_kwargs={"net_arch": {"pi": [8], "qf": [16]}}), "share one hidden_sizes"),
        (lambda: DDPG("Pendulum-v1", policy_kwargs={"net_arch": [8]}, **TINY), "net_arch and hidden_sizes"),
        (lambda: DDPG("Pendulum-v1", learning_rate=1e-3, **TINY), "'agent.actor_lr'"),
    ]
    for call, message in refusals:
        with pytest.raises(ConfigError, match=message):
            call()
    with pytest.raises(ValueError, match="state must be None"):
        quiet.predict(np.zeros(3, np.float32), state=np.zeros(3))
