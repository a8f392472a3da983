"""n_envs envs per seed (vector steps): each env's transitions stored in env order with its true final observation,
per-env exploration state, host = compiled on a deterministic env. (n_envs = 1 is every other test; the update counts
with n_envs are in test_update_ratio.py, the n-step stride in test_buffer.py, exact resume with 4 envs in
tests/agents/test_every_algorithm.py, with Rainbow.)"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_loops import X0, _arrays, _assert_trees_close, _configs, _dynamics, _loop_kw, drift_jax_env

from offpolicy.envs import make_env
from offpolicy.loops.compiled import CompiledLoop
from offpolicy.loops.host import HostLoop
from offpolicy.run.trainer import agent_for_run


def _vector_host(cfg, n_envs: int, seed: int = 0, env_kwargs=None, **kw):
    _, spec = make_env(cfg.env, cfg.algo)
    agent = agent_for_run(cfg, spec)
    envs = [make_env(cfg.env, cfg.algo, env_kwargs)[0] for _ in range(n_envs)]
    kw = {**_loop_kw(cfg), "train_freq": cfg.train_freq, "gradient_steps": cfg.updates_per_phase, **kw}
    return HostLoop(agent, envs, seed, n_envs=n_envs, **kw), agent


def test_each_env_stores_its_own_transitions_in_env_order_with_the_pre_reset_final_observation():
    n, steps, limit = 3, 60, 8  # random actions throughout: episodes end by leaving [-1, 1] or at the time limit
    loop, _ = _vector_host(_configs("ddpg"), n, env_kwargs={"max_episode_steps": limit}, warmup_steps=10**6,
                           learning_starts=10**6, buffer_size=400)
    records = []
    loop.run(n * steps, on_episode=lambda i, r: records.append(r))
    data = jax.tree.map(np.asarray, loop.carry.buffer.data)
    assert int(loop.carry.buffer.size) == n * steps and loop.states[0].step == n * steps
    ended = 0
    for j in range(n):  # env j wrote positions j, j + n, j + 2n, ...
        e = jax.tree.map(lambda x, j=j: x[j : n * steps : n], data)
        # next_obs is the step's own outcome (the episode's final observation at an end, not the next reset's)
        want = jax.vmap(_dynamics)(jnp.asarray(e.obs), jnp.asarray(e.action[:, 0]))[0]
        np.testing.assert_allclose(e.next_obs, np.asarray(want), rtol=1e-6, atol=1e-7)
        done = e.terminated | e.truncated
        # the env's next transition starts where this one went, or at the reset state after an end
        np.testing.assert_array_equal(e.obs[1:][~done[:-1]], e.next_obs[:-1][~done[:-1]])
        np.testing.assert_array_equal(e.obs[1:][done[:-1]], np.broadcast_to(X0, e.obs[1:][done[:-1]].shape))
        ended += int(done.sum())
        # the time limit is stored as truncated, apart from terminated (so the target bootstraps from next_obs)
        lengths = np.diff(np.flatnonzero(np.r_[True, done]))
        assert (e.truncated[done] == (lengths == limit)).all()
    assert ended == len(records) > n and (data.truncated & ~data.terminated).any() and data.terminated.any()
    assert all(r.step % n == 0 for r in records) and [r.episode for r in records] == list(range(1, ended + 1))


def test_each_env_resets_its_own_exploration_noise_at_its_own_episode_start():
    # DDPG with OU noise acting from step 1, no updates: the agent changes only by reset (per env) and act; the
    # noise is large enough for the two envs' episodes to end at different steps
    cfg = _configs("ddpg")
    cfg = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, noise=dataclasses.replace(cfg.agent.noise,
                                                                                                   sigma=5.0)))
    loop, agent = _vector_host(cfg, 2, warmup_steps=0, learning_starts=10**6)
    loop.start()
    mixed = 0
    for _ in range(80):
        before = jax.tree.map(lambda x: x.copy() if isinstance(x, jax.Array) else x, loop.carry)  # donated: copy
        loop.run(2)
        started = np.array([d.episode.episode_length == 0 for d in loop.drivers[0]])
        mixed += started.any() and not started.all()
        act_key = jax.random.split(before.key, 4)[3]  # learner_step's split: key, sample, update, act
        want_action, want = agent.act(agent.reset(before.agent, jnp.asarray(started)), jnp.asarray(loop._obs[0]),
                                      act_key, explore=True)
        # (op by op here, one jitted program in the loop: the last bit may differ)
        np.testing.assert_allclose(np.asarray(loop.carry.agent.noise), np.asarray(want.noise), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(loop._action[0], np.asarray(want_action), rtol=1e-5, atol=1e-7)
    assert mixed >= 2  # steps at which one env's episode started and the other's did not


def test_compiled_loop_matches_host_loop_with_several_envs_and_n_step_windows():
    # DQN with 3-step returns: the windows read each env's steps n_envs positions apart in both loops
    cfg = _configs("dqn")
    # (train_freq 2: an update phase every other vector step, every fourth env step)
    cfg = dataclasses.replace(cfg, n_envs=2, total_steps=300, train_freq=2, gradient_steps=2,
                              agent=dataclasses.replace(cfg.agent, n_step=3))
    n, steps = 2, 300
    host, _ = _vector_host(cfg, n, seed=3)
    host_records = []
    host.run(steps, on_episode=lambda i, r: host_records.append(r))
    _, spec = make_env(cfg.env, cfg.algo)
    compiled = CompiledLoop(agent_for_run(cfg, spec), drift_jax_env(True), seed=3, chunk=100, n_envs=n,
                            train_freq=cfg.train_freq, gradient_steps=cfg.updates_per_phase, **_loop_kw(cfg))
    compiled_records = []
    compiled.run(steps, on_episode=lambda i, r: compiled_records.append(r))
    hb, cb = host.carry.buffer, compiled.carry.learner.buffer
    assert int(hb.size) == int(cb.size) == steps
    for x, y in zip(_arrays(hb.data), _arrays(cb.data), strict=True):
        np.testing.assert_allclose(x[:steps], y[:steps], rtol=1e-5, atol=1e-6)
    assert host.states[0].updates == compiled.states[0].updates == int(host.carry.agent.updates) == 2 * ((steps - 32) // 4 + 1)
    _assert_trees_close(host.carry.agent, compiled.carry.learner.agent)
    # the run's agent reads windows along its env: a window not cut by an episode end bootstraps from the state
    # three of its env's steps (six positions) later, with gamma^3
    data = jax.tree.map(np.asarray, hb.data)
    ended = data.terminated | data.truncated
    whole = np.flatnonzero(~ended[:steps - 4] & ~ended[2:steps - 2])
    batch = host.agent.gather(hb, jnp.asarray(whole, jnp.int32))
    np.testing.assert_array_equal(np.asarray(batch.next_obs), data.next_obs[whole + 4])
    np.testing.assert_allclose(np.asarray(batch.discount), cfg.agent.gamma**3, rtol=1e-6)
    assert [(r.step, r.episode, r.episode_length) for r in host_records] == \
        [(r.step, r.episode, r.episode_length) for r in compiled_records]
    np.testing.assert_allclose([r.episode_return for r in host_records],
                               [r.episode_return for r in compiled_records], rtol=1e-5)
    for loop in (host, compiled):  # whole vector steps only: a count that is not one is refused before any step
        with pytest.raises(ValueError, match="multiple of n_envs=2"):
            loop.run(3)
    assert int(host.carry.buffer.size) == int(compiled.carry.learner.buffer.size) == steps
