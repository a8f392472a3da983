"""Asymmetric action bounds, end to end: a continuous agent acts in [-1, 1] and the env receives low + (a + 1) / 2 *
(high - low) in its own [low, high], in training, evaluation, ``predict`` and a saved-and-loaded policy.

DDPG only: the mapping is the same code for every continuous agent (make_env's RescaleAction, Policy.to_env), and
this env's 2-D actions need programs of their own (about 10 s of compiling per algorithm; SAC's take longer)."""

import gymnasium as gym
import numpy as np
from tiny_runs import TINY as SHARED_TINY

from offpolicy import DDPG
from offpolicy.agents import ddpg
from offpolicy.policy import Policy

ENV_ID = "AsymBox-v0"
LOW = np.array([0.0, -3.0], np.float32)
HIGH = np.array([1.0, 5.0], np.float32)
RECEIVED: list[tuple[np.ndarray, np.ndarray]] = []  # (observation the agent saw, action the env received) per step


class AsymBox(gym.Env):
    """Random observations; the reward pulls the action towards (0.8, 4), a corner no symmetric map reaches."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Box(LOW, HIGH, dtype=np.float32)

    def _observe(self) -> np.ndarray:
        self._obs = self.np_random.uniform(-1.0, 1.0, 3).astype(np.float32)
        return self._obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._observe(), {}

    def step(self, action):
        action = np.array(action, np.float64)  # a copy: the caller may reuse its buffer
        RECEIVED.append((self._obs, action))
        reward = -float((action[0] - 0.8) ** 2 + ((action[1] - 4.0) / 4.0) ** 2)
        return self._observe(), reward, False, False, {}


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=AsymBox, max_episode_steps=50)

# The suite's tiny settings (tests/tiny_runs.py): only this env's shapes are new to the compiler.
TINY = {**SHARED_TINY, "progress": False}
OBS = np.random.default_rng(0).uniform(-1.0, 1.0, (16, 3)).astype(np.float32)


def received() -> tuple[np.ndarray, np.ndarray]:
    obs, actions = zip(*RECEIVED)
    return np.stack(obs), np.stack(actions)


def test_asymmetric_bounds_in_training_evaluation_predict_and_load(tmp_path):
    RECEIVED.clear()
    model = DDPG(ENV_ID, seed=0, **TINY).learn()
    _, train_actions = received()  # training's, and its periodic evaluation's
    assert len(train_actions) >= TINY["total_steps"]
    RECEIVED.clear()
    model.evaluate(2)
    eval_obs, eval_actions = received()
    assert len(eval_actions) == 2 * 50

    # every action the env received lies in its own bounds, per dimension ...
    for what, actions in (("training", train_actions), ("evaluation", eval_actions)):
        inside = np.all(actions >= LOW) and np.all(actions <= HIGH)
        assert inside, f"{what} sent actions outside {LOW}..{HIGH}: from {actions.min(0)} to {actions.max(0)}"
    # ... and training (its random warm-up first) used the whole box: dimension 0 never below 0 yet across [0, 1],
    # dimension 1 far above 1 and below -1; neither [-1, 1] nor a symmetric [-max, max] gives both
    lo, hi = train_actions.min(0), train_actions.max(0)
    assert lo[0] < 0.1 and hi[0] > 0.9, (lo, hi)
    assert lo[1] < -2.0 and hi[1] > 4.0, (lo, hi)

    # predict: the actor's mu (from the agent state and the actor network) mapped onto [low, high]; evaluation acted
    # with the same map
    predicted, _ = model.predict(OBS, deterministic=True)
    actor, _ = ddpg.networks(model.config.agent, model._trainer.spec)
    mu = np.asarray(actor.apply(model._trainer.state.actor, OBS), np.float64)
    assert np.all(np.abs(mu) < 1) and np.all(np.ptp(mu, axis=0) > 0.01)
    expected = LOW + (mu + 1) / 2 * (HIGH.astype(np.float64) - LOW)
    np.testing.assert_allclose(predicted, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eval_actions, model.predict(eval_obs, deterministic=True)[0], rtol=1e-6, atol=1e-6)
    # SB3's idiom on a 2-D action: the tuple unpacks to the whole action (not its first component) and no state;
    # by default (deterministic=False) it explores: the same map of an action with noise, still inside the bounds
    action, state = model.predict(OBS[0])
    assert state is None and action.shape == (2,) and np.all(action >= LOW) and np.all(action <= HIGH)
    assert not np.allclose(action, predicted[0])

    # a saved checkpoint, loaded as a Policy (no env needed) or as a model, predicts the same
    path = model.save(tmp_path / "ckpt")
    policy = Policy.load(path)
    np.testing.assert_array_equal(policy.action_bounds[0], LOW)
    np.testing.assert_array_equal(policy.action_bounds[1], HIGH)
    np.testing.assert_array_equal(policy.predict(OBS), predicted)
    np.testing.assert_array_equal(DDPG.load(path, progress=False).predict(OBS, deterministic=True)[0], predicted)
