"""Callbacks for ``model.learn(callback=...)``: watch training as it goes, and stop it early.

    from offpolicy import DDPG, Callback

    class StopAtReturn(Callback):
        def on_eval(self, step, result):          # after each periodic evaluation (eval_every)
            return result["mean"] < -200           # False stops training

    DDPG("Pendulum-v1").learn(50_000, callback=StopAtReturn())

Periodic evaluation and checkpoints are config keys, not callbacks: ``eval_every`` / ``eval_episodes`` (the best
policy goes to ``checkpoints/best`` when the model writes a run directory) and ``checkpoint_every`` (resumable
training checkpoints), in place of Stable-Baselines3's EvalCallback and CheckpointCallback.
"""

from __future__ import annotations

from typing import Any


class Callback:
    """Base class of ``learn(callback=...)``: override any of the three methods. A method that returns ``False`` stops
    training once the current step is done (host loop; the compiled loop stops at the end of its chunk of up to
    1,000 steps); ``None`` or ``True`` continues. ``self.model`` is the model being trained (set by ``learn``).
    Time spent in callbacks is kept out of the steps/s figures."""

    model: Any = None

    def on_step(self, step: int) -> bool | None:
        """After env step ``step`` (1-based, counted over every ``learn`` call): every step in the host loop, at each
        chunk end in the compiled loop."""
        return None

    def on_episode(self, row: dict[str, Any]) -> bool | None:
        """After each training episode, with its ``metrics.csv`` row: step, episode, episode_return,
        episode_length, the update metrics averaged over the episode (absent during warm-up), steps_per_s, time_s."""
        return None

    def on_eval(self, step: int, result: dict[str, Any]) -> bool | None:
        """After each periodic evaluation (every ``eval_every`` steps), with its result: mean, std, min, max,
        returns, lengths, seeds, episodes."""
        return None
