"""TD3 and SAC learn Pendulum-v1 within rl-zoo's budget of 20,000 steps on a fixed seed (their presets, compiled loop:
the same numbers as the host loop, faster here)."""

import pytest

from offpolicy.config import make_config
from offpolicy.run.trainer import Trainer


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["td3-pendulum", "sac-pendulum"])
def test_reaches_pendulum_threshold_within_20k_steps(preset):
    # A random or broken policy scores about -1200 on Pendulum; -200 needs a swing-up that holds from most starts.
    config = make_config(preset, {"total_steps": 20_000, "eval_every": 0, "video": False, "loop": "compiled"})
    trainer = Trainer(config, progress=False)
    trainer.learn(config.total_steps)
    result = trainer.evaluate()
    trainer.close()
    assert result["episodes"] == 10
    assert result["mean"] >= -200, result
