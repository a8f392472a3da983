"""The learner's side of one env step, shared by every loop: store -> sample -> update -> act, the NaN guard, and
the metric sums the host reads at episode ends.

Timing (t = env steps taken so far = transitions stored so far; with ``n_envs`` envs per seed each vector step
stores n_envs transitions, one per env, and t moves by n_envs):
  * the actions of a vector step are uniformly random if it starts before warmup_steps env steps (t < warmup_steps
    before it), else the exploring policy's;
  * after a vector step brings the count to t, an update phase runs if t >= learning_starts and the vector step's
    number t / n_envs is a multiple of train_freq (:func:`is_update_step`, SB3's meaning): ``gradient_steps``
    updates one after the other, each on its own minibatch drawn from the buffer as the previous update left it
    (priorities included). With the defaults (1, 1, n_envs 1): one update per env step.

``learner_step`` takes the phase as Python bools (compiled into the program) or as traced bools
(the compiled loop decides per step with ``lax.cond``); both give the same numbers for the same inputs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from offpolicy import buffer as rb
from offpolicy.agents.base import Agent
from offpolicy.buffer import Transition
from offpolicy.errors import NonFiniteError


@flax.struct.dataclass
class Carry:
    """Everything the jitted step reads and writes (donated every call)."""

    agent: Any
    buffer: rb.ReplayBuffer
    key: jax.Array
    metric_sums: dict[str, jax.Array]  # sums of update metrics since the host last read them
    updates_since: jax.Array  # int32: updates since the host last read the sums
    bad_updates: jax.Array  # int32: updates rejected because a loss or parameter was NaN/inf
    first_bad_step: jax.Array  # int32: env step of the first rejected update, -1 if none


@dataclass
class EpisodeRecord:
    """What a loop reports at the end of each training episode."""

    step: int
    episode: int
    episode_return: float
    episode_length: int
    metrics: dict[str, float]  # means over the updates since the previous record (empty before learning starts)


@dataclass
class LoopState:
    """Host-side position of one seed in a loop (plain Python values; saved in training checkpoints). ``step``
    counts the env steps of all the seed's envs."""

    step: int = 0
    episode: int = 0
    updates: int = 0
    learn_time: float = 0.0  # seconds spent in timed learning-phase steps (env step + jitted call)
    learn_steps: int = 0
    skipped_transitions: int = 0  # non-finite transitions dropped with nonfinite="skip"

    def count_learning(self, seconds: float, steps: int) -> None:
        """Add ``steps`` learning-phase steps that took ``seconds`` to the steps/s accounting."""
        self.learn_time += seconds
        self.learn_steps += steps


def rejected_update_error(label: str, step: int, episode: int) -> NonFiniteError:
    """The error for an update rejected at ``step`` because a loss or parameter became NaN/inf (``label``: e.g.
    ``"seed 4, "`` in a multi-seed run, else empty)."""
    return NonFiniteError(
        f"{label}step {step} (episode {episode}): a loss or parameter became NaN/inf; the update was rejected and the "
        "agent keeps its last good state. Lower the learning rates, check the reward scale, or set nonfinite=skip "
        "to keep training past such updates.",
        step=step, episode=episode, quantity="loss/parameters")


def example_transition(agent: Agent) -> Transition:
    """One zero transition with the shapes and dtypes the replay buffer stores for ``agent``."""
    spec = agent.spec
    return Transition(
        obs=jnp.zeros(spec.obs_shape, jnp.float32),
        action=jnp.zeros((), jnp.int32) if spec.discrete else jnp.zeros((spec.action_dim,), jnp.float32),
        reward=jnp.zeros((), jnp.float32),
        next_obs=jnp.zeros(spec.obs_shape, jnp.float32),
        terminated=jnp.zeros((), bool),
        truncated=jnp.zeros((), bool),
    )


def init_carry(agent: Agent, buffer_size: int, key: jax.Array, n_envs: int = 1) -> Carry:
    """Fresh agent state and empty buffer from one key."""
    init_key, loop_key = jax.random.split(key)
    return empty_carry(agent, buffer_size).replace(agent=agent.init(init_key, n_envs), key=loop_key)


def empty_carry(agent: Agent, buffer_size: int) -> Carry:
    """A carry's empty replay buffer and zero counters; ``agent`` and ``key`` are None (see init_carry)."""
    return Carry(
        agent=None,
        buffer=rb.init(buffer_size, example_transition(agent), prioritized=agent.prioritized is not None),
        key=None,
        metric_sums={name: jnp.zeros((), jnp.float32) for name in agent.metric_names},
        updates_since=jnp.zeros((), jnp.int32),
        bad_updates=jnp.zeros((), jnp.int32),
        first_bad_step=jnp.full((), -1, jnp.int32),
    )


def new_carry(agent: Agent, buffer_size: int, seeds: list[int], n_envs: int = 1) -> Carry:
    """``init_carry`` of ``jax.random.key(seed)`` for each seed (one seed: no seed axis; several: stacked on a leading
    seed axis, as ``jax.vmap(init_carry)`` gives), bit for bit, built as the loops start a run: the agent's ``init``
    is its own jitted program and the empty buffer and counters are plain zeros. Random initialisation is slow to
    compile (dozens of threefry draws); alone, its program depends only on the agent, ``n_envs`` and the number of
    seeds, not on the buffer size or the loop's settings, so JAX's compilation cache shares it between runs of the
    same network."""
    vmapped = len(seeds) > 1
    if vmapped:
        keys = jax.vmap(jax.random.split)(jax.vmap(jax.random.key)(seed_array(seeds)))  # [seed, 2]
        init_key, loop_key = keys[:, 0], keys[:, 1]
    else:
        init_key, loop_key = jax.random.split(jax.random.key(seeds[0]))
    empty = empty_carry(agent, buffer_size)  # allocated op by op: a few tiny programs, one per shape
    if vmapped:  # every seed's empty buffer and counters are the same
        empty = jax.tree.map(lambda x: jnp.broadcast_to(x, (len(seeds), *x.shape)), empty)
    return empty.replace(agent=_init_program(agent.init, vmapped)(init_key, n_envs), key=loop_key)


@functools.lru_cache(maxsize=32)  # one per agent (make_agent gives the same agent for the same config)
def _init_program(init, vmapped: bool):
    return jax.jit(jax.vmap(init, in_axes=(0, None)) if vmapped else init, static_argnums=1)


def is_update_step(t, learning_starts: int, train_freq: int, n_envs: int = 1):
    """Whether an update phase follows the vector step that brought the env-step count to ``t`` (a Python int, or
    traced in the compiled loop): t >= learning_starts and the vector step t / n_envs a multiple of train_freq
    (SB3's meaning: train_freq counts vector steps, learning_starts env steps)."""
    period = train_freq * n_envs
    if isinstance(t, (int, np.integer)):
        return t >= learning_starts and t % period == 0
    return (t >= learning_starts) & (t % period == 0)


def first_update_step(learning_starts: int, train_freq: int, n_envs: int = 1) -> int:
    """The env-step count after which the first update phase runs: the first multiple of train_freq * n_envs that
    is >= learning_starts."""
    period = train_freq * n_envs
    return -(-learning_starts // period) * period


def update_phases(t: int, learning_starts: int, train_freq: int, n_envs: int = 1) -> int:
    """How many update phases the env steps 1..t hold (each makes ``gradient_steps`` updates)."""
    first = first_update_step(learning_starts, train_freq, n_envs)
    return 0 if t < first else (t - first) // (train_freq * n_envs) + 1


def seed_array(seeds: list[int]) -> jax.Array:
    """Seeds as a uint32 array for ``jax.random.key`` inside jit/vmap: every seed the config accepts (< 2**32)
    fits, and gives the same key as ``jax.random.key(seed)`` with a Python int."""
    return jnp.asarray(seeds, jnp.uint32)


def _random_actions(agent: Agent, key: jax.Array, n: int) -> jax.Array:
    if agent.spec.discrete:
        return jax.random.randint(key, (n,), 0, agent.spec.n_actions)
    return jax.random.uniform(key, (n, agent.spec.action_dim), minval=-1.0, maxval=1.0)


def _next_action(agent: Agent, agent_state, policy_obs, episode_start, key, random_action):
    """Reset per-episode agent state where an episode starts, then the action for ``policy_obs``: uniformly random
    (``random_action``) or the exploring policy's. ``random_action`` is a Python bool (static) or a traced bool."""
    agent_state = agent.reset(agent_state, episode_start)
    if isinstance(random_action, bool):
        if random_action:
            return _random_actions(agent, key, policy_obs.shape[0]), agent_state
        return agent.act(agent_state, policy_obs, key, explore=True)
    return jax.lax.cond(
        random_action,
        lambda st: (_random_actions(agent, key, policy_obs.shape[0]), st),
        lambda st: agent.act(st, policy_obs, key, explore=True),
        agent_state,
    )


def random_action_block(agent: Agent, key: jax.Array, n: int, length: int) -> jax.Array:
    """The uniformly random actions of the next ``length`` learner steps with ``n`` rows each, drawn from the carry's
    ``key`` as ``learner_step`` draws them: [length, n, ...]. They depend on nothing but the key, so a loop can draw a
    warm-up's actions ahead of its env steps (see :func:`store_random_steps`)."""

    def one(key, _):
        key, _, _, act_key = jax.random.split(key, 4)
        return key, _random_actions(agent, act_key, n)

    return jax.lax.scan(one, key, None, length=length)[1]


def store_random_steps(agent: Agent, carry: Carry, transitions: Transition, episode_starts: jax.Array,
                       count: jax.Array) -> Carry:
    """What ``count`` calls of ``learner_step`` without an update and with random next actions do to the carry, in one
    call: store transition k (``transitions`` has a leading step axis, the steps from ``count`` on are ignored),
    advance the key, reset per-episode agent state where ``episode_starts[k]``; the actions were drawn by
    :func:`random_action_block` from the key this carry holds. Bit for bit the same carry."""

    def one(k, carry):
        transition = jax.tree.map(lambda x: x[k], transitions)
        return carry.replace(buffer=rb.add(carry.buffer, transition), key=jax.random.split(carry.key, 4)[0],
                             agent=agent.reset(carry.agent, episode_starts[k]))

    return jax.lax.fori_loop(0, count, one, carry)


def first_action(agent: Agent, carry: Carry, obs: jax.Array, random_action) -> tuple[Carry, jax.Array]:
    """The action for the first observation of training."""
    key, act_key = jax.random.split(carry.key)
    start = jnp.ones(obs.shape[:1], bool)
    action, agent_state = _next_action(agent, carry.agent, obs, start, act_key, random_action)
    return carry.replace(agent=agent_state, key=key), action


def draw_batch(agent: Agent, buffer: rb.ReplayBuffer, key: jax.Array, batch_size: int, t: jax.Array
               ) -> tuple[jax.Array, Transition]:
    """The update's minibatch: positions drawn uniformly, or by priority with importance weights (``batch.weight``;
    beta annealed linearly from ``prioritized.beta`` to 1 at step ``prioritized.beta_steps``), then turned into
    transitions by the agent's ``gather`` (e.g. n-step windows). Returns (positions [B], batch)."""
    if agent.prioritized is None:
        idx, weight = rb.sample_indices(buffer, key, batch_size), None
    else:
        p = agent.prioritized
        if p.beta_steps is None:
            raise ValueError("prioritized replay needs beta_steps: a training loop's agent comes from "
                             "offpolicy.run.trainer.agent_for_run (unset: the run's total_steps)")
        beta = p.beta + (1.0 - p.beta) * jnp.minimum(t / p.beta_steps, 1.0)
        idx, weight = rb.sample_prioritized(buffer, key, batch_size, beta)
    batch = (agent.gather or rb.gather)(buffer, idx)
    return idx, batch if weight is None else batch.replace(weight=weight)


def learner_step(agent: Agent, batch_size: int, carry: Carry, transition: Transition, policy_obs: jax.Array,
                 episode_start: jax.Array, t: jax.Array, update, random_action, store: bool = True,
                 gradient_steps: int = 1):
    """Store ``transition`` (step t), run an update phase if ``update`` (``gradient_steps`` updates, static), and
    choose the next action.

    A NaN/inf loss or parameter rejects that update (the agent keeps its last good state, the priorities stay); the
    rejection is counted with the step of the first one, for the host to report. With prioritized replay the drawn
    transitions get new priorities from the update's per-sample errors before the next update draws. Keys: one
    update uses this step's sample and update keys as they are; with ``gradient_steps > 1`` update j (from 0) uses
    them folded with j. Returns (carry, action for ``policy_obs``).
    """
    buffer = rb.add(carry.buffer, transition) if store else carry.buffer
    key, sample_key, update_key, act_key = jax.random.split(carry.key, 4)
    # Only the priorities (not the stored transitions) go through the update's branch.
    priorities = None if agent.prioritized is None else (buffer.tree, buffer.max_priority)
    learner = (carry.agent, priorities, carry.metric_sums, carry.updates_since, carry.bad_updates,
               carry.first_bad_step)

    def one_update(learner, sample_key, update_key):
        agent_state, priorities, sums, count, bad, first_bad = learner
        current = buffer if priorities is None else buffer.replace(tree=priorities[0], max_priority=priorities[1])
        idx, batch = draw_batch(agent, current, sample_key, batch_size, t)
        new_state, metrics = agent.update(agent_state, batch, update_key)
        # One flag per floating leaf, kept as an array (the barrier) and reduced where it is used: without the
        # barrier XLA turned the reduction into a chain of ~50 scalar ANDs and copied that chain into the fused select
        # of every leaf, which made the program 3-4x larger after optimisation, twice as slow to compile and slower
        # to run. The same values either way.
        flags = jax.lax.optimization_barrier(jnp.stack([jnp.all(jnp.isfinite(x))
                                                        for x in jax.tree.leaves((new_state, metrics))
                                                        if jnp.issubdtype(x.dtype, jnp.floating)]))
        finite = jnp.all(flags)
        agent_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, agent_state)
        if priorities is not None:  # a rejected update writes the old priorities back
            p = agent.prioritized
            priority = jnp.where(finite, rb.priority(metrics["priority"], p.alpha, p.eps),
                                 rb.priority_at(current, idx))
            current = rb.set_priorities(current, idx, priority)
            priorities = (current.tree, current.max_priority)
        sums = {k: sums[k] + jnp.where(finite, metrics[k], 0.0) for k in sums}
        count = count + finite.astype(jnp.int32)
        first_bad = jnp.where(finite | (first_bad >= 0), first_bad, t)
        bad = bad + (~finite).astype(jnp.int32)
        return agent_state, priorities, sums, count, bad, first_bad

    def update_phase(learner):
        if gradient_steps == 1:
            return one_update(learner, sample_key, update_key)
        return jax.lax.fori_loop(  # one copy of the update in the program, whatever gradient_steps is
            0, gradient_steps,
            lambda j, learner: one_update(learner, jax.random.fold_in(sample_key, j),
                                          jax.random.fold_in(update_key, j)),
            learner)

    if isinstance(update, bool):
        if update:
            learner = update_phase(learner)
    else:
        learner = jax.lax.cond(update, update_phase, lambda learner: learner, learner)
    agent_state, priorities, sums, count, bad, first_bad = learner
    if priorities is not None:
        buffer = buffer.replace(tree=priorities[0], max_priority=priorities[1])
    action, agent_state = _next_action(agent, agent_state, policy_obs, episode_start, act_key, random_action)
    carry = Carry(agent=agent_state, buffer=buffer, key=key, metric_sums=sums, updates_since=count,
                  bad_updates=bad, first_bad_step=first_bad)
    return carry, action


def mean_metrics(sums: dict[str, Any], count: int) -> dict[str, float]:
    """Per-update means of the metric sums (empty when no update ran)."""
    return {k: float(v) / count for k, v in sums.items()} if count else {}


def compiled_programs(fn: Any) -> int | None:
    """How many programs the jitted ``fn`` holds: JAX's private ``_cache_size()``, read here only; None on a JAX
    without it (the compiled loop then counts its own first chunk as the one that compiled)."""
    size = getattr(fn, "_cache_size", None)
    return size() if callable(size) else None
