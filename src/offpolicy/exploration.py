"""Action noise as pure functions over an explicit state array (shape [..., action_dim]).

ou        x <- x + theta*(mu - x)*dt + sigma*sqrt(dt)*N(0, 1)        (Euler-Maruyama of dx = theta(mu-x)dt + sigma dW)
          stationary mean mu, lag-1 autocorrelation 1 - theta*dt, stationary std ~ sigma/sqrt(2*theta) (small dt).
gaussian  n = sigma*N(0, 1), no state.
tutorial  x <- x + theta*(mu - x) + sigma*U[0, 1)   (the notebook's process: no dt, uniform, biased: with theta=1 the
          noise is sigma*U[0,1), mean sigma/2 > 0). Kept only to reproduce the tutorial.
none      zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from offpolicy.hparams import NoiseConfig


def init(cfg: NoiseConfig, shape: tuple[int, ...]) -> jax.Array:
    """Initial noise state: mu everywhere."""
    return jnp.full(shape, cfg.mu, jnp.float32)


def reset(cfg: NoiseConfig, state: jax.Array, episode_start: jax.Array) -> jax.Array:
    """State to use after an episode boundary. ``episode_start``: bool, broadcast over the leading axes of state."""
    if not cfg.reset_each_episode:
        return state
    start = jnp.asarray(episode_start, bool).reshape(jnp.shape(episode_start) + (1,) * (state.ndim - jnp.ndim(episode_start)))
    return jnp.where(start, jnp.full_like(state, cfg.mu), state)


def sample(cfg: NoiseConfig, state: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Advance the process one step. Returns (noise, new_state); noise has the state's shape."""
    if cfg.kind == "ou":
        dx = cfg.theta * (cfg.mu - state) * cfg.dt + cfg.sigma * jnp.sqrt(cfg.dt) * jax.random.normal(key, state.shape)
        new = state + dx
        return new, new
    if cfg.kind == "gaussian":
        return cfg.sigma * jax.random.normal(key, state.shape), state
    if cfg.kind == "tutorial":
        new = state + cfg.theta * (cfg.mu - state) + cfg.sigma * jax.random.uniform(key, state.shape)
        return new, new
    if cfg.kind == "none":
        return jnp.zeros_like(state), state
    raise ValueError(f"unknown noise kind {cfg.kind!r}")  # pragma: no cover - config validation rejects it first
