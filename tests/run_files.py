"""Comparing two run directories file by file (resume, sweep, Ray and determinism tests)."""

import csv
import json

from tiny_runs import TINY

from offpolicy.config import make_config
from offpolicy.run.checkpoint import ARRAYS_FILE
from offpolicy.run.trainer import Trainer

TIMING_COLUMNS = {"steps_per_s", "time_s"}  # wall-clock columns: the only ones allowed to differ between runs


def metric_rows(path):
    """The rows of a metrics.csv or evaluations.csv, without the wall-clock columns."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(f)]


def checkpoint_bytes(run_dir, name="final"):
    """The raw bytes of a checkpoint's arrays file: equal bytes mean bit-identical agent states."""
    return (run_dir / "checkpoints" / name / ARRAYS_FILE).read_bytes()


def assert_same_run(a, b):
    """Two runs ended bit-identical: final agent state, every metric but wall time, evaluations and eval.json."""
    assert checkpoint_bytes(a) == checkpoint_bytes(b)
    assert metric_rows(a / "metrics.csv") == metric_rows(b / "metrics.csv")
    assert (a / "evaluations.csv").read_bytes() == (b / "evaluations.csv").read_bytes()
    assert json.loads((a / "eval.json").read_text()) == json.loads((b / "eval.json").read_text())


def resumed_equals_uninterrupted(preset, tmp_path, part_steps=350, **overrides):
    """A TINY run of ``preset`` (with ``overrides``) killed after ``part_steps`` steps, past its step-200 checkpoint,
    and resumed ends bit-identical to the same run uninterrupted."""
    cfg = make_config(preset, {**TINY, "total_steps": 600, "checkpoint_every": 200, "video": False, **overrides})
    full = Trainer(cfg, run_dir=tmp_path / "full", progress=False)
    full.learn(600)
    full.finish()
    full.close()
    part = Trainer(cfg, run_dir=tmp_path / "part", progress=False)
    part.learn(part_steps)  # "killed" after a training checkpoint, before the end
    part.close()
    resumed = Trainer.resume(tmp_path / "part", progress=False)
    assert resumed.resumed_from is not None and 200 <= resumed.step < part_steps
    resumed.learn(600 - resumed.step)
    resumed.finish()
    resumed.close()
    assert_same_run(tmp_path / "full", tmp_path / "part")
