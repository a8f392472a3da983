"""Noise-free evaluation episodes and test-episode video on a Gymnasium env."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]  # obs [1, obs_dim] -> action [1, ...] in the agent's action space


def run_episode(env: gym.Env, policy: Policy, seed: int, discrete: bool, frames: list | None = None,
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


def evaluate(env: gym.Env, policy: Policy, seeds: list[int], discrete: bool) -> dict:
    """Run one episode per seed; summary statistics plus the raw returns."""
    results = [run_episode(env, policy, seed, discrete) for seed in seeds]
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


def record_video(env: gym.Env, policy: Policy, seed: int, discrete: bool, path: Path) -> tuple[float, int]:
    """Record one episode of an ``render_mode='rgb_array'`` env to an MP4 at ``path``."""
    import imageio.v2 as imageio

    frames: list[np.ndarray] = []
    total, length = run_episode(env, policy, seed, discrete, frames=frames)
    fps = int(env.metadata.get("render_fps") or 30)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # ffmpeg runs as a subprocess; CPython warns about fork() in a threaded process
        warnings.filterwarnings("ignore", message=".*fork.*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        # macro_block_size=1 keeps the frame size (500x500 would otherwise be resized to 512x512).
        imageio.mimwrite(path, [np.asarray(f) for f in frames if f is not None], fps=fps, macro_block_size=1,
                         codec="libx264", quality=7)
    return total, length
