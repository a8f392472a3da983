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
from offpolicy.errors import ConfigError

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


def test_learning_rate_schedule_falls_linearly_to_lr_end_then_stays():
    # lr 1e-2 -> 0 over 3 updates: the updates run at 1e-2, 2/3e-2, 1/3e-2, then 0 (the parameters stop moving).
    constant, scheduled = DQNConfig(lr=1e-2), DQNConfig(lr=1e-2, lr_end=0.0, lr_decay_updates=3)
    b = batch(n=16, action=np.arange(16) % 3)
    start = dqn.init(constant, SPEC, jax.random.key(0))
    a1, _ = jitted_update(constant)(start, b, jax.random.key(1))
    a2, _ = jitted_update(constant)(a1, b, jax.random.key(2))
    s = dqn.init(scheduled, SPEC, jax.random.key(0))
    history = [s.params]
    for i in range(1, 6):
        s, _ = jitted_update(scheduled)(s, b, jax.random.key(i))
        history.append(s.params)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-8)
    jax.tree.map(close, history[1], a1.params)  # the first update at the full rate: the constant run's
    # the second from the same parameters, gradient and Adam moments as the constant run's, at 2/3 of its step
    step = lambda new, old, ref_new: np.testing.assert_allclose(new - old, (ref_new - old) * 2 / 3, atol=1e-6)  # noqa: E731
    jax.tree.map(step, history[2], history[1], a2.params)  # (Adam moves each weight by about the rate: ~7e-3)
    assert not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(history[3]), jax.tree.leaves(history[2])))
    for later in history[4:]:  # from the fourth update on the rate is lr_end = 0: nothing moves (to rounding: XLA
        # computes the schedule's count / 3 as count * (1/3), so its "0" can be ~1e-9 instead of a 1e-2 rate's ~1e-2)
        jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=0, atol=1e-8), later, history[3])
    assert int(s.updates) == 5


@pytest.mark.parametrize("overrides,message", [
    ({"lr_end": 1e-4}, "agent.lr_decay_updates=None: set it together with agent.lr_end (0.0001)"),
    ({"lr_decay_updates": 1000}, "agent.lr_decay_updates=1000: set it together with agent.lr_end (None)"),
    ({"lr_end": 1e-2, "lr_decay_updates": 10}, "agent.lr_end=0.01: must be in [0, agent.lr (0.001)]"),
    ({"lr_end": 0.0, "lr_decay_updates": 0}, "agent.lr_decay_updates=0: must be >= 1"),
])
def test_learning_rate_schedule_settings_are_checked(overrides, message):
    with pytest.raises(ConfigError) as info:
        DQNConfig(**overrides).check()
    assert message in str(info.value)


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
    assert dqn.make(cfg, SPEC).gather is not None and dqn.make(DQNConfig(), SPEC).gather is None


# -- Prioritized replay and C51 (issue 16) ------------------------------------------------------------------------------
def test_prioritized_update_weights_each_samples_loss_and_returns_its_td_error():
    cfg = DQNConfig(gamma=0.9, prioritized=True)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(params=with_constant_q(state.params, [2.0, 0.5, -1.0]),
                          target_params=with_constant_q(state.target_params, [1.0, 10.0, 3.0]))
    b = batch(action=[0, 1, 2], terminated=[False, True, False], truncated=[False, False, True])
    _, metrics = jitted_update(cfg)(state, b.replace(weight=jnp.array([1.0, 0.5, 0.25])), jax.random.key(1))
    # td errors [-8, -0.5, -11] (test_td_target_...); huber [7.5, 0.125, 10.5] weighted by [1, 0.5, 0.25]
    assert float(metrics["loss"]) == pytest.approx((7.5 + 0.0625 + 2.625) / 3, rel=1e-6)
    np.testing.assert_allclose(metrics["priority"], [8.0, 0.5, 11.0], rtol=1e-6)
    assert "priority" not in jitted_update(DQNConfig(gamma=0.9))(state, b, jax.random.key(1))[1]


def project_by_hand(tz, p, v_min, v_max):
    """The paper's Algorithm 1 projection, written with floor/ceil indices: a second implementation to check
    dqn.categorical_projection against."""
    n = len(p)
    dz = (v_max - v_min) / (n - 1)
    m = np.zeros(n)
    for tz_j, p_j in zip(tz, p):
        b = (min(max(tz_j, v_min), v_max) - v_min) / dz
        lo, hi = int(np.floor(b)), int(np.ceil(b))
        if lo == hi:
            m[lo] += p_j
        else:
            m[lo] += p_j * (hi - b)
            m[hi] += p_j * (b - lo)
    return m


def test_categorical_projection_of_known_distributions():
    z = jnp.arange(5.0)  # atoms 0 .. 4, dz = 1
    p = jnp.array([0.1, 0.2, 0.3, 0.2, 0.2])
    cases = {  # Tz = r + discount * z for: a shift by half an atom (the top one clipped), a halving, a terminal
        "shift": (0.5 + z, [0.05, 0.15, 0.25, 0.25, 0.3]),
        "halve": (1.0 + 0.5 * z, [0.0, 0.2, 0.5, 0.3, 0.0]),
        "terminal": (2.25 + 0.0 * z, [0.0, 0.0, 0.75, 0.25, 0.0]),
        "below v_min": (-3.0 + 0.5 * z, [1.0, 0.0, 0.0, 0.0, 0.0]),
        "above v_max": (9.0 + z, [0.0, 0.0, 0.0, 0.0, 1.0]),
    }
    tz = jnp.stack([c[0] for c in cases.values()])
    got = np.asarray(dqn.categorical_projection(tz, jnp.tile(p, (len(cases), 1)), z))
    np.testing.assert_allclose(got, [c[1] for c in cases.values()], atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-6)  # probabilities sum to 1
    # random points and probabilities on a non-integer support against the paper's floor/ceil version
    key1, key2 = jax.random.split(jax.random.key(0))
    tz = jax.random.uniform(key1, (8, 11), minval=-15.0, maxval=15.0)
    probs = jax.nn.softmax(jax.random.normal(key2, (8, 11)), -1)
    got = np.asarray(dqn.categorical_projection(tz, probs, jnp.linspace(-10.0, 10.0, 11)))
    want = np.stack([project_by_hand(np.asarray(t, np.float64), np.asarray(q, np.float64), -10.0, 10.0)
                     for t, q in zip(tz, probs)])
    np.testing.assert_allclose(got, want, atol=1e-6)


def with_constant_logits(params, logits):
    """C51 params whose output logits are ``logits`` [n_actions, n_atoms] for every input."""
    return with_constant_q(params, np.asarray(logits, np.float32).ravel())


@pytest.mark.parametrize("double", [False, True])
def test_c51_target_is_the_projected_next_distribution_and_the_loss_its_kl(double):
    cfg = DQNConfig(distributional=True, n_atoms=5, v_min=0.0, v_max=4.0, gamma=0.5, double=double,
                    prioritized=True)
    z = np.arange(5.0)
    # target net at s': action 0 uniform (Q 2), action 1 mass near atom 4 (Q ~4), action 2 near atom 0 (Q ~0)
    target_logits = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 10], [10, 0, 0, 0, 0]], np.float32)
    # online net: leaning to atom 1 for action 0, to atom 2 for action 1, near atom 4 for action 2 (so Double picks
    # action 2 at s')
    online_logits = np.array([[0, 2, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 10]], np.float32)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(params=with_constant_logits(state.params, online_logits),
                          target_params=with_constant_logits(state.target_params, target_logits))
    b = batch(action=[0, 1, 2], terminated=[False, True, False], truncated=[False, False, True])
    _, metrics = jitted_update(cfg)(state, b, jax.random.key(1))

    def softmax(x):
        e = np.exp(np.asarray(x, np.float64) - np.max(x))
        return e / e.sum()

    def expected(next_action):  # per-sample KL(target || p(s, a)) and Q(s, a) when a' = next_action
        rows = []
        for terminated, taken in ((False, 0), (True, 1), (False, 2)):  # the truncated third sample bootstraps
            m = project_by_hand(1.0 + 0.5 * (1 - terminated) * z, softmax(target_logits[next_action]), 0.0, 4.0)
            p = softmax(online_logits[taken])
            rows.append((np.sum(m[m > 0] * np.log(m[m > 0])) - np.sum(m * np.log(p)), np.sum(z * p)))
        return np.array(rows).T

    kl, q = expected(2 if double else 1)  # a' is the online net's argmax (Double), or the target net's own
    np.testing.assert_allclose(metrics["priority"], kl, rtol=1e-5, atol=1e-6)  # C51's priority is its loss
    assert float(metrics["loss"]) == pytest.approx(kl.mean(), rel=1e-5)
    assert float(metrics["q_mean"]) == pytest.approx(q.mean(), rel=1e-5)
    assert abs(expected(1)[0].mean() - expected(2)[0].mean()) > 0.1  # the test can tell which action bootstraps


@pytest.mark.parametrize("dueling", [False, True])
def test_c51_acts_on_the_mean_of_its_distributions(dueling):
    cfg = DQNConfig(distributional=True, n_atoms=7, v_min=-3.0, v_max=3.0, dueling=dueling, hidden_sizes=(16, 16))
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (64, 4))
    logits = dqn.network(cfg, SPEC).apply(state.params, obs, None)
    assert logits.shape == (64, 3, 7)
    q = np.sum(np.asarray(jax.nn.softmax(logits, -1)) * np.linspace(-3, 3, 7), -1)
    actions, _ = dqn.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    np.testing.assert_array_equal(actions, np.argmax(q, -1))
    assert len(set(np.asarray(actions).tolist())) > 1  # the check can tell a wrong reduction
