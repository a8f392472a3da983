"""Notebook helpers: a live learning-curve figure redrawn in place while an agent learns, and inline HTML5 video.

``LivePlot`` is a Trainer callback (``on_episode(row)``, ``on_eval(step, result)``). In a Jupyter kernel it shows one
figure — the panels of ``learning_curve.png`` (score with its 10-episode mean and the noise-free evaluations, then
each loss) under a progress line — and replaces it in place, through an IPython display handle, at episode ends only
and at most once every ``min_interval`` seconds; when a redraw is slow the wait grows so that redrawing takes at most
``max_overhead`` of the wall time (up to ``max_interval``). ``end()`` draws the final state, which stays in the cell.
Outside a notebook (a script, a terminal IPython, pytest) it draws nothing, imports neither matplotlib nor IPython,
and opens no window.

The figure is a bare ``matplotlib.figure.Figure`` rendered to PNG by Agg (never pyplot, never ``plt.show``), so it
works whatever backend the notebook selected and leaves no stray figure behind.
"""

from __future__ import annotations

import base64
import html
import io
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from offpolicy.analysis.figures import panel_metrics

LIVE_PLOT_METADATA = {"offpolicy": "live-plot"}
"""Metadata of the live figure's display output (lets tests and tools find it in an executed notebook)."""


def in_notebook() -> bool:
    """True inside a Jupyter kernel (ipykernel: Jupyter, JupyterLab, VS Code, Colab); False in scripts, a terminal
    IPython or tests. Does not import IPython when the process has not."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install: treat as no notebook
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


class _DisplaySink:
    """Shows PNG bytes in the current cell, then replaces them in place (one IPython display handle)."""

    def __init__(self) -> None:
        self.handle = None

    def __call__(self, png: bytes) -> None:
        from IPython.display import Image, display

        image = Image(data=png, format="png")
        if self.handle is None:
            self.handle = display(image, metadata=dict(LIVE_PLOT_METADATA), display_id=True)
        else:
            self.handle.update(image, metadata=dict(LIVE_PLOT_METADATA))


class LivePlot:
    """Live learning curves for ``Trainer.callbacks``.

    metric_names   the agent's metric names (``agent.metric_names``); each loss (and SAC's alpha) gets a panel
    title          figure title (e.g. ``"DDPG Pendulum-v1 (seed 0)"``)
    min_interval   seconds between redraws, at least (redraws happen only at episode ends); the first redraw of a
                   ``learn`` call also waits this long, so short calls draw only their final state
    max_overhead   redraw time may be at most this fraction of the time between redraws: a redraw that took
                   ``c`` seconds waits ``min(max(min_interval, c / max_overhead), max_interval)`` before the next
                   (the very first redraw, which pays for importing matplotlib, waits ``min_interval``)
    max_interval   the longest wait between redraws, whatever they cost
    enabled        draw at all; default: only inside a Jupyter kernel (:func:`in_notebook`)
    sink           called with the PNG bytes of every redraw; default: an IPython display handle updated in place
    clock          time source (tests inject a fake one)

    Rows and evaluations are kept even when not drawing, and across ``begin``/``end`` pairs (a model's later
    ``learn`` calls continue the same curves).
    """

    def __init__(self, metric_names: tuple[str, ...] | list[str] = (), title: str | None = None,
                 min_interval: float = 2.0, max_overhead: float = 0.03, max_interval: float = 15.0,
                 enabled: bool | None = None,
                 sink: Callable[[bytes], Any] | None = None, clock: Callable[[], float] = time.perf_counter,
                 dpi: int = 72, learning_starts: int | None = None):
        if not 0 <= min_interval <= max_interval or not 0 < max_overhead <= 1:
            raise ValueError("need 0 <= min_interval <= max_interval and 0 < max_overhead <= 1")
        self.metric_names = tuple(metric_names)
        self.losses = tuple(panel_metrics(self.metric_names))
        self.learning_starts = learning_starts
        self.title = title
        self.min_interval = min_interval
        self.max_overhead = max_overhead
        self.max_interval = max_interval
        self.enabled = in_notebook() if enabled is None else bool(enabled)
        self._sink_factory = (lambda: sink) if sink is not None else _DisplaySink
        self.sink: Callable[[bytes], Any] | None = None
        self.clock = clock
        self.dpi = dpi
        self.rows: list[dict] = []  # step, episode_return, steps_per_s and each loss
        self.evals: list[tuple[int, float, float]] = []  # (step, mean, std)
        self.redraws = 0
        self.draw_time = 0.0  # seconds spent drawing, all redraws together
        self._next_draw = 0.0
        self._dirty = False
        self._target: int | None = None
        self._start_step = 0
        self._fig = None

    # -- a learn() call ------------------------------------------------------------------------------------------------
    def begin(self, target_step: int | None = None) -> None:
        """Start a new figure (a new output in the current cell); ``target_step`` is the step this call ends at."""
        self._target = target_step
        self._start_step = self.rows[-1]["step"] if self.rows else 0
        self.sink = self._sink_factory() if self.enabled else None
        self._next_draw = self.clock() + self.min_interval
        self._dirty = bool(self.rows)

    def end(self) -> None:
        """Draw the final state (if anything changed since the last redraw); it stays in the cell."""
        if self.enabled and self._dirty and self.rows:
            self._draw()

    # -- Trainer callbacks ---------------------------------------------------------------------------------------------
    def on_episode(self, row: dict) -> None:
        self.rows.append({k: row.get(k) for k in ("step", "episode_return", "steps_per_s", *self.losses)})
        self._dirty = True
        if self.enabled and self.clock() >= self._next_draw:
            self._draw()

    def on_eval(self, step: int, result: dict) -> None:
        if not self.evals or self.evals[-1][0] != step:
            self.evals.append((int(step), float(result["mean"]), float(result["std"])))
            self._dirty = True  # drawn at the next episode end (or by end())

    # -- drawing -------------------------------------------------------------------------------------------------------
    def columns(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(metrics, evals) as float arrays, in the column names of metrics.csv / evaluations.csv."""
        def col(key: str) -> np.ndarray:
            return np.array([np.nan if r[key] is None else float(r[key]) for r in self.rows], np.float64)

        metrics = {"step": col("step"), "episode_return": col("episode_return"), **{k: col(k) for k in self.losses}}
        ev = np.array(self.evals, np.float64).reshape(-1, 3)
        evals = {"step": ev[:, 0], "eval_return_mean": ev[:, 1], "eval_return_std": ev[:, 2]} if len(ev) else {}
        return metrics, evals

    def status_line(self) -> str:
        """One line of progress: step (of target), learning speed, last evaluation."""
        step = int(self.rows[-1]["step"]) if self.rows else 0
        parts = [f"step {step:,}"]
        if self._target:
            done = (step - self._start_step) / max(self._target - self._start_step, 1)
            parts[0] += f" / {self._target:,} ({100 * min(done, 1.0):.0f}%)"
        recent = [r["steps_per_s"] for r in self.rows[-10:] if r.get("steps_per_s")]
        if recent:
            parts.append(f"{np.median(recent):,.0f} steps/s")
        if self.evals:
            parts.append(f"eval {self.evals[-1][1]:.1f} @ {self.evals[-1][0]:,}")
        return " · ".join(parts)

    def render(self) -> bytes:
        """The current figure as PNG bytes."""
        from matplotlib.figure import Figure

        from offpolicy.analysis.figures import draw_learning_curve, panel_grid

        rows, cols = panel_grid(len(self.losses))
        if self._fig is None:  # fixed margins: a layout engine would double the cost of every redraw
            self._fig = Figure(figsize=(4.8 * cols, 3.6 * rows))
        fig = self._fig
        fig.clear()
        metrics, evals = self.columns()
        title = f"{self.title} — {self.status_line()}" if self.title else self.status_line()
        draw_learning_curve(fig, metrics, evals, title, self.learning_starts)
        top = 1 - 0.2 / rows
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15 / rows, top=top, wspace=0.35, hspace=0.45)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=self.dpi)
        return buf.getvalue()

    def _draw(self) -> None:
        tic = self.clock()
        png = self.render()
        if self.sink is None:
            self.sink = self._sink_factory()
        self.sink(png)
        toc = self.clock()
        cost = toc - tic
        if self.redraws == 0:  # the first redraw imports matplotlib and loads fonts: no measure of the next ones
            wait = self.min_interval
        else:
            wait = min(max(self.min_interval, cost / self.max_overhead), self.max_interval)
        self.redraws += 1
        self.draw_time += cost
        self._dirty = False
        self._next_draw = toc + wait


def video_html(mp4: bytes, caption: str | None = None, width: int | None = None) -> str:
    """An HTML5 ``<video>`` element with the MP4 embedded as base64 (plays in Jupyter, VS Code, Colab, nbviewer)."""
    data = base64.b64encode(mp4).decode("ascii")
    size = f' width="{int(width)}"' if width else ' style="max-width: 100%"'
    out = (f'<video controls loop autoplay muted playsinline{size}>'
           f'<source src="data:video/mp4;base64,{data}" type="video/mp4">'
           "Your browser cannot play this MP4 video.</video>")
    if caption:
        out = f"<figure style=\"margin: 0\">{out}<figcaption>{html.escape(caption)}</figcaption></figure>"
    return out
