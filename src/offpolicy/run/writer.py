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
from offpolicy.config import RunConfig, from_dict, read_yaml_mapping, save_yaml, to_dict
from offpolicy.errors import CheckpointError, ConfigError, OffpolicyError
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


# The files a run writes: a restart from step 0 (a resume with no training checkpoint) removes these and nothing else.
RUN_OUTPUTS = ("metrics.csv", "evaluations.csv", "tb", "checkpoints", "eval.json", "summary.json",
               "learning_curve.png", "video.mp4", "eval_video.mp4")


def finished_steps(run_dir: Path) -> int | None:
    """The step a finished run (one with summary.json) ended at, or None while it is not finished."""
    try:
        return int(json.loads((Path(run_dir) / "summary.json").read_text())["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_run_config(run_dir: Path) -> RunConfig:
    """``run_dir/config.yaml`` as a validated config (CheckpointError, one line, when missing or invalid)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not a run directory (no config.yaml) to resume.")
    try:
        return from_dict(read_yaml_mapping(path))
    except ConfigError as exc:
        where = "" if str(exc).startswith(str(path)) else f"{path}: "
        raise CheckpointError(f"{where}{exc} Undo the edit to the run's config.yaml, or start a new run.") from None


def check_config_file(run_dir: Path, trained: RunConfig) -> int | None:
    """Refuse a resume when ``run_dir/config.yaml`` no longer says the settings the run was trained with
    (``trained``, from its checkpoint): the file was edited. Its ``total_steps`` alone may differ (a longer budget is
    how a run is extended): returned then, else None. A missing config.yaml is rewritten by the resume."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return None
    written, saved = _flat(to_dict(read_run_config(run_dir))), _flat(to_dict(trained))
    diffs = [f"{key}: {saved.get(key)!r} when trained, {written.get(key)!r} in the file"
             for key in sorted(set(written) | set(saved)) if key != "total_steps" and written.get(key) != saved.get(key)]
    if diffs:
        raise CheckpointError(
            f"{path} was edited after the run started ({'; '.join(diffs[:4])}{' ...' if len(diffs) > 4 else ''}); a "
            "resume continues with the settings the run was trained with. Undo the edit (or delete config.yaml: the "
            "resume rewrites it); train new settings in a new run; extend a run with --total-steps.")
    return written["total_steps"] if written["total_steps"] != saved["total_steps"] else None


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict) and key != "env_kwargs":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def clear_outputs(run_dir: Path) -> None:
    """Remove what a run wrote (RUN_OUTPUTS) so it can start again from step 0 in the same directory."""
    for name in RUN_OUTPUTS:
        path = Path(run_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


class RunWriter:
    """Writes one seed's run directory. ``resume_rows`` = (metrics rows, evaluation rows, step) from a training
    checkpoint continues an existing run's logs from that point instead of starting a new directory; ``restart``
    starts an existing run directory again from step 0 (its outputs already removed by ``clear_outputs``)."""

    def __init__(self, run_dir: str | Path, config: RunConfig, spec: EnvSpec, metric_names: tuple[str, ...],
                 action_bounds: tuple[list[float], list[float]] | None = None,
                 resume_rows: tuple[int, int, int] | None = None, restart: bool = False):
        self.run_dir = Path(run_dir)
        self.config, self.spec, self.action_bounds = config, spec, action_bounds
        if resume_rows is None and not restart:
            check_new(self.run_dir).mkdir(parents=True, exist_ok=True)
        for stale in self.run_dir.glob("checkpoints/.*"):  # leftovers of a checkpoint write that was killed
            shutil.rmtree(stale, ignore_errors=True)
        save_yaml(config, self.run_dir / "config.yaml")  # a resume's may extend total_steps
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
