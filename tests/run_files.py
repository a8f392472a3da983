"""Comparing two run directories file by file (resume, sweep, Ray and determinism tests)."""

import csv
import json

from offpolicy.run.checkpoint import ARRAYS_FILE

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
