"""The gymnax envs of the compiled loop store the observation an action led to at an episode end (``final_obs``, the
transition's next_obs), not the next episode's first observation, at a truncation (Pendulum's 200-step limit) and at
a termination (CartPole falling); checked against Gymnasium's env stepped from the same state with the same action."""

import gymnasium as gym
import jax
import numpy as np

from offpolicy.envs import make_jax_env


def _run_until_done(env, action, max_steps):
    """Step ``env`` from a fixed reset with ``action`` until an episode ends: (state before the last step, its
    outputs)."""
    step = jax.jit(env.step)
    key = jax.random.key(0)
    _, state = env.reset(key)
    for _ in range(max_steps):
        key, step_key = jax.random.split(key)
        before = state
        policy_obs, state, reward, terminated, truncated, final_obs = step(step_key, state, action)
        if bool(terminated | truncated):
            return before, (np.asarray(policy_obs), float(reward), bool(terminated), bool(truncated),
                            np.asarray(final_obs))
    raise AssertionError(f"no episode end in {max_steps} steps")


def test_pendulum_truncation_stores_the_last_observation_not_the_reset_one():
    env, _ = make_jax_env("Pendulum-v1", "ddpg")
    before, (policy_obs, reward, terminated, truncated, final_obs) = _run_until_done(env, np.array([0.5]), 250)
    assert truncated and not terminated and int(before.time) == 199  # the 200th step ends the episode
    gym_env = gym.make("Pendulum-v1").unwrapped
    gym_env.reset(seed=0)
    gym_env.state = np.array([float(before.theta), float(before.theta_dot)])
    expected, gym_reward, *_ = gym_env.step(np.array([1.0], np.float32))  # agent action 0.5 -> torque 1.0
    np.testing.assert_allclose(final_obs, expected, atol=1e-4)
    assert abs(reward - gym_reward) < 1e-3
    assert not np.allclose(policy_obs, final_obs)  # the next episode starts elsewhere


def test_cartpole_termination_stores_the_fallen_state_not_the_reset_one():
    env, _ = make_jax_env("CartPole-v1", "dqn")
    before, (policy_obs, _, terminated, truncated, final_obs) = _run_until_done(env, np.int32(1), 100)
    assert terminated and not truncated
    gym_env = gym.make("CartPole-v1").unwrapped
    gym_env.reset(seed=0)
    gym_env.state = np.array([float(before.x), float(before.x_dot), float(before.theta), float(before.theta_dot)])
    expected, _, gym_terminated, *_ = gym_env.step(1)
    assert gym_terminated
    np.testing.assert_allclose(final_obs, expected, atol=1e-4)
    assert abs(final_obs[2]) > 0.2  # past the 12-degree limit: a fallen pole, not a fresh start
    assert np.all(np.abs(policy_obs) <= 0.05)  # the next episode's first observation, drawn in [-0.05, 0.05]
