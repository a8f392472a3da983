"""The host loop's learning step holds no copy of a replay-buffer array: its programs' scratch memory (XLA's temp
allocation) is smaller than the smallest buffer array. When the store and the minibatch gather shared one program,
XLA copied buffer arrays every step (10 ms a step at 1M transitions), and the program's scratch grew with the
capacity: 74 KB at 2**12 transitions, 2.2 MB at 2**17 for the DDPG step below, against 27 KB at both now. Memory,
not time: no timing in tests. (The compiled loop writes and gathers inside one loop body and measured flat:
docs/benchmarks.md.) The same compiled step also shows that the NaN guard is not copied into every leaf."""

from __future__ import annotations

import dataclasses
import functools
import re

import jax
import numpy as np
import pytest

from offpolicy.config import make_config
from offpolicy.envs import make_env
from offpolicy.loops.host import HostStep
from offpolicy.loops.learner import init_carry
from offpolicy.run.trainer import agent_for_run

CAPACITY = 2**17


PRESETS = ["ddpg-pendulum", "noisy-dqn-cartpole"]


@functools.cache
def learning_programs(preset: str):
    """(initial carry, {"store"/"step": the compiled program}) of the host loop's learning step at CAPACITY."""
    cfg = make_config(preset, {"hidden_sizes": [16, 16], "batch_size": 32})
    if preset == "noisy-dqn-cartpole":  # prioritized replay (a capacity-sized sum tree) and 3-step windows
        cfg = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, prioritized=True, n_step=3))
    _, spec = make_env(cfg.env, cfg.algo)
    agent = agent_for_run(cfg, spec)
    fns = HostStep(agent, cfg.agent.batch_size, truncation_as_terminal=False)
    packed = np.zeros((1, 3 * fns.obs_dim + fns.action_width + 4), np.float32)
    carry = jax.jit(lambda key: init_carry(agent, CAPACITY, key))(jax.random.key(0))
    # the programs HostStep.step calls for a step that updates (recorded, not run), compiled at this capacity
    calls = []
    real = {name: getattr(fns, name) for name in ("_store_jit", "_step_jit")}
    fns._store_jit = lambda *a, **k: calls.append(("store", real["_store_jit"], a, k)) or a[0]
    fns._step_jit = lambda *a, **k: calls.append(("step", real["_step_jit"], a, k)) or (a[0], None)
    fns.step(carry, packed, np.int32(64), update=True, random_action=False)
    return carry, {name: fn.lower(*a, **k).compile() for name, fn, a, k in calls}


@pytest.mark.parametrize("preset", PRESETS)
def test_the_host_loops_learning_step_copies_no_buffer_array(preset):
    carry, compiled = learning_programs(preset)
    smallest = min(x.nbytes for x in jax.tree.leaves(carry.buffer) if x.ndim)  # terminated: CAPACITY bytes
    scratch = {name: program.memory_analysis() for name, program in compiled.items()}
    assert sorted(scratch) == ["step", "store"]  # the store is a program of its own
    assert all(m.temp_size_in_bytes < smallest for m in scratch.values()), (
        f"scratch bytes: {({name: m.temp_size_in_bytes for name, m in scratch.items()})}; the smallest buffer "
        f"array has {smallest}")
    buffer_bytes = sum(x.nbytes for x in jax.tree.leaves(carry.buffer))
    assert scratch["store"].alias_size_in_bytes >= buffer_bytes  # the store writes the donated buffer in place


@pytest.mark.parametrize("preset", PRESETS)
def test_the_nan_guard_tests_each_leaf_once_in_the_compiled_step(preset):
    # The guard keeps the old agent state when an update leaves a float non-finite. Written as one reduced flag and a
    # jnp.where per leaf, XLA copied the flag's ~50-AND chain, with the small leaves' finiteness tests, into every
    # leaf's fused select: 223-724 is-finite ops for ~49 float leaves, programs 3-4x larger, twice the compile time
    # (docs/benchmarks.md, "The NaN guard's select"). Now about one per leaf: 52 for 49 leaves (DDPG), 52 for 48 (DQN).
    carry, compiled = learning_programs(preset)
    leaves = sum(1 for x in jax.tree.leaves(carry.agent) if jax.numpy.issubdtype(x.dtype, jax.numpy.floating))
    tests = len(re.findall(r" is-finite\(", compiled["step"].as_text()))
    assert leaves <= tests <= 2 * leaves, f"{tests} is-finite ops for {leaves} float leaves of the agent state"
