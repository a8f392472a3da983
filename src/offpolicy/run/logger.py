"""Run-directory logging: CSV files a person can open, and TensorBoard event files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CSVLog:
    """Append rows with a fixed header; each row is flushed so a killed run keeps what it logged."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self._file = open(path, "w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=columns)
        self._writer.writeheader()
        self._file.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        self._file.flush()

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

    def __init__(self, run_dir: Path, metric_names: tuple[str, ...]):
        from tensorboardX import SummaryWriter

        self.metrics = CSVLog(
            run_dir / "metrics.csv",
            ["step", "episode", "episode_return", "episode_length", *metric_names, "steps_per_s", "time_s"],
        )
        self.evals = CSVLog(
            run_dir / "evaluations.csv",
            ["step", "eval_return_mean", "eval_return_std", "eval_return_min", "eval_return_max",
             "eval_length_mean", "episodes"],
        )
        self.tb = SummaryWriter(str(run_dir / "tb"))

    def episode(self, row: dict[str, Any]) -> None:
        self.metrics.write(row)
        step = row["step"]
        self.tb.add_scalar("train/episode_return", row["episode_return"], step)
        self.tb.add_scalar("train/episode_length", row["episode_length"], step)
        for key, value in row.items():
            if key.endswith("loss") or key in ("q_mean",):
                if value is not None:
                    self.tb.add_scalar(f"losses/{key}", value, step)
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
