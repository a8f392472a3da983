"""Exact resume: a run killed with SIGKILL (at random points, and inside a checkpoint write) and resumed ends
bit-identical to the same run uninterrupted."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from run_files import assert_same_run, checkpoint_bytes, metric_rows

ENV = {**os.environ, "SDL_AUDIODRIVER": "dummy", "SDL_VIDEODRIVER": "dummy"}
ARGS = ["train", "ddpg-pendulum", "--no-progress", "--no-video", "--checkpoint-every", "400", "--set",
        "total_steps=1600", "warmup_steps=300", "learning_starts=300", "eval_every=400", "eval_episodes=2"]

CRASH_IN_WRITE = """
import os, signal, sys
from offpolicy.run import checkpoint
from offpolicy.cli import main
original, count = checkpoint._write, [0]
def crashing(tmp, state, config, spec, info, kind, *rest):
    original(tmp, state, config, spec, info, kind, *rest)
    if kind == "training":
        count[0] += 1
        if count[0] == 2:  # the second training checkpoint: files written, not yet renamed into place
            os.kill(os.getpid(), signal.SIGKILL)
checkpoint._write = crashing
sys.exit(main(sys.argv[1:]))
"""


def cli(*args, script=None):
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "offpolicy.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "reference"
    result = cli(*ARGS, "--run-dir", str(path))
    assert result.returncode == 0, result.stderr
    return path


def kill_after(path, checkpoint_name, delay):
    proc = subprocess.Popen([sys.executable, "-m", "offpolicy.cli", *ARGS, "--run-dir", str(path)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (path / "checkpoints" / checkpoint_name).is_dir():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("checkpoint_name", ["train-000000400", "train-000001200"])
def test_sigkill_at_a_random_point_then_resume_is_bit_identical(reference, tmp_path, checkpoint_name):
    run = tmp_path / "run"
    kill_after(run, checkpoint_name, delay=random.Random(checkpoint_name).uniform(0.0, 0.8))
    assert not (run / "eval.json").exists()  # it really was cut short
    result = cli("train", "--resume", str(run), "--no-progress", "--no-video")
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout
    assert_same_run(reference, run)


def test_sigkill_inside_a_checkpoint_write_keeps_the_previous_one(reference, tmp_path):
    run = tmp_path / "run"
    result = cli(*ARGS, "--run-dir", str(run), script=CRASH_IN_WRITE)
    assert result.returncode == -signal.SIGKILL
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "train-000000400" in names and not any(n.startswith("train-") and n != "train-000000400" for n in names)
    assert any(n.startswith(".train-") for n in names)  # the half-written one, never renamed into place
    result = cli("train", "--resume", str(run), "--no-progress", "--no-video")
    assert result.returncode == 0, result.stderr
    assert "from train-000000400" in result.stdout
    assert not any(p.name.startswith(".") for p in (run / "checkpoints").iterdir())  # leftovers cleaned
    assert_same_run(reference, run)


def test_resume_of_a_finished_run_changes_nothing_and_keeps_a_bounded_number(reference, tmp_path):
    kept = sorted(p.name for p in (reference / "checkpoints").glob("train-*"))
    assert kept == ["train-000001200", "train-000001600"]  # keep_checkpoints=2 of the 4 written
    before = checkpoint_bytes(reference)
    result = cli("train", "--resume", str(reference), "--no-progress", "--no-video")
    assert result.returncode == 0, result.stderr
    assert checkpoint_bytes(reference) == before


def test_resume_extends_a_run_with_total_steps(reference, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    result = cli("train", "--resume", str(run), "--total-steps", "2000", "--no-progress", "--no-video")
    assert result.returncode == 0, result.stderr
    assert metric_rows(run / "metrics.csv")[-1]["step"] == "2000"
    assert metric_rows(run / "metrics.csv")[: len(metric_rows(reference / "metrics.csv"))] == metric_rows(reference / "metrics.csv")


def test_resume_errors_are_clear(tmp_path, reference):
    result = cli("train", "--resume", str(tmp_path))
    assert result.returncode == 2 and "not a run directory with checkpoints" in result.stderr
    result = cli("train", "ddpg-pendulum", "--resume", str(reference))
    assert result.returncode == 2 and "pass only --resume RUN_DIR" in result.stderr
