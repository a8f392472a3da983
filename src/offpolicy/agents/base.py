"""What every agent provides: a static spec of the env, and pure functions over one state pytree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax


class EnvSpec(NamedTuple):
    """Shapes the agent is built for. Actions of continuous agents live in [-1, 1]^action_dim."""

    obs_shape: tuple[int, ...]
    action_dim: int  # continuous: action vector length; discrete: 1
    n_actions: int = 0  # discrete: number of actions; continuous: 0

    @property
    def discrete(self) -> bool:
        return self.n_actions > 0


class Agent(NamedTuple):
    """An algorithm bound to its config and env spec.

    init(key, n_envs) -> state
    act(state, obs[B, ...], key, explore) -> (action[B, ...], state)    ``explore`` is static (Python bool)
    reset(state, episode_start[B]) -> state                               per-episode state (e.g. OU noise)
    update(state, batch, key) -> (state, metrics: dict of scalars)
    """

    algo: str
    config: Any
    spec: EnvSpec
    init: Callable[[jax.Array, int], Any]
    act: Callable[..., tuple[jax.Array, Any]]
    reset: Callable[[Any, jax.Array], Any]
    update: Callable[[Any, Any, jax.Array], tuple[Any, dict[str, jax.Array]]]
    metric_names: tuple[str, ...]
