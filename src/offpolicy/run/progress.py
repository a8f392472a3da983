"""Progress of a training call: the progress bar, and the wall-clock accounting of metrics.csv's steps/s column
(time spent evaluating, checkpointing or in callbacks is kept out of it)."""

from __future__ import annotations

import time


class Progress:
    """One ``learn`` call's bar over ``total`` steps (``agents`` seeds advance together: the bar counts agent-steps
    when there are several) and its clock."""

    def __init__(self, total: int, desc: str, start_step: int, agents: int = 1, enabled: bool = True):
        from tqdm.auto import tqdm

        unit = "agent-step" if agents > 1 else "step"
        self.agents = agents
        self.desc = desc
        self.bar = tqdm(total=total * agents, unit=unit, disable=not enabled, dynamic_ncols=True, desc=desc,
                        mininterval=0.5)
        self.state: str | None = None
        self.start_step = start_step
        self.start = time.perf_counter()
        self.closed = False
        self.excluded = 0.0  # seconds of evaluation, checkpoints and callbacks: kept out of steps/s

    def exclude_since(self, tic: float) -> None:
        """Keep the time since ``tic`` out of steps/s."""
        self.excluded += time.perf_counter() - tic

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def status(self, text: str | None) -> None:
        """Say what the bar is waiting for (e.g. "compiling the update") beside its description; None clears it."""
        if text != self.state:
            self.state = text
            self.bar.set_description_str(f"{self.desc} ({text})" if text else self.desc, refresh=True)

    def at(self, step: int, postfix: dict[str, str] | None = None) -> None:
        """The bar shows ``step`` (per seed); cheap enough to call every 100 steps."""
        self.bar.update((step - self.start_step) * self.agents - self.bar.n)
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)

    def close(self, step: int) -> None:
        """Show ``step`` and close the bar (again: nothing)."""
        if not self.closed:
            self.at(step)
            self.bar.close()
            self.closed = True
