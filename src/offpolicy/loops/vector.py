"""Many seeds on the host loop: one Gymnasium env per seed, all agents in one vmapped jitted call per env step.

Seed i has its own env (reset with seed i's per-episode seed stream), agent, replay buffer and keys, exactly as a
single ``HostLoop`` with seed i: the per-seed step is the host loop's own ``StepFunctions._step``, vmapped. Every seed
takes one env step per iteration, so the phase (warm-up, learning) is the same for all of them. The envs are stepped
one after another in Python; what is shared is the jitted call (one dispatch and one host<->device copy per step for
all seeds instead of one per seed).

Supports nonfinite="stop" only (a NaN/inf observation or reward stops the run, naming the seed); training
checkpoints of a multi-seed run are not supported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from offpolicy.agents.base import Agent
from offpolicy.errors import ConfigError
from offpolicy.loops.host import EpisodeRecord, LoopState, NonFiniteError, SeedEnv, StepFunctions, init_carry


class VectorHostLoop:
    """``HostLoop`` for several seeds at once; ``on_episode(i, record)`` gets seed i's finished episodes."""

    def __init__(self, agent: Agent, envs: Sequence[gym.Env], seeds: Sequence[int], buffer_size: int,
                 batch_size: int, warmup_steps: int, learning_starts: int, truncation_as_terminal: bool = False,
                 nonfinite: str = "stop", env_id: str = "env"):
        if nonfinite != "stop":
            raise ConfigError("nonfinite=skip with several seeds on the host loop is not supported; use "
                              "nonfinite=stop, or run the seeds one at a time.")
        if len(envs) != len(seeds):
            raise ValueError("one env per seed")
        self.agent, self.envs, self.seeds = agent, list(envs), [int(s) for s in seeds]
        self.warmup_steps, self.learning_starts = warmup_steps, learning_starts
        fns = StepFunctions(agent, batch_size, truncation_as_terminal)
        self.fns = fns

        def vstep(carry, packed, t, update, random_action):
            return jax.vmap(lambda c, p: fns._step(c, p, t, update, random_action, True))(carry, packed)

        def vfirst(carry, obs, random_action):
            return jax.vmap(lambda c, o: fns._first(c, o, random_action))(carry, obs)

        self._step = jax.jit(vstep, static_argnames=("update", "random_action"), donate_argnums=0)
        self._first = jax.jit(vfirst, static_argnames=("random_action",), donate_argnums=0)
        self._init = jax.jit(jax.vmap(lambda key: init_carry(agent, buffer_size, key)))
        self.carry = self._init(jax.vmap(jax.random.key)(jnp.asarray(self.seeds, jnp.int32)))
        self._singles = [SeedEnv(agent, env, seed, env_id, label=f"seed {seed}, ")
                         for env, seed in zip(self.envs, self.seeds)]
        self.states = [s.state for s in self._singles]
        self._obs: np.ndarray | None = None
        self._action: np.ndarray | None = None

    # -- views (the same as CompiledLoop's) ------------------------------------------------------------------------------
    @property
    def state(self) -> LoopState:
        return self.states[0]

    def agent_state_of(self, i: int) -> Any:
        return jax.tree.map(lambda x: x[i], self.carry.agent)

    def rejected_updates_of(self, i: int) -> int:
        return int(np.asarray(jax.device_get(self.carry.bad_updates))[i])

    def seed_view(self, i: int):
        from offpolicy.loops.compiled import SeedView

        return SeedView(self, i)

    # -- the loop -----------------------------------------------------------------------------------------------------
    def _read_metrics(self, i: int) -> dict[str, float]:
        sums, count, bad, first_bad = jax.device_get((self.carry.metric_sums, self.carry.updates_since,
                                                      self.carry.bad_updates, self.carry.first_bad_step))
        if int(bad[i]):
            raise NonFiniteError(
                f"seed {self.seeds[i]}, step {int(first_bad[i])}: a loss or parameter became NaN/inf; the update "
                "was rejected. Lower the learning rates or check the reward scale.",
                step=int(first_bad[i]), episode=self.states[i].episode, quantity="loss/parameters")
        n = int(count[i])
        if n == 0:
            return {}
        self.carry = self.carry.replace(
            metric_sums={k: v.at[i].set(0.0) for k, v in self.carry.metric_sums.items()},
            updates_since=self.carry.updates_since.at[i].set(0),
        )
        return {k: float(v[i]) / n for k, v in sums.items()}

    def start(self) -> None:
        if self._obs is None:
            obs = np.stack([single._reset_env() for single in self._singles])  # [N, 1, *obs_shape]
            self.carry, action = self._first(self.carry, obs, random_action=self.warmup_steps >= 1)
            self._obs, self._action = obs, np.asarray(action)

    def run(self, n_steps: int, on_episode: Callable[[int, EpisodeRecord], None] | None = None,
            on_step: Callable[[int, bool], None] | None = None) -> None:
        """Advance every seed ``n_steps`` env steps; ``on_step(step, all_at_episode_start)`` after each step."""
        self.start()
        end = self.states[0].step + n_steps
        while self.states[0].step < end:
            t = self.states[0].step + 1
            tic = time.perf_counter()
            rows, policy_obs, done_any = [], [], []
            for i, single in enumerate(self._singles):
                obs, action = self._obs[i], self._action[i]
                next_obs, reward, terminated, truncated, p_obs, done, _ = single._env_transition(action, t)
                rows.append(self.fns.pack(obs, action, reward, next_obs, terminated, truncated, p_obs, done))
                policy_obs.append(p_obs)
                done_any.append(done)
            update = t >= self.learning_starts
            self.carry, next_action = self._step(self.carry, np.stack(rows), np.int32(t), update=update,
                                                 random_action=t + 1 <= self.warmup_steps)
            self._action = np.asarray(next_action)
            elapsed = time.perf_counter() - tic
            self._obs = np.stack(policy_obs)
            for i, (single, s) in enumerate(zip(self._singles, self.states)):
                if update:
                    if s.updates > 0:
                        s.learn_time += elapsed
                        s.learn_steps += 1
                    s.updates += 1
                s.step = t
                if done_any[i]:
                    record = single._end_episode(t, lambda i=i: self._read_metrics(i))
                    if on_episode is not None:
                        on_episode(i, record)
            if on_step is not None:
                on_step(t, all(done_any))
