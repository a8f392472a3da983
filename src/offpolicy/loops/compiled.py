"""Compiled loop: the gymnax version of the env and the agent inside one jitted loop per chunk of steps.

Each vector step (one step of each of the seed's ``n_envs`` envs, vmapped) runs the same ``learner_step`` as the
host loop (store, an update phase of ``gradient_steps`` updates per offpolicy.loops.learner.is_update_step, next
actions, random while fewer than warmup_steps env steps were taken), with the phase decided per step by ``lax.cond``
instead of by Python, so one program serves every phase. The host only
sees chunk ends (default every 1,000 steps): it reads the finished episodes' returns and losses, updates the progress
bar, evaluates and checkpoints there.

Several envs per seed: env e's reset and step keys are split from the seed's env key, so the envs' episodes differ;
with one env the keys are the ones a run without n_envs uses.

Many seeds: ``seeds=[s0, s1, ...]`` trains one independent agent per seed with ``jax.vmap`` over the whole carry
(agent, replay buffer, env state, keys). Agent i starts from exactly the state a single run with seed s_i starts from
and draws the same random numbers, so it follows the same trajectory (see tests/loops/test_loops.py).

Where it differs from the host loop for the same seed: the env is gymnax's JAX port (same dynamics, rewards, episode
limits), and its episodes start from states drawn with JAX keys instead of NumPy seeds, so the trajectories differ.
On an env whose resets ignore the seed the two loops store the same transitions and make the same updates (tested).
Non-finite observations or rewards are not checked per step (the gymnax classic-control envs cannot produce them);
rejected non-finite updates are counted as in the host loop and stop the run at the next chunk end.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from offpolicy.agents.base import Agent
from offpolicy.buffer import Transition
from offpolicy.envs import JaxEnv
from offpolicy.loops.contract import OnEpisode, OnStep
from offpolicy.loops.learner import (
    Carry,
    EpisodeRecord,
    LoopState,
    compiled_programs,
    first_action,
    is_update_step,
    learner_step,
    mean_metrics,
    new_carry,
    rejected_update_error,
    seed_array,
    update_phases,
)

ENV_STREAM = 0x656E76  # folded into the master seed's key for the env's reset randomness ("env")


@flax.struct.dataclass
class CompiledCarry:
    learner: Carry  # agent, replay buffer, learner key, metric sums (as in the host loop)
    env_state: Any  # gymnax env state (a leading env axis with n_envs > 1)
    env_key: jax.Array
    obs: jax.Array  # [n_envs, *obs_shape] observations the pending actions were chosen for
    action: jax.Array  # [n_envs, action_dim] or [n_envs] pending actions
    episode_return: jax.Array  # [n_envs] float32, running return of each env's current episode
    episode_length: jax.Array  # [n_envs] int32


def _env_reset(env: JaxEnv, key: jax.Array, n_envs: int):
    """First observations [n_envs, ...] and env state: one env from ``key`` itself, several from its split."""
    if n_envs == 1:  # not vmapped over one env: the numbers of a run without n_envs
        obs, state = env.reset(key)
        return obs[None], state
    return jax.vmap(env.reset)(jax.random.split(key, n_envs))


def _env_step(env: JaxEnv, key: jax.Array, state: Any, action: jax.Array, n_envs: int):
    """One step of every env: (policy_obs, state, reward, terminated, truncated, final_obs), each [n_envs, ...]."""
    if n_envs == 1:
        out = env.step(key, state, action[0])
        return (out[0][None], out[1], *(x[None] for x in out[2:]))
    return jax.vmap(env.step)(jax.random.split(key, n_envs), state, action)


def start_compiled_carry(agent: Agent, env: JaxEnv, learner: Carry, seed: int | jax.Array,
                         warmup_steps: int, n_envs: int = 1) -> CompiledCarry:
    """The fresh carry of one seed from its fresh learner carry (``init_carry`` with ``jax.random.key(seed)``, the
    host loop's for that seed): the envs reset and the first actions chosen."""
    env_key, reset_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), ENV_STREAM))
    obs, env_state = _env_reset(env, reset_key, n_envs)
    learner, action = first_action(agent, learner, obs, warmup_steps >= 1)
    return CompiledCarry(learner=learner, env_state=env_state, env_key=env_key, obs=obs, action=action,
                         episode_return=jnp.zeros((n_envs,), jnp.float32),
                         episode_length=jnp.zeros((n_envs,), jnp.int32))


def run_chunk(agent: Agent, env: JaxEnv, batch_size: int, warmup_steps: int, learning_starts: int,
              truncation_as_terminal: bool, carry: CompiledCarry, t0: jax.Array, n: jax.Array, capacity: int,
              train_freq: int = 1, gradient_steps: int = 1, n_envs: int = 1):
    """Vector steps t0/n_envs+1 .. t0/n_envs+n of one seed (env steps t0+1 .. t0+n*n_envs; n <= capacity, traced: one
    program serves every chunk length). Returns (carry, per-step outputs) with outputs done[C, n_envs],
    episode_return[C, n_envs], episode_length[C, n_envs] (values at the step), metric sums[C] and update count[C]
    since the previous step at which an episode ended (read where one did; the sums restart after it, as the host
    loop reads them); entries n.. of the outputs are zeros."""

    def body(c: CompiledCarry, i):
        t = t0 + (i + 1) * n_envs
        env_key, step_key = jax.random.split(c.env_key)
        policy_obs, env_state, reward, terminated, truncated, final_obs = _env_step(
            env, step_key, c.env_state, c.action, n_envs)
        done = terminated | truncated
        stored_terminal = (terminated | truncated) if truncation_as_terminal else terminated
        transition = Transition(obs=c.obs, action=c.action, reward=reward, next_obs=final_obs,
                                terminated=stored_terminal, truncated=truncated)
        learner, action = learner_step(agent, batch_size, c.learner, transition, policy_obs, done, t,
                                       update=is_update_step(t, learning_starts, train_freq, n_envs),
                                       random_action=t < warmup_steps, gradient_steps=gradient_steps)
        episode_return = c.episode_return + reward
        episode_length = c.episode_length + 1
        out = {"done": done, "episode_return": episode_return, "episode_length": episode_length,
               "sums": learner.metric_sums, "count": learner.updates_since}
        # Where an episode ended the host reads the sums: restart them (and that env's counters) for the next one.
        ended = jnp.any(done)
        learner = learner.replace(
            metric_sums={k: jnp.where(ended, 0.0, v) for k, v in learner.metric_sums.items()},
            updates_since=jnp.where(ended, 0, learner.updates_since),
        )
        c = CompiledCarry(learner=learner, env_state=env_state, env_key=env_key, obs=policy_obs, action=action,
                          episode_return=jnp.where(done, 0.0, episode_return),
                          episode_length=jnp.where(done, 0, episode_length))
        return c, out

    def loop_body(i, state):
        c, outs = state
        c, out = body(c, i)
        return c, jax.tree.map(lambda buf, x: buf.at[i].set(x), outs, out)

    example = jax.eval_shape(body, carry, jnp.int32(0))[1]
    outs = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), example)
    return jax.lax.fori_loop(0, n, loop_body, (carry, outs))


@functools.lru_cache(maxsize=32)  # one pair per agent and settings (make_agent gives the same agent for one config)
def _programs(agent: Agent, env: JaxEnv, batch_size: int, warmup_steps: int, learning_starts: int,
              truncation_as_terminal: bool, capacity: int, train_freq: int, gradient_steps: int, n_envs: int,
              vmapped: bool):
    """The jitted chunk (``run_chunk`` of ``capacity`` vector steps) and start (``start_compiled_carry``) of a loop,
    vmapped over seeds if ``vmapped``; shared by the loops of a process with the same arguments."""

    def chunk_fn(carry, t0, n):
        return run_chunk(agent, env, batch_size, warmup_steps, learning_starts, truncation_as_terminal, carry, t0, n,
                         capacity, train_freq, gradient_steps, n_envs)

    def start_fn(learner, seed):
        return start_compiled_carry(agent, env, learner, seed, warmup_steps, n_envs)

    if vmapped:
        return (jax.jit(jax.vmap(chunk_fn, in_axes=(0, None, None)), donate_argnums=0),
                jax.jit(jax.vmap(start_fn), donate_argnums=0))
    return jax.jit(chunk_fn, donate_argnums=0), jax.jit(start_fn, donate_argnums=0)


class CompiledLoop:
    """Trains ``agent`` on ``env`` (a JaxEnv) for one seed, or for several seeds at once (``seed`` a list: vmapped).

    Implements the loop contract (offpolicy.loops.contract.Loop): ``on_episode(i, record)`` gets each finished
    episode after its chunk, ``on_step(step, True)`` runs at each chunk end (chunk ends fall on every multiple of
    ``chunk`` and of the ``align`` intervals), where evaluation and checkpoints may run. With one seed nothing is
    vmapped. ``train_freq`` / ``gradient_steps`` as in the host loop.
    """

    def __init__(self, agent: Agent, env: JaxEnv, seed: int | Sequence[int], buffer_size: int, batch_size: int,
                 warmup_steps: int, learning_starts: int, truncation_as_terminal: bool = False,
                 nonfinite: str = "stop", chunk: int = 1000, align: Sequence[int] = (), train_freq: int = 1,
                 gradient_steps: int = 1, n_envs: int = 1):
        self.agent, self.env = agent, env
        self.seeds = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
        self.vmapped = len(self.seeds) > 1
        self.nonfinite = nonfinite
        self.n_envs = n = int(n_envs)
        self.chunk = max(int(chunk) // n, 1) * n  # env steps: whole vector steps
        self.align = [int(a) for a in align if a]  # multiples of n_envs (RunConfig.check)
        self.warmup_steps, self.learning_starts = warmup_steps, learning_starts
        self.train_freq, self.gradient_steps = train_freq, gradient_steps

        self._chunk, start = _programs(agent, env, batch_size, warmup_steps, learning_starts, truncation_as_terminal,
                                       self.chunk // n, train_freq, gradient_steps, n, self.vmapped)
        # The learner's part as the host loop makes it (offpolicy.loops.learner.new_carry: the agent's random
        # initialisation is a program of its own, shared by every run of the network), then the envs' start.
        learner = new_carry(agent, buffer_size, self.seeds, n)
        seeds = seed_array(self.seeds)
        self.carry = start(learner, seeds if self.vmapped else seeds[0])
        self.states = [LoopState() for _ in self.seeds]
        self._metric_names = agent.metric_names
        self.start_up_time = 0.0  # seconds of the chunk that compiled
        self._chunks_run = 0

    # -- views --------------------------------------------------------------------------------------------------------
    def _seed(self, tree: Any, i: int) -> Any:
        return jax.tree.map(lambda x: x[i], tree) if self.vmapped else tree

    def agent_state(self, i: int = 0) -> Any:
        return self._seed(self.carry.learner.agent, i)

    def set_agent_state(self, agent_state: Any) -> None:
        if self.vmapped:
            raise NotImplementedError("set_agent_state on a multi-seed loop")
        self.carry = self.carry.replace(learner=self.carry.learner.replace(agent=agent_state))

    def rejected_updates(self, i: int = 0) -> int:
        return int(np.asarray(jax.device_get(self.carry.learner.bad_updates)).reshape(-1)[i])

    # -- the loop -----------------------------------------------------------------------------------------------------
    def _next_end(self, step: int, end: int) -> int:
        nxt = [end] + [(step // every + 1) * every for every in [self.chunk, *self.align]]
        return min(nxt)

    def run(self, n_steps: int, on_episode: OnEpisode | None = None, on_step: OnStep | None = None) -> None:
        """Advance every seed ``n_steps`` env steps (see the loop contract)."""
        if n_steps % self.n_envs:
            raise ValueError(f"run({n_steps}): the step count must be a multiple of n_envs={self.n_envs} (each "
                             f"vector step takes {self.n_envs} env steps)")
        start = self.states[0].step
        end = start + n_steps
        step = start
        while step < end:
            nxt = self._next_end(step, end)
            length = nxt - step
            # one program serves every chunk length: only the first chunk of the first loop of these settings
            # in this process compiles (see _programs)
            programs = compiled_programs(self._chunk)
            compiles = programs == 0 if programs is not None else self._chunks_run == 0
            self._chunks_run += 1
            tic = time.perf_counter()
            self.carry, out = self._chunk(self.carry, jnp.int32(step), jnp.int32(length // self.n_envs))
            out = jax.device_get(out)  # waits for the chunk: the timing is honest
            elapsed = time.perf_counter() - tic
            iterations = length // self.n_envs
            out = jax.tree.map(lambda x, k=iterations: x[:, :k] if self.vmapped else x[:k], out)  # the steps run
            if compiles:
                self.start_up_time += elapsed
            learning = step + self.n_envs >= self.learning_starts  # every step of the chunk is in the learning phase
            phases = (update_phases(nxt, self.learning_starts, self.train_freq, self.n_envs)
                      - update_phases(step, self.learning_starts, self.train_freq, self.n_envs))
            for i, s in enumerate(self.states):
                s.step = nxt
                s.updates += phases * self.gradient_steps
                if learning and not compiles:
                    s.count_learning(elapsed, length)
                self._emit(i, step, self._seed(out, i), on_episode)
            self._check_finite()
            step = nxt
            if on_step is not None:
                on_step(step, True)

    def _emit(self, i: int, step0: int, out: dict, on_episode: OnEpisode | None) -> None:
        s = self.states[i]
        for k, e in zip(*np.nonzero(out["done"])):  # vector step k of the chunk, env e (in step order, then env order)
            s.episode += 1
            sums = {name: out["sums"][name][k] for name in self._metric_names}
            record = EpisodeRecord(step=step0 + (int(k) + 1) * self.n_envs, episode=s.episode,
                                   episode_return=float(out["episode_return"][k, e]),
                                   episode_length=int(out["episode_length"][k, e]),
                                   metrics=mean_metrics(sums, int(out["count"][k])))
            if on_episode is not None:
                on_episode(i, record)

    def _check_finite(self) -> None:
        if self.nonfinite != "stop":
            return
        bad, first = jax.device_get((self.carry.learner.bad_updates, self.carry.learner.first_bad_step))
        bad, first = np.asarray(bad).reshape(-1), np.asarray(first).reshape(-1)
        for i in np.flatnonzero(bad):
            label = f"seed {self.seeds[i]}, " if self.vmapped else ""
            raise rejected_update_error(label, int(first[i]), self.states[i].episode)

    # -- checkpointing ------------------------------------------------------------------------------------------------
    def host_state(self) -> dict[str, Any]:
        """JSON-safe host state; with the carry (env state included) it resumes exactly at any chunk end."""
        if self.vmapped:
            raise NotImplementedError("training checkpoints of a multi-seed loop")
        return {"loop": dataclasses.asdict(self.states[0])}

    def load_host_state(self, host: dict[str, Any]) -> None:
        self.states[0] = LoopState(**host["loop"])
