"""The one contract every training loop keeps, for 1..N seeds, so the training shell never asks which loop it drives.

A loop trains one agent per seed (``seeds``), all advancing in lockstep: after ``run(n)`` every seed has taken n more
env steps. The shell observes it through two callbacks and reads per-seed state by index:

* ``on_episode(seed_index, record)`` is called once per finished training episode of seed ``seed_index`` (an index
  into ``seeds``, also with one seed), in step order for each seed.
* ``on_step(step, resumable)`` is called after ``step`` (1-based, the same for every seed) whenever the loop hands
  control back: after every step (host loop) or at every chunk end (compiled loop), and always at every multiple of
  the ``align`` intervals the loop was built with, so evaluations and checkpoints fall on the same steps in every loop.
  ``resumable`` is True when ``host_state()`` with ``carry`` would resume the run exactly from here (host loop: every
  seed's episode has just ended; compiled loop: every chunk end). It means nothing else.

Errors: a NaN/inf observation or reward, or an update rejected because a loss or parameter became NaN/inf, raises
``offpolicy.errors.NonFiniteError`` naming the seed (several seeds), the step and the episode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from offpolicy.loops.learner import EpisodeRecord, LoopState

OnEpisode = Callable[[int, EpisodeRecord], None]
"""``on_episode(seed_index, record)``: one finished training episode of seed ``seeds[seed_index]``."""
OnStep = Callable[[int, bool], None]
"""``on_step(step, resumable)``: control is back after ``step``; ``resumable``: a training checkpoint is exact here."""


class Loop(Protocol):
    """A training loop over 1..N seeds (HostLoop, CompiledLoop)."""

    seeds: list[int]
    """The master seed of each agent, in index order."""
    carry: Any
    """Every array the loop trains (agents, replay buffers, keys; a leading seed axis with several seeds)."""
    start_up_time: float
    """Seconds spent compiling inside ``run`` and kept out of the steps/s accounting (0 when not measured apart)."""

    @property
    def states(self) -> list[LoopState]:
        """Host-side counters of each seed (step, episode, updates, learning-phase time and steps)."""

    def run(self, n_steps: int, on_episode: OnEpisode | None = None, on_step: OnStep | None = None) -> None:
        """Advance every seed ``n_steps`` env steps, calling back as the module docstring says. Can be called again:
        training continues where it stopped. ``n_steps`` is a multiple of ``n_envs`` (a ValueError otherwise)."""

    def agent_state(self, i: int = 0) -> Any:
        """Seed i's agent state (what a policy checkpoint holds)."""

    def set_agent_state(self, agent_state: Any) -> None:
        """Replace the agent state of a one-seed loop (e.g. restored from a checkpoint)."""

    def rejected_updates(self, i: int = 0) -> int:
        """How many of seed i's updates were rejected for a NaN/inf loss or parameter."""

    def host_state(self) -> dict[str, Any]:
        """JSON-safe host-side state of a one-seed loop; with ``carry`` it resumes exactly where ``on_step`` said
        ``resumable``. Several seeds: NotImplementedError (training checkpoints of multi-seed runs are not offered)."""

    def load_host_state(self, host: dict[str, Any]) -> None:
        """Restore ``host_state()`` output (after ``carry`` was restored)."""
