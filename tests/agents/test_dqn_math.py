"""Known-value tests of the DQN update: TD target (terminated vs truncated), Huber loss, the Adam step, hard copies."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from offpolicy.agents import dqn
from offpolicy.agents.base import EnvSpec
from offpolicy.buffer import Transition
from offpolicy.config import DQNConfig

SPEC = EnvSpec(obs_shape=(4,), action_dim=1, n_actions=3)


def with_constant_q(params, values):
    """Q-network params whose output is ``values`` [n_actions] for every input (last layer: zero mu and sigma)."""
    last = {k: jnp.zeros_like(v) for k, v in params["params"]["layer_2"].items()}
    bias = "bias_mu" if "bias_mu" in last else "bias"
    last[bias] = jnp.asarray(values, jnp.float32)
    return {"params": {**params["params"], "layer_2": last}}


@functools.cache
def jitted_update(cfg):
    """The update compiled once per config (eager op-by-op dispatch is far slower than one compile)."""
    return jax.jit(functools.partial(dqn.update, cfg, SPEC))


def batch(n=3, key=0, action=None, reward=None, terminated=None, truncated=None):
    k1, k2 = jax.random.split(jax.random.key(key))
    return Transition(
        obs=jax.random.normal(k1, (n, 4)),
        action=jnp.zeros(n, jnp.int32) if action is None else jnp.asarray(action, jnp.int32),
        reward=jnp.ones(n) if reward is None else jnp.asarray(reward, jnp.float32),
        next_obs=jax.random.normal(k2, (n, 4)),
        terminated=jnp.zeros(n, bool) if terminated is None else jnp.asarray(terminated),
        truncated=jnp.zeros(n, bool) if truncated is None else jnp.asarray(truncated),
    )


def constant_q_update(cfg):
    """The update's metrics with constant nets, online Q = [2, 0.5, -1] and target Q' = [1, 10, 3] everywhere, on a
    batch of actions [0, 1, 2], reward 1, the second transition terminated and the third truncated."""
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(params=with_constant_q(state.params, [2.0, 0.5, -1.0]),
                          target_params=with_constant_q(state.target_params, [1.0, 10.0, 3.0]))
    b = batch(action=[0, 1, 2], terminated=[False, True, False], truncated=[False, False, True])
    return jitted_update(cfg)(state, b, jax.random.key(1))[1]


@pytest.mark.parametrize("exploration", ["noisy", "epsilon"])
def test_td_target_uses_max_of_target_and_bootstraps_on_truncation_only(exploration):
    metrics = constant_q_update(DQNConfig(gamma=0.9, exploration=exploration))
    # y = 1 + 0.9 * (1 - terminated) * max(1, 10, 3) = [10, 1, 10]; q(s, a) = [2, 0.5, -1]
    # td errors [-8, -0.5, -11]; huber(delta=1): |e| - 0.5 for |e| > 1, e^2/2 otherwise -> [7.5, 0.125, 10.5]
    assert float(metrics["loss"]) == pytest.approx((7.5 + 0.125 + 10.5) / 3, rel=1e-6)
    assert float(metrics["q_mean"]) == pytest.approx((2.0 + 0.5 - 1.0) / 3, rel=1e-6)


def test_mse_loss_option():
    cfg = DQNConfig(gamma=0.0, loss="mse")
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(params=with_constant_q(state.params, [0.0, 0.0, 0.0]))
    _, metrics = jitted_update(cfg)(state, batch(reward=[1.0, 2.0, 3.0]), jax.random.key(1))
    assert float(metrics["loss"]) == pytest.approx((1 + 4 + 9) / 3, rel=1e-6)


def test_huber_is_quadratic_inside_delta():
    cfg = DQNConfig(gamma=0.0)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(params=with_constant_q(state.params, [0.0, 0.0, 0.0]))
    _, metrics = jitted_update(cfg)(state, batch(reward=[0.5, -0.5, 0.2]), jax.random.key(1))
    assert float(metrics["loss"]) == pytest.approx((0.125 + 0.125 + 0.02) / 3, rel=1e-5)


def test_update_is_one_adam_step_on_the_taken_actions_huber_loss():
    cfg = DQNConfig()
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    b = batch(n=32, action=np.arange(32) % 3, reward=np.linspace(-1, 1, 32), terminated=np.arange(32) % 5 == 0)
    new, _ = jitted_update(cfg)(state, b, jax.random.key(1))
    net = dqn.network(cfg, SPEC)
    next_q = net.apply(state.target_params, b.next_obs, state.target_noise).max(-1)
    y = b.reward + cfg.gamma * (1 - b.terminated) * next_q

    def loss(p):
        q = net.apply(p, b.obs, state.online_noise)[jnp.arange(32), b.action]
        return optax.huber_loss(q, y, delta=1.0).mean()

    updates, _ = optax.adam(1e-3).update(jax.jit(jax.grad(loss))(state.params), state.opt, state.params)
    expected = optax.apply_updates(state.params, updates)
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-7), new.params, expected)
    assert int(new.updates) == 1
    # the noise was resampled for both networks, independently
    for old, fresh, fresh_target in zip(*map(jax.tree.leaves, (state.online_noise, new.online_noise, new.target_noise))):
        assert not np.allclose(old, fresh) and not np.allclose(fresh, fresh_target)


def test_hard_copy_happens_exactly_every_n_updates():
    cfg = DQNConfig(target_update=3, lr=1e-2)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    b = batch(n=16)
    update = lambda s, k: jitted_update(cfg)(s, b, k)  # noqa: E731
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))  # noqa: E731
    copies = []
    previous_target = state.target_params
    for i in range(1, 10):
        state, _ = update(state, jax.random.key(i))
        if same(state.target_params, previous_target):
            assert not same(state.target_params, state.params)
        else:
            copies.append(i)
            assert same(state.target_params, state.params)  # an exact copy of the just-updated online params
        previous_target = state.target_params
    assert copies == [3, 6, 9]


def test_epsilon_schedule_and_epsilon_greedy_actions():
    cfg = DQNConfig(exploration="epsilon", epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=100)
    np.testing.assert_allclose([dqn.epsilon(cfg, jnp.asarray(t)) for t in (0, 50, 100, 1000)], [1.0, 0.55, 0.1, 0.1],
                               rtol=1e-6)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (4000, 4))
    greedy, _ = dqn.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    random, after = dqn.act(cfg, SPEC, state, obs, jax.random.key(2), explore=True)  # epsilon = 1: uniform
    assert int(after.policy_steps) == 4000
    assert np.bincount(np.asarray(random), minlength=3).min() > 1200
    late = state.replace(policy_steps=jnp.asarray(10_000, jnp.int32))  # epsilon = 0.1: 90% + 10%/3 greedy
    actions, _ = dqn.act(cfg, SPEC, late, obs, jax.random.key(3), explore=True)
    agree = float(np.mean(np.asarray(actions) == np.asarray(greedy)))
    assert 0.9 < agree < 0.96


# -- Rainbow components (issue 16): Double DQN, the dueling head, NoisyNet noise per step ------------------------------
@pytest.mark.parametrize("exploration", ["noisy", "epsilon"])
def test_double_target_takes_the_online_argmax_valued_by_the_target_net(exploration):
    # online Q(s', .) = [2, 0.5, -1] picks action 0, which the target net values at 1 (its own max would be 10)
    metrics = constant_q_update(DQNConfig(gamma=0.9, exploration=exploration, double=True))
    # y = 1 + 0.9 * (1 - terminated) * Q'(s', 0) = [1.9, 1, 1.9]; q(s, a) = [2, 0.5, -1]
    # td errors [0.1, -0.5, -2.9]; huber(delta=1) -> [0.005, 0.125, 2.4]
    assert float(metrics["loss"]) == pytest.approx((0.005 + 0.125 + 2.4) / 3, rel=1e-5)


@pytest.mark.parametrize("hidden", [(16, 16), (16,)])
def test_dueling_head_is_value_plus_advantage_minus_its_mean(hidden):
    cfg = DQNConfig(dueling=True, hidden_sizes=hidden)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    net = dqn.network(cfg, SPEC)
    obs = jax.random.normal(jax.random.key(1), (64, 4))
    apply = jax.jit(lambda p, o, n: net.apply(p, o, n, mutable=["intermediates"]))
    for noise in (state.online_noise, None):  # with a noise sample, and with the mean weights mu
        q, sown = apply(state.params, obs, noise)
        v, a = sown["intermediates"]["value"][0], sown["intermediates"]["advantage"][0]
        assert q.shape == a.shape == (64, 3) and v.shape == (64, 1)
        np.testing.assert_allclose(q - q.mean(-1, keepdims=True), a - a.mean(-1, keepdims=True), atol=1e-6)
        np.testing.assert_allclose(q.mean(-1), v[:, 0], atol=1e-6)  # V is recoverable: the mean of Q over actions
        assert np.ptp(np.asarray(a - a.mean(-1, keepdims=True))) > 1e-2 and np.ptp(np.asarray(v)) > 1e-3
    # two streams after the shared layers; the layers reading the observation are plain, every other one noisy
    trunk = {(16, 16): ["layer_0"], (16,): []}[hidden]
    streams = ["value_hidden", "value_out", "advantage_hidden", "advantage_out"]
    assert sorted(state.params["params"]) == sorted(trunk + streams)
    noisy = streams if trunk else ["value_out", "advantage_out"]
    assert sorted(state.online_noise) == sorted(noisy)
    assert state.params["params"]["value_out"]["kernel_mu"].shape == (16, 1)


@pytest.mark.parametrize("resample", ["update", "step"])
def test_acting_noise_per_update_or_per_step(resample):
    cfg = DQNConfig(noise_resample=resample, sigma0=2.0)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    net = dqn.network(cfg, SPEC)
    obs = jax.random.normal(jax.random.key(1), (256, 4))
    act = jax.jit(functools.partial(dqn.act, cfg, SPEC, explore=True))
    with_state_noise = np.argmax(net.apply(state.params, obs, state.online_noise), -1)
    for k in (2, 3):
        actions, after = act(state, obs, jax.random.key(k))
        assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(after.online_noise),
                                                         jax.tree.leaves(state.online_noise)))  # the update's noise
        if resample == "update":  # the state's sample, whatever the key
            np.testing.assert_array_equal(actions, with_state_noise)
        else:  # a fresh sample drawn from this step's key
            fresh = np.argmax(net.apply(state.params, obs, dqn.resample(cfg, SPEC, jax.random.key(k))), -1)
            np.testing.assert_array_equal(actions, fresh)
            assert not np.array_equal(actions, with_state_noise)


def test_n_step_target_bootstraps_with_each_samples_own_discount():
    # the n-step batch's discount (gamma^k of each window) replaces gamma; the reward is already the k-step return
    cfg = DQNConfig(gamma=0.9, n_step=3)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(params=with_constant_q(state.params, [2.0, 0.5, -1.0]),
                          target_params=with_constant_q(state.target_params, [1.0, 10.0, 3.0]))
    b = batch(action=[0, 1, 2], terminated=[False, True, False], truncated=[False, False, True])
    b = b.replace(reward=jnp.array([3.0, 1.0, 2.0]), discount=jnp.array([0.729, 0.81, 0.81]))
    _, metrics = jitted_update(cfg)(state, b, jax.random.key(1))
    # y = r + discount * (1 - terminated) * 10 = [10.29, 1, 10.1]; q(s, a) = [2, 0.5, -1]
    # td errors [-8.29, -0.5, -11.1]; huber -> [7.79, 0.125, 10.6]
    assert float(metrics["loss"]) == pytest.approx((7.79 + 0.125 + 10.6) / 3, rel=1e-5)
    assert dqn.make(cfg, SPEC).sample is not None and dqn.make(DQNConfig(), SPEC).sample is None
