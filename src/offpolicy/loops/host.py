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

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from offpolicy.errors import EnvError, OffpolicyError


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
    """What the loop reports at the end of each training episode."""

    step: int
    episode: int
    episode_return: float
    episode_length: int
    metrics: dict[str, float]  # means over the updates since the previous record (empty before learning starts)


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
        bad_updates=jnp.zeros((), jnp.int32),
        first_bad_step=jnp.full((), -1, jnp.int32),
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
        self.step = jax.jit(self._step, static_argnames=("update", "random_action", "store"), donate_argnums=0)
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

    def _first(self, carry: Carry, obs: jax.Array, random_action: bool):
        return first_action(self.agent, carry, obs, random_action)

    def _step(self, carry: Carry, packed: jax.Array, t: jax.Array, update: bool, random_action: bool,
              store: bool = True):
        transition, policy_obs, episode_start = self._unpack(packed)
        return learner_step(self.agent, self.batch_size, carry, transition, policy_obs, episode_start, t,
                            update=update, random_action=random_action, store=store)


# -- the learner's side of one env step, shared by the host and the compiled loop ----------------------------------------
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


def first_action(agent: Agent, carry: Carry, obs: jax.Array, random_action) -> tuple[Carry, jax.Array]:
    """The action for the first observation of training."""
    key, act_key = jax.random.split(carry.key)
    start = jnp.ones(obs.shape[:1], bool)
    action, agent_state = _next_action(agent, carry.agent, obs, start, act_key, random_action)
    return carry.replace(agent=agent_state, key=key), action


def learner_step(agent: Agent, batch_size: int, carry: Carry, transition: Transition, policy_obs: jax.Array,
                 episode_start: jax.Array, t: jax.Array, update, random_action, store: bool = True):
    """Store ``transition`` (step t), update the agent once if ``update``, and choose the next action.

    ``update`` / ``random_action`` are Python bools (the host loop compiles one variant per phase) or traced bools
    (the compiled loop decides per step with ``lax.cond``); both give the same numbers for the same inputs.
    Returns (carry, action for ``policy_obs``).
    """
    buffer = rb.add(carry.buffer, transition) if store else carry.buffer
    key, sample_key, update_key, act_key = jax.random.split(carry.key, 4)
    learner = (carry.agent, carry.metric_sums, carry.updates_since, carry.bad_updates, carry.first_bad_step)

    def do_update(learner):
        agent_state, sums, count, bad, first_bad = learner
        batch = rb.sample(buffer, sample_key, batch_size)
        new_state, metrics = agent.update(agent_state, batch, update_key)
        # A NaN/inf loss or parameter rejects the update: the state stays the last good one.
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves((new_state, metrics))
                                    if jnp.issubdtype(x.dtype, jnp.floating)]))
        agent_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, agent_state)
        sums = {k: sums[k] + jnp.where(finite, metrics[k], 0.0) for k in sums}
        count = count + finite.astype(jnp.int32)
        first_bad = jnp.where(finite | (first_bad >= 0), first_bad, t)
        bad = bad + (~finite).astype(jnp.int32)
        return agent_state, sums, count, bad, first_bad

    if isinstance(update, bool):
        if update:
            learner = do_update(learner)
    else:
        learner = jax.lax.cond(update, do_update, lambda learner: learner, learner)
    agent_state, sums, count, bad, first_bad = learner
    action, agent_state = _next_action(agent, agent_state, policy_obs, episode_start, act_key, random_action)
    carry = Carry(agent=agent_state, buffer=buffer, key=key, metric_sums=sums, updates_since=count,
                  bad_updates=bad, first_bad_step=first_bad)
    return carry, action


@dataclass
class LoopState:
    """Host-side position of the loop (plain Python values; saved in training checkpoints)."""

    step: int = 0
    episode: int = 0
    updates: int = 0
    episode_return: float = 0.0
    episode_length: int = 0
    episode_seed: int = -1  # reset seed of the current episode
    learn_time: float = 0.0  # seconds spent in learning-phase steps (env step + jitted call)
    learn_steps: int = 0
    skipped_transitions: int = 0  # non-finite transitions dropped with nonfinite="skip"


class NonFiniteError(OffpolicyError):
    """An observation, reward, loss or parameter became NaN or inf."""

    def __init__(self, message: str, step: int, episode: int, quantity: str):
        super().__init__(message)
        self.step, self.episode, self.quantity = step, episode, quantity


class SeedEnv:
    """One seed's Gymnasium env, episode-seed stream and counters: resetting and stepping the env with checks and
    clear errors, and the episode bookkeeping. HostLoop is one; the multi-seed host loop holds one per seed.

    ``label`` prefixes error messages ("seed 4, " in a multi-seed run). ``nonfinite``: see HostLoop."""

    SKIP_SUPPORTED = False  # nonfinite=skip (only HostLoop, one seed, supports it)

    def __init__(self, agent: Agent, env: gym.Env, seed: int, env_id: str = "env", nonfinite: str = "stop",
                 label: str = ""):
        self.agent, self.env, self.env_id = agent, env, env_id
        self.nonfinite, self.label = nonfinite, label
        self.seeds = EpisodeSeeds(seed, EpisodeSeeds.TRAIN)
        self.state = LoopState()

    def _reset_env(self) -> np.ndarray:
        self.state.episode_seed = self.seeds.next()
        return self._reset_with(self.state.episode_seed)

    def _reset_with(self, seed: int) -> np.ndarray:
        result = self.env.reset(seed=seed)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise EnvError(f"{self.env_id}: reset() must return (obs, info) as in Gymnasium; it returned "
                           f"{type(result).__name__}. Port the env to the Gymnasium API (or wrap it with shimmy).")
        return self._check_obs(result[0], "reset")

    def _check_obs(self, obs: Any, where: str) -> np.ndarray:
        obs = np.asarray(obs, np.float32)
        if obs.shape != tuple(self.agent.spec.obs_shape):
            raise EnvError(f"{self.env_id}: {where} returned an observation of shape {obs.shape} at step "
                           f"{self.state.step}, but the observation space has shape {tuple(self.agent.spec.obs_shape)}.")
        return obs[None]  # [1, *obs_shape]

    def _step_env(self, env_action):
        try:
            result = self.env.step(env_action)
        except ValueError as exc:  # Gymnasium's wrappers unpack 5 values from an old-API env's 4
            if "values to unpack (expected 5, got 4)" not in str(exc):
                raise
            result = (None,) * 4
        if not (isinstance(result, tuple) and len(result) == 5):
            n = len(result) if isinstance(result, tuple) else type(result).__name__
            raise EnvError(
                f"{self.env_id}: step() returned {n} values; Gymnasium envs return 5 (obs, reward, terminated, "
                "truncated, info). This looks like the old gym API (obs, reward, done, info): port the env, or "
                "wrap it with shimmy's GymV21CompatibilityV0."
            )
        return result

    def _env_transition(self, action: np.ndarray, t: int):
        """Step the env with the policy's ``action`` (step ``t``), check what comes back, count it into the episode,
        and reset the env at an episode end. Returns ``(next_obs, reward, terminated, truncated, policy_obs, done,
        store)``; ``policy_obs`` is what the policy sees next (the new episode's first observation after a reset).
        A NaN/inf observation or reward raises NonFiniteError (nonfinite="stop") or is dropped, ending the episode,
        with ``store`` False (nonfinite="skip")."""
        s = self.state
        next_obs, reward, terminated, truncated, _ = self._step_env(
            int(action[0]) if self.agent.spec.discrete else action[0])
        next_obs = self._check_obs(next_obs, "step")
        reward = float(reward)
        store = True
        if not (math.isfinite(reward) and np.isfinite(next_obs).all()):
            quantity = "reward" if not math.isfinite(reward) else "observation"
            if self.nonfinite == "stop":
                hint = ", or set nonfinite=skip to drop such transitions" if self.SKIP_SUPPORTED else ""
                raise NonFiniteError(
                    f"{self.label}step {t} (episode {s.episode + 1}): the env returned a NaN/inf {quantity}. Fix the "
                    f"env{hint}.", step=t, episode=s.episode + 1, quantity=quantity)
            store, truncated, reward = False, True, 0.0  # drop it and start a new episode
            next_obs = np.nan_to_num(next_obs)
            s.skipped_transitions += 1
        s.episode_return += reward
        s.episode_length += 1
        done = bool(terminated or truncated)
        policy_obs = self._reset_env() if done else next_obs
        return next_obs, reward, terminated, truncated, policy_obs, done, store

    def _end_episode(self, t: int, read_metrics: Callable[[], dict[str, float]]) -> EpisodeRecord:
        """Close the episode that ended at step ``t``: its record (with the update metrics averaged over it, read
        after the episode count moved on), and fresh counters."""
        s = self.state
        s.episode += 1
        record = EpisodeRecord(step=t, episode=s.episode, episode_return=s.episode_return,
                               episode_length=s.episode_length, metrics=read_metrics())
        s.episode_return, s.episode_length = 0.0, 0
        return record


class HostLoop(SeedEnv):
    """Trains ``agent`` on a Gymnasium env, one env step and one jitted call at a time.

    ``run(n)`` advances n steps and can be called repeatedly (training continues where it stopped).
    ``nonfinite``: "stop" raises NonFiniteError at a NaN/inf observation or reward (and at the end of an episode in
    which an update was rejected for a NaN/inf loss or parameter); "skip" drops such transitions (cutting the
    episode) and keeps rejecting bad updates.
    """

    SKIP_SUPPORTED = True

    def __init__(self, agent: Agent, env: gym.Env, seed: int, buffer_size: int, batch_size: int,
                 warmup_steps: int, learning_starts: int, truncation_as_terminal: bool = False,
                 nonfinite: str = "stop", env_id: str = "env"):
        super().__init__(agent, env, seed, env_id, nonfinite)
        self.warmup_steps = warmup_steps
        self.learning_starts = learning_starts
        self.fns = StepFunctions(agent, batch_size, truncation_as_terminal)
        self.carry = init_carry(agent, buffer_size, jax.random.key(seed))
        self._obs: np.ndarray | None = None
        self._action: np.ndarray | None = None

    @property
    def agent_state(self) -> Any:
        return self.carry.agent

    def set_agent_state(self, agent_state: Any) -> None:
        self.carry = self.carry.replace(agent=agent_state)

    @property
    def rejected_updates(self) -> int:
        return int(self.carry.bad_updates)

    def _read_metrics(self) -> dict[str, float]:
        sums, count, bad, first_bad = jax.device_get((self.carry.metric_sums, self.carry.updates_since,
                                                      self.carry.bad_updates, self.carry.first_bad_step))
        if int(bad) and self.nonfinite == "stop":
            raise NonFiniteError(
                f"step {int(first_bad)} (episode {self.state.episode}): a loss or parameter became NaN/inf; the "
                "update was rejected and the agent keeps its last good state. Lower the learning rates, check the "
                "reward scale, or set nonfinite=skip to keep training past such updates.",
                step=int(first_bad), episode=self.state.episode, quantity="loss/parameters",
            )
        count = int(count)
        if count == 0:
            return {}
        self.carry = self.carry.replace(
            metric_sums={k: jnp.zeros((), jnp.float32) for k in sums}, updates_since=jnp.zeros((), jnp.int32)
        )
        return {k: float(v) / count for k, v in sums.items()}

    # -- the loop -----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """First reset and first action (done lazily by ``run``)."""
        if self._obs is None:
            self._obs = self._reset_env()
            self.carry, action = self.fns.first(self.carry, self._obs, random_action=self.warmup_steps >= 1)
            self._action = np.asarray(action)

    def run(self, n_steps: int, on_episode: Callable[[EpisodeRecord], None] | None = None,
            on_step: Callable[[int, bool], None] | None = None) -> None:
        """Advance ``n_steps`` env steps. ``on_episode`` gets each finished episode; ``on_step(step, episode_done)``
        is called after every step (the shell decides cheaply whether to evaluate, log or checkpoint)."""
        self.start()
        s = self.state
        fns = self.fns
        end = s.step + n_steps
        while s.step < end:
            t = s.step + 1
            tic = time.perf_counter()
            obs, action = self._obs, self._action
            next_obs, reward, terminated, truncated, policy_obs, done, store = self._env_transition(action, t)
            packed = fns.pack(obs, action, reward, next_obs, terminated, truncated, policy_obs, done)
            update = t >= self.learning_starts
            self.carry, next_action = fns.step(self.carry, packed, np.int32(t), update=update,
                                               random_action=t + 1 <= self.warmup_steps, store=store)
            self._action = np.asarray(next_action)  # waits for the step: the timing below is honest
            if update:  # learning-phase wall time: env step + jitted call, not evaluation or logging
                if s.updates > 0:  # the first learning step compiles the update: not counted
                    s.learn_time += time.perf_counter() - tic
                    s.learn_steps += 1
                s.updates += 1
            self._obs = policy_obs
            s.step = t
            if done:
                record = self._end_episode(t, self._read_metrics)
                if on_episode is not None:
                    on_episode(record)
            if on_step is not None:
                on_step(t, done)

    # -- checkpointing ------------------------------------------------------------------------------------------------
    def host_state(self) -> dict[str, Any]:
        """JSON-safe host state. Exact resume needs it taken at an episode boundary (right after a reset)."""
        if self.state.episode_length != 0:
            raise RuntimeError("host_state() must be taken at an episode boundary")
        return {
            "loop": dataclasses.asdict(self.state),
            "seed_stream": self.seeds.get_state(),
            "obs": None if self._obs is None else self._obs.tolist(),
            "action": None if self._action is None else self._action.tolist(),
        }

    def load_host_state(self, host: dict[str, Any]) -> None:
        """Restore ``host_state()`` output: counters, seed stream, and the env reset to the episode's seed."""
        self.state = LoopState(**host["loop"])
        self.seeds.set_state(host["seed_stream"])
        if host["obs"] is None:
            return
        obs = self._reset_with(self.state.episode_seed)
        saved = np.asarray(host["obs"], np.float32)
        if not np.array_equal(obs, saved):
            raise EnvError(f"{self.env_id}: resetting with the saved episode seed gives a different observation "
                           "than when the checkpoint was taken; the env is not deterministic under seeding, so the "
                           "run cannot be resumed exactly.")
        self._obs = obs
        self._action = np.asarray(host["action"], np.int32 if self.agent.spec.discrete else np.float32)
