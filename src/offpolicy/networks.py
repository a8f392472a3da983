"""Flax (linen) networks: MLP, DDPG actor and critic.

Initialisation follows Lillicrap et al. 2015 (and PyTorch's nn.Linear default, which the tutorial relies on):
hidden layers' weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the last layer ~ U(-3e-3, 3e-3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def uniform_init(scale: float):
    """Initializer drawing from U(-scale, scale)."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def fan_in_dense(features: int, fan_in: int, scale: float | None = None, name: str | None = None) -> nn.Dense:
    """Dense layer with weights and biases ~ U(±scale), scale defaulting to 1/sqrt(fan_in)."""
    scale = 1.0 / math.sqrt(fan_in) if scale is None else scale
    return nn.Dense(features, kernel_init=uniform_init(scale), bias_init=uniform_init(scale), name=name)


class MLP(nn.Module):
    """ReLU MLP; the last layer is linear, initialised with U(±final_init) (None: U(±1/sqrt(fan_in)))."""

    hidden_sizes: Sequence[int]
    out_features: int
    final_init: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden_sizes):
            x = nn.relu(fan_in_dense(width, x.shape[-1], name=f"hidden_{i}")(x))
        return fan_in_dense(self.out_features, x.shape[-1], self.final_init, name="out")(x)


class Actor(nn.Module):
    """Deterministic policy mu(s) in [-1, 1]^action_dim (tanh output)."""

    action_dim: int
    hidden_sizes: Sequence[int] = (128, 128)
    final_init: float = 3e-3

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(MLP(self.hidden_sizes, self.action_dim, self.final_init, name="mlp")(obs))


class Critic(nn.Module):
    """Action value Q(s, a); state and action are concatenated at the input (as in the tutorial)."""

    hidden_sizes: Sequence[int] = (128, 128)
    final_init: float = 3e-3

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, action], axis=-1)
        return MLP(self.hidden_sizes, 1, self.final_init, name="mlp")(x)[..., 0]  # [B]
