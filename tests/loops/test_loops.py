"""The compiled loop against the host loop: same transitions and updates on a deterministic env; vmapped seed i equals
a single run with seed i; chunking does not change results; the Trainer runs it end to end."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny_runs import TINY

from offpolicy import registry
from offpolicy.agents import make_agent
from offpolicy.config import make_config
from offpolicy.envs import JaxEnv, make_env
from offpolicy.errors import EnvError
from offpolicy.loops import compiled as compiled_module
from offpolicy.loops.compiled import CompiledLoop
from offpolicy.loops.host import HostLoop
from offpolicy.run.trainer import Trainer

LIMIT = 30  # time limit of the test env (episodes end by truncation or by leaving [-1, 1])


# -- one deterministic env, written twice: for Gymnasium (host loop) and as a pure JAX env (compiled loop) -------------
def _dynamics(x, a):
    """x' = x + 0.35 * (a, a/2); reward = -|x'|^2 - 0.01 a^2; terminated when |x'_0| > 1."""
    nx = x + 0.35 * jnp.stack([a, 0.5 * a])
    reward = -jnp.sum(nx**2) - 0.01 * a**2
    return nx, reward, jnp.abs(nx[0]) > 1.0


X0 = np.array([0.1, -0.2], np.float32)  # every episode starts here, whatever the seed
_dynamics_jit = jax.jit(_dynamics)  # the Gymnasium version: one dispatch per step


class DriftEnv(gym.Env):
    def __init__(self, discrete: bool = False):
        self.discrete = discrete
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(3) if discrete else gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = jnp.asarray(X0)
        return np.asarray(self.x), {}

    def step(self, action):
        a = jnp.float32(action - 1) if self.discrete else jnp.asarray(action, jnp.float32)[0]
        self.x, reward, terminated = _dynamics_jit(self.x, a)
        return np.asarray(self.x), float(reward), bool(terminated), False, {}


for _name, _discrete in (("DriftContinuous-v0", False), ("DriftDiscrete-v0", True)):
    if _name not in gym.registry:
        gym.register(_name, entry_point=DriftEnv, kwargs={"discrete": _discrete}, max_episode_steps=LIMIT)


def drift_jax_env(discrete: bool) -> JaxEnv:
    def reset(key):
        return jnp.asarray(X0), (jnp.asarray(X0), jnp.int32(0))

    def step(key, state, action):
        x, time = state
        a = (action - 1).astype(jnp.float32) if discrete else action[0]
        nx, reward, terminated = _dynamics(x, a)
        time = time + 1
        truncated = time >= LIMIT  # as Gymnasium's TimeLimit (and gymnax) report it, even at a termination
        done = terminated | truncated
        policy_obs = jnp.where(done, jnp.asarray(X0), nx)
        state = (jnp.where(done, jnp.asarray(X0), nx), jnp.where(done, 0, time))
        return policy_obs, state, reward.astype(jnp.float32), terminated, truncated, nx

    return JaxEnv("Drift", reset, step, LIMIT)


# Batching seeds (vmap on the compiled loop, N envs on the host loop) and stepping both loops alike is the loops'
# work, the same for every agent of one action kind (every agent goes through the same learner_step): those tests run
# the first registered continuous algorithm here and, for discrete actions, DQN with every Rainbow part
# (test_rainbow_loops.py: the paths of plain DQN and more); tests/agents/test_every_algorithm.py trains every
# algorithm on both loops. (TD3 and SAC also ran the host = compiled test until 2026-12: 118 s of the suite for no
# path of their own; plain NoisyNet DQN ran all three, another 50 s.)
CONTINUOUS = registry.of_kind("continuous")[0].name


# DQN with every Rainbow part (prioritized replay, C51, 3-step returns, Double, dueling, NoisyNet per step): the
# prioritized buffer's sum tree goes through both loops and vmapped seeds too.
RAINBOW = "rainbow"


def _configs(algo: str):
    entry = registry.get("dqn" if algo == RAINBOW else algo)
    continuous = entry.action_kind == "continuous"
    overrides = {"algo": entry.name, "env": "DriftContinuous-v0" if continuous else "DriftDiscrete-v0",
                 "hidden_sizes": [32, 32], "buffer_size": 2000, "batch_size": 16, "warmup_steps": 40,
                 "learning_starts": 32}
    if not continuous:
        overrides["target_update"] = 10
    if algo == RAINBOW:  # the drift env's returns lie in about [-30, 0]; beta reaches 1 within the run
        overrides.update({"priority_beta_steps": 100, "v_min": -30.0, "v_max": 0.0, "n_atoms": 11})
        return make_config("rainbow-cartpole", overrides)
    return make_config(entry.default_preset, overrides)


# The reference run of each algorithm on both loops. The other tests here rerun it (or its seed inside a batch) with the
# same settings, so they reuse its compiled programs (the suite's compilation cache) instead of compiling their own.
SEED, STEPS, CHUNK = 3, 150, 50  # 150 steps: warm-up, the first updates, several episode ends of both kinds


def _loop_kw(cfg):
    return dict(buffer_size=cfg.agent.buffer_size, batch_size=cfg.agent.batch_size, warmup_steps=cfg.warmup_steps,
                learning_starts=cfg.learning_starts)


def _host(algo: str, seeds, steps: int):
    """A host loop of ``algo`` on the drift env after ``steps`` steps (one seed, or a list: one env per seed), and
    the episode records it reported as (seed index, record)."""
    cfg = _configs(algo)
    _, spec = make_env(cfg.env, cfg.algo)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    envs = [make_env(cfg.env, cfg.algo)[0] for _ in seeds] if isinstance(seeds, list) else make_env(cfg.env, cfg.algo)[0]
    loop = HostLoop(agent, envs, seeds, **_loop_kw(cfg))
    records = []
    loop.run(steps, on_episode=lambda i, record: records.append((i, record)))
    return loop, records


def _arrays(tree):
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
            for x in jax.tree.leaves(tree)]


def _assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# Discrete actions at one env per seed: the Rainbow version (test_rainbow_loops.py, DQN with every switch); at two
# envs: test_vector_envs.py. Plain DQN here too added 36 s to the suite and no path of its own.
@pytest.mark.parametrize("algo", [CONTINUOUS])
def test_compiled_loop_matches_host_loop_on_a_deterministic_env(algo):
    check_compiled_matches_host(algo)


def check_compiled_matches_host(algo: str) -> None:
    """The body of test_compiled_loop_matches_host_loop_on_a_deterministic_env (test_rainbow_loops.py runs it too)."""
    steps = STEPS
    host, _ = _host(algo, SEED, steps)
    compiled, _ = _compiled(algo, SEED, steps, CHUNK)
    hb, cb = host.carry.buffer, compiled.carry.learner.buffer
    assert int(hb.size) == int(cb.size) == steps
    # The same transitions, in the same order (actions come from the same keys and the same parameters).
    for name in ("obs", "action", "reward", "next_obs", "terminated", "truncated"):
        np.testing.assert_allclose(np.asarray(getattr(hb.data, name)[:steps]),
                                   np.asarray(getattr(cb.data, name)[:steps]), rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.asarray(hb.data.terminated[:steps]).any() and np.asarray(hb.data.truncated[:steps]).any()
    # The same updates: equal parameters and optimiser states after them.
    assert int(compiled.carry.learner.agent.updates) == int(host.carry.agent.updates) == steps - 32 + 1
    _assert_trees_close(host.carry.agent, compiled.carry.learner.agent)
    if algo == RAINBOW:  # the same priorities, moved away from the initial 1 by the updates
        # (rtol 1e-4: a KL near 0 is a difference of two near-equal sums, so its last bits differ between programs)
        np.testing.assert_allclose(np.asarray(hb.tree), np.asarray(cb.tree), rtol=1e-4, atol=1e-5)
        assert len(np.unique(np.asarray(hb.tree[hb.tree.shape[0] // 2:][:steps]))) > 10
    # The same episode bookkeeping.
    assert compiled.states[0].episode == host.states[0].episode and compiled.states[0].updates == host.states[0].updates


def _compiled(algo: str, seeds, steps: int, chunk: int):
    cfg = _configs(algo)
    env, spec = make_jax_env_for_test(cfg)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    loop = CompiledLoop(agent, env, seed=seeds, chunk=chunk, **_loop_kw(cfg))
    records = []
    loop.run(steps, on_episode=lambda i, record: records.append((i, record)))
    return loop, records


def make_jax_env_for_test(cfg):
    _, spec = make_env(cfg.env, cfg.algo)
    return drift_jax_env(spec.discrete), spec


@pytest.mark.parametrize("algo", [CONTINUOUS])
def test_vmapped_seed_equals_single_seed_run(algo):
    check_vmapped_equals_single(algo)


def check_vmapped_equals_single(algo: str) -> None:
    """The body of test_vmapped_seed_equals_single_seed_run (test_rainbow_loops.py runs it too)."""
    multi, multi_records = _compiled(algo, [7, SEED], STEPS, CHUNK)
    # The second seed of the batch: a single run with it (the reference run) is the batch's row 1. (Row 1 alone catches
    # a shifted or reversed seed order; each single run costs a compile, so row 0 is left out.)
    single, single_records = _compiled(algo, SEED, STEPS, CHUNK)
    # (Rainbow's priorities: rtol 1e-4, as in test_compiled_loop_matches_host_loop_on_a_deterministic_env)
    _assert_trees_close(single.carry, jax.tree.map(lambda x: x[1], multi.carry),
                        **({"rtol": 1e-4, "atol": 1e-5} if algo == RAINBOW else {}))
    mine = [r for j, r in multi_records if j == 1]
    assert mine and [r.episode_return for r in mine] == pytest.approx([r.episode_return for _, r in single_records])
    # Different seeds really differ (the test above could not pass with one state shared by all seeds).
    first_leaf = _arrays(multi.carry.learner.agent)[0]
    assert not np.allclose(first_leaf[0], first_leaf[1])


def test_chunking_does_not_change_results():
    a, ra = _compiled("ddpg", SEED, steps=STEPS + 20, chunk=1000)  # one chunk
    b, rb_ = _compiled("ddpg", SEED, steps=STEPS + 20, chunk=CHUNK)  # three of the reference run's length, one of 20
    assert compiled_module.compiled_programs(b._chunk) == 1  # the chunk length is traced: one program serves both lengths
    for x, y in zip(_arrays(a.carry), _arrays(b.carry), strict=True):
        np.testing.assert_array_equal(x, y)
    assert [r.episode_return for _, r in ra] == [r.episode_return for _, r in rb_]


def test_a_jax_without_the_program_count_counts_the_first_chunk_as_compiling(monkeypatch):
    # compiled_programs reads JAX's private _cache_size; without it the loop still runs, and its first chunk (only)
    # goes to start_up_time, not to the learning-phase timing
    monkeypatch.setattr(compiled_module, "compiled_programs", lambda fn: None)
    loop, _ = _compiled("ddpg", SEED, steps=STEPS, chunk=CHUNK)
    assert loop._chunks_run >= 3 and loop.start_up_time > 0
    assert 0 < loop.states[0].learn_steps < STEPS and loop.states[0].learn_time > 0


def test_trainer_runs_the_compiled_loop_and_evaluates_on_gymnasium(tmp_path):
    # TINY at 600 steps: the contract test's compiled DQN programs (chunks of eval_every steps) serve this run too
    cfg = make_config("noisy-dqn-cartpole", {**TINY, "loop": "compiled", "total_steps": 600, "video": False})
    trainer = Trainer(cfg, run_dir=tmp_path / "run", progress=False)
    trainer.learn(cfg.total_steps)
    summary = trainer.finish()
    trainer.close()
    assert summary["loop"] == "compiled" and summary["steps"] == 600 and summary["updates"] == 501
    assert summary["episodes"] > 10  # CartPole episodes of random play are short
    assert [step for step, _ in trainer.eval_history] == [200, 400, 600]
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == summary["episodes"] + 1
    assert (tmp_path / "run" / "eval.json").is_file() and (tmp_path / "run" / "checkpoints" / "final").is_dir()


def test_compiled_loop_rejects_envs_without_a_jax_port():
    cfg = make_config("ddpg-pendulum", {"loop": "compiled", "env": "MountainCarContinuous-v0",
                                        "env_kwargs": {"goal_velocity": 0.1}})
    with pytest.raises(EnvError, match="env_kwargs"):
        Trainer(cfg, progress=False)
    cfg = make_config("ddpg-pendulum", {"loop": "compiled", "env": "DriftContinuous-v0"})
    with pytest.raises(EnvError, match="loop=host"):
        Trainer(cfg, progress=False)


def test_compiled_run_resumes_bit_identically(tmp_path):
    # TINY at 600 steps with a checkpoint at every evaluation: chunks of the contract test's length (see above)
    overrides = {**TINY, "loop": "compiled", "total_steps": 600, "video": False, "checkpoint_every": 200,
                 "keep_checkpoints": 5}
    cfg = make_config("noisy-dqn-cartpole", overrides)
    full = Trainer(cfg, run_dir=tmp_path / "full", progress=False)
    full.learn(600)
    full.close()
    # A second run stopped at 400 steps, then resumed from its checkpoint at 400 (chunk ends are exact boundaries).
    part = Trainer(cfg, run_dir=tmp_path / "part", progress=False)
    part.learn(400)
    part.close()
    assert (tmp_path / "part" / "checkpoints" / "train-000000400").is_dir()
    resumed = Trainer.resume(tmp_path / "part", progress=False)
    assert resumed.step == 400
    resumed.learn(200)
    resumed.close()
    for x, y in zip(_arrays(full.loop.carry), _arrays(resumed.loop.carry), strict=True):
        np.testing.assert_array_equal(x, y)
    assert (tmp_path / "full" / "metrics.csv").read_text() .count("\n") == \
        (tmp_path / "part" / "metrics.csv").read_text().count("\n")


@pytest.mark.parametrize("algo", [CONTINUOUS])
def test_multi_seed_host_loop_seed_equals_single_host_run(algo):
    check_multi_seed_host_equals_single(algo)


def check_multi_seed_host_equals_single(algo: str) -> None:
    """The body of test_multi_seed_host_loop_seed_equals_single_host_run (test_rainbow_loops.py runs it too)."""
    multi, records = _host(algo, [4, SEED], STEPS)  # warm-up, updates, several episodes per seed
    # The second seed alone (the reference run) equals row 1 of the batch (as in
    # test_vmapped_seed_equals_single_seed_run: row 1 only).
    single, single_records = _host(algo, SEED, STEPS)
    mine = [r for _, r in single_records]
    _assert_trees_close(single.carry, jax.tree.map(lambda x: x[1], multi.carry),
                        **({"rtol": 1e-4, "atol": 1e-5} if algo == RAINBOW else {}))
    theirs = [r for j, r in records if j == 1]
    assert theirs and [(r.step, r.episode_length) for r in theirs] == [(r.step, r.episode_length) for r in mine]
    assert [r.episode_return for r in theirs] == pytest.approx([r.episode_return for r in mine])
    assert not np.allclose(_arrays(multi.carry.agent)[0][0], _arrays(multi.carry.agent)[0][1])


@pytest.mark.parametrize(("seeds", "n_envs"), [([SEED], 2), ([7, SEED], 1)])
def test_both_loops_start_from_the_pure_init_carry_of_each_seed(seeds, n_envs):
    """The loops build their first carry in pieces (offpolicy.loops.learner.new_carry: the agent's init jitted alone,
    the buffer and counters zeros made op by op; then the compiled loop's env start): bit for bit what one jitted
    ``init_carry`` per seed (vmapped over seeds) gives. (DDPG: its noise state has an env axis; the reference runs'
    settings, so the vmapped case reuses their programs.)"""
    from offpolicy.loops.compiled import start_compiled_carry
    from offpolicy.loops.learner import init_carry, new_carry, seed_array

    cfg = _configs(CONTINUOUS)
    env, spec = make_jax_env_for_test(cfg)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    size, warmup = cfg.agent.buffer_size, cfg.warmup_steps

    def pure(seed):
        learner = init_carry(agent, size, jax.random.key(seed), n_envs)
        return learner, start_compiled_carry(agent, env, learner, seed, warmup, n_envs)

    expected = jax.jit(jax.vmap(pure) if len(seeds) > 1 else pure)(seed_array(seeds) if len(seeds) > 1 else seeds[0])
    host = new_carry(agent, size, seeds, n_envs)
    compiled = CompiledLoop(agent, env, seed=seeds if len(seeds) > 1 else seeds[0], chunk=CHUNK, n_envs=n_envs,
                            **_loop_kw(cfg)).carry
    for want, got in ((expected[0], host), (expected[1], compiled)):
        assert jax.tree.structure(want) == jax.tree.structure(got)
        for x, y in zip(_arrays(want), _arrays(got), strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("loop", ["host", "compiled"])
def test_seeds_up_to_2_to_the_32_work_on_every_loop_and_keep_their_keys(loop):
    """Seeds >= 2**31 used to overflow int32 in the compiled and multi-seed host loops; every seed the config accepts
    (< 2**32) gives each agent the same master key as jax.random.key(seed)."""
    from offpolicy.loops.learner import init_carry

    cfg = _configs("ddpg")  # the settings of the multi-seed tests above: their programs serve this test too
    _, spec = make_env(cfg.env, cfg.algo)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    seeds = [2**31 + 5, 2**32 - 1]
    expected = init_carry(agent, cfg.agent.buffer_size, jax.random.key(seeds[1]))  # the single-seed initial carry
    first_params = _arrays(expected.agent)[0]
    if loop == "host":
        multi = HostLoop(agent, [make_env(cfg.env, cfg.algo)[0] for _ in seeds], seeds, **_loop_kw(cfg))
        multi.run(30)  # before learning_starts: the parameters are still the initial ones
        assert multi.states[1].step == 30
        np.testing.assert_array_equal(_arrays(multi.carry.agent)[0][1], first_params)
    else:
        multi = CompiledLoop(agent, drift_jax_env(spec.discrete), seed=seeds, chunk=CHUNK, **_loop_kw(cfg))
        np.testing.assert_array_equal(_arrays(multi.carry.learner.agent)[0][1], first_params)
        multi.run(CHUNK)  # the steps run too (one chunk of the vmapped reference runs' length)
        assert multi.states[1].step == CHUNK
