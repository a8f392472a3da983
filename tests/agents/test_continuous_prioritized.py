"""Prioritized replay for DDPG, TD3 and SAC (the learner and the sum tree are DQN's, tested in
tests/unit/test_prioritized.py): known values of the weighted critic loss and of the priorities each update returns.
A prioritized TD3 run resumed bit-identically: tests/loops/test_update_ratio.py (one run with update phases)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from continuous_setup import SPEC, batch, twin_with_constant_outputs

from offpolicy.agents import ddpg, sac, td3
from offpolicy.config import DDPGConfig, SACConfig, TD3Config

SMALL = {"hidden_sizes": (16, 16), "batch_size": 3, "buffer_size": 100, "gamma": 0.9, "prioritized": True}
REWARD = [1.0, 1.0, 1.0]
TERMINATED = [False, True, False]
WEIGHT = jnp.asarray([0.5, 1.0, 0.25], jnp.float32)


def single_with_constant_output(params, value):
    """DDPG critic params that output ``value`` for every input (last layer: zero kernel, bias ``value``)."""
    out = {"kernel": jnp.zeros_like(params["params"]["mlp"]["out"]["kernel"]),
           "bias": jnp.full_like(params["params"]["mlp"]["out"]["bias"], value)}
    return {"params": {"mlp": {**params["params"]["mlp"], "out": out}}}


def _update(algo: str, q_values, target_values):
    """One update of ``algo`` whose critics output ``q_values`` and whose target critics ``target_values`` (one
    number each), on a 3-sample batch (the second terminated) weighted by WEIGHT. SAC: fixed alpha 0, so the target is
    the same as TD3's and needs no sampled log-probability."""
    if algo == "ddpg":
        cfg = DDPGConfig(**SMALL)
        state = ddpg.init(cfg, SPEC, jax.random.key(0))
        state = state.replace(critic=single_with_constant_output(state.critic, q_values[0]),
                              critic_target=single_with_constant_output(state.critic_target, target_values[0]))
        module = ddpg
    else:
        cfg = TD3Config(**SMALL) if algo == "td3" else SACConfig(ent_coef=0.0, **SMALL)
        module = td3 if algo == "td3" else sac
        state = module.init(cfg, SPEC, jax.random.key(0))
        state = state.replace(critic=twin_with_constant_outputs(state.critic, q_values),
                              critic_target=twin_with_constant_outputs(state.critic_target, target_values))
    b = batch(terminated=TERMINATED, reward=REWARD).replace(weight=WEIGHT)
    return jax.jit(lambda s: module.update(cfg, SPEC, s, b, jax.random.key(1)))(state)[1]


@pytest.mark.parametrize("algo,q_values,target_values", [
    ("ddpg", (2.0,), (10.0,)),
    ("td3", (2.0, 4.0), (10.0, 7.0)),
    ("sac", (4.0, 2.0), (7.0, 10.0)),
])
def test_the_critic_loss_is_importance_weighted_and_the_priority_is_the_largest_critic_error(algo, q_values,
                                                                                             target_values):
    metrics = _update(algo, q_values, target_values)
    # y = r + 0.9 * (1 - terminated) * min_i Q'_i = [1 + 0.9 m, 1, 1 + 0.9 m] with m the smallest target value
    y = np.array([1.0, 1.0, 1.0]) + 0.9 * min(target_values) * np.array([1.0, 0.0, 1.0])
    errors = np.stack([q - y for q in q_values])  # [critics, B]
    per_critic = (np.asarray(WEIGHT) * errors**2).mean(axis=1)
    expected_loss = per_critic.sum() * (0.5 if algo == "sac" else 1.0)
    assert float(metrics["critic_loss"]) == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(np.asarray(metrics["priority"]), np.abs(errors).max(axis=0), rtol=1e-5)


def test_uniform_replay_returns_no_priority_and_an_unweighted_loss():
    cfg = TD3Config(**{**SMALL, "prioritized": False})
    state = td3.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic=twin_with_constant_outputs(state.critic, (2.0, 2.0)),
                          critic_target=twin_with_constant_outputs(state.critic_target, (10.0, 10.0)))
    b = batch(terminated=TERMINATED, reward=REWARD)
    metrics = jax.jit(lambda s: td3.update(cfg, SPEC, s, b, jax.random.key(1)))(state)[1]
    assert "priority" not in metrics
    assert float(metrics["critic_loss"]) == pytest.approx(2 * (8.0**2 + 1.0 + 8.0**2) / 3, rel=1e-5)
    assert td3.make(cfg, SPEC).prioritized is None and td3.make(TD3Config(**SMALL), SPEC).prioritized is not None
