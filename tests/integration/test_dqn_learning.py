"""NoisyNet-DQN learns CartPole-v1 with a fixed seed, in CI time (noise-free evaluation with the mean weights mu).

A random policy scores ~22 on CartPole-v1. Breaking the update (gradient ascent instead of descent, or no
bootstrap from the target network) keeps the agent far below the threshold: checked by hand when the test was
written (see docs/dqn.md, "Tests").
"""

import pytest

from offpolicy import DQN

SETTINGS = dict(total_steps=8_000, warmup_steps=0, learning_starts=500, eval_every=2_000, eval_episodes=5,
                video=False, buffer_size=10_000, batch_size=64, lr=1e-3, target_update=150)


@pytest.mark.slow
def test_noisy_dqn_reaches_150_on_cartpole_v1():
    model = DQN("CartPole-v1", seed=0, progress=False, **SETTINGS).learn()
    trainer = model._trainer
    best = trainer.best_eval
    assert best is not None and best >= 150, f"best noise-free evaluation {best} < 150 after 8k steps"
