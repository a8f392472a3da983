"""The host loop's learning step holds no copy of a replay-buffer array: its programs' scratch memory (XLA's temp
allocation) is smaller than the smallest buffer array. When the store and the minibatch gather shared one program,
XLA copied buffer arrays every step (10 ms a step at 1M transitions), and the program's scratch grew with the
capacity: 74 KB at 2**12 transitions, 2.2 MB at 2**17 for the DDPG step below, against 27 KB at both now. Memory,
not time: no timing in tests. (The compiled loop writes and gathers inside one loop body and measured flat:
docs/benchmarks.md.)"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from offpolicy.config import make_config
from offpolicy.envs import make_env
from offpolicy.loops.host import HostStep
from offpolicy.loops.learner import init_carry
from offpolicy.run.trainer import agent_for_run

CAPACITY = 2**17


@pytest.mark.parametrize("preset", ["ddpg-pendulum", "noisy-dqn-cartpole"])
def test_the_host_loops_learning_step_copies_no_buffer_array(preset):
    cfg = make_config(preset, {"hidden_sizes": [16, 16], "batch_size": 32})
    if preset == "noisy-dqn-cartpole":  # prioritized replay (a capacity-sized sum tree) and 3-step windows
        cfg = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, prioritized=True, n_step=3))
    _, spec = make_env(cfg.env, cfg.algo)
    agent = agent_for_run(cfg, spec)
    fns = HostStep(agent, cfg.agent.batch_size, truncation_as_terminal=False)
    packed = np.zeros((1, 3 * fns.obs_dim + fns.action_width + 4), np.float32)
    carry = jax.jit(lambda key: init_carry(agent, CAPACITY, key))(jax.random.key(0))
    smallest = min(x.nbytes for x in jax.tree.leaves(carry.buffer) if x.ndim)  # terminated: CAPACITY bytes
    # the programs HostStep.step calls for a step that updates (recorded, not run), compiled at this capacity
    calls = []
    real = {name: getattr(fns, name) for name in ("_store_jit", "_step_jit")}
    fns._store_jit = lambda *a, **k: calls.append(("store", real["_store_jit"], a, k)) or a[0]
    fns._step_jit = lambda *a, **k: calls.append(("step", real["_step_jit"], a, k)) or (a[0], None)
    fns.step(carry, packed, np.int32(64), update=True, random_action=False)
    scratch = {name: fn.lower(*a, **k).compile().memory_analysis() for name, fn, a, k in calls}
    assert sorted(scratch) == ["step", "store"]  # the store is a program of its own
    assert all(m.temp_size_in_bytes < smallest for m in scratch.values()), (
        f"scratch bytes: {({name: m.temp_size_in_bytes for name, m in scratch.items()})}; the smallest buffer "
        f"array has {smallest}")
    buffer_bytes = sum(x.nbytes for x in jax.tree.leaves(carry.buffer))
    assert scratch["store"].alias_size_in_bytes >= buffer_bytes  # the store writes the donated buffer in place
