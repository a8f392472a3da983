"""The sum tree's level loop, A/B in one process: A unrolls the log2(L) levels in Python (the version before
lax.fori_loop, kept here as the reference), B is offpolicy.buffer's fori_loop. Prints the rainbow-cartpole learner
step's compile time for each, whether both give the same carry bit for bit after 1,500 steps, and their step times
(alternating A/B, 6 rounds of 200 steps, medians).

    python benchmarks/sum_tree_ab.py
"""
import time

import jax
import jax.numpy as jnp
import numpy as np

import offpolicy.buffer as rb
from offpolicy.agents import make_agent
from offpolicy.agents.base import EnvSpec
from offpolicy.buffer import Transition
from offpolicy.config import make_config
from offpolicy.loops.learner import init_carry, learner_step

fori_set, fori_find = rb.tree_set, rb.tree_find

def unrolled_set(tree, positions, values):
    leaves = tree.shape[0] // 2
    node = positions + leaves
    tree = tree.at[node].set(values.astype(tree.dtype))
    for _ in range(leaves.bit_length() - 1):
        node = node // 2
        tree = tree.at[node].set(tree[2 * node] + tree[2 * node + 1])
    return tree

def unrolled_find(tree, mass):
    leaves = tree.shape[0] // 2
    node = jnp.ones(mass.shape, jnp.int32)
    for _ in range(leaves.bit_length() - 1):
        left = tree[2 * node]
        right = (mass >= left) & (tree[2 * node + 1] > 0)
        mass = jnp.where(right, mass - left, mass)
        node = 2 * node + right.astype(jnp.int32)
    return node - leaves

spec = EnvSpec((4,), 1, 2)
cfg = make_config("rainbow-cartpole")
agent = make_agent("dqn", cfg.agent, spec)
agent = agent._replace(prioritized=agent.prioritized._replace(beta_steps=50000))
rng = np.random.default_rng(0)

def build(set_fn, find_fn):
    rb.tree_set, rb.tree_find = set_fn, find_fn
    def fn(c, t, obs, r, term):
        tr = Transition(obs=obs, action=(t % 2)[None].astype(jnp.int32), reward=r, next_obs=obs + 0.1,
                        terminated=term, truncated=jnp.zeros(1, bool))
        return learner_step(agent, cfg.agent.batch_size, c, tr, obs, jnp.zeros(1, bool), t, True, False)
    step = jax.jit(fn, donate_argnums=0)
    t0 = time.perf_counter()
    step.lower(init_carry(agent, cfg.agent.buffer_size, jax.random.key(0)), jnp.int32(0), jnp.ones((1, 4)),
               jnp.ones(1), jnp.zeros(1, bool)).compile()
    print("compile", f"{time.perf_counter() - t0:.2f}s")
    return step

steps = {"A": build(unrolled_set, unrolled_find), "B": build(fori_set, fori_find)}
carries = {k: init_carry(agent, cfg.agent.buffer_size, jax.random.key(0)) for k in steps}
inputs = [(jnp.int32(i), jnp.asarray(rng.normal(size=(1, 4)), jnp.float32), jnp.asarray(rng.normal(size=1), jnp.float32),
           jnp.asarray([rng.random() < 0.05])) for i in range(1500)]
for k in steps:  # fill past the batch size
    for x in inputs[:300]:
        carries[k], _ = steps[k](carries[k], *x)
times = {k: [] for k in steps}
for rep in range(6):
    for k in (("A", "B") if rep % 2 == 0 else ("B", "A")):
        t0 = time.perf_counter()
        for x in inputs[300 + rep * 200: 500 + rep * 200]:
            carries[k], a = steps[k](carries[k], *x)
        jax.block_until_ready(a)
        times[k].append((time.perf_counter() - t0) / 200 * 1e3)
same = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(
    jax.tree.leaves(jax.tree.map(lambda v: jax.random.key_data(v) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else v, carries["A"])),
    jax.tree.leaves(jax.tree.map(lambda v: jax.random.key_data(v) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else v, carries["B"]))))
print("carries identical after 1,500 steps:", same)
for k, v in times.items():
    print(k, "median ms/step", round(float(np.median(v)), 3), [round(x, 3) for x in v])
print("B/A", round(float(np.median(times["B"]) / np.median(times["A"])), 3))
