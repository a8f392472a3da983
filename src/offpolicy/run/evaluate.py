"""Noise-free evaluation episodes and test-episode video on a Gymnasium env, and the Evaluator a run composes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import jax.numpy as jnp
import numpy as np

from offpolicy.envs import EpisodeSeeds, make_env

ActFn = Callable[[np.ndarray], np.ndarray]  # obs [1, obs_dim] -> action [1, ...] in the agent's action space


def run_episode(env: gym.Env, policy: ActFn, seed: int, discrete: bool, frames: list | None = None,
                max_steps: int = 1_000_000) -> tuple[float, int]:
    """One episode from ``env.reset(seed=seed)``; returns (return, length). Appends rendered frames if asked."""
    obs, _ = env.reset(seed=seed)
    total, length = 0.0, 0
    if frames is not None:
        frames.append(env.render())
    while length < max_steps:
        action = np.asarray(policy(np.asarray(obs, np.float32)[None]))[0]
        obs, reward, terminated, truncated, _ = env.step(int(action) if discrete else action)
        total += float(reward)
        length += 1
        if frames is not None:
            frames.append(env.render())
        if terminated or truncated:
            break
    return total, length


def evaluate(env: gym.Env, policy: ActFn, seeds: list[int], discrete: bool, max_steps: int = 1_000_000) -> dict:
    """Run one episode per seed (each at most ``max_steps`` steps); summary statistics plus the raw returns."""
    results = [run_episode(env, policy, seed, discrete, max_steps=max_steps) for seed in seeds]
    returns = np.array([r for r, _ in results], np.float64)
    lengths = np.array([n for _, n in results], np.int64)
    return {
        "episodes": len(seeds),
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "min": float(returns.min()),
        "max": float(returns.max()),
        "length_mean": float(lengths.mean()),
        "returns": returns.tolist(),
        "lengths": lengths.tolist(),
        "seeds": list(seeds),
    }


def record_video(env: gym.Env, policy: ActFn, seed: int, discrete: bool, path: Path,
                 max_steps: int = 1_000_000) -> tuple[float, int]:
    """Record one episode (at most ``max_steps`` steps) of an ``render_mode='rgb_array'`` env to an MP4 at ``path``."""
    import imageio.v2 as imageio

    frames: list[np.ndarray] = []
    total, length = run_episode(env, policy, seed, discrete, frames=frames, max_steps=max_steps)
    fps = int(env.metadata.get("render_fps") or 30)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # ffmpeg runs as a subprocess; CPython warns about fork() in a threaded process
        warnings.filterwarnings("ignore", message=".*fork.*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        # macro_block_size=1 keeps the frame size (500x500 would otherwise be resized to 512x512).
        imageio.mimwrite(path, [np.asarray(f) for f in frames if f is not None], fps=fps, macro_block_size=1,
                         codec="libx264", quality=7)
    return total, length


class Evaluator:
    """Noise-free evaluation of one seed's agent on its own Gymnasium env (made here, never the training env), and
    its test-episode video. Seeds (offpolicy.envs.EpisodeSeeds), all disjoint from training and from each other:
    each periodic evaluation (``evaluate_periodic``) takes the next ``episodes`` seeds of the run's evaluation
    stream, so ``checkpoints/best`` is not picked on the episodes it is later reported on; the final evaluation
    (``evaluate``: eval.json, a model's or Policy's ``evaluate``, ``offpolicy eval``) always uses the first seeds of
    the run's final stream, which no periodic evaluation uses.

    ``policy``: a jitted ``(agent_state, obs[B, ...]) -> action[B, ...]`` in the agent's action space."""

    def __init__(self, env_id: str, algo: str, env_kwargs: dict[str, Any], seed: int, episodes: int,
                 policy: Callable[[Any, Any], Any], max_steps: int = 10_000):
        self.env_id, self.algo, self.env_kwargs, self.seed, self.episodes = env_id, algo, env_kwargs, seed, episodes
        self.env, self.spec = make_env(env_id, algo, env_kwargs)
        limit = self.env.spec.max_episode_steps if self.env.spec is not None else None
        self.time_limit = limit  # the env's own episode cap (None: it has none)
        self.max_steps = limit or max_steps  # an evaluation episode's step cap
        self.seeds = EpisodeSeeds(seed, EpisodeSeeds.FINAL).take(episodes)  # the final evaluation's
        self.periodic = EpisodeSeeds(seed, EpisodeSeeds.EVAL)
        self.policy = policy

    def act_fn(self, agent_state: Any) -> ActFn:
        """The policy with the agent state read once (a seed's state in a vmapped run is a slice of the shared one:
        slicing it at every env step would dominate an evaluation)."""
        return lambda obs: np.asarray(self.policy(agent_state, jnp.asarray(obs, jnp.float32)))

    def evaluate(self, agent_state: Any, episodes: int | None = None) -> dict:
        """The final evaluation: one episode per final seed (the first ``episodes`` of the stream when given)."""
        seeds = self.seeds if episodes is None else EpisodeSeeds(self.seed, EpisodeSeeds.FINAL).take(episodes)
        return evaluate(self.env, self.act_fn(agent_state), seeds, self.spec.discrete, self.max_steps)

    def evaluate_periodic(self, agent_state: Any) -> dict:
        """A periodic evaluation: one episode on each of the next ``episodes`` seeds of the evaluation stream."""
        return evaluate(self.env, self.act_fn(agent_state), self.periodic.take(self.episodes), self.spec.discrete,
                        self.max_steps)

    def record_video(self, agent_state: Any, path: Path) -> tuple[float, int]:
        """One noise-free episode (the run's video seed) to an MP4; (return, length)."""
        env, _ = make_env(self.env_id, self.algo, self.env_kwargs, render_mode="rgb_array")
        try:
            seed = EpisodeSeeds(self.seed, EpisodeSeeds.VIDEO).next()
            return record_video(env, self.act_fn(agent_state), seed, self.spec.discrete, path, self.max_steps)
        finally:
            env.close()

    def close(self) -> None:
        self.env.close()
