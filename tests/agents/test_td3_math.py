"""Known-value tests of the TD3 update: the clipped double-Q target, target-policy smoothing, the delayed actor and
target updates, and independently initialised twin critics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from continuous_setup import SPEC, batch, twin_with_constant_outputs

from offpolicy.agents import td3
from offpolicy.config import NoiseConfig, TD3Config

SMALL = {"hidden_sizes": (16, 16), "batch_size": 8, "buffer_size": 100}




@pytest.mark.parametrize("target_values", [(10.0, 7.0), (7.0, 10.0)])
def test_clipped_double_q_target_takes_the_smaller_critic_and_stops_only_at_termination(target_values):
    cfg = TD3Config(gamma=0.9, **SMALL)
    state = td3.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic=twin_with_constant_outputs(state.critic, (2.0, 2.0)),
                          critic_target=twin_with_constant_outputs(state.critic_target, target_values))
    b = batch(terminated=[False, True, False], truncated=[False, False, True], reward=[1.0, 1.0, 1.0])
    _, metrics = td3.update(cfg, SPEC, state, b, jax.random.key(1))
    # y = r + 0.9 * (1 - terminated) * min(10, 7) = [7.3, 1, 7.3]; each critic: mean((2 - y)^2); loss = their sum
    per_critic = (5.3**2 + 1.0 + 5.3**2) / 3
    assert float(metrics["critic_loss"]) == pytest.approx(2 * per_critic, rel=1e-5)
    assert float(metrics["q_mean"]) == pytest.approx(2.0, rel=1e-6)


def test_target_noise_is_clipped_to_c_and_the_action_to_the_unit_box():
    cfg = TD3Config(target_noise=10.0, target_noise_clip=0.5)  # sigma >> c: almost every draw is clipped
    n = 4000
    target_action = jnp.stack([jnp.zeros(n), jnp.full(n, 0.9), jnp.full(n, -0.8)], axis=1)  # [n, 3]
    smoothed = np.asarray(td3.smoothed_target_action(cfg, target_action, jax.random.key(0)))
    eps = smoothed[:, 0]
    assert eps.min() == pytest.approx(-0.5) and eps.max() == pytest.approx(0.5)  # noise clipped to ±c, both sides hit
    assert smoothed[:, 1].max() == 1.0 and smoothed[:, 1].min() == pytest.approx(0.4)  # 0.9 + 0.5 -> 1, 0.9 - 0.5
    assert smoothed[:, 2].min() == -1.0 and smoothed[:, 2].max() == pytest.approx(-0.3)
    assert np.abs(smoothed).max() <= 1.0


def test_target_noise_is_gaussian_with_target_noise_std_below_the_clip():
    cfg = TD3Config(target_noise=0.2, target_noise_clip=100.0)
    eps = np.asarray(td3.smoothed_target_action(cfg, jnp.zeros((20_000, 1)), jax.random.key(3)))
    assert abs(eps.mean()) < 0.01 and eps.std() == pytest.approx(0.2, rel=0.03)


def test_the_update_smooths_the_target_action():
    # With sigma = 0 the update's target equals the plain double-Q target; with noise it does not.
    b = batch(n=16)
    losses = []
    for sigma in (0.0, 0.2):
        cfg = TD3Config(target_noise=sigma, **SMALL)
        state = td3.init(cfg, SPEC, jax.random.key(0))
        losses.append(float(td3.update(cfg, SPEC, state, b, jax.random.key(1))[1]["critic_loss"]))
    cfg = TD3Config(target_noise=0.0, **SMALL)
    state = td3.init(cfg, SPEC, jax.random.key(0))
    actor, critic = td3.networks(cfg, SPEC)
    next_q = critic.apply(state.critic_target, b.next_obs, actor.apply(state.actor_target, b.next_obs)).min(axis=0)
    y = b.reward + cfg.gamma * next_q
    expected = jnp.sum(jnp.mean((critic.apply(state.critic, b.obs, b.action) - y) ** 2, axis=1))
    assert losses[0] == pytest.approx(float(expected), rel=1e-5)
    assert losses[1] != pytest.approx(losses[0], rel=1e-4)


def _changed(a, b) -> bool:
    return any(bool(jnp.any(x != y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("policy_delay", [2, 3])
def test_actor_and_targets_move_only_every_policy_delay_updates_the_critics_every_one(policy_delay):
    cfg = TD3Config(policy_delay=policy_delay, **SMALL)
    state = td3.init(cfg, SPEC, jax.random.key(0))
    update = jax.jit(lambda s, b, k: td3.update(cfg, SPEC, s, b, k))  # the delay must work inside jit
    for k in range(1, 3 * policy_delay + 1):  # k = number of the update, from 1
        new, _ = update(state, batch(n=8, key=k), jax.random.key(100 + k))
        delayed_step = k % policy_delay == 0
        assert _changed(new.critic, state.critic), k
        assert _changed(new.actor, state.actor) == delayed_step, k
        assert _changed(new.actor_target, state.actor_target) == delayed_step, k
        assert _changed(new.critic_target, state.critic_target) == delayed_step, k
        assert int(new.updates) == k
        state = new


@pytest.mark.parametrize("swap", [False, True])
def test_delayed_step_is_one_adam_step_through_the_updated_first_critic_and_polyak_targets(swap):
    cfg = TD3Config(policy_delay=1, tau=0.25, **SMALL)
    state = td3.init(cfg, SPEC, jax.random.key(0))
    if swap:  # one of the two orders makes Q_2 < Q_1 where the other has Q_1 < Q_2: min(Q_1, Q_2) != Q_1
        flip = lambda tree: jax.tree.map(lambda x: x[::-1], tree)  # noqa: E731
        state = state.replace(critic=flip(state.critic), critic_target=flip(state.critic_target),
                              critic_opt=optax.adam(cfg.critic_lr).init(flip(state.critic)))
    b = batch(n=32)
    new, metrics = td3.update(cfg, SPEC, state, b, jax.random.key(1))
    actor, critic = td3.networks(cfg, SPEC)
    loss = lambda p: -jnp.mean(critic.apply(new.critic, b.obs, actor.apply(p, b.obs))[0])  # noqa: E731
    value, grads = jax.value_and_grad(loss)(state.actor)
    updates, _ = optax.adam(cfg.actor_lr).update(grads, state.actor_opt, state.actor)
    expected_actor = optax.apply_updates(state.actor, updates)
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7), new.actor, expected_actor)
    assert float(metrics["actor_loss"]) == pytest.approx(float(value), rel=1e-6)
    for online, old, target in ((new.actor, state.actor_target, new.actor_target),
                                (new.critic, state.critic_target, new.critic_target)):
        expected = jax.tree.map(lambda o, t: 0.25 * o + 0.75 * t, online, old)
        jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6), target, expected)


def test_twin_critics_are_initialised_independently_and_targets_start_as_copies():
    state = td3.init(TD3Config(**SMALL), SPEC, jax.random.key(0))
    for leaf in jax.tree.leaves(state.critic):
        assert leaf.shape[0] == 2
        assert not np.allclose(np.asarray(leaf[0]), np.asarray(leaf[1]))
    jax.tree.map(np.testing.assert_array_equal, state.critic, state.critic_target)
    jax.tree.map(np.testing.assert_array_equal, state.actor, state.actor_target)
    other = td3.init(TD3Config(**SMALL), SPEC, jax.random.key(1))
    assert _changed(other.critic, state.critic) and _changed(other.actor, state.actor)


def test_act_explores_with_gaussian_noise_and_clips():
    cfg = TD3Config(noise=NoiseConfig(kind="gaussian", sigma=0.5), **SMALL)
    state = td3.init(cfg, SPEC, jax.random.key(0), n_envs=4)
    obs = jax.random.normal(jax.random.key(1), (4, 3)) * 100
    greedy, same = td3.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    assert same is state
    actor, _ = td3.networks(cfg, SPEC)
    np.testing.assert_array_equal(greedy, actor.apply(state.actor, obs))
    noisy, _ = td3.act(cfg, SPEC, state, obs, jax.random.key(2), explore=True)
    assert noisy.shape == (4, 2) and float(jnp.abs(noisy).max()) <= 1.0
    assert not np.allclose(np.asarray(noisy), np.asarray(greedy))
