"""Policies to export, built straight from ``agent.init`` (no training): every float leaf of the state is moved by
N(0, 0.3^2) so the weights, NoisyNet sigmas and noise are all far from their initial values and the actions span the
action space (tanh near saturation, every discrete action)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from offpolicy.agents import make_agent
from offpolicy.config import make_config
from offpolicy.envs import env_action_space, make_env
from offpolicy.policy import Policy

N_OBS = 1000


def perturbed_policy(preset: str, overrides: dict | None = None, seed: int = 0) -> Policy:
    cfg = make_config(preset, {"hidden_sizes": [16, 16], **(overrides or {})})
    env, spec = make_env(cfg.env, cfg.algo, cfg.env_kwargs)
    space = env_action_space(env)
    env.close()
    agent = make_agent(cfg.algo, cfg.agent, spec)
    state = agent.init(jax.random.key(seed), 1)
    leaves, treedef = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [leaf + 0.3 * jax.random.normal(k, leaf.shape, leaf.dtype)
              if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf for leaf, k in zip(leaves, keys)]
    bounds = None if spec.discrete else (space.low, space.high)
    return Policy(agent, jax.tree.unflatten(treedef, leaves), cfg, bounds)


def random_obs(policy: Policy, n: int = N_OBS, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 2.0, (n, *policy.spec.obs_shape)).astype(np.float32)


def assert_same_actions(got: np.ndarray, want: np.ndarray, discrete: bool) -> None:
    """Exactly equal indices (discrete), or within 1e-5 in the env's units (continuous)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    if discrete:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def run_onnx(path, obs: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["action"], {"obs": obs})[0]
