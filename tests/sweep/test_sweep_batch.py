"""Seeds of one config batched into one vmapped process (`offpolicy sweep --batch-seeds`, the local default): each
seed still gets its own trial directory, equal (to float tolerance) to the same trial run alone
(`--no-batch-seeds`); a resume reruns only the unfinished trials of a batch, from scratch; a failure inside a batch
marks every unfinished trial of it failed."""

import json
import shutil

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file
from tiny_runs import TINY

from offpolicy.cli import main
from offpolicy.run.checkpoint import ARRAYS_FILE
from offpolicy.sweep.store import read_events

# The contract tests' preset and budget (no checkpoint_every: an explicit one keeps trials resumable, so unbatched):
# with the suite's compilation cache (the trials' processes inherit it) the batch is the program of
# tests/api_cli/test_cli.py's two vmapped seeds and each trial alone the contract test's compiled DQN run.
BUDGET = [f"{k}={json.dumps(v)}" for k, v in TINY.items()]
COMPILED = ["noisy-dqn-cartpole", "--seeds", "2", "--no-progress", "--no-report", "--set", *BUDGET, "loop=compiled"]
TRIALS = ["noisy-dqn-cartpole/s0", "noisy-dqn-cartpole/s1"]


def final_arrays(run_dir):
    return load_file(str(run_dir / "checkpoints" / "final" / ARRAYS_FILE))


def assert_close_runs(a, b):
    x, y = final_arrays(a), final_arrays(b)
    assert x.keys() == y.keys()
    for name in x:
        np.testing.assert_allclose(x[name], y[name], rtol=1e-5, atol=1e-6, err_msg=name)
    returns = [json.loads((run / "eval.json").read_text())["returns"] for run in (a, b)]
    np.testing.assert_allclose(returns[0], returns[1], rtol=1e-5)


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """1 config x 2 seeds on the compiled loop, one worker: both seeds in one vmapped process."""
    path = tmp_path_factory.mktemp("batch") / "batched"
    assert main(["sweep", *COMPILED, "--workers", "1", "--sweep-dir", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """The same sweep with --no-batch-seeds: one process per trial. checkpoint_every=0 (the batched trials' value;
    by default it would be 30) keeps the two sweeps' trial configs identical, so they differ only in batching."""
    path = tmp_path_factory.mktemp("batch") / "alone"
    assert main(["sweep", *COMPILED, "checkpoint_every=0", "--no-batch-seeds", "--workers", "1",
                 "--sweep-dir", str(path)]) == 0
    return path


def test_batched_seeds_equal_the_same_trials_run_one_per_process(batched, alone):
    events = read_events(batched)
    starts = [e for e in events if e["event"] == "start"]
    assert [e["trial"] for e in starts] == TRIALS and all(e["batch"] == TRIALS for e in starts)
    assert json.loads((batched / "provenance.json").read_text())[0]["batch_seeds"] is True
    for trial in TRIALS:
        run = batched / "trials" / trial
        summary = json.loads((run / "summary.json").read_text())
        assert summary["vmapped_seeds"] == [0, 1] and summary["steps"] == 300 and summary["loop"] == "compiled"
        assert yaml.safe_load((run / "config.yaml").read_text())["checkpoint_every"] == 0
        assert (run / "checkpoints" / "final").is_dir() and not list((run / "checkpoints").glob("train-*"))
    assert not (batched / "trials" / "noisy-dqn-cartpole" / "aggregate.csv").exists()  # the report aggregates

    assert "--no-batch-seeds" in yaml.safe_load((alone / "sweep.yaml").read_text())["command"]
    assert json.loads((alone / "provenance.json").read_text())[0]["batch_seeds"] is False
    for trial in TRIALS:
        run = alone / "trials" / trial
        assert "vmapped_seeds" not in json.loads((run / "summary.json").read_text())
        assert (run / "config.yaml").read_text() == (batched / "trials" / trial / "config.yaml").read_text()
        assert_close_runs(batched / "trials" / trial, run)  # seed i vmapped = seed i alone
    a, b = (final_arrays(batched / "trials" / t) for t in TRIALS)
    assert any(not np.allclose(a[k], b[k]) for k in a)  # two different agents, not one written twice


def test_resume_of_a_batch_with_one_finished_seed_runs_only_the_unfinished_one(batched, alone, tmp_path):
    sweep = tmp_path / "resumed"
    shutil.copytree(batched, sweep)
    done, cut = sweep / "trials" / TRIALS[0], sweep / "trials" / TRIALS[1]
    (cut / "summary.json").unlink()  # seed 1 did not finish (its process was stopped before its final outputs)
    (cut / "eval.json").unlink()
    kept = {p.relative_to(done): p.stat().st_mtime_ns for p in done.rglob("*")}
    events = len(read_events(sweep))
    assert main(["sweep", "--resume", str(sweep), "--no-progress", "--no-report"]) == 0
    assert {p.relative_to(done): p.stat().st_mtime_ns for p in done.rglob("*")} == kept  # not touched
    new = read_events(sweep)[events:]
    assert [(e["trial"], e["event"]) for e in new] == [(TRIALS[1], "start"), (TRIALS[1], "done")]
    assert json.loads((cut / "summary.json").read_text())["steps"] == 300
    assert_close_runs(cut, batched / "trials" / TRIALS[1])  # rerun from scratch, alone: the same trial
    same = alone / "trials" / TRIALS[1] / "checkpoints" / "final" / ARRAYS_FILE
    assert (cut / "checkpoints" / "final" / ARRAYS_FILE).read_bytes() == same.read_bytes()  # bit-identical
    assert json.loads((sweep / "status.json").read_text())["counts"]["done"] == 2


def test_a_failure_inside_a_batch_fails_every_unfinished_trial_and_a_rerun_starts_the_batch_again(tmp_path,
                                                                                                  monkeypatch):
    """In this process, with Trainer.learn replaced (a real failing env is tested for single trials in
    test_sweep.py): cheap, and the batch is the multi-seed host loop's."""
    from offpolicy.run.trainer import Trainer
    from offpolicy.sweep.plan import can_batch_seeds, make_spec, parse_overrides
    from offpolicy.sweep.worker import make_jobs, run_trial_batch

    spec = make_spec("noisy-dqn-cartpole", seeds=2, overrides=parse_overrides(BUDGET))
    trials = spec.trials()
    assert trials[0].config.loop == "host" and can_batch_seeds(trials[0].config)
    sweep = tmp_path / "faulty"
    sweep.mkdir()
    jobs = make_jobs(trials, sweep)
    runs = [trial.run_dir(sweep) for trial in trials]

    def fail(self, total_steps=None):
        raise RuntimeError("injected fault")

    learn = Trainer.learn
    monkeypatch.setattr(Trainer, "learn", fail)
    outcomes = run_trial_batch(jobs)
    assert [o["state"] for o in outcomes] == ["failed", "failed"]
    for run in runs:
        error = (run / "error.txt").read_text()
        assert error.startswith("RuntimeError: injected fault") and "batch of 2 seeds" in error
        assert (run / "config.yaml").is_file()  # the attempt's partial run directory
        (run / "leftover").touch()

    monkeypatch.setattr(Trainer, "learn", lambda self, total_steps=None: learn(self, 60))  # warm-up only
    outcomes = run_trial_batch(jobs)
    assert [o["state"] for o in outcomes] == ["done", "done"]
    for run in runs:  # rerun from scratch: the failed attempt's files are gone
        assert not (run / "error.txt").exists() and not (run / "leftover").exists()
        summary = json.loads((run / "summary.json").read_text())
        assert summary["vmapped_seeds"] == [0, 1] and summary["steps"] == 60
    events = [(e["trial"], e["event"]) for e in read_events(sweep)]
    assert [e for t, e in events if t == trials[0].id] == ["start", "failed", "start", "done"]
    assert [e for t, e in events if t == trials[1].id] == ["start", "failed", "start", "done"]
