"""Sweeps: many seeds x hyperparameters, run locally or on Ray Tune, each trial an ordinary run directory; reports
with IQM / mean and bootstrap confidence intervals over seeds, and comparisons. See docs/sweeps.md."""

from offpolicy.sweep.driver import resume_sweep, start_sweep
from offpolicy.sweep.plan import SweepSpec, Trial, load_spec, make_spec
from offpolicy.sweep.report import compare, write_report

__all__ = ["SweepSpec", "Trial", "make_spec", "load_spec", "start_sweep", "resume_sweep", "write_report", "compare"]
