"""One seed's run directory: config.yaml, metrics.csv / evaluations.csv / tb/ (RunLogger), checkpoints, and the
final files (eval.json, summary.json, learning_curve.png, video.mp4).

Nothing is written before the caller has validated the config and built the env, and every directory of a run is
checked (``check_new``) before any is created, so bad input never leaves a half-made run directory behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from offpolicy.agents.base import EnvSpec
from offpolicy.analysis.figures import plot_run
from offpolicy.config import RunConfig, save_yaml
from offpolicy.errors import OffpolicyError
from offpolicy.run import checkpoint
from offpolicy.run.logger import RunLogger


def check_new(path: str | Path) -> Path:
    """``path`` as a Path, or an error when it exists and is not an empty directory, or cannot be created (checked
    at once, before any env is made or compilation runs)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise OffpolicyError(f"run directory {path} already exists and is not empty; choose another path.")
    _check_creatable(path)
    return path


def _check_creatable(path: Path) -> None:
    """Probe the nearest existing folder of ``path`` by making and removing an empty directory in it: permission
    bits alone say nothing for root, nor for /proc or a read-only file system."""
    base = path.absolute()
    base = next(p for p in (base, *base.parents) if p.exists())
    if not base.is_dir():
        raise OffpolicyError(f"cannot create run directory {path}: {base} is a file, not a directory; choose "
                             "another path.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".offpolicy-probe-", dir=base))
    except OSError as exc:
        raise OffpolicyError(f"cannot create run directory {path}: {base} is not writable "
                             f"({exc.strerror or exc}); choose another path.") from None


def training_checkpoints(run_dir: Path) -> list[Path]:
    """A run's training checkpoints, oldest first."""
    return sorted(p for p in (Path(run_dir) / "checkpoints").glob("train-*") if p.is_dir())


class RunWriter:
    """Writes one seed's run directory. ``resume_rows`` = (metrics rows, evaluation rows, step) from a training
    checkpoint continues an existing run's logs from that point instead of starting a new directory."""

    def __init__(self, run_dir: str | Path, config: RunConfig, spec: EnvSpec, metric_names: tuple[str, ...],
                 action_bounds: tuple[list[float], list[float]] | None = None,
                 resume_rows: tuple[int, int, int] | None = None):
        self.run_dir = Path(run_dir)
        self.config, self.spec, self.action_bounds = config, spec, action_bounds
        if resume_rows is None:
            check_new(self.run_dir).mkdir(parents=True, exist_ok=True)
            save_yaml(config, self.run_dir / "config.yaml")
        else:
            for stale in self.run_dir.glob("checkpoints/.*"):  # leftovers of a checkpoint write that was killed
                shutil.rmtree(stale, ignore_errors=True)
        self.logger = RunLogger(self.run_dir, metric_names, resume_rows)

    # -- logs ---------------------------------------------------------------------------------------------------------
    def episode(self, row: dict[str, Any]) -> None:
        self.logger.episode(row)

    def evaluation(self, step: int, result: dict) -> None:
        self.logger.evaluation(step, result)

    def log_rows(self) -> tuple[int, int]:
        """(metrics rows, evaluation rows) written so far: a training checkpoint records them for resume."""
        return self.logger.metrics.rows, self.logger.evals.rows

    # -- checkpoints --------------------------------------------------------------------------------------------------
    def save_policy(self, name: str, agent_state: Any, info: dict[str, Any]) -> Path:
        """``checkpoints/<name>/``: the agent state (best, final, interrupted, last-good)."""
        return checkpoint.save(self.run_dir / "checkpoints" / name, agent_state, self.config, self.spec, info,
                               action_bounds=self.action_bounds)

    def save_training(self, step: int, carry: Any, info: dict[str, Any], host: dict[str, Any]) -> Path:
        """``checkpoints/train-<step>/``: the whole loop carry and host state, for exact resume; keeps the newest
        ``keep_checkpoints`` of them."""
        path = checkpoint.save(self.run_dir / "checkpoints" / f"train-{step:09d}", carry, self.config, self.spec,
                               info, kind="training", host=host, action_bounds=self.action_bounds)
        for old in training_checkpoints(self.run_dir)[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    # -- final files --------------------------------------------------------------------------------------------------
    def write_json(self, name: str, data: dict[str, Any]) -> None:
        (self.run_dir / name).write_text(json.dumps(data, indent=2))

    def plot(self, title: str) -> None:
        self.logger.tb.flush()
        plot_run(self.run_dir, title=title)

    def close(self) -> None:
        self.logger.close()
