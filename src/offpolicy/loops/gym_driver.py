"""The Gymnasium side of the host loop, for one env of one seed: the env, its episode's counters, and the seed's
per-episode seed stream and counters (shared by the seed's ``n_envs`` envs).

It resets and steps the env with checks that turn a misbehaving env into one clear error (old gym API, wrong
observation shape, NaN/inf observation or reward), and keeps the episode bookkeeping (return, length, episode
records). The host loop holds ``n_envs`` per seed; it never touches an env itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from offpolicy.agents.base import EnvSpec
from offpolicy.envs import EpisodeSeeds
from offpolicy.errors import EnvError, NonFiniteError
from offpolicy.loops.learner import EpisodeRecord, LoopState


@dataclass
class EpisodeState:
    """One env's unfinished episode (plain Python values; saved in training checkpoints)."""

    episode_return: float = 0.0
    episode_length: int = 0
    episode_seed: int = -1  # the reset seed of the episode


class GymDriver:
    """One Gymnasium env of a seed. ``seeds`` (the seed's training episode-seed stream) and ``state`` (the seed's
    counters) are shared by the seed's envs; ``episode`` is this env's own. ``label`` prefixes error messages
    ("seed 4, env 2, " with several seeds and envs). ``nonfinite``: "stop" raises NonFiniteError at a NaN/inf
    observation or reward; "skip" drops the transition and ends the episode (``skip_hint``: whether the "stop"
    message may suggest it)."""

    def __init__(self, spec: EnvSpec, env: gym.Env, seeds: EpisodeSeeds, state: LoopState, env_id: str = "env",
                 nonfinite: str = "stop", label: str = "", skip_hint: bool = True):
        self.spec, self.env, self.env_id = spec, env, env_id
        self.nonfinite, self.label, self.skip_hint = nonfinite, label, skip_hint
        self.seeds, self.state = seeds, state
        self.episode = EpisodeState()

    def reset_episode(self, step: int | None = None, episode: int | None = None) -> np.ndarray:
        """Reset the env with the seed stream's next training episode seed; the first observation as
        [1, *obs_shape]. ``step`` and ``episode`` (for an error message: the step the previous episode ended at, the
        new episode's number) default to the counters' values at the start of a run."""
        self.episode.episode_seed = self.seeds.next()
        return self.reset_with(self.episode.episode_seed, step, episode)

    def reset_with(self, seed: int, step: int | None = None, episode: int | None = None) -> np.ndarray:
        result = self.env.reset(seed=seed)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise EnvError(f"{self.env_id}: reset() must return (obs, info) as in Gymnasium; it returned "
                           f"{type(result).__name__}. Port the env to the Gymnasium API (or wrap it with shimmy).")
        obs = self._check_obs(result[0], "reset")
        if not np.isfinite(obs).all():  # nonfinite=skip cannot drop it: there is no transition, only a first state
            step = self.state.step if step is None else step
            episode = self.state.episode + 1 if episode is None else episode
            raise NonFiniteError(
                f"{self.label}reset at step {step} (episode {episode}, episode seed {seed}): the env returned a "
                "NaN/inf first observation. Fix the env's reset().", step=step, episode=episode, quantity="observation")
        return obs

    def _check_obs(self, obs: Any, where: str) -> np.ndarray:
        obs = np.asarray(obs, np.float32)
        if obs.shape != tuple(self.spec.obs_shape):
            raise EnvError(f"{self.env_id}: {where} returned an observation of shape {obs.shape} at step "
                           f"{self.state.step}, but the observation space has shape {tuple(self.spec.obs_shape)}.")
        return obs[None]  # [1, *obs_shape]

    def _check_reward(self, reward: Any, t: int) -> float:
        """The reward as a float: a number, or an array of one element (e.g. shape (1,)); else an EnvError."""
        if isinstance(reward, (float, int, np.floating, np.integer)):  # the per-step case: no array to build
            return float(reward)
        try:
            value = np.asarray(reward, dtype=np.float64)
        except (TypeError, ValueError):
            value = None
        if value is None or value.size != 1:
            what = f"shape {value.shape}" if value is not None else f"type {type(reward).__name__}"
            raise EnvError(f"{self.env_id}: step() returned a reward of {what} at step {t}; a Gymnasium reward is "
                           "one number. Return a float (sum or select the reward terms in the env or a "
                           "gymnasium.RewardWrapper).")
        return float(value.reshape(()))

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

    def replay(self, actions: np.ndarray) -> np.ndarray:
        """Step the just-reset env through ``actions`` ([n, ...], the agent's), as ``transition`` did, without
        counting anything: it puts the env back where an unfinished episode left it. The last observation, as
        [1, *obs_shape]."""
        obs = None
        for action in actions:
            obs = self._check_obs(self._step_env(int(action) if self.spec.discrete else action)[0], "step")
        return obs

    def transition(self, action: np.ndarray, t: int):
        """Step the env with the policy's ``action`` ([1, ...], step ``t``), check what comes back, count it into the
        episode, and reset the env at an episode end. Returns ``(next_obs, reward, terminated, truncated,
        policy_obs, done, store)``; ``policy_obs`` is what the policy sees next (the new episode's first observation
        after a reset). A NaN/inf observation or reward raises NonFiniteError (nonfinite="stop") or is dropped,
        ending the episode, with ``store`` False (nonfinite="skip")."""
        s = self.state
        next_obs, reward, terminated, truncated, _ = self._step_env(
            int(action[0]) if self.spec.discrete else action[0])
        next_obs = self._check_obs(next_obs, "step")
        reward = self._check_reward(reward, t)
        store = True
        if not (math.isfinite(reward) and np.isfinite(next_obs).all()):
            quantity = "reward" if not math.isfinite(reward) else "observation"
            if self.nonfinite == "stop":
                hint = ", or set nonfinite=skip to drop such transitions" if self.skip_hint else ""
                raise NonFiniteError(
                    f"{self.label}step {t} (episode {s.episode + 1}): the env returned a NaN/inf {quantity}. Fix the "
                    f"env{hint}.", step=t, episode=s.episode + 1, quantity=quantity)
            store, truncated, reward = False, True, 0.0  # drop it and start a new episode
            next_obs = np.nan_to_num(next_obs)
            s.skipped_transitions += 1
        self.episode.episode_return += reward
        self.episode.episode_length += 1
        done = bool(terminated or truncated)
        policy_obs = self.reset_episode(t, s.episode + 2) if done else next_obs  # s.episode: closed episodes
        return next_obs, reward, terminated, truncated, policy_obs, done, store

    def close_episode(self, t: int, read_metrics: Callable[[], dict[str, float]]) -> EpisodeRecord:
        """Close the episode that ended at step ``t``: its record (with the update metrics averaged over it, read
        after the episode count moved on, so an error names this episode), and fresh counters."""
        s, e = self.state, self.episode
        s.episode += 1
        record = EpisodeRecord(step=t, episode=s.episode, episode_return=e.episode_return,
                               episode_length=e.episode_length, metrics=read_metrics())
        e.episode_return, e.episode_length = 0.0, 0
        return record
