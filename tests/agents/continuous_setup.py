"""Shared by the continuous agents' math tests (DDPG, TD3, SAC): a 3-D observation, 2-D action spec, hand-made
minibatches and critics with a known constant output."""

import jax
import jax.numpy as jnp

from offpolicy.agents.base import EnvSpec
from offpolicy.buffer import Transition

SPEC = EnvSpec(obs_shape=(3,), action_dim=2)


def batch(n=3, key=0, terminated=None, truncated=None, reward=None):
    k1, k2, k3 = jax.random.split(jax.random.key(key), 3)
    return Transition(
        obs=jax.random.normal(k1, (n, 3)), action=jax.random.uniform(k2, (n, 2), minval=-1, maxval=1),
        reward=jnp.ones(n) if reward is None else jnp.asarray(reward, jnp.float32),
        next_obs=jax.random.normal(k3, (n, 3)),
        terminated=jnp.zeros(n, bool) if terminated is None else jnp.asarray(terminated),
        truncated=jnp.zeros(n, bool) if truncated is None else jnp.asarray(truncated),
    )


def twin_with_constant_outputs(params, values):
    """Twin-critic params whose critic i outputs ``values[i]`` for every input (last layer: zero kernel, bias)."""
    out = dict(params["params"]["critics"]["mlp"]["out"])
    out["kernel"] = jnp.zeros_like(out["kernel"])  # [2, hidden, 1]
    out["bias"] = jnp.asarray(values, jnp.float32).reshape(out["bias"].shape)  # [2, 1]
    mlp = {**params["params"]["critics"]["mlp"], "out": out}
    return {"params": {"critics": {**params["params"]["critics"], "mlp": mlp}}}
