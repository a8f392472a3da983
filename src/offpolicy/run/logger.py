"""Run-directory logging: CSV files a person can open, and TensorBoard event files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from offpolicy.errors import CheckpointError


class CSVLog:
    """Append rows with a fixed header; each row is flushed so a killed run keeps what it logged."""

    def __init__(self, path: Path, columns: list[str], keep_rows: int | None = None):
        """A new file, or with ``keep_rows`` the existing file cut to its header and first ``keep_rows`` rows (rows
        written after a checkpoint by a run that was then killed), continued from there."""
        self.columns = columns
        self.rows = keep_rows or 0
        if keep_rows is None:
            self._file = open(path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=columns)
            self._writer.writeheader()
        else:
            lines = path.read_bytes().splitlines(keepends=True) if path.is_file() else []
            if not lines or lines[0].strip() != ",".join(columns).encode() or len(lines) - 1 < keep_rows:
                raise CheckpointError(f"{path} does not match the checkpoint ({keep_rows} rows expected); "
                                      "it was changed or truncated after the checkpoint was taken.")
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(b"".join(lines[: keep_rows + 1]))
            tmp.replace(path)
            self._file = open(path, "a", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=columns)
        self._file.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        self._file.flush()
        self.rows += 1

    def close(self) -> None:
        self._file.close()


def _fmt(x: Any) -> Any:
    if x is None:
        return ""
    if isinstance(x, float):
        return repr(x)
    return x


class RunLogger:
    """metrics.csv (one row per training episode), evaluations.csv, and TensorBoard scalars under tb/."""

    def __init__(self, run_dir: Path, metric_names: tuple[str, ...], resume_rows: tuple[int, int, int] | None = None):
        """``resume_rows`` = (metrics rows, evaluation rows, step) continues an existing run's logs from a checkpoint:
        CSV rows after it are dropped and TensorBoard purges events after ``step``."""
        from tensorboardX import SummaryWriter

        self.metric_names = metric_names
        metrics_rows, eval_rows, step = resume_rows if resume_rows is not None else (None, None, None)
        self.metrics = CSVLog(
            run_dir / "metrics.csv",
            ["step", "episode", "episode_return", "episode_length", *metric_names, "steps_per_s", "time_s"],
            metrics_rows,
        )
        self.evals = CSVLog(
            run_dir / "evaluations.csv",
            ["step", "eval_return_mean", "eval_return_std", "eval_return_min", "eval_return_max",
             "eval_length_mean", "episodes"],
            eval_rows,
        )
        self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=None if step is None else step + 1)

    def episode(self, row: dict[str, Any]) -> None:
        self.metrics.write(row)
        step = row["step"]
        self.tb.add_scalar("train/episode_return", row["episode_return"], step)
        self.tb.add_scalar("train/episode_length", row["episode_length"], step)
        for key in self.metric_names:  # every metric the agent returns (losses, q_mean, sigma_mean, epsilon, ...)
            if row.get(key) is not None:
                self.tb.add_scalar(f"agent/{key}", row[key], step)
        if row.get("steps_per_s") is not None:
            self.tb.add_scalar("time/steps_per_s", row["steps_per_s"], step)

    def evaluation(self, step: int, result: dict[str, Any]) -> None:
        self.evals.write({
            "step": step, "eval_return_mean": result["mean"], "eval_return_std": result["std"],
            "eval_return_min": result["min"], "eval_return_max": result["max"],
            "eval_length_mean": result["length_mean"], "episodes": result["episodes"],
        })
        self.tb.add_scalar("eval/return_mean", result["mean"], step)
        self.tb.add_scalar("eval/return_std", result["std"], step)

    def close(self) -> None:
        self.metrics.close()
        self.evals.close()
        self.tb.close()
