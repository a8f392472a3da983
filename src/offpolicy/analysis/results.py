"""Run results read from a run directory's files (any finished or running run; nothing is imported from the code
that wrote them): CSV columns as arrays, a finished run's summary, and groups of runs that differ only in seed."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from offpolicy.errors import CheckpointError


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV as float arrays (empty cells -> NaN); ``{}`` when the file is missing or has no rows. A file
    that is not such a CSV (bytes that are not text, a cell that is not a number, a row longer than the header) is a
    one-line CheckpointError naming the file and where."""
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CheckpointError(f"{path}: not a readable CSV file ({exc}); it is damaged: restore it or rerun the "
                              "run.") from None
    if len(lines) < 2:
        return {}
    header = lines[0]
    columns: list[list[float]] = [[] for _ in header]
    for line_number, row in enumerate(lines[1:], start=2):
        if len(row) > len(header):
            raise CheckpointError(f"{path}: line {line_number} has {len(row)} values for {len(header)} columns; it "
                                  "is damaged: restore it or rerun the run.")
        row = row + [""] * (len(header) - len(row))  # a last line cut short by a kill: the rest missing
        for name, cell, column in zip(header, row, columns):
            try:
                column.append(float(cell) if cell != "" else np.nan)
            except ValueError:
                raise CheckpointError(f"{path}: line {line_number}, column {name!r}: {cell[:40]!r} is not a "
                                      "number; it is damaged: restore it or rerun the run.") from None
    return {name: np.array(column) for name, column in zip(header, columns)}


@dataclass
class RunResult:
    """What the report needs from one finished run directory."""

    run_dir: Path
    seed: int
    env: str
    algo: str
    total_steps: int
    final: float
    best: float | None
    eval_steps: np.ndarray
    eval_means: np.ndarray
    metric_steps: np.ndarray
    metric_time: np.ndarray
    wall_time_s: float
    learn_sps: float | None
    versions: dict[str, str]

    def time_at(self, step: float) -> float | None:
        """Wall time (s, from the start of training) when the run reached ``step``."""
        if self.metric_steps.size == 0:
            return None
        return float(np.interp(step, self.metric_steps, self.metric_time))


@dataclass
class Group:
    """Runs of one config (one per seed), plus the trials of it that did not finish."""

    label: str
    source: Path
    runs: list[RunResult] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    """(trial or run, why) for runs that are not finished."""
    params: dict[str, Any] = field(default_factory=dict)
    env: str = ""
    algo: str = ""


def load_run(run_dir: Path) -> RunResult | None:
    """A finished run directory's results, or None if it has no summary.json (not finished)."""
    run_dir = Path(run_dir)
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        final_eval = json.loads((run_dir / "eval.json").read_text())
    except (OSError, ValueError):
        return None
    evals = read_csv(run_dir / "evaluations.csv")
    metrics = read_csv(run_dir / "metrics.csv")
    eval_steps = evals.get("step", np.zeros(0))
    eval_means = evals.get("eval_return_mean", np.zeros(0))
    return RunResult(
        run_dir=run_dir, seed=int(summary["seed"]), env=summary["env"], algo=summary["algo"],
        total_steps=int(summary["steps"]), final=float(final_eval["mean"]), best=summary.get("best_eval_mean"),
        eval_steps=eval_steps, eval_means=eval_means, metric_steps=metrics.get("step", np.zeros(0)),
        metric_time=metrics.get("time_s", np.zeros(0)), wall_time_s=float(summary["wall_time_s"]),
        learn_sps=summary.get("learning_phase_steps_per_s"), versions=summary.get("versions", {}))


def is_run(path: Path) -> bool:
    return (Path(path) / "config.yaml").is_file() and (Path(path) / "metrics.csv").is_file()


def run_group(run_dir: Path, label: str | None = None) -> Group:
    """A single run directory as a group of one (or of none, with the reason, if it has not finished)."""
    result = load_run(run_dir)
    group = Group(label=label or Path(run_dir).name, source=Path(run_dir))
    if result is None:
        group.missing.append((str(run_dir), "not finished (no summary.json)"))
        from offpolicy.config import load_preset_dict

        data = load_preset_dict(str(Path(run_dir) / "config.yaml"))
        group.env, group.algo = data.get("env", "?"), data.get("algo", "?")
    else:
        group.runs.append(result)
        group.env, group.algo = result.env, result.algo
    return group
