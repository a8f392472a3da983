"""Host loop: any Gymnasium env stepped from Python, the agent jitted, one jitted call per env step.

Per env step the loop makes exactly one jitted call. It takes the previous transition packed into a single float32
array (one host->device copy), stores it in the replay buffer, updates the agent when learning has started, resets
per-episode agent state at episode starts, and returns the next action (one device->host copy). The replay buffer and
agent state are donated, so the 100k-transition buffer is written in place rather than copied every step.

Timing (1-based step t = number of transitions stored so far):
  * the action of step t is uniformly random if t <= warmup_steps, else the exploring policy's;
  * after storing transition t, one update runs if t >= learning_starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flax.struct
import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from offpolicy import buffer as rb
from offpolicy.agents.base import Agent
from offpolicy.buffer import Transition
from offpolicy.envs import EpisodeSeeds


@flax.struct.dataclass
class Carry:
    """Everything the jitted step reads and writes (donated every call)."""

    agent: Any
    buffer: rb.ReplayBuffer
    key: jax.Array
    metric_sums: dict[str, jax.Array]  # sums of update metrics since the host last read them
    updates_since: jax.Array  # int32: updates since the host last read the sums


@dataclass
class EpisodeRecord:
    """What the loop reports at the end of each training episode."""

    step: int
    episode: int
    episode_return: float
    episode_length: int
    metrics: dict[str, float]  # means over the updates since the previous record (empty before learning starts)
    updates: int


def _random_actions(agent: Agent, key: jax.Array, n: int) -> jax.Array:
    if agent.spec.discrete:
        return jax.random.randint(key, (n,), 0, agent.spec.n_actions)
    return jax.random.uniform(key, (n, agent.spec.action_dim), minval=-1.0, maxval=1.0)


def init_carry(agent: Agent, buffer_size: int, key: jax.Array, n_envs: int = 1) -> Carry:
    """Fresh agent state and empty buffer from one key."""
    init_key, loop_key = jax.random.split(key)
    spec = agent.spec
    example = Transition(
        obs=jnp.zeros(spec.obs_shape, jnp.float32),
        action=jnp.zeros((), jnp.int32) if spec.discrete else jnp.zeros((spec.action_dim,), jnp.float32),
        reward=jnp.zeros((), jnp.float32),
        next_obs=jnp.zeros(spec.obs_shape, jnp.float32),
        terminated=jnp.zeros((), bool),
        truncated=jnp.zeros((), bool),
    )
    return Carry(
        agent=agent.init(init_key, n_envs),
        buffer=rb.init(buffer_size, example),
        key=loop_key,
        metric_sums={name: jnp.zeros((), jnp.float32) for name in agent.metric_names},
        updates_since=jnp.zeros((), jnp.int32),
    )


class StepFunctions:
    """The jitted per-step functions of one agent (compiled once per static mode)."""

    def __init__(self, agent: Agent, batch_size: int, truncation_as_terminal: bool):
        self.agent = agent
        spec = agent.spec
        self.obs_dim = int(np.prod(spec.obs_shape))
        self.action_width = 1 if spec.discrete else spec.action_dim
        self.batch_size = batch_size
        self.truncation_as_terminal = truncation_as_terminal
        self.step = jax.jit(self._step, static_argnames=("update", "random_action"), donate_argnums=0)
        self.first = jax.jit(self._first, static_argnames=("random_action",), donate_argnums=0)

    # Packed row layout: obs | action | reward | next_obs | terminated | truncated | policy_obs | episode_start
    def pack(self, obs, action, reward, next_obs, terminated, truncated, policy_obs, episode_start) -> np.ndarray:
        n = obs.shape[0]
        return np.concatenate(
            [
                obs.reshape(n, -1),
                np.asarray(action, np.float32).reshape(n, -1),
                np.asarray(reward, np.float32).reshape(n, 1),
                next_obs.reshape(n, -1),
                np.asarray(terminated, np.float32).reshape(n, 1),
                np.asarray(truncated, np.float32).reshape(n, 1),
                policy_obs.reshape(n, -1),
                np.asarray(episode_start, np.float32).reshape(n, 1),
            ],
            axis=1,
            dtype=np.float32,
        )

    def _unpack(self, packed: jax.Array):
        d, a = self.obs_dim, self.action_width
        shape = (packed.shape[0],) + tuple(self.agent.spec.obs_shape)
        cols = np.cumsum([0, d, a, 1, d, 1, 1, d, 1])
        part = [packed[:, cols[i] : cols[i + 1]] for i in range(len(cols) - 1)]
        action = part[1][:, 0].astype(jnp.int32) if self.agent.spec.discrete else part[1]
        terminated = part[4][:, 0] > 0.5
        truncated = part[5][:, 0] > 0.5
        if self.truncation_as_terminal:  # the tutorials' fault, on purpose
            terminated = terminated | truncated
        transition = Transition(
            obs=part[0].reshape(shape), action=action, reward=part[2][:, 0], next_obs=part[3].reshape(shape),
            terminated=terminated, truncated=truncated,
        )
        return transition, part[6].reshape(shape), part[7][:, 0] > 0.5

    def _next_action(self, agent_state, policy_obs, episode_start, key, random_action: bool):
        agent_state = self.agent.reset(agent_state, episode_start)
        if random_action:
            return _random_actions(self.agent, key, policy_obs.shape[0]), agent_state
        return self.agent.act(agent_state, policy_obs, key, explore=True)

    def _first(self, carry: Carry, obs: jax.Array, random_action: bool):
        key, act_key = jax.random.split(carry.key)
        start = jnp.ones(obs.shape[:1], bool)
        action, agent_state = self._next_action(carry.agent, obs, start, act_key, random_action)
        return carry.replace(agent=agent_state, key=key), action

    def _step(self, carry: Carry, packed: jax.Array, update: bool, random_action: bool):
        transition, policy_obs, episode_start = self._unpack(packed)
        buffer = rb.add(carry.buffer, transition)
        key, sample_key, update_key, act_key = jax.random.split(carry.key, 4)
        agent_state, sums, count = carry.agent, carry.metric_sums, carry.updates_since
        if update:
            batch = rb.sample(buffer, sample_key, self.batch_size)
            agent_state, metrics = self.agent.update(agent_state, batch, update_key)
            sums = {k: sums[k] + metrics[k] for k in sums}
            count = count + 1
        action, agent_state = self._next_action(agent_state, policy_obs, episode_start, act_key, random_action)
        carry = Carry(agent=agent_state, buffer=buffer, key=key, metric_sums=sums, updates_since=count)
        return carry, action


@dataclass
class LoopState:
    """Host-side position of the loop (Python values)."""

    step: int = 0
    episode: int = 0
    updates: int = 0
    episode_return: float = 0.0
    episode_length: int = 0
    learn_time: float = 0.0  # seconds spent in steps that ran an update
    learn_steps: int = 0
    history: list[EpisodeRecord] = field(default_factory=list)


class HostLoop:
    """Trains ``agent`` on a Gymnasium env, one env step and one jitted call at a time.

    ``run(n)`` advances n steps and can be called repeatedly (training continues where it stopped).
    """

    def __init__(self, agent: Agent, env: gym.Env, seed: int, buffer_size: int, batch_size: int,
                 warmup_steps: int, learning_starts: int, truncation_as_terminal: bool = False):
        self.agent = agent
        self.env = env
        self.warmup_steps = warmup_steps
        self.learning_starts = learning_starts
        self.fns = StepFunctions(agent, batch_size, truncation_as_terminal)
        self.carry = init_carry(agent, buffer_size, jax.random.key(seed))
        self.seeds = EpisodeSeeds(seed, EpisodeSeeds.TRAIN)
        self.state = LoopState()
        self._obs: np.ndarray | None = None
        self._action: np.ndarray | None = None

    @property
    def agent_state(self) -> Any:
        return self.carry.agent

    def _reset_env(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self.seeds.next())
        return np.asarray(obs, np.float32)[None]  # [1, obs_dim]

    def _read_metrics(self) -> dict[str, float]:
        sums, count = jax.device_get((self.carry.metric_sums, self.carry.updates_since))
        count = int(count)
        if count == 0:
            return {}
        self.carry = self.carry.replace(
            metric_sums={k: jnp.zeros((), jnp.float32) for k in sums}, updates_since=jnp.zeros((), jnp.int32)
        )
        return {k: float(v) / count for k, v in sums.items()}

    def run(self, n_steps: int, on_episode: Callable[[EpisodeRecord], None] | None = None,
            on_step: Callable[[int], None] | None = None) -> None:
        """Advance ``n_steps`` env steps. ``on_episode`` gets each finished episode; ``on_step(step)`` is called
        after every step (the shell decides cheaply whether to evaluate / log)."""
        s = self.state
        if self._obs is None:
            self._obs = self._reset_env()
            self.carry, action = self.fns.first(self.carry, self._obs, random_action=self.warmup_steps >= 1)
            self._action = np.asarray(action)
        env, fns = self.env, self.fns
        discrete = self.agent.spec.discrete
        end = s.step + n_steps
        while s.step < end:
            t = s.step + 1
            tic = time.perf_counter()
            obs, action = self._obs, self._action
            env_action = int(action[0]) if discrete else action[0]
            next_obs, reward, terminated, truncated, _ = env.step(env_action)
            next_obs = np.asarray(next_obs, np.float32)[None]
            s.episode_return += float(reward)
            s.episode_length += 1
            done = terminated or truncated
            policy_obs = self._reset_env() if done else next_obs
            packed = fns.pack(obs, action, reward, next_obs, terminated, truncated, policy_obs, done)
            update = t >= self.learning_starts
            self.carry, next_action = fns.step(self.carry, packed, update=update,
                                               random_action=t + 1 <= self.warmup_steps)
            self._action = np.asarray(next_action)  # waits for the step: the timing below is honest
            if update:  # learning-phase wall time: env step + jitted call, not evaluation or logging
                s.learn_time += time.perf_counter() - tic
                s.learn_steps += 1
                s.updates += 1
            self._obs = policy_obs
            s.step = t
            if done:
                s.episode += 1
                record = EpisodeRecord(step=t, episode=s.episode, episode_return=s.episode_return,
                                       episode_length=s.episode_length, metrics=self._read_metrics(),
                                       updates=s.updates)
                s.history.append(record)
                s.episode_return, s.episode_length = 0.0, 0
                if on_episode is not None:
                    on_episode(record)
            if on_step is not None:
                on_step(t)
