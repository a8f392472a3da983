import jax
import jax.numpy as jnp
import numpy as np
import pytest

from offpolicy import exploration
from offpolicy.config import NoiseConfig


def run(cfg, n, shape=(1,), seed=0):
    state = exploration.init(cfg, shape)

    def body(s, k):
        noise, s = exploration.sample(cfg, s, k)
        return s, noise

    _, noise = jax.lax.scan(body, state, jax.random.split(jax.random.key(seed), n))
    return np.asarray(noise)


@pytest.mark.parametrize("theta,dt", [(1.0, 0.01), (0.15, 1.0), (1.0, 0.05)])
def test_ou_mean_autocorrelation_and_std(theta, dt):
    cfg = NoiseConfig(kind="ou", theta=theta, sigma=0.3, dt=dt)
    x = run(cfg, 200_000)[:, 0]
    x = x[5_000:]  # drop the transient from x0 = mu
    phi = 1 - theta * dt
    stationary_std = 0.3 * np.sqrt(dt / (1 - phi**2))
    lag1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert abs(lag1 - phi) < 0.01
    assert abs(x.std() - stationary_std) / stationary_std < 0.1
    standard_error = stationary_std * np.sqrt((1 + phi) / ((1 - phi) * len(x)))  # of an AR(1) sample mean
    assert abs(x.mean()) < 4 * standard_error


def test_ou_is_zero_mean_unlike_the_tutorial_noise():
    ou = run(NoiseConfig(kind="ou", theta=1.0, sigma=0.1, dt=0.01), 100_000)[:, 0]
    tutorial = run(NoiseConfig(kind="tutorial", theta=1.0, sigma=0.1), 100_000)[:, 0]
    assert abs(ou.mean()) < 0.01
    # the notebook's process with theta=1 is sigma*U[0,1): mean 0.05, never negative
    assert abs(tutorial.mean() - 0.05) < 0.002
    assert tutorial.min() >= 0.0 and tutorial.max() < 0.1


def test_gaussian_noise_statistics_and_independence():
    x = run(NoiseConfig(kind="gaussian", sigma=0.2), 100_000)[:, 0]
    assert abs(x.std() - 0.2) < 0.005 and abs(x.mean()) < 0.005
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.02


def test_reset_only_resets_started_envs():
    cfg = NoiseConfig(kind="ou", mu=0.0)
    state = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    out = exploration.reset(cfg, state, jnp.array([True, False]))
    np.testing.assert_array_equal(np.asarray(out), [[0.0, 0.0], [3.0, 4.0]])
    keep = NoiseConfig(kind="tutorial", reset_each_episode=False)
    np.testing.assert_array_equal(np.asarray(exploration.reset(keep, state, jnp.array([True, True]))), state)


def test_none_noise_is_zero():
    assert np.all(run(NoiseConfig(kind="none"), 10) == 0)
