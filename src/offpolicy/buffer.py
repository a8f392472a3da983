"""Replay buffer: a pytree of preallocated device arrays with a write index. ``add`` and ``sample`` are pure.

Transitions keep ``terminated`` (a true end: no bootstrap) and ``truncated`` (a time limit: bootstrap) apart.
``add`` takes a batch of transitions (leading axis B, e.g. from a vector env) and writes them as a ring.
``sample`` draws uniformly with replacement (the tutorial samples without replacement; with a 10k+ buffer and
batches of 128 the difference is negligible, and with replacement it is one cheap ``randint``).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Transition:
    obs: jax.Array  # [..., *obs_shape]
    action: jax.Array  # [..., action_dim] float32, or [...] int32 for discrete actions
    reward: jax.Array  # [...]
    next_obs: jax.Array  # [..., *obs_shape]
    terminated: jax.Array  # [...] bool
    truncated: jax.Array  # [...] bool


@flax.struct.dataclass
class ReplayBuffer:
    data: Transition  # each leaf [capacity, ...]
    index: jax.Array  # int32: next write position
    size: jax.Array  # int32: number of valid transitions (<= capacity)

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[0]


def init(capacity: int, example: Transition) -> ReplayBuffer:
    """Empty buffer shaped after one (unbatched) example transition."""
    data = jax.tree.map(lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example)
    return ReplayBuffer(data=data, index=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, batch: Transition) -> ReplayBuffer:
    """Write B transitions (leading axis B) at index, index+1, ... modulo capacity."""
    n = batch.reward.shape[0]
    capacity = buffer.capacity
    positions = (buffer.index + jnp.arange(n, dtype=jnp.int32)) % capacity  # [B]
    data = jax.tree.map(lambda store, new: store.at[positions].set(new.astype(store.dtype)), buffer.data, batch)
    return ReplayBuffer(
        data=data,
        index=(buffer.index + n) % capacity,
        size=jnp.minimum(buffer.size + n, capacity),
    )


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """Uniform minibatch (with replacement) from the valid part of the buffer. Requires size >= 1."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))  # [batch_size]
    return jax.tree.map(lambda store: store[idx], buffer.data)
