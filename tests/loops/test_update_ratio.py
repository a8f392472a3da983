"""Update ratios (SB3's ``train_freq`` and ``gradient_steps``): when update phases run, how many updates each makes,
that each update draws its own minibatch from the state the previous one left, and that both loops, the counters and
a resume agree on it."""

from __future__ import annotations

import dataclasses
import re

import jax
import numpy as np
import pytest
from run_files import resumed_equals_uninterrupted
from test_loops import SEED, _arrays, _assert_trees_close, _configs, drift_jax_env

from offpolicy import buffer as rb
from offpolicy.agents import make_agent
from offpolicy.buffer import Transition
from offpolicy.config import make_config
from offpolicy.envs import make_env
from offpolicy.errors import ConfigError
from offpolicy.loops.compiled import CompiledLoop
from offpolicy.loops.host import HostLoop
from offpolicy.loops.learner import (
    draw_batch,
    first_update_step,
    init_carry,
    is_update_step,
    learner_step,
    update_phases,
)
from offpolicy.run.trainer import budget_warnings


@pytest.mark.parametrize("learning_starts,train_freq,n_envs", [(1, 1, 1), (32, 1, 1), (32, 3, 1), (30, 3, 1),
                                                                (5, 7, 1), (100, 256, 1), (30, 3, 4), (32, 1, 3)])
def test_update_phases_are_the_multiples_of_train_freq_from_learning_starts(learning_starts, train_freq, n_envs):
    steps = range(n_envs, 700 * n_envs, n_envs)  # the env-step counts after each vector step
    phases = [t for t in steps if is_update_step(t, learning_starts, train_freq, n_envs)]
    # by the definition, written out: vector step k = t / n_envs a multiple of train_freq, t >= learning_starts
    assert phases == [t for t in steps if t >= learning_starts and (t // n_envs) % train_freq == 0]
    assert phases[0] == first_update_step(learning_starts, train_freq, n_envs)
    assert [update_phases(t, learning_starts, train_freq, n_envs) for t in steps] == [
        sum(1 for p in phases if p <= t) for t in steps]
    traced = jax.jit(lambda t: is_update_step(t, learning_starts, train_freq, n_envs))  # the compiled loop's form
    assert [bool(traced(np.int32(t))) for t in steps[:80]] == [t in phases for t in steps[:80]]


def _filled_carry(algo: str):
    """A tiny agent of ``algo`` on the drift env and a carry whose buffer holds 64 random transitions. ``per-dqn``:
    epsilon-greedy DQN with prioritized replay (its update compiles several times faster than Rainbow's)."""
    if algo == "per-dqn":
        cfg = _configs("dqn")
        cfg = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, exploration="epsilon", prioritized=True,
                                                                 priority_beta_steps=100))
    else:
        cfg = _configs(algo)
    _, spec = make_env(cfg.env, cfg.algo)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    carry = init_carry(agent, 200, jax.random.key(SEED))
    rng = np.random.default_rng(0)
    n = 64
    action = (rng.integers(0, spec.n_actions, n).astype(np.int32) if spec.discrete
              else rng.uniform(-1, 1, (n, spec.action_dim)).astype(np.float32))
    shape = (n, *spec.obs_shape)
    data = Transition(obs=rng.normal(size=shape).astype(np.float32), action=action,
                      reward=rng.normal(size=n).astype(np.float32), next_obs=rng.normal(size=shape).astype(np.float32),
                      terminated=rng.random(n) < 0.1, truncated=np.zeros(n, bool))
    return cfg, agent, carry.replace(buffer=jax.jit(rb.add)(carry.buffer, data))


def _no_transition(agent):
    """The arguments of a learner step that stores nothing: (transition, policy obs, episode start)."""
    obs = np.zeros((1, *agent.spec.obs_shape), np.float32)
    action = np.zeros((1,), np.int32) if agent.spec.discrete else np.zeros((1, agent.spec.action_dim), np.float32)
    return (Transition(obs=obs, action=action, reward=np.zeros(1, np.float32), next_obs=obs,
                       terminated=np.zeros(1, bool), truncated=np.zeros(1, bool)), obs, np.zeros(1, bool))


@pytest.mark.parametrize("algo", ["ddpg", "per-dqn"])
def test_gradient_steps_are_sequential_updates_each_on_its_own_minibatch(algo):
    """One update phase of 2 updates equals 2 updates written out: update j draws with the step's sample key
    folded with j from the buffer as update j-1 left it (prioritized: with the priorities it wrote) and updates with the
    update key folded with j."""
    cfg, agent, carry = _filled_carry(algo)
    batch_size, t = cfg.agent.batch_size, np.int32(64)

    @jax.jit
    def phase(carry):
        return learner_step(agent, batch_size, carry, *_no_transition(agent), t, update=True, random_action=False,
                            store=False, gradient_steps=2)[0]

    @jax.jit(static_argnums=1)
    def written_out(carry, same_keys: bool = False):
        _, sample_key, update_key, act_key = jax.random.split(carry.key, 4)
        state, buffer = carry.agent, carry.buffer
        for j in range(2):
            keys = (sample_key, update_key) if same_keys else (jax.random.fold_in(sample_key, j),
                                                                jax.random.fold_in(update_key, j))
            idx, batch = draw_batch(agent, buffer, keys[0], batch_size, t)
            state, metrics = agent.update(state, batch, keys[1])
            if agent.prioritized is not None:
                p = agent.prioritized
                buffer = rb.set_priorities(buffer, idx, rb.priority(metrics["priority"], p.alpha, p.eps))
        _, policy_obs, start = _no_transition(agent)  # then the next action, as every learner step
        _, state = agent.act(agent.reset(state, start), policy_obs, act_key, explore=True)
        return state, buffer

    after = phase(carry)
    state, buffer = written_out(carry)
    _assert_trees_close(after.agent, state)
    assert int(after.agent.updates) == 2 and int(after.updates_since) == 2
    if agent.prioritized is not None:
        np.testing.assert_allclose(np.asarray(after.buffer.tree), np.asarray(buffer.tree), rtol=1e-5, atol=1e-6)
    if algo != "ddpg":  # (one algorithm is enough for this check: each compile of an update is long)
        return
    # Not two updates on one minibatch: the same keys for both give other parameters.
    same, _ = written_out(carry, True)
    assert not all(np.allclose(a, b) for a, b in zip(_arrays(state), _arrays(same)))


def test_one_gradient_step_keeps_the_unfolded_keys():
    """gradient_steps=1 is the update every run made before update ratios existed: the step's keys, not folded."""
    cfg, agent, carry = _filled_carry("ddpg")
    after = jax.jit(lambda c: learner_step(agent, cfg.agent.batch_size, c, *_no_transition(agent), np.int32(64),
                                           update=True, random_action=False, store=False)[0])(carry)
    _, sample_key, update_key, act_key = jax.random.split(carry.key, 4)

    @jax.jit
    def written_out(carry):
        batch = draw_batch(agent, carry.buffer, sample_key, cfg.agent.batch_size, np.int32(64))[1]
        state, _ = agent.update(carry.agent, batch, update_key)
        _, policy_obs, start = _no_transition(agent)
        return agent.act(agent.reset(state, start), policy_obs, act_key, explore=True)[1]

    state = written_out(carry)
    _assert_trees_close(after.agent, state)


FREQ, GRAD = 3, 2
STEPS = 150  # learning_starts 32: phases after steps 33, 36, ..., 150


def test_both_loops_make_the_same_updates_at_the_same_steps():
    cfg = _configs("ddpg")
    env, spec = make_env(cfg.env, cfg.algo)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    kw = dict(buffer_size=cfg.agent.buffer_size, batch_size=cfg.agent.batch_size, warmup_steps=cfg.warmup_steps,
              learning_starts=cfg.learning_starts, train_freq=FREQ, gradient_steps=GRAD)
    host = HostLoop(agent, env, SEED, **kw)
    host.run(STEPS)
    compiled = CompiledLoop(agent, drift_jax_env(spec.discrete), seed=SEED, chunk=50, **kw)
    compiled.run(STEPS)
    phases = len(range(33, STEPS + 1, FREQ))
    assert phases == update_phases(STEPS, cfg.learning_starts, FREQ) == 40
    for loop, agent_state in ((host, host.carry.agent), (compiled, compiled.carry.learner.agent)):
        assert int(agent_state.updates) == loop.states[0].updates == GRAD * phases
    np.testing.assert_allclose(np.asarray(host.carry.buffer.data.action[:STEPS]),
                               np.asarray(compiled.carry.learner.buffer.data.action[:STEPS]), rtol=1e-5, atol=1e-6)
    _assert_trees_close(host.carry.agent, compiled.carry.learner.agent)


def test_update_ratio_settings_are_checked():
    for overrides, fragment in [({"train_freq": 0}, "train_freq=0: must be >= 1"),
                                ({"gradient_steps": 0}, "gradient_steps=0: must be >= 1, or -1"),
                                ({"gradient_steps": -2}, "gradient_steps=-2: must be >= 1, or -1"),
                                ({"train_freq": [1, "episode"]}, "train_freq=[1, 'episode']: give a number of env "
                                                                  "steps; SB3's (n, \"episode\") form is not offered"),
                                ({"n_envs": 0}, "n_envs=0: must be >= 1"),
                                ({"n_envs": 4, "total_steps": 1001}, "total_steps=1001: must be a multiple of n_envs "
                                                                     "(4): each vector step takes 4 env steps (e.g. "
                                                                     "total_steps=1000)"),
                                ({"n_envs": 3, "total_steps": 3000, "eval_every": 1000}, "eval_every=1000: must be a multiple of n_envs (3)"),
                                ({"n_envs": 2, "nonfinite": "skip"}, "nonfinite='skip': needs n_envs=1 (a dropped transition")]:
        with pytest.raises(ConfigError, match=re.escape(fragment)):
            make_config("ddpg-pendulum", overrides)
    assert make_config("ddpg-pendulum", {"train_freq": 5, "gradient_steps": -1}).updates_per_phase == 5
    assert make_config("ddpg-pendulum", {"train_freq": 5, "gradient_steps": -1, "n_envs": 4}).updates_per_phase == 20
    assert make_config("ddpg-pendulum", {"train_freq": 5, "gradient_steps": 2}).updates_per_phase == 2
    late = make_config("ddpg-pendulum", {"total_steps": 1000, "learning_starts": 900, "train_freq": 400})
    assert any("first update phase would come at step 1200" in w for w in budget_warnings(late, 200))


def test_a_resumed_run_with_update_phases_and_prioritized_replay_equals_an_uninterrupted_one(tmp_path):
    """Phases follow the step count, not the steps since a (re)start: the checkpoint at step 200 falls between two
    phases (201 is the next multiple of 3), and the resumed run makes the same updates at the same steps. TD3 with
    prioritized replay: the sum tree and the largest priority are in the checkpoint for continuous agents too (one
    run for both checks: each resume test trains 950 steps)."""
    resumed_equals_uninterrupted("td3-pendulum", tmp_path, train_freq=FREQ, gradient_steps=GRAD, prioritized=True)
