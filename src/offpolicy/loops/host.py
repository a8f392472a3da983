"""Host loop: any Gymnasium env stepped from Python, the agent jitted, one or two jitted calls per step, 1..N seeds,
1..n envs per seed.

Per (vector) step the loop makes one jitted call, two at the steps that update. They take the previous transition
packed into a single float32 row (one host->device copy), store it in the replay buffer, run an update phase
(``gradient_steps`` updates) after every ``train_freq``-th step once learning has started, reset per-episode agent
state at episode starts, and return the next action (one device->host copy). The replay buffer and agent state are
donated, so the buffer is written in place rather than copied every step. At a step that updates, the write is its
own call: in one program with the minibatch gather, XLA fuses the write into the gather, which then reads the old
buffer arrays while the write updates them in place, so it copies whole arrays every step, a cost that grows with
the capacity (10 ms a step at 1M transitions). Two calls leave each array with one reader or one in-place writer: no
copy, and the same numbers.

The warm-up (the steps before min(warmup_steps, learning_starts)) needs no call per step: its actions are uniformly
random, drawn from the carry's key alone, and nothing updates. The loop draws the actions of WARMUP_BLOCK steps in
one call (``random_action_block``), steps the envs with them, and keeps the steps' rows until the carry is read (an
evaluation, a checkpoint, the end of the block or of the warm-up), then stores them in one call
(``store_random_steps``): the same carry, bit for bit, as one call per step, at a fraction of the cost.

Several envs per seed (``n_envs``): each iteration is a vector step, one step of each env (GymDrivers sharing the
seed's episode-seed stream, reset in env order as episodes end), packed into n_envs rows of one call: the replay
buffer stores the n_envs transitions in env order, and the agent acts on the n_envs observations at once.

Several seeds: seed i has its own envs, agent, replay buffer and keys, exactly as a one-seed loop with seed i; the
per-seed step is vmapped, so all seeds share one jitted call per vector step. Every seed takes one vector step per
iteration, so the phase (warm-up, learning) is the same for all. With one seed nothing is vmapped (a vmap over one
seed could change XLA's summation order, and so the numbers).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from offpolicy import buffer as rb
from offpolicy.agents.base import Agent
from offpolicy.buffer import Transition
from offpolicy.envs import EpisodeSeeds
from offpolicy.errors import ConfigError, EnvError
from offpolicy.loops.contract import OnEpisode, OnStep
from offpolicy.loops.gym_driver import EpisodeState, GymDriver
from offpolicy.loops.learner import (
    LoopState,
    compiled_programs,
    first_action,
    is_update_step,
    learner_step,
    mean_metrics,
    new_carry,
    random_action_block,
    rejected_update_error,
    store_random_steps,
)

WARMUP_BLOCK = 256
"""Warm-up vector steps whose random actions are drawn in one call and stored in one (see HostLoop)."""


class HostStep:
    """The jitted per-step functions of one agent, fed one packed float32 row per seed: one program for the steps
    that do not update (update=False), one for those that do (``gradient_steps`` updates each), and the store.

    Row layout: obs | action | reward | next_obs | terminated | truncated | policy_obs | episode_start.
    ``vmapped``: the functions take [N, 1, width] rows and a carry with a leading seed axis."""

    def __init__(self, agent: Agent, batch_size: int, truncation_as_terminal: bool, vmapped: bool = False,
                 gradient_steps: int = 1):
        self.agent = agent
        self.gradient_steps = gradient_steps
        spec = agent.spec
        self.obs_dim = int(np.prod(spec.obs_shape))
        self.action_width = 1 if spec.discrete else spec.action_dim
        self.batch_size = batch_size
        self.truncation_as_terminal = truncation_as_terminal
        if vmapped:
            def vstep(carry, packed, t, update, random_action, store=True):
                return jax.vmap(lambda c, p: self._step(c, p, t, update, random_action, store))(carry, packed)

            def vfirst(carry, obs, random_action):
                return jax.vmap(lambda c, o: self._first(c, o, random_action))(carry, obs)

            step_fn, first_fn, store_fn = vstep, vfirst, jax.vmap(self._store)
            block_fn = jax.vmap(self._random_block, in_axes=(0, None))
            store_block_fn = jax.vmap(self._store_block, in_axes=(0, 0, None))
        else:
            step_fn, first_fn, store_fn = self._step, self._first, self._store
            block_fn, store_block_fn = self._random_block, self._store_block
        # ``random_action`` is traced (a lax.cond inside, as in the compiled loop): one program per value of
        # ``update``, not one more for the steps that update while the actions are still random.
        self._step_jit = jax.jit(step_fn, static_argnames=("update", "store"), donate_argnums=0)
        self._store_jit = jax.jit(store_fn, donate_argnums=0)
        self.first = jax.jit(first_fn, static_argnames=("random_action",), donate_argnums=0)
        # the warm-up's: (key, n_envs) -> actions [(seed,) WARMUP_BLOCK, n_envs, ...]; (carry, rows [(seed,)
        # WARMUP_BLOCK, n_envs, width], count) -> carry
        self.random_block = jax.jit(block_fn, static_argnums=1)
        self.store_block = jax.jit(store_block_fn, donate_argnums=0)

    @staticmethod
    @functools.lru_cache(maxsize=32)
    def shared(agent: Agent, batch_size: int, truncation_as_terminal: bool, vmapped: bool = False,
               gradient_steps: int = 1) -> HostStep:
        """One HostStep per set of arguments in a process (make_agent gives the same agent for the same config): a
        second loop of the same run settings reuses its traced and compiled programs."""
        return HostStep(agent, batch_size, truncation_as_terminal, vmapped, gradient_steps)

    def step(self, carry, packed, t, update: bool, random_action: bool, store: bool = True):
        """One env step's learner work (store, update phase if ``update``, next action): returns (carry, action).
        With an update the store is a call of its own (see the module docstring); otherwise one call does it all."""
        if update and store:
            carry = carry.replace(buffer=self._store_jit(carry.buffer, packed))
            store = False
        return self._step_jit(carry, packed, t, update=update, random_action=np.bool_(random_action), store=store)

    def cache_size(self) -> int | None:
        """How many programs the per-step functions have compiled (step without update, step with, store, and the
        warm-up's random-action block and block store); None on a JAX that does not say (see compiled_programs)."""
        counts = [compiled_programs(f) for f in (self._step_jit, self._store_jit, self.random_block, self.store_block)]
        return sum(counts) if None not in counts else None

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

    def _first(self, carry, obs: jax.Array, random_action: bool):
        return first_action(self.agent, carry, obs, random_action)

    def _store(self, buffer: rb.ReplayBuffer, packed: jax.Array) -> rb.ReplayBuffer:
        return rb.add(buffer, self._unpack(packed)[0])

    def _random_block(self, key: jax.Array, n: int) -> jax.Array:
        return random_action_block(self.agent, key, n, WARMUP_BLOCK)

    def _store_block(self, carry, packed: jax.Array, count: jax.Array):
        transitions, _, episode_starts = jax.vmap(self._unpack)(packed)
        return store_random_steps(self.agent, carry, transitions, episode_starts, count)

    def _step(self, carry, packed: jax.Array, t: jax.Array, update: bool, random_action: bool, store: bool = True):
        transition, policy_obs, episode_start = self._unpack(packed)
        return learner_step(self.agent, self.batch_size, carry, transition, policy_obs, episode_start, t,
                            update=update, random_action=random_action, store=store,
                            gradient_steps=self.gradient_steps)


class HostLoop:
    """Trains ``agent`` on Gymnasium envs, one vector step and one jitted call at a time, for one seed or several,
    with ``n_envs`` envs per seed.

    ``env`` / ``seed``: one env and one seed, or the envs (``n_envs`` per seed, seed by seed) and the seeds. Each
    vector step takes one step in each of a seed's envs, one after the other in index order (as Gymnasium's
    SyncVectorEnv does), and stores their transitions in env order. ``train_freq`` / ``gradient_steps``: an update
    phase of ``gradient_steps`` updates after every ``train_freq``-th vector step from ``learning_starts`` env steps
    on (offpolicy.loops.learner.is_update_step). Implements the loop contract (offpolicy.loops.contract.Loop);
    ``on_step(step, resumable)`` is called after every vector step, ``resumable`` when every seed has an env whose
    episode has just ended (``host_state`` is exact after any step; these are the points periodic checkpoints wait
    for). ``nonfinite``: "stop" raises NonFiniteError at a NaN/inf observation or reward (and at the end of an
    episode in which an update was rejected for a NaN/inf loss or parameter); "skip" (one seed, one env) drops such
    transitions, cutting the episode, and keeps rejecting bad updates.
    """

    block_warmup = True
    """Take the warm-up (the steps before min(warmup_steps, learning_starts): random actions, no update) in blocks:
    the actions of WARMUP_BLOCK steps drawn in one call, the steps stored in one call when the carry is next read.
    False: one step call per warm-up step, as after it. The numbers are the same either way (tested)."""

    def __init__(self, agent: Agent, env: gym.Env | Sequence[gym.Env], seed: int | Sequence[int], buffer_size: int,
                 batch_size: int, warmup_steps: int, learning_starts: int, truncation_as_terminal: bool = False,
                 nonfinite: str = "stop", env_id: str = "env", align: Sequence[int] = (), train_freq: int = 1,
                 gradient_steps: int = 1, n_envs: int = 1):
        # ``align`` is accepted for the contract's sake: on_step runs after every vector step, and the step counts
        # the trainer aligns to are multiples of n_envs (RunConfig.check).
        envs = list(env) if isinstance(env, (list, tuple)) else [env]
        self.seeds = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
        self.n_envs = int(n_envs)
        if len(envs) != len(self.seeds) * self.n_envs:
            raise ValueError(f"HostLoop: {len(envs)} envs for {len(self.seeds)} seeds x {self.n_envs} envs each; "
                             "give n_envs envs per seed.")
        self.vmapped = len(self.seeds) > 1
        if (self.vmapped or self.n_envs > 1) and nonfinite != "stop":
            raise ConfigError("nonfinite=skip with several seeds or n_envs > 1 on the host loop is not supported; "
                              "use nonfinite=stop, or run one seed with one env.")
        self.agent, self.envs = agent, envs
        self.nonfinite = nonfinite
        self.warmup_steps, self.learning_starts = warmup_steps, learning_starts
        self.train_freq, self.gradient_steps = train_freq, gradient_steps
        self.fns = HostStep.shared(agent, batch_size, truncation_as_terminal, self.vmapped, gradient_steps)
        n = self.n_envs
        self._carry = new_carry(agent, buffer_size, self.seeds, n)
        # Warm-up (the steps before min(warmup_steps, learning_starts)): random actions and no update, so the actions
        # are drawn ahead in blocks and the steps' rows wait in ``_pending`` to be stored in one call (``carry``).
        self._random_until = min(warmup_steps, learning_starts) if self.block_warmup else 0
        self._pending: list[np.ndarray] = []
        self._block: np.ndarray | None = None  # the current block of random actions, used up to ``_block_used``
        self._block_used = 0
        self._states = [LoopState() for _ in self.seeds]
        self._streams = [EpisodeSeeds(s, EpisodeSeeds.TRAIN) for s in self.seeds]
        self.drivers = [  # drivers[i][j]: env j of seed i
            [GymDriver(agent.spec, envs[i * n + j], self._streams[i], self._states[i], env_id, nonfinite,
                       label=(f"seed {s}, " if self.vmapped else "") + (f"env {j}, " if n > 1 else ""),
                       skip_hint=not (self.vmapped or n > 1))
             for j in range(n)]
            for i, s in enumerate(self.seeds)]
        self._obs: list[np.ndarray] | None = None  # per seed, [n_envs, *obs_shape]: what the pending actions were for
        self._action: list[np.ndarray] | None = None  # per seed, [n_envs, ...]: the pending actions
        self.start_up_time = 0.0
        self._called: set[bool] = set()  # values of ``update`` the step has run with (the first call compiles)

    # -- views --------------------------------------------------------------------------------------------------------
    @property
    def carry(self):
        """The learner's carry (offpolicy.loops.learner.Carry) with every step taken so far stored in it."""
        if self._pending:
            self._store_pending()
        return self._carry

    @carry.setter
    def carry(self, carry) -> None:
        if self._pending:
            raise RuntimeError("HostLoop.carry set while warm-up steps wait to be stored; read it first")
        self._carry = carry

    @property
    def states(self) -> list[LoopState]:
        return self._states

    def _seed(self, tree: Any, i: int) -> Any:
        return jax.tree.map(lambda x: x[i], tree) if self.vmapped else tree

    def agent_state(self, i: int = 0) -> Any:
        return self._seed(self.carry.agent, i)

    def set_agent_state(self, agent_state: Any) -> None:
        if self.vmapped:
            raise NotImplementedError("set_agent_state on a multi-seed loop")
        self.carry = self.carry.replace(agent=agent_state)

    def rejected_updates(self, i: int = 0) -> int:
        return int(np.asarray(jax.device_get(self.carry.bad_updates)).reshape(-1)[i])

    def _read_metrics(self, i: int) -> dict[str, float]:
        c = self._carry  # warm-up steps waiting to be stored change none of these
        sums, count, bad, first_bad = jax.device_get((c.metric_sums, c.updates_since, c.bad_updates,
                                                      c.first_bad_step))
        sums = self._seed(sums, i)
        count, bad, first_bad = (int(np.asarray(x).reshape(-1)[i]) for x in (count, bad, first_bad))
        if bad and self.nonfinite == "stop":
            raise rejected_update_error(f"seed {self.seeds[i]}, " if self.vmapped else "", first_bad,
                                        self._states[i].episode)
        if count == 0:
            return {}
        if self.vmapped:
            self.carry = self.carry.replace(
                metric_sums={k: v.at[i].set(0.0) for k, v in self.carry.metric_sums.items()},
                updates_since=self.carry.updates_since.at[i].set(0))
        else:
            self.carry = self.carry.replace(
                metric_sums={k: jnp.zeros((), jnp.float32) for k in sums}, updates_since=jnp.zeros((), jnp.int32))
        return mean_metrics(sums, count)

    # -- the loop -----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """First reset and first actions of every seed's envs (done lazily by ``run``)."""
        if self._obs is not None:
            return
        obs = [np.concatenate([d.reset_episode() for d in drivers]) for drivers in self.drivers]
        first = np.stack(obs) if self.vmapped else obs[0]
        self.carry, action = self.fns.first(self.carry, first, random_action=self.warmup_steps >= 1)
        self._obs, self._action = obs, self._split(action)

    def _split(self, action: jax.Array) -> list[np.ndarray]:
        action = np.asarray(action)  # waits for the step
        return list(action) if self.vmapped else [action]

    def _next_random_action(self) -> list[np.ndarray]:
        """The random actions (per seed) that follow the warm-up step about to be stored, from a block drawn from
        the carry's key once the steps before are stored (at most WARMUP_BLOCK wait: one per action of the block)."""
        if self._block is None or self._block_used == WARMUP_BLOCK:
            self._block = np.asarray(self.fns.random_block(self.carry.key, self.n_envs))  # stores what waits first
            self._block_used = 0
        k, self._block_used = self._block_used, self._block_used + 1
        return list(self._block[:, k]) if self.vmapped else [self._block[k]]

    def _store_pending(self) -> None:
        """Store the warm-up steps that wait, in one call: the carry then equals that of one step call each."""
        count = len(self._pending)
        rows = np.stack(self._pending, axis=1 if self.vmapped else 0)  # [(seed,) step, n_envs, width]
        pad = [(0, 0)] * rows.ndim
        pad[1 if self.vmapped else 0] = (0, WARMUP_BLOCK - count)
        self._pending = []
        self._carry = self.fns.store_block(self._carry, np.pad(rows, pad), np.int32(count))

    def run(self, n_steps: int, on_episode: OnEpisode | None = None, on_step: OnStep | None = None) -> None:
        """Advance every seed ``n_steps`` env steps, ``n_steps / n_envs`` vector steps (see the loop contract)."""
        if n_steps % self.n_envs:
            raise ValueError(f"run({n_steps}): the step count must be a multiple of n_envs={self.n_envs} (each "
                             f"vector step takes {self.n_envs} env steps)")
        self.start()
        fns, states, n = self.fns, self._states, self.n_envs
        end = states[0].step + n_steps
        while states[0].step < end:
            t = states[0].step + n  # env steps after this vector step
            tic = time.perf_counter()
            rows, dones, stores, policy_obs = [], [], [], []
            for i, drivers in enumerate(self.drivers):
                obs, action = self._obs[i], self._action[i]
                steps = [d.transition(action[j : j + 1], t) for j, d in enumerate(drivers)]
                next_obs, reward, terminated, truncated, p_obs, done, store = (list(x) for x in zip(*steps))
                p_obs = np.concatenate(p_obs)
                rows.append(fns.pack(obs, action, reward, np.concatenate(next_obs), terminated, truncated, p_obs,
                                     done))
                dones.append(done)
                stores.extend(store)
                policy_obs.append(p_obs)
            update = is_update_step(t, self.learning_starts, self.train_freq, n)
            packed = np.stack(rows) if self.vmapped else rows[0]
            warm = t < self._random_until and all(stores)  # warm-up: no update, and the next action is random
            if warm:
                self._action = self._next_random_action()  # drawn from the key this step's storing moves on
                self._pending.append(packed)
            else:
                self._block = None  # this call moves the key on: a later warm-up step draws a new block
                self.carry, next_action = fns.step(self.carry, packed, np.int32(t), update=update,
                                                   random_action=t < self.warmup_steps, store=all(stores))
                self._action = self._split(next_action)  # waits for the step: the timing below is honest
            elapsed = time.perf_counter() - tic
            self._obs = policy_obs
            # Learning-phase wall time: env steps + jitted calls, not evaluation or logging; a call that compiled
            # (the first of each program) is not counted. Warm-up steps come before learning_starts.
            timed = not warm and t >= self.learning_starts and update in self._called
            if not warm:
                self._called.add(update)
            for i, (drivers, s) in enumerate(zip(self.drivers, states)):
                if timed:
                    s.count_learning(elapsed, n)
                if update:
                    s.updates += self.gradient_steps
                s.step = t
                if not any(dones[i]):
                    continue
                # Read once: envs whose episodes end at the same step share the update means.
                read = functools.cache(functools.partial(self._read_metrics, i))
                for j in np.flatnonzero(dones[i]):
                    record = drivers[j].close_episode(t, read)
                    if on_episode is not None:
                        on_episode(i, record)
            if on_step is not None:
                on_step(t, all(any(done) for done in dones))

    # -- checkpointing ------------------------------------------------------------------------------------------------
    def host_state(self) -> dict[str, Any]:
        """JSON-safe host state of a one-seed loop. With ``carry`` it resumes exactly after any step: each env is
        reset with its episode's seed and, when its episode is unfinished, ``load_host_state`` replays the episode's
        actions so far, read from the replay buffer (so every unfinished episode must fit in the buffer)."""
        if self.vmapped:
            raise NotImplementedError("training checkpoints of a multi-seed loop")
        length = max(d.episode.episode_length for d in self.drivers[0])
        if length * self.n_envs > self.carry.buffer.capacity:
            raise ConfigError(f"cannot save the loop in the middle of an episode of {length} steps: the replay buffer "
                              f"(buffer_size={self.carry.buffer.capacity}) no longer holds its first actions, which a "
                              "resume replays; save at an episode end.")
        return {
            "loop": dataclasses.asdict(self._states[0]),
            "seed_stream": self._streams[0].get_state(),
            "envs": [dataclasses.asdict(d.episode) for d in self.drivers[0]],
            "obs": None if self._obs is None else self._obs[0].tolist(),
            "action": None if self._action is None else self._action[0].tolist(),
        }

    def _episode_actions(self, j: int) -> np.ndarray:
        """The actions of env j's unfinished episode (seed 0), oldest first, from the replay buffer: each vector
        step stored one transition per env in env order, and every transition of an unfinished episode is stored
        (a dropped one ends its episode)."""
        n, buffer = self.n_envs, self.carry.buffer
        length = self.drivers[0][j].episode.episode_length
        positions = (int(buffer.index) + j - n * (length - np.arange(length))) % buffer.capacity
        return np.asarray(jax.device_get(buffer.data.action))[positions]

    def load_host_state(self, host: dict[str, Any]) -> None:
        """Restore ``host_state()`` output (after ``carry``): counters, seed stream, and each env reset to its
        episode's seed, then stepped through the episode's actions so far when it is unfinished."""
        loop = dict(host["loop"])
        envs = host.get("envs")
        if envs is None:  # written before n_envs: the one env's episode counters were in the loop state
            envs = [{k: loop.pop(k) for k in ("episode_return", "episode_length", "episode_seed")}]
        state = self._states[0]
        for key, value in LoopState(**loop).__dict__.items():  # the drivers share this object: update it in place
            setattr(state, key, value)
        self._streams[0].set_state(host["seed_stream"])
        for driver, episode in zip(self.drivers[0], envs, strict=True):
            driver.episode = EpisodeState(**episode)
        if host["obs"] is None:
            return
        obs = []
        for j, driver in enumerate(self.drivers[0]):
            o = driver.reset_with(driver.episode.episode_seed)
            obs.append(driver.replay(self._episode_actions(j)) if driver.episode.episode_length else o)
        obs = np.concatenate(obs)
        saved = np.asarray(host["obs"], np.float32)
        if not np.array_equal(obs, saved):
            driver = self.drivers[0][0]
            raise EnvError(f"{driver.env_id}: resetting with the saved episode seeds (and replaying the episodes' "
                           "actions so far) gives a different observation than when the checkpoint was taken; the env "
                           "is not deterministic under seeding, so the run cannot be resumed exactly.")
        self._obs = [obs]
        self._action = [np.asarray(host["action"], np.int32 if self.agent.spec.discrete else np.float32)]
