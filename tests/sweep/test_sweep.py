"""Local sweeps: a 2x2 sweep of tiny budgets, its report, resume that skips finished trials, and trials that fail
(an exception, a SIGKILLed worker) reported, then finished by `--resume` from their training checkpoints, ending
identical to an uninterrupted trial."""

import json

import pytest
from run_files import assert_same_run, metric_rows
from sweep_setup import TINY, reuse_compile_cache

from offpolicy.cli import main
from offpolicy.sweep.store import read_events

TRIALS = ["lr=0.001/s0", "lr=0.001/s1", "lr=0.0003/s0", "lr=0.0003/s1"]


def test_2x2_sweep_writes_one_run_directory_per_trial_and_a_report(local_sweep):
    status = json.loads((local_sweep / "status.json").read_text())
    assert status["counts"]["done"] == 4 and status["counts"]["failed"] == 0
    assert sorted(status["trials"]) == sorted(TRIALS)
    for trial in TRIALS:
        run = local_sweep / "trials" / trial
        for name in ("config.yaml", "metrics.csv", "evaluations.csv", "eval.json", "summary.json", "checkpoints/final"):
            assert (run / name).exists(), f"{trial}: {name} missing"
        assert not list((run / "checkpoints").glob("train-*"))  # pruned once the trial finished
        summary = json.loads((run / "summary.json").read_text())
        assert summary["steps"] == 300 and summary["seed"] == int(trial[-1])
    lr = {t: json.loads((local_sweep / "trials" / t / "summary.json").read_text()) for t in TRIALS}
    assert lr["lr=0.001/s0"]["final_eval"] != lr["lr=0.001/s1"]["final_eval"] or (
        metric_rows(local_sweep / "trials/lr=0.001/s0/metrics.csv") != metric_rows(local_sweep / "trials/lr=0.001/s1/metrics.csv"))
    import yaml

    config = yaml.safe_load((local_sweep / "trials/lr=0.0003/s1/config.yaml").read_text())
    assert config["agent"]["lr"] == 0.0003 and config["seed"] == 1 and config["total_steps"] == 300
    assert config["video"] is False
    report = (local_sweep / "report.md").read_text()
    assert "| rank | config |" in report and "`lr=0.001`" in report and "`lr=0.0003`" in report
    assert "offpolicy sweep noisy-dqn-cartpole --seeds 2 --grid agent.lr=0.001,0.0003" in report
    for png in ("curves.png", "finals.png"):
        assert (local_sweep / "report" / png).stat().st_size > 1000
    sessions = json.loads((local_sweep / "provenance.json").read_text())
    assert sessions[0]["workers"] == 2 and sessions[0]["versions"]["jax"] and sessions[0]["compile_cache"]
    assert any((local_sweep / ".jax-cache").iterdir())  # trials shared compiled programs


def test_resume_of_a_finished_sweep_runs_nothing(local_sweep, capsys):
    before = {t: (local_sweep / "trials" / t / "summary.json").stat().st_mtime_ns for t in TRIALS}
    events = len(read_events(local_sweep))
    assert main(["sweep", "--resume", str(local_sweep), "--no-progress", "--no-report"]) == 0
    after = {t: (local_sweep / "trials" / t / "summary.json").stat().st_mtime_ns for t in TRIALS}
    assert before == after
    assert len(read_events(local_sweep)) == events
    assert "4 of 4 trials done" in capsys.readouterr().out


def test_report_and_compare_commands(local_sweep, tmp_path):
    (local_sweep / "report.md").unlink()
    assert main(["report", str(local_sweep), "--threshold", "20"]) == 0
    assert "≥ 20" in (local_sweep / "report.md").read_text()
    run = local_sweep / "trials/lr=0.001/s0"
    out = tmp_path / "cmp.md"
    assert main(["compare", str(local_sweep), str(run), "--labels", "sweep", "one run", "--out", str(out)]) == 0
    text = out.read_text()
    assert "`sweep: lr=0.001`" in text and "`sweep: lr=0.0003`" in text and "`one run`" in text
    assert (tmp_path / "cmp" / "curves.png").is_file() and "](cmp/curves.png)" in text


@pytest.fixture
def flags(tmp_path):
    folder = tmp_path / "flags"
    folder.mkdir()
    (folder / "raise").touch()
    (folder / "kill").touch()
    return folder


def test_failed_and_killed_trials_are_reported_and_resumed_from_their_checkpoints(local_sweep, tmp_path, flags, capsys):
    with reuse_compile_cache(local_sweep):
        _failed_and_killed_trials(tmp_path, flags, capsys)


def _failed_and_killed_trials(tmp_path, flags, capsys):
    sweep_dir = tmp_path / "faults"
    args = ["sweep", "noisy-dqn-cartpole", "--seeds", "1", "--grid", "env_kwargs.fault=none,raise,kill",
            "--set", *(item for item in TINY if not item.startswith("checkpoint_every=")), "checkpoint_every=50",
            "env=FlakyCartPole-v0", "env_kwargs.at_step=200", f"env_kwargs.flag_dir={flags}",
            "--env-module", "flaky_env", "--workers", "2", "--no-progress", "--sweep-dir", str(sweep_dir)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "2 of 3 trials did not finish" in captured.err and f"--resume {sweep_dir}" in captured.err
    trials = sweep_dir / "trials"
    status = json.loads((sweep_dir / "status.json").read_text())
    assert status["counts"] == {"done": 1, "failed": 2, "interrupted": 0, "pending": 0}
    raised = (trials / "fault=raise/s0/error.txt").read_text()
    assert raised.startswith("RuntimeError: injected fault at env step 200") and "Traceback" in raised
    assert "killed by SIGKILL" in (trials / "fault=kill/s0/error.txt").read_text()
    assert "failed fault=kill/s0" in captured.out
    assert "## Not finished" in (sweep_dir / "report.md").read_text()

    # --no-retry-failed leaves failed trials alone.
    assert main(["sweep", "--resume", str(sweep_dir), "--no-retry-failed", "--no-progress", "--no-report",
                 "--env-module", "flaky_env"]) == 2
    assert (trials / "fault=raise/s0/error.txt").is_file()

    finished = (trials / "fault=none/s0/summary.json").stat().st_mtime_ns
    (flags / "raise").unlink()
    (flags / "kill").unlink()
    assert main(["sweep", "--resume", str(sweep_dir), "--no-progress", "--env-module", "flaky_env"]) == 0
    assert (trials / "fault=none/s0/summary.json").stat().st_mtime_ns == finished
    events = read_events(sweep_dir)
    by_trial = {t: [e["event"] for e in events if e["trial"] == t] for t in ("fault=none/s0", "fault=raise/s0",
                                                                               "fault=kill/s0")}
    assert by_trial["fault=none/s0"] == ["start", "done"]
    assert by_trial["fault=raise/s0"] == ["start", "failed", "resume", "done"]
    assert by_trial["fault=kill/s0"] == ["start", "killed", "resume", "done"]
    resumes = [e for e in events if e["event"] == "resume"]
    assert all(e["checkpoint"].startswith("train-") and 0 < e["step"] < 200 for e in resumes)
    # Resumed from their checkpoints, the failed trials end exactly as the one that never failed.
    for fault in ("raise", "kill"):
        assert not (trials / f"fault={fault}/s0/error.txt").exists()
        assert_same_run(trials / f"fault={fault}/s0", trials / "fault=none/s0")
    status = json.loads((sweep_dir / "status.json").read_text())
    assert status["counts"]["done"] == 3
    assert status["trials"]["fault=kill/s0"]["attempts"] == 2 and status["trials"]["fault=none/s0"]["attempts"] == 1


def test_a_sweep_directory_is_run_by_one_process_at_a_time(local_sweep):
    from offpolicy.errors import OffpolicyError
    from offpolicy.sweep.driver import resume_sweep
    from offpolicy.sweep.store import LOCK, SweepLock

    with SweepLock(local_sweep / LOCK, "sweep"):
        with pytest.raises(OffpolicyError, match="being run by another process"):
            resume_sweep(local_sweep, progress=False, report=False)
