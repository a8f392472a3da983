"""NoisyDense and the DQN noise state: factorised epsilon, sigma init, gradients, resampling, mu-only evaluation."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from offpolicy.agents import dqn
from offpolicy.agents.base import EnvSpec
from offpolicy.buffer import Transition
from offpolicy.config import DQNConfig
from offpolicy.networks import NoisyDense, QNetwork, sample_layer_noise, sample_q_noise, signed_sqrt

SPEC = EnvSpec(obs_shape=(4,), action_dim=1, n_actions=2)


def test_signed_sqrt_known_values():
    x = jnp.array([-4.0, -0.25, 0.0, 0.25, 9.0])
    np.testing.assert_allclose(signed_sqrt(x), [-2.0, -0.5, 0.0, 0.5, 3.0])


def test_factorised_noise_is_rank_one_outer_product_of_f_eps():
    key = jax.random.key(3)
    noise = sample_layer_noise(key, 5, 7, "factorised")
    assert noise["kernel"].shape == (5, 7) and noise["bias"].shape == (7,)
    assert np.linalg.matrix_rank(np.asarray(noise["kernel"], np.float64), tol=1e-5) == 1
    # the same draws, recomputed: eps_w[i, j] = f(eps_in[i]) f(eps_out[j]) and eps_b = f(eps_out)
    in_key, out_key = jax.random.split(key)
    f_in = signed_sqrt(jax.random.normal(in_key, (5,)))
    f_out = signed_sqrt(jax.random.normal(out_key, (7,)))
    np.testing.assert_allclose(noise["kernel"], np.outer(f_in, f_out), rtol=1e-6)
    np.testing.assert_allclose(noise["bias"], f_out, rtol=1e-6)


def test_independent_noise_is_full_rank_standard_normal():
    noise = sample_layer_noise(jax.random.key(0), 64, 64, "independent")
    assert np.linalg.matrix_rank(np.asarray(noise["kernel"])) == 64
    big = np.asarray(sample_layer_noise(jax.random.key(1), 300, 300, "independent")["kernel"])
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01


@pytest.mark.parametrize("fan_in,fan_out,sigma0", [(128, 2, 0.5), (4, 128, 0.4)])
@pytest.mark.parametrize("bias_fan_out", [False, True])
def test_sigma_and_mu_initial_values(fan_in, fan_out, sigma0, bias_fan_out):
    layer = NoisyDense(fan_out, sigma0=sigma0, bias_sigma_fan_out=bias_fan_out)
    p = layer.init(jax.random.key(0), jnp.zeros((1, fan_in)))["params"]
    np.testing.assert_allclose(p["kernel_sigma"], np.full((fan_in, fan_out), sigma0 / math.sqrt(fan_in)), rtol=1e-6)
    bias_fan = fan_out if bias_fan_out else fan_in
    np.testing.assert_allclose(p["bias_sigma"], np.full((fan_out,), sigma0 / math.sqrt(bias_fan)), rtol=1e-6)
    bound = 1 / math.sqrt(fan_in)
    for name in ("kernel_mu", "bias_mu"):
        a = np.abs(np.asarray(p[name]))
        assert a.max() <= bound
    assert np.abs(np.asarray(p["kernel_mu"])).max() > 0.9 * bound  # spread over U(±1/sqrt(fan_in))


def test_noisy_dense_forward_known_value_and_mu_only():
    layer = NoisyDense(2)
    params = {"params": {"kernel_mu": jnp.array([[1.0, 0.0], [0.0, 1.0]]), "kernel_sigma": jnp.full((2, 2), 0.5),
                         "bias_mu": jnp.array([0.0, 1.0]), "bias_sigma": jnp.array([1.0, 2.0])}}
    noise = {"kernel": jnp.array([[2.0, 0.0], [0.0, -2.0]]), "bias": jnp.array([1.0, -1.0])}
    x = jnp.array([[1.0, 1.0]])
    # W = mu + sigma*eps = [[2, 0], [0, 0]]; b = [0 + 1, 1 - 2] = [1, -1]; y = x W + b = [3, -1]
    np.testing.assert_allclose(layer.apply(params, x, noise), [[3.0, -1.0]])
    np.testing.assert_allclose(layer.apply(params, x, None), [[1.0, 2.0]])  # mu only


def test_gradients_reach_mu_and_sigma_of_every_noisy_layer():
    net = QNetwork(2, (16, 16))
    obs = jax.random.normal(jax.random.key(0), (8, 4))
    params = net.init(jax.random.key(1), obs)
    noise = sample_q_noise(jax.random.key(2), 4, (16, 16), 2)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(net.apply(p, obs, noise) ** 2)))(params)["params"]
    assert set(grads) == {"layer_0", "layer_1", "layer_2"}
    for layer in ("layer_1", "layer_2"):
        for name in ("kernel_mu", "kernel_sigma", "bias_mu", "bias_sigma"):
            assert float(jnp.abs(grads[layer][name]).max()) > 0, (layer, name)
    # and without noise sigma gets no gradient at all (mu-only forward pass)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(net.apply(p, obs, None) ** 2)))(params)["params"]
    assert float(jnp.abs(grads["layer_2"]["kernel_sigma"]).max()) == 0


def _batch(n: int = 8) -> Transition:
    """A small hand-made CartPole-shaped batch: both actions, some terminal transitions."""
    obs = jax.random.normal(jax.random.key(7), (n, 4))
    return Transition(obs=obs, action=jnp.arange(n, dtype=jnp.int32) % 2, reward=jnp.linspace(-1.0, 1.0, n),
                      next_obs=obs[::-1], terminated=jnp.arange(n) % 3 == 0, truncated=jnp.zeros(n, bool))


def _differs_everywhere(before: dict, after: dict, what: str) -> None:
    assert jax.tree.structure(before) == jax.tree.structure(after) and jax.tree.leaves(before)
    for (path, old), new in zip(jax.tree_util.tree_leaves_with_path(before), jax.tree.leaves(after)):
        assert not np.allclose(old, new), f"{what}: {jax.tree_util.keystr(path)} is the same sample"


@pytest.mark.parametrize("noise_resample", ["update", "step"])
def test_update_resamples_noise_and_resample_touches_nothing_else(noise_resample):
    # the real update step: both noise samples are replaced by fresh ones (also with per-action noise, "step": the
    # update's own noise still changes after every update), the parameters learn, the target waits for its copy
    cfg = DQNConfig(hidden_sizes=(16, 16), noise_resample=noise_resample)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    new, metrics = jax.jit(functools.partial(dqn.update, cfg, SPEC))(state, _batch(), jax.random.key(4))
    _differs_everywhere(state.online_noise, new.online_noise, "online noise before and after the update")
    _differs_everywhere(state.target_noise, new.target_noise, "target noise before and after the update")
    _differs_everywhere(new.online_noise, new.target_noise, "online and target noise after the update")
    head = "layer_2"
    assert not np.allclose(new.params["params"][head]["kernel_mu"], state.params["params"][head]["kernel_mu"])
    jax.tree.map(np.testing.assert_array_equal, new.target_params, state.target_params)  # target_update=150
    assert int(new.updates) == 1 and set(metrics) == {"loss", "q_mean", "sigma_mean"}
    # resample gives a fresh pytree of the same structure
    _differs_everywhere(state.online_noise, dqn.resample(cfg, SPEC, jax.random.key(5)), "resample")
    # act with exploration does not touch params or noise; only the step counter moves
    _, after_act = dqn.act(cfg, SPEC, state, jnp.zeros((1, 4)), jax.random.key(1), explore=True)
    jax.tree.map(np.testing.assert_array_equal, (after_act.params, after_act.online_noise, after_act.target_noise),
                 (state.params, state.online_noise, state.target_noise))


def test_epsilon_update_has_no_noise():
    cfg = DQNConfig(hidden_sizes=(16, 16), exploration="epsilon")
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    new, metrics = jax.jit(functools.partial(dqn.update, cfg, SPEC))(state, _batch(), jax.random.key(4))
    assert new.online_noise == {} and new.target_noise == {}
    assert dqn.resample(cfg, SPEC, jax.random.key(5)) == {}
    assert not np.allclose(new.params["params"]["layer_2"]["kernel"], state.params["params"]["layer_2"]["kernel"])
    assert set(metrics) == {"loss", "q_mean", "epsilon"}


def _assert_uncorrelated(online: dict, target: dict, draws: int) -> None:
    """The first kernel and bias element of every noisy layer: online and target samples uncorrelated over draws."""
    assert set(online) == set(target) == {"layer_1", "layer_2"}
    for layer in online:
        for leaf in ("kernel", "bias"):
            o = np.asarray(online[layer][leaf]).reshape(draws, -1)[:, 0]
            t = np.asarray(target[layer][leaf]).reshape(draws, -1)[:, 0]
            assert o.std() > 0.3 and t.std() > 0.3  # real draws, not a constant
            corr = np.corrcoef(o, t)[0, 1]
            assert abs(corr) < 0.1, f"online and target noise correlated: {layer} {leaf} element 0, corr {corr:.3f}"


def test_target_noise_is_independent_of_online_noise():
    cfg = DQNConfig(hidden_sizes=(16, 16))
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    _differs_everywhere(state.online_noise, state.target_noise, "online and target noise at init")
    # the noise the library itself draws after an update, from the key the learner gives it, over 1000 keys
    draws = 1000
    keys = jax.random.split(jax.random.key(2), draws)
    after = jax.jit(jax.vmap(lambda k: dqn.update(cfg, SPEC, state, _batch(), k)[0]))(keys)
    _assert_uncorrelated(after.online_noise, after.target_noise, draws)


def test_mu_only_evaluation_is_deterministic_and_ignores_noise():
    cfg = DQNConfig()
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (256, 4))
    a1, s1 = dqn.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    other = state.replace(online_noise=dqn.resample(cfg, SPEC, jax.random.key(9)))
    a2, _ = dqn.act(cfg, SPEC, other, obs, jax.random.key(3), explore=False)
    np.testing.assert_array_equal(a1, a2)
    assert s1 is state and a1.dtype == jnp.int32
    q_mu = dqn.network(cfg, SPEC).apply(state.params, obs, None)
    np.testing.assert_array_equal(a1, jnp.argmax(q_mu, -1))
    # while exploring actions follow the current noise: a different sample changes some of 256 greedy actions
    e1, _ = dqn.act(cfg, SPEC, state, obs, jax.random.key(2), explore=True)
    e2, _ = dqn.act(cfg, SPEC, other, obs, jax.random.key(2), explore=True)
    assert not np.array_equal(e1, e2)


def test_eval_noise_switch_uses_the_current_sample():
    cfg = DQNConfig(eval_noise=True)
    state = dqn.init(cfg, SPEC, jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (256, 4))
    noisy, _ = dqn.act(cfg, SPEC, state, obs, jax.random.key(2), explore=False)
    q = dqn.network(cfg, SPEC).apply(state.params, obs, state.online_noise)
    np.testing.assert_array_equal(noisy, jnp.argmax(q, -1))


def test_epsilon_variant_has_the_same_network_without_noise():
    noisy = dqn.init(DQNConfig(), SPEC, jax.random.key(0))
    plain = dqn.init(DQNConfig(exploration="epsilon"), SPEC, jax.random.key(0))
    assert plain.online_noise == {} and plain.target_noise == {}
    assert set(plain.params["params"]["layer_1"]) == {"kernel", "bias"}
    def shapes(params, layer):
        return sorted(v.shape for k, v in params["params"][layer].items() if "sigma" not in k)

    for layer in ("layer_0", "layer_1", "layer_2"):
        assert shapes(plain.params, layer) == shapes(noisy.params, layer)
