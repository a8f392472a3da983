"""Both loops reset the OU exploration noise at every episode start (``reset_each_episode``, the default), read from
the agent state the loop carries, not from ``exploration.reset`` alone."""

import numpy as np
import pytest

from offpolicy.agents import make_agent
from offpolicy.config import make_config
from offpolicy.envs import make_env, make_jax_env
from offpolicy.loops.compiled import CompiledLoop
from offpolicy.loops.host import HostLoop

EPISODE = 200  # Pendulum-v1's time limit


@pytest.mark.parametrize("loop_kind", ["host", "compiled"])
def test_ou_noise_restarts_at_every_episode_start(loop_kind):
    # OU with theta 0, sigma 1, dt 1 is a random walk: after t steps x ~ N(0, t) (|x| about 11 at t = 200), while one
    # step after a reset x ~ N(0, 1). No updates (learning starts after the run); policy actions from the first step.
    cfg = make_config("ddpg-pendulum", {"hidden_sizes": [16, 16], "batch_size": 32, "buffer_size": 1000,
                                        "theta": 0.0, "sigma": 1.0, "dt": 1.0})
    assert cfg.agent.noise.kind == "ou" and cfg.agent.noise.reset_each_episode
    kw = dict(buffer_size=1000, batch_size=32, warmup_steps=0, learning_starts=10_000)
    at_start, mid_episode = [], []

    def noise(loop):
        return np.abs(np.asarray(loop.agent_state().noise)).max()

    if loop_kind == "host":
        env, spec = make_env("Pendulum-v1", "ddpg")
        loop = HostLoop(make_agent("ddpg", cfg.agent, spec), env, 0, **kw)

        def on_step(step, episode_ended):
            if episode_ended:  # the next episode's first action has been drawn: one OU step after the reset
                at_start.append(noise(loop))
            elif step % EPISODE == EPISODE // 2:
                mid_episode.append(noise(loop))
    else:
        env, spec = make_jax_env("Pendulum-v1", "ddpg")
        loop = CompiledLoop(make_agent("ddpg", cfg.agent, spec), env, 0, chunk=EPISODE // 2, **kw)

        def on_step(step, _):  # chunk ends: every 100 steps, alternately mid-episode and at an episode end
            (at_start if step % EPISODE == 0 else mid_episode).append(noise(loop))

    loop.run(3 * EPISODE, on_step=on_step)
    assert len(at_start) == 3 and len(mid_episode) == 3
    assert max(at_start) < 4.0, at_start  # reset: N(0, 1) after one step
    assert np.mean(mid_episode) > 4.0, mid_episode  # not reset mid-episode: N(0, 100) after 100 steps
