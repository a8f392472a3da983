"""`offpolicy train --seeds` over several worker processes (offpolicy.run.processes): the split of the seeds, the
same numbers as a one-process run, the parent's aggregate, and errors from a worker as one line with nothing left
behind."""

import json

import pytest
from tiny_runs import TINY

from offpolicy.cli import main
from offpolicy.run.processes import describe_chunks, split_seeds

ARGS = ["--no-progress", "--no-video", "--set", *(f"{k}={json.dumps(v)}" for k, v in TINY.items())]


@pytest.mark.parametrize(("seeds", "workers", "chunks"), [
    ([0, 1, 2, 3, 4, 5, 6, 7], 2, [[0, 1, 2, 3], [4, 5, 6, 7]]),
    ([0, 1, 2, 3, 4, 5, 6, 7], 3, [[0, 1, 2], [3, 4, 5], [6, 7]]),
    ([5, 9], 8, [[5], [9]]),  # never an empty process
    ([3], 2, [[3]]),
    ([0, 3, 5], 1, [[0, 3, 5]]),
])
def test_seeds_split_into_contiguous_chunks_larger_first(seeds, workers, chunks):
    assert split_seeds(seeds, workers) == chunks


def test_chunks_are_described_as_they_run():
    assert describe_chunks([[0, 1, 2, 3]]) == "vmapped, one process"
    assert describe_chunks([[0, 1], [2, 3]]) == "2 processes x 2 vmapped seeds"
    assert describe_chunks([[0, 1, 2], [3, 4, 5], [6, 7]]) == "3 processes of 3/3/2 vmapped seeds"
    assert describe_chunks([[0], [1]]) == "2 processes, one seed each"


def test_seeds_in_processes_equal_one_process_runs_bit_for_bit(tmp_path, capsys):
    """Seeds 3-5 on 2 processes ([3, 4] vmapped, [5] alone) against `--seeds 3-4 --workers 1` and `--seed 5`: the
    same parameters and training logs, bit for bit; the parent has every seed's aggregate and summary."""
    parent = tmp_path / "seeds"
    assert main(["train", "ddpg-pendulum", "--seeds", "3-5", "--workers", "2", "--run-dir", str(parent), *ARGS]) == 0
    assert "3 seeds (2 processes of 2/1 vmapped seeds)" in capsys.readouterr().out
    assert main(["train", "ddpg-pendulum", "--seeds", "3-4", "--workers", "1", "--run-dir", str(tmp_path / "one"),
                 *ARGS]) == 0
    assert main(["train", "ddpg-pendulum", "--seed", "5", "--run-dir", str(tmp_path / "s5"), *ARGS]) == 0
    references = {3: tmp_path / "one" / "s3", 4: tmp_path / "one" / "s4", 5: tmp_path / "s5"}
    for seed, reference in references.items():
        run = parent / f"s{seed}"
        assert f"seed: {seed}" in (run / "config.yaml").read_text()
        for name in ("checkpoints/final/agent.safetensors", "evaluations.csv"):
            assert (run / name).read_bytes() == (reference / name).read_bytes(), (seed, name)
        returns = [row.split(",")[:4] for row in (run / "metrics.csv").read_text().splitlines()]
        assert returns == [row.split(",")[:4] for row in (reference / "metrics.csv").read_text().splitlines()]
    assert (parent / "s3" / "checkpoints/final/agent.safetensors").read_bytes() != \
        (parent / "s5" / "checkpoints/final/agent.safetensors").read_bytes()
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["seeds"] == [3, 4, 5] and summary["processes"] == 2 and summary["seeds_per_process"] == [2, 1]
    assert list(summary["final_eval_per_seed"]) == ["3", "4", "5"]
    per_seed = [json.loads((parent / f"s{s}" / "summary.json").read_text())["final_eval"]["mean"] for s in (3, 4, 5)]
    assert list(summary["final_eval_per_seed"].values()) == per_seed
    rows = (parent / "aggregate.csv").read_text().splitlines()
    assert rows[0].startswith("step,mean,ci95_low,ci95_high,n_seeds,seed_3,seed_4,seed_5")
    assert [r.split(",")[0] for r in rows[1:]] == ["200", "300"]
    # plot: false (TINY) holds for every seed and the aggregate: the CSV files, no figure (test_cli.py: with figures)
    assert not any(parent.rglob("*.png"))


def test_a_worker_refusing_its_settings_is_one_line_and_leaves_no_run_directory(tmp_path, capsys):
    # nonfinite=skip is refused by the host loop with several seeds (each process here has two): a worker's error
    path = tmp_path / "r"
    assert main(["train", "ddpg-pendulum", "--seeds", "0-3", "--workers", "2", "--run-dir", str(path), *ARGS,
                 "nonfinite=skip"]) == 2
    err = capsys.readouterr().err
    assert "nonfinite=skip with several seeds" in err and "Traceback" not in err
    assert not path.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "2"], "--workers 2 is for several seeds: add --seeds"),
    (["--seeds", "2", "--workers", "0"], "--workers 0: give 1 or more processes"),
    (["--env", "NoSuchEnv-v0", "--seeds", "2", "--workers", "2"], "NoSuchEnv-v0"),  # checked before any process
])
def test_bad_workers_input_is_one_line(tmp_path, capsys, args, message):
    path = tmp_path / "r"
    assert main(["train", "ddpg-pendulum", "--run-dir", str(path), *args, *ARGS]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not path.exists()


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_every_worker_and_says_what_is_left(tmp_path, signame):
    """Ctrl-C reaches the command and its workers (one process group); SIGTERM (a scheduler's stop) reaches the
    command alone, which passes it on. Either way every worker stops as a run of its own would (a one-seed worker
    saves checkpoints/interrupted), the command says what is left and exits 130 (Ctrl-C) or 143 (SIGTERM), and no
    worker is left running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "r"
    command = [sys.executable, "-m", "offpolicy.cli", "train", "ddpg-pendulum", "--seeds", "0-1", "--workers", "2",
               "--run-dir", str(path), "--no-progress", "--no-video", "--set",
               *(f"{k}={json.dumps(v)}" for k, v in {**TINY, "total_steps": 100_000}.items())]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + 240
    while not all((path / f"s{s}" / "metrics.csv").is_file() for s in (0, 1)):  # both workers are training
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "timeout"
        time.sleep(0.5)
    if signame == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground process group
    else:
        os.kill(proc.pid, signal.SIGTERM)  # the command alone
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == (130 if signame == "SIGINT" else 143), out
    how = "interrupted" if signame == "SIGINT" else "terminated (SIGTERM)"
    assert f"{how}; each seed's folder in {path} is a run of its own" in out and "Traceback" not in out, out
    for s in (0, 1):  # each one-seed worker stopped at the end of a step and saved its state
        assert (path / f"s{s}" / "checkpoints" / "interrupted").is_dir(), out
    left = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(proc.pid)], capture_output=True, text=True).stdout
    assert "offpolicy-seeds" not in left and "spawn_main" not in left, left  # no worker outlived the command
