"""A CartPole that fails on purpose, for the sweep tests: at its ``at_step``-th step it raises (``fault="raise"``) or
SIGKILLs its own process (``fault="kill"``), but only while the file ``flag_dir/<fault>`` exists, so a retry after
the test removes the file runs like plain CartPole-v1. Registered as ``FlakyCartPole-v0`` once imported: the sweep
tests name it with ``--env-module flaky_env``, which imports it here and in the spawned worker processes."""

import os
import signal

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class FlakyCartPole(CartPoleEnv):
    def __init__(self, fault: str = "none", at_step: int = 200, flag_dir: str = "", **kwargs):
        super().__init__(**kwargs)
        self.fault, self.at_step, self.flag_dir, self.steps = fault, at_step, flag_dir, 0

    def step(self, action):
        self.steps += 1
        if self.fault != "none" and self.steps == self.at_step and os.path.exists(os.path.join(self.flag_dir,
                                                                                               self.fault)):
            if self.fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"injected fault at env step {self.steps}")
        return super().step(action)


gym.register("FlakyCartPole-v0", entry_point=FlakyCartPole, max_episode_steps=500)
