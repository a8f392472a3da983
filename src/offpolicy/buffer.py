"""Replay buffer: a pytree of preallocated device arrays with a write index. ``add`` and ``sample`` are pure.

Transitions keep ``terminated`` (a true end: no bootstrap) and ``truncated`` (a time limit: bootstrap) apart.
``add`` takes a batch of transitions (leading axis B, e.g. from a vector env) and writes them as a ring.
``sample`` draws uniformly with replacement (the tutorial samples without replacement; with a 10k+ buffer and
batches of 128 the difference is negligible, and with replacement it is one cheap ``randint``).
``sample_n_step`` draws the same way and turns each drawn transition into an n-step one (``n_step_batch``).
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
    discount: jax.Array | None = None  # [...] the bootstrap's discount gamma^k of an n-step batch; None: gamma


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


def sample_indices(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> jax.Array:
    """[batch_size] positions drawn uniformly (with replacement) from the valid part of the buffer."""
    return jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """Uniform minibatch (with replacement) from the valid part of the buffer. Requires size >= 1."""
    idx = sample_indices(buffer, key, batch_size)
    return jax.tree.map(lambda store: store[idx], buffer.data)


def n_step_batch(buffer: ReplayBuffer, idx: jax.Array, n: int, gamma: float) -> Transition:
    """The n-step transitions that start at buffer positions ``idx`` [B] (Sutton & Barto 7.1; Hessel et al. 2018):

        G = r_t + gamma r_{t+1} + ... + gamma^(k-1) r_{t+k-1},   bootstrap gamma^k (1 - terminated_{t+k-1}) Q'(s_{t+k})

    with k <= n the window's length: it ends at the first episode end inside it (terminated: no bootstrap; a
    truncation: bootstrap from that step's own next_obs, the truncated episode's final observation, never from the
    next episode's) and at the newest stored transition (the steps after it are not known yet). Positions run on
    modulo the capacity, in the order they were written (one env per buffer: consecutive writes are consecutive
    steps). Returns a Transition with obs, action of step t, reward G, next_obs s_{t+k}, terminated / truncated of
    step t+k-1, and ``discount`` gamma^k."""
    capacity = buffer.capacity
    oldest = jnp.where(buffer.size < capacity, 0, buffer.index)
    age = (idx - oldest) % capacity  # [B] 0 = the oldest stored transition
    offsets = jnp.arange(n, dtype=jnp.int32)  # [n]
    pos = (idx[:, None] + offsets) % capacity  # [B, n]
    stored = age[:, None] + offsets < buffer.size  # [B, n] written already
    ended = buffer.data.terminated[pos] | buffer.data.truncated[pos]  # [B, n]
    ended_before = jnp.cumsum(ended, axis=1) - ended  # episode ends strictly before each step of the window
    inside = stored & (ended_before == 0)  # [B, n] the window's steps (step 0 always: idx is stored)
    k = jnp.sum(inside, axis=1)  # [B] window length, 1..n
    discounts = gamma ** offsets.astype(jnp.float32)  # [n]
    reward = jnp.sum(jnp.where(inside, buffer.data.reward[pos] * discounts, 0.0), axis=1)  # [B]
    last = jnp.take_along_axis(pos, (k - 1)[:, None], axis=1)[:, 0]  # [B] position of step t+k-1
    return Transition(obs=buffer.data.obs[idx], action=buffer.data.action[idx], reward=reward,
                      next_obs=buffer.data.next_obs[last], terminated=buffer.data.terminated[last],
                      truncated=buffer.data.truncated[last], discount=gamma ** k.astype(jnp.float32))


def sample_n_step(buffer: ReplayBuffer, key: jax.Array, batch_size: int, n: int, gamma: float) -> Transition:
    """``sample``'s uniform draw, each drawn transition made an n-step one (``n_step_batch``)."""
    return n_step_batch(buffer, sample_indices(buffer, key, batch_size), n, gamma)
