"""Bad input during training: broken envs, NaN/inf, unwritable checkpoints, stale compilations, memory."""

import errno
import json

import gymnasium as gym
import numpy as np
import pytest
from run_files import metric_rows

from offpolicy.config import make_config
from offpolicy.errors import CheckpointError, ConfigError, EnvError, NonFiniteError
from offpolicy.loops.host import HostStep
from offpolicy.run.trainer import Trainer


class Scripted(gym.Env):
    """Pendulum-shaped toy env; ``fault(step)`` may corrupt the step result."""

    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Box(-2, 2, (1,), np.float32)
    fault = None

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        result = (obs, float(-np.square(action).sum()), False, False, {})
        return type(self).fault(self.t, result) if type(self).fault else result


def register(name, fault, max_steps=50):
    cls = type(name, (Scripted,), {"fault": staticmethod(fault)})
    env_id = f"OffpolicyTest/{name}-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=cls, max_episode_steps=max_steps)
    return env_id


def config(env_id, **overrides):
    values = {"algo": "ddpg", "env": env_id, "total_steps": 400, "warmup_steps": 100, "learning_starts": 128,
              "eval_every": 0, "eval_episodes": 1, "video": False, **overrides}
    return make_config(None, values)


def nan_obs(t, r):
    return (np.full(3, np.nan, np.float32), *r[1:]) if t == 30 else r


def inf_reward(t, r):
    return (r[0], float("inf"), *r[2:]) if t == 17 else r


def huge_reward(t, r):
    return (r[0], 3e38, *r[2:])  # finite, but its square overflows: the critic loss becomes inf


def old_api(t, r):
    return (r[0], r[1], False, {})


def shape_change(t, r):
    return (np.zeros(4, np.float32), *r[1:]) if t == 70 else r


def test_nan_observation_stops_with_step_episode_and_quantity(tmp_path):
    trainer = Trainer(config(register("NaNObs", nan_obs)), run_dir=tmp_path / "run", progress=False)
    with pytest.raises(NonFiniteError, match=r"step 30 \(episode 1\).*NaN/inf observation") as info:
        trainer.learn(400)
    assert (info.value.step, info.value.episode, info.value.quantity) == (30, 1, "observation")
    assert (tmp_path / "run/checkpoints/last-good/agent.safetensors").is_file()
    assert "last-good" in str(info.value)



def test_nan_observation_in_a_multi_seed_host_run_names_the_seed():
    from offpolicy.agents import make_agent
    from offpolicy.envs import make_env
    from offpolicy.loops.host import HostLoop

    cfg = config(register("NaNObs", nan_obs), hidden_sizes=[16, 16], batch_size=16, learning_starts=16,
                 warmup_steps=40)
    envs = [make_env(cfg.env, cfg.algo)[0] for _ in range(2)]
    agent = make_agent(cfg.algo, cfg.agent, make_env(cfg.env, cfg.algo)[1])
    loop = HostLoop(agent, envs, [3, 5], buffer_size=500, batch_size=16, warmup_steps=40, learning_starts=16)
    with pytest.raises(NonFiniteError, match=r"seed 3, step 30 \(episode 1\).*NaN/inf observation") as info:
        loop.run(100)
    assert (info.value.step, info.value.episode, info.value.quantity) == (30, 1, "observation")
    with pytest.raises(ConfigError, match="nonfinite=skip with several seeds"):
        HostLoop(agent, envs, [3, 5], buffer_size=500, batch_size=16, warmup_steps=40, learning_starts=16,
                 nonfinite="skip")

def test_inf_reward_is_skipped_when_asked():
    trainer = Trainer(config(register("InfReward", inf_reward), nonfinite="skip"), progress=False)
    trainer.learn(400)
    # the inf-reward transition (step 17 of every episode) is dropped and the episode cut there: 400 // 17 episodes
    assert trainer.loop.states[0].skipped_transitions == trainer.loop.states[0].episode == 23
    buffer = trainer.loop.carry.buffer
    assert np.isfinite(np.asarray(buffer.data.reward)).all()
    with pytest.raises(NonFiniteError, match="NaN/inf reward"):
        Trainer(config(register("InfReward", inf_reward)), progress=False).learn(400)


def test_nan_loss_rejects_the_update_and_stops_with_the_last_good_state(tmp_path):
    trainer = Trainer(config(register("HugeReward", huge_reward)), run_dir=tmp_path / "run", progress=False)
    with pytest.raises(NonFiniteError, match=r"step 128 .*loss or parameter became NaN/inf"):
        trainer.learn(400)
    state = trainer.loop.carry.agent
    assert all(np.isfinite(np.asarray(x)).all() for x in __import__("jax").tree.leaves(state))
    assert int(state.updates) == 0  # every update was rejected: the state is the initial, last good one


def test_old_gym_step_api_gets_a_clear_error():
    with pytest.raises(EnvError, match="old gym API"):
        Trainer(config(register("OldAPI", old_api)), progress=False).learn(10)


def test_observation_shape_change_mid_run():
    with pytest.raises(EnvError, match=r"shape \(4,\) at step 69.*has shape \(3,\)"):
        Trainer(config(register("ShapeChange", shape_change, max_steps=200)), progress=False).learn(100)


class InfSecondReset(Scripted):
    resets = 0

    def reset(self, seed=None, options=None):
        obs, info = super().reset(seed=seed)
        type(self).resets += 1
        return (np.full(3, np.inf, np.float32) if type(self).resets == 2 else obs), info


def test_inf_in_a_reset_observation_is_named_at_the_reset():
    # It used to reach the buffer and surface a few hundred steps later as "a loss or parameter became NaN/inf".
    if "OffpolicyTest/InfSecondReset-v0" not in gym.registry:
        gym.register("OffpolicyTest/InfSecondReset-v0", entry_point=InfSecondReset, max_episode_steps=50)
    for nonfinite in ("stop", "skip"):  # skip cannot drop a first observation: both stop
        InfSecondReset.resets = 0
        trainer = Trainer(config("OffpolicyTest/InfSecondReset-v0", nonfinite=nonfinite), progress=False)
        with pytest.raises(NonFiniteError, match=r"reset at step 50 \(episode 2, episode seed \d+\): the env returned "
                                                 r"a NaN/inf first observation") as info:
            trainer.learn(100)  # the first episode ends by truncation at step 50
        assert (info.value.step, info.value.episode, info.value.quantity) == (50, 2, "observation")


def test_a_reward_of_one_element_is_a_number_and_any_other_shape_is_named():
    one = register("RewardShape1", lambda t, r: (r[0], np.array([r[1]], np.float32), *r[2:]))
    trainer = Trainer(config(one), progress=False)
    trainer.learn(60)  # random warm-up steps only: the rewards are stored as numbers
    rewards = np.asarray(trainer.loop.carry.buffer.data.reward)[:60]
    assert rewards.shape == (60,) and np.all(rewards <= 0) and np.any(rewards < 0)
    two = register("RewardShape2", lambda t, r: (r[0], np.array([r[1], r[1]]), *r[2:]) if t == 5 else r)
    with pytest.raises(EnvError, match=r"OffpolicyTest/RewardShape2-v0: step\(\) returned a reward of shape \(2,\) "
                                       r"at step 5; a Gymnasium reward is one number"):
        Trainer(config(two), progress=False).learn(60)
    text = register("RewardText", lambda t, r: (r[0], "high", *r[2:]))
    with pytest.raises(EnvError, match=r"reward of type str at step 1"):
        Trainer(config(text), progress=False).learn(60)


def test_an_action_dimension_of_zero_width_is_refused_at_start():
    cls = type("ZeroWidth", (Scripted,), {"action_space": gym.spaces.Box(np.array([-2.0, 0.5], np.float32),
                                                                          np.array([2.0, 0.5], np.float32))})
    if "OffpolicyTest/ZeroWidth-v0" not in gym.registry:
        gym.register("OffpolicyTest/ZeroWidth-v0", entry_point=cls, max_episode_steps=50)
    with pytest.raises(EnvError, match=r"need low < high in every dimension; dimension 1 has low=0.5 and high=0.5"):
        Trainer(config("OffpolicyTest/ZeroWidth-v0"), progress=False)


def test_unwritable_checkpoint_is_a_clear_error_and_keeps_the_previous(tmp_path, monkeypatch):
    import safetensors.numpy

    from offpolicy.run import checkpoint

    trainer = Trainer(config("Pendulum-v1"), run_dir=tmp_path / "run", progress=False)
    trainer.learn(200)
    good = checkpoint.save(tmp_path / "run/checkpoints/final", trainer.state, trainer.config, trainer.spec)
    before = (good / "agent.safetensors").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device.*untouched"):
        checkpoint.save(good, trainer.state, trainer.config, trainer.spec)
    assert (good / "agent.safetensors").read_bytes() == before
    assert not [p for p in good.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_policy_loader_refuses_a_training_checkpoint(tmp_path):
    from offpolicy import DDPG

    trainer = Trainer(config("Pendulum-v1", checkpoint_every=200), run_dir=tmp_path / "run", progress=False)
    trainer.learn(400)
    path = next((tmp_path / "run/checkpoints").glob("train-*"))
    with pytest.raises(CheckpointError, match="'training' checkpoint where a 'policy' one is needed"):
        DDPG.load(path, progress=False)


def test_no_recompilation_after_start_up():
    # The host step's programs are kept per agent and settings in a process (HostStep.shared): start from none, as a
    # fresh process does, so the count below is this run's (other tests here share the config, some in other modes).
    HostStep.shared.cache_clear()
    trainer = Trainer(config("Pendulum-v1", total_steps=3000), progress=False)
    trainer.learn(1000)  # warm-up, first updates: every mode compiled
    compiled = trainer.loop.fns.cache_size()
    trainer.learn(2000)
    # the warm-up (steps before 100) draws actions and stores steps in blocks: two programs; policy actions before
    # learning_starts (128) are one step program; learning is a store call and a learn call: five programs, nothing
    # new after start-up
    assert trainer.loop.fns.cache_size() == compiled == 5


def ends_at_3000(t, r):
    """No time limit and no end in sight: the env's own safety net, so a missing evaluation cap shows as 3,000-step
    evaluation episodes instead of a hung test."""
    return (*r[:3], t >= 3000, r[4])


def test_an_env_that_never_ends_is_capped_in_evaluation_warned_about_and_still_saves(tmp_path):
    cfg = config(register("NeverEnds", ends_at_3000, max_steps=None), warmup_steps=400, learning_starts=1000,
                 eval_every=200, eval_episodes=2, eval_max_steps=60, checkpoint_every=100)
    with pytest.warns(UserWarning, match=r"has no time limit .* stops after eval_max_steps=60 steps, and training "
                                         r"checkpoints are taken only at episode ends"):
        trainer = Trainer(cfg, run_dir=tmp_path / "run", progress=False)
    with pytest.warns(UserWarning, match=r"step 200: a training checkpoint has been due since step 100, but no "
                                         r"episode has ended"):
        trainer.learn(400)
    trainer.finish()
    trainer.close()
    run = tmp_path / "run"
    assert json.loads((run / "eval.json").read_text())["lengths"] == [60, 60]
    assert [r["eval_length_mean"] for r in metric_rows(run / "evaluations.csv")] == ["60.0", "60.0"]
    assert (run / "checkpoints/final/agent.safetensors").is_file() and (run / "summary.json").is_file()
    assert not list((run / "checkpoints").glob("train-*"))  # none could be taken: the user was told


def test_warmup_follows_learning_starts_unless_set_and_budgets_that_mean_nothing_are_named():
    from offpolicy.run.trainer import budget_warnings

    # the SB3-style override moves both phases; a warm-up the user (or preset) set stays as set
    cfg = make_config("ddpg-pendulum", {"total_steps": 3000, "learning_starts": 1000})
    assert (cfg.warmup_steps, cfg.learning_starts) == (1000, 1000)
    assert make_config("ddpg-pendulum", {"learning_starts": 1000, "warmup_steps": 300}).warmup_steps == 300
    assert make_config("sac-pendulum", {"learning_starts": 500}).warmup_steps == 100  # the preset sets its own
    assert make_config("ddpg-pendulum").warmup_steps == 10_000  # the presets' numbers are unchanged
    assert budget_warnings(make_config("ddpg-pendulum", {"total_steps": 20_000}), 200) == []
    assert budget_warnings(cfg, 200) == [
        "eval_every=5000 > total_steps=3000: no periodic evaluation comes; the only evaluation is the final one (the "
        "learning curve's evaluations are one point)."]
    random_only = budget_warnings(make_config("ddpg-pendulum", {"total_steps": 3000, "warmup_steps": 3000,
                                                                "learning_starts": 4000, "eval_every": 1000}), None)
    assert [m.split(":")[0] for m in random_only] == ["warmup_steps=3000 >= total_steps=3000",
                                                       "learning_starts=4000 > total_steps=3000"]
