"""Known-value tests of SAC: the squashed-Gaussian log-probability, the temperature's loss, the soft clipped double-Q
target, the deterministic action and the log-std bounds."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from continuous_setup import SPEC, batch, twin_with_constant_outputs
from scipy.stats import norm

from offpolicy import networks
from offpolicy.agents import sac
from offpolicy.config import SACConfig, make_config
from offpolicy.errors import ConfigError

SMALL = {"hidden_sizes": (16, 16), "batch_size": 8, "buffer_size": 100}




@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (0.7, 0.3), (-1.5, 2.0), (2.5, 0.5)])
def test_squashed_gaussian_log_prob_matches_the_numerical_density(mean, std):
    # A = tanh(U), U ~ N(mean, std): P(A <= a) = Phi((atanh(a) - mean) / std); its derivative (central difference, in
    # float64; the upper tail from the survival function, where the CDF rounds to 1) is the density the
    # change-of-variables formula must reproduce.
    a = np.array([-0.999, -0.9, -0.3, 0.0, 0.2, 0.6, 0.95, 0.9995])
    h = 1e-7
    z = lambda x: (np.arctanh(x) - mean) / std  # noqa: E731
    lower = (norm.cdf(z(a + h)) - norm.cdf(z(a - h))) / (2 * h)
    upper = (norm.sf(z(a - h)) - norm.sf(z(a + h))) / (2 * h)
    numerical = np.log(np.where(z(a) > 0, upper, lower))
    u = jnp.asarray(np.arctanh(a), jnp.float32)[:, None]  # [B, 1]
    ours = networks.squashed_gaussian_log_prob(u, jnp.full_like(u, mean), jnp.full_like(u, math.log(std)))
    np.testing.assert_allclose(np.asarray(ours, np.float64), numerical, atol=1e-4)


def test_log_prob_sums_over_action_dimensions_and_stays_finite_far_in_the_tails():
    u = jnp.array([[0.3, -1.2]])
    mean, log_std = jnp.array([[0.1, -0.5]]), jnp.array([[-0.2, 0.4]])
    joint = networks.squashed_gaussian_log_prob(u, mean, log_std)
    parts = [networks.squashed_gaussian_log_prob(u[:, j:j + 1], mean[:, j:j + 1], log_std[:, j:j + 1]) for j in (0, 1)]
    assert float(joint[0]) == pytest.approx(float(parts[0][0] + parts[1][0]), rel=1e-6)
    # tanh(20) == 1 in float32, so log(1 - a^2) would be -inf; the stable form gives log(1 - tanh^2) = log 4 - 40 + ...
    far = networks.squashed_gaussian_log_prob(jnp.array([[20.0]]), jnp.array([[20.0]]), jnp.zeros((1, 1)))
    assert float(far[0]) == pytest.approx(-0.5 * math.log(2 * math.pi) - (2 * math.log(2) - 40), rel=1e-5)


def test_sample_returns_the_log_prob_of_the_action_it_returns():
    mean, log_std = jnp.array([[0.2, -0.4]] * 5), jnp.array([[-0.5, 0.1]] * 5)
    action, log_prob = networks.squashed_gaussian_sample(mean, log_std, jax.random.key(0))
    assert float(jnp.abs(action).max()) < 1.0
    again = networks.squashed_gaussian_log_prob(jnp.arctanh(action), mean, log_std)
    np.testing.assert_allclose(log_prob, again, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("target_entropy", "alpha_moves"), [(5.0, "up"), (-50.0, "down")])
def test_alpha_rises_when_entropy_is_below_target_and_falls_above(target_entropy, alpha_moves):
    # the fresh policy's entropy (-mean log pi) is about 0-2 nats for 2 actions: below +5, above -50
    cfg = SACConfig(target_entropy=target_entropy, alpha_lr=1e-2, **SMALL)
    state = sac.init(cfg, SPEC, jax.random.key(0))
    # jitted: one program instead of some hundred op-by-op ones (this test was the suite's slowest math test)
    new, metrics = jax.jit(lambda s, b, k: sac.update(cfg, SPEC, s, b, k))(state, batch(n=8), jax.random.key(1))
    assert float(metrics["alpha"]) == pytest.approx(1.0)  # this update used init_ent_coef, before its own step
    entropy = float(metrics["entropy"])
    assert -50 < entropy < 5
    assert (float(new.log_alpha) > float(state.log_alpha)) == (alpha_moves == "up")
    # the gradient itself: d L_alpha / d log_alpha = -(mean log pi + H_target) = entropy - H_target
    log_prob = jnp.full((8,), -entropy)
    grad = jax.grad(sac.alpha_loss_fn)(jnp.zeros(()), log_prob, target_entropy)
    assert float(grad) == pytest.approx(entropy - target_entropy, rel=1e-5)


def test_fixed_alpha_stays_fixed():
    cfg = SACConfig(ent_coef=0.2, **SMALL)
    state = sac.init(cfg, SPEC, jax.random.key(0))
    update = jax.jit(lambda s, b, k: sac.update(cfg, SPEC, s, b, k))
    for k in range(3):
        state, metrics = update(state, batch(n=8, key=k), jax.random.key(10 + k))
        assert float(metrics["alpha"]) == pytest.approx(0.2) and float(metrics["alpha_loss"]) == 0.0
    assert float(state.log_alpha) == 0.0  # log(init_ent_coef), never stepped


@pytest.mark.parametrize("ent_coef", [0.0, 0.5])
def test_soft_target_takes_the_smaller_critic_minus_alpha_log_pi_and_stops_only_at_termination(ent_coef):
    cfg = SACConfig(gamma=0.9, ent_coef=ent_coef, **SMALL)
    state = sac.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic=twin_with_constant_outputs(state.critic, (2.0, 2.0)),
                          critic_target=twin_with_constant_outputs(state.critic_target, (10.0, 7.0)))
    b = batch(terminated=[False, True, False], truncated=[False, False, True], reward=[1.0, 1.0, 1.0])
    key = jax.random.key(1)
    _, metrics = sac.update(cfg, SPEC, state, b, key)
    # the next action's log-prob, drawn with the update's own next-state key
    _, next_key = jax.random.split(key)
    actor, _ = sac.networks(cfg, SPEC)
    _, next_log_prob = networks.squashed_gaussian_sample(*actor.apply(state.actor, b.next_obs), next_key)
    y = np.array([1.0, 1.0, 1.0]) + 0.9 * np.array([1.0, 0.0, 1.0]) * (7.0 - ent_coef * np.asarray(next_log_prob))
    expected = 0.5 * 2 * np.mean((2.0 - y) ** 2)  # 1/2 sum over the two critics of their mean squared error
    assert float(metrics["critic_loss"]) == pytest.approx(expected, rel=1e-5)


def test_critic_targets_move_by_tau_every_update():
    cfg = SACConfig(tau=0.25, **SMALL)
    state = sac.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic_target=jax.tree.map(lambda x: x + 1.0, state.critic_target))
    new, _ = sac.update(cfg, SPEC, state, batch(n=8), jax.random.key(1))
    expected = jax.tree.map(lambda o, t: 0.25 * o + 0.75 * t, new.critic, state.critic_target)
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6), new.critic_target, expected)


def _policy_sample(cfg, params, obs, key):
    actor, _ = sac.networks(cfg, SPEC)
    pi_key, _ = jax.random.split(key)  # the update's key for the policy's sample at s
    return networks.squashed_gaussian_sample(*actor.apply(params, obs), pi_key)


def test_actor_step_ascends_the_updated_critics():
    cfg = SACConfig(actor_lr=1e-3, ent_coef=0.0, **SMALL)  # no entropy term: the step must raise min_i Q_i alone
    state = sac.init(cfg, SPEC, jax.random.key(0))
    b, key = batch(n=64), jax.random.key(1)
    new, _ = sac.update(cfg, SPEC, state, b, key)
    _, critic = sac.networks(cfg, SPEC)
    q = lambda params: float(critic.apply(new.critic, b.obs, _policy_sample(cfg, params, b.obs, key)[0]).min(0).mean())  # noqa: E731
    assert q(new.actor) > q(state.actor)


def test_actor_step_raises_entropy_when_the_critics_are_flat():
    cfg = SACConfig(actor_lr=1e-3, ent_coef=0.1, critic_lr=1e-12, **SMALL)  # flat Q: the loss is alpha * log pi alone
    state = sac.init(cfg, SPEC, jax.random.key(0))
    state = state.replace(critic=twin_with_constant_outputs(state.critic, (3.0, 3.0)))
    b, key = batch(n=64), jax.random.key(1)
    new, metrics = sac.update(cfg, SPEC, state, b, key)
    entropy = lambda params: -float(_policy_sample(cfg, params, b.obs, key)[1].mean())  # noqa: E731
    assert entropy(state.actor) == pytest.approx(float(metrics["entropy"]), rel=1e-5)
    assert entropy(new.actor) > entropy(state.actor)


def test_deterministic_act_is_tanh_of_the_mean_and_exploring_samples():
    cfg = SACConfig(**SMALL)
    state = sac.init(cfg, SPEC, jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (6, 3)) * 100
    greedy, same = sac.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    assert same is state
    actor, _ = sac.networks(cfg, SPEC)
    mean, _ = actor.apply(state.actor, obs)
    np.testing.assert_array_equal(greedy, jnp.tanh(mean))
    assert float(jnp.abs(greedy).max()) <= 1.0
    sampled, _ = sac.act(cfg, SPEC, state, obs, jax.random.key(2), explore=True)
    again, _ = sac.act(cfg, SPEC, state, obs, jax.random.key(3), explore=True)
    assert sampled.shape == (6, 2) and float(jnp.abs(sampled).max()) <= 1.0
    assert not np.allclose(sampled, greedy) and not np.allclose(sampled, again)


def test_log_std_is_clipped_to_its_bounds():
    cfg = SACConfig(log_std_min=-5.0, log_std_max=2.0, **SMALL)
    state = sac.init(cfg, SPEC, jax.random.key(0))
    actor, _ = sac.networks(cfg, SPEC)
    params = jax.tree.map(lambda x: x, state.actor)
    for bias, bound in ((100.0, 2.0), (-100.0, -5.0)):
        head = {**params["params"]["log_std"], "bias": jnp.full((2,), bias)}
        p = {"params": {**params["params"], "log_std": head}}
        _, log_std = actor.apply(p, jnp.zeros((4, 3)))
        np.testing.assert_array_equal(log_std, bound)


def test_twin_critics_are_initialised_independently_and_targets_start_as_copies():
    state = sac.init(SACConfig(**SMALL), SPEC, jax.random.key(0))
    for leaf in jax.tree.leaves(state.critic):
        assert leaf.shape[0] == 2 and not np.allclose(np.asarray(leaf[0]), np.asarray(leaf[1]))
    jax.tree.map(np.testing.assert_array_equal, state.critic, state.critic_target)
    assert float(jnp.exp(state.log_alpha)) == pytest.approx(1.0)  # init_ent_coef, as SB3


def test_ent_coef_and_target_entropy_are_auto_or_a_number():
    assert make_config("sac-pendulum").agent.ent_coef == "auto"
    assert make_config("sac-pendulum", {"ent_coef": "0.05"}).agent.ent_coef == 0.05  # as --set ent_coef=0.05 gives it
    assert make_config("sac-pendulum", {"target_entropy": -2}).agent.target_entropy == -2.0
    with pytest.raises(ConfigError, match="ent_coef"):
        make_config("sac-pendulum", {"ent_coef": "automatic"})
    with pytest.raises(ConfigError, match="ent_coef=-1.0: must be auto or a number >= 0"):
        make_config("sac-pendulum", {"ent_coef": -1})
