"""Known-value tests of the DDPG update: TD target, critic loss, the actor step, polyak averaging, init."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from continuous_setup import SPEC, batch

from offpolicy.agents import ddpg
from offpolicy.agents.base import EnvSpec
from offpolicy.config import DDPGConfig
from offpolicy.hparams import NoiseConfig


def with_constant_output(params, value):
    """Critic params whose output is ``value`` for every input (last layer: zero kernel, bias = value)."""
    out = dict(params["params"]["mlp"]["out"])
    out["kernel"] = jnp.zeros_like(out["kernel"])
    out["bias"] = jnp.full_like(out["bias"], value)
    mlp = {**params["params"]["mlp"], "out": out}
    return {"params": {**params["params"], "mlp": mlp}}



def test_td_target_bootstraps_on_truncation_but_not_on_termination():
    cfg = DDPGConfig(gamma=0.9)
    state = ddpg.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic=with_constant_output(state.critic, 2.0),
                          critic_target=with_constant_output(state.critic_target, 10.0))
    b = batch(terminated=[False, True, False], truncated=[False, False, True], reward=[1.0, 1.0, 1.0])
    _, metrics = ddpg.update(cfg, SPEC, state, b, jax.random.key(1))
    # y = r + 0.9 * (1 - terminated) * 10 = [10, 1, 10];  loss = mean((2 - y)^2) = (64 + 1 + 64) / 3
    assert float(metrics["critic_loss"]) == pytest.approx(43.0, rel=1e-6)
    assert float(metrics["q_mean"]) == pytest.approx(2.0, rel=1e-6)


def test_gamma_zero_target_is_the_reward():
    cfg = DDPGConfig(gamma=0.0)
    state = ddpg.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic=with_constant_output(state.critic, 0.0),
                          critic_target=with_constant_output(state.critic_target, 123.0))
    _, metrics = ddpg.update(cfg, SPEC, state, batch(reward=[1.0, 2.0, 3.0]), jax.random.key(1))
    assert float(metrics["critic_loss"]) == pytest.approx((1 + 4 + 9) / 3, rel=1e-6)


def perturbed(tree, key, scale=0.1):
    """``tree`` plus N(0, scale^2) noise on every leaf: target nets that differ from the online ones."""
    keys = jax.random.split(key, len(jax.tree.leaves(tree)))
    leaves = [x + scale * jax.random.normal(k, x.shape) for x, k in zip(jax.tree.leaves(tree), keys, strict=True)]
    return jax.tree.unflatten(jax.tree.structure(tree), leaves)


def test_critic_step_is_exactly_one_adam_step_and_the_actor_step_leaves_it_alone():
    cfg = DDPGConfig()
    state = ddpg.init(cfg, SPEC, jax.random.key(0))
    # Targets apart from the online nets, so a TD target taken from the online actor or critic cannot pass.
    state = state.replace(actor_target=perturbed(state.actor_target, jax.random.key(5)),
                          critic_target=perturbed(state.critic_target, jax.random.key(6)))
    b = batch(n=16)
    new, _ = ddpg.update(cfg, SPEC, state, b, jax.random.key(1))
    actor, critic = ddpg.networks(cfg, SPEC)
    # the critic update recomputed alone: if the actor step had moved the critic, these would differ
    next_q = critic.apply(state.critic_target, b.next_obs, actor.apply(state.actor_target, b.next_obs))
    y = b.reward + cfg.gamma * (1 - b.terminated) * next_q
    grads = jax.grad(lambda p: jnp.mean((critic.apply(p, b.obs, b.action) - y) ** 2))(state.critic)
    updates, _ = optax.adam(cfg.critic_lr).update(grads, state.critic_opt, state.critic)
    expected = optax.apply_updates(state.critic, updates)
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7), new.critic, expected)
    # and the actor did move, along -dQ/d(actor) through the updated critic
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), new.actor, state.actor)
    assert max(jax.tree.leaves(moved)) > 0


def test_actor_step_is_one_adam_step_through_the_updated_critic():
    # A large critic step, and the second update (Adam's moments already set, so the step's size depends on the
    # gradient's, not only its sign): an actor step through the critic from before its update gives other numbers.
    cfg = DDPGConfig(critic_lr=0.05)
    b = batch(n=16)
    state, _ = ddpg.update(cfg, SPEC, ddpg.init(cfg, SPEC, jax.random.key(0)), b, jax.random.key(1))
    new, metrics = ddpg.update(cfg, SPEC, state, batch(n=16, key=3), jax.random.key(1))
    actor, critic = ddpg.networks(cfg, SPEC)
    obs = batch(n=16, key=3).obs
    loss_fn = lambda p: -jnp.mean(critic.apply(new.critic, obs, actor.apply(p, obs)))  # noqa: E731
    loss, grads = jax.value_and_grad(loss_fn)(state.actor)
    updates, _ = optax.adam(cfg.actor_lr).update(grads, state.actor_opt, state.actor)
    expected = optax.apply_updates(state.actor, updates)
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7), new.actor, expected)
    assert float(metrics["actor_loss"]) == pytest.approx(float(loss), rel=1e-6)


def test_actor_gradient_ascends_q():
    cfg = DDPGConfig(actor_lr=1e-3)
    state = ddpg.init(cfg, SPEC, jax.random.key(0))
    b = batch(n=64)
    actor, critic = ddpg.networks(cfg, SPEC)
    new, _ = ddpg.update(cfg, SPEC, state, b, jax.random.key(1))
    q_before = critic.apply(new.critic, b.obs, actor.apply(state.actor, b.obs)).mean()
    q_after = critic.apply(new.critic, b.obs, actor.apply(new.actor, b.obs)).mean()
    assert float(q_after) > float(q_before)


def test_targets_move_exactly_by_tau():
    cfg = DDPGConfig(tau=0.25)
    state = ddpg.init(cfg, SPEC, jax.random.key(0))
    shifted = lambda tree: jax.tree.map(lambda x: x + 1.0, tree)  # noqa: E731 - targets differ from online
    state = state.replace(actor_target=shifted(state.actor_target), critic_target=shifted(state.critic_target))
    new, _ = ddpg.update(cfg, SPEC, state, batch(n=8), jax.random.key(1))
    for online, old_target, new_target in ((new.actor, state.actor_target, new.actor_target),
                                           (new.critic, state.critic_target, new.critic_target)):
        expected = jax.tree.map(lambda o, t: 0.25 * o + 0.75 * t, online, old_target)
        jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6), new_target, expected)
    assert int(new.updates) == 1


def test_targets_start_as_copies():
    state = ddpg.init(DDPGConfig(), SPEC, jax.random.key(0))
    jax.tree.map(np.testing.assert_array_equal, state.actor, state.actor_target)
    jax.tree.map(np.testing.assert_array_equal, state.critic, state.critic_target)


def test_initialisation_ranges():
    cfg = DDPGConfig(hidden_sizes=(256, 256), final_layer_init=3e-3)
    spec = EnvSpec(obs_shape=(8,), action_dim=4)
    state = ddpg.init(cfg, spec, jax.random.key(0))
    for params, fan_in0 in ((state.actor, 8), (state.critic, 12)):
        mlp = params["params"]["mlp"]
        for name, fan_in in (("hidden_0", fan_in0), ("hidden_1", 256)):
            bound = 1 / math.sqrt(fan_in)
            for leaf in (mlp[name]["kernel"], mlp[name]["bias"]):
                a = np.abs(np.asarray(leaf))
                assert a.max() <= bound and a.max() > 0.9 * bound  # U(±1/sqrt(fan_in)), spread to the bound
        for leaf in (mlp["out"]["kernel"], mlp["out"]["bias"]):
            a = np.abs(np.asarray(leaf))
            assert a.max() <= 3e-3
        assert np.abs(np.asarray(mlp["out"]["kernel"])).max() > 0.9 * 3e-3


def test_act_explore_adds_ou_noise_and_advances_its_state():
    cfg = DDPGConfig()
    state = ddpg.init(cfg, SPEC, jax.random.key(0), n_envs=4)
    obs = jax.random.normal(jax.random.key(1), (4, 3)) * 100
    greedy, same = ddpg.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    assert same is state
    noisy, new = ddpg.act(cfg, SPEC, state, obs, jax.random.key(2), explore=True)
    assert noisy.shape == (4, 2) and float(jnp.abs(noisy).max()) <= 1.0
    assert not np.allclose(np.asarray(noisy), np.asarray(greedy))
    assert not np.allclose(np.asarray(new.noise), np.asarray(state.noise))  # OU state advanced


def test_exploring_actions_are_clipped_to_the_unit_box():
    # Gaussian noise with sigma 3: most noisy actions would leave [-1, 1] without the clip.
    cfg = DDPGConfig(noise=NoiseConfig(kind="gaussian", sigma=3.0))
    state = ddpg.init(cfg, SPEC, jax.random.key(0), n_envs=64)
    obs = jax.random.normal(jax.random.key(1), (64, 3))
    noisy, _ = ddpg.act(cfg, SPEC, state, obs, jax.random.key(2), explore=True)
    assert noisy.shape == (64, 2) and float(jnp.abs(noisy).max()) == 1.0  # at most 1, and reached
    assert np.mean(np.abs(np.asarray(noisy)) == 1.0) > 0.5  # most actions needed the clip
