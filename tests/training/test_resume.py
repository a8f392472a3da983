"""Exact resume: a run killed with SIGKILL (at random points, and inside a checkpoint write) and resumed ends
bit-identical to the same run uninterrupted."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from run_files import assert_same_run, metric_rows
from tiny_runs import TINY

ENV = {**os.environ, "SDL_AUDIODRIVER": "dummy", "SDL_VIDEODRIVER": "dummy"}
# The tiny runs' networks and batch, and no figure (tests/tiny_runs.py): the programs other tests compile, read from
# the suite's compilation cache, and ~2x faster steps than the preset's 128-128 / 128 (ten runs here; resume is about
# state, not network size).
ARGS = ["train", "ddpg-pendulum", "--no-progress", "--no-video", "--checkpoint-every", "400", "--set",
        "total_steps=1600", "warmup_steps=300", "learning_starts=300", "eval_every=400", "eval_episodes=2",
        *(f"{k}={json.dumps(TINY[k])}" for k in ("hidden_sizes", "batch_size", "plot"))]

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


def in_process(capsys, *args):
    """``offpolicy ARGS`` in this process (the same ``main``, without starting an interpreter and its imports), as
    (exit code, stdout, stderr): for the tests that kill nothing. A resume after a kill runs in a new process, as a
    user's would."""
    from offpolicy.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
    kill_after(run, checkpoint_name, delay=random.Random(checkpoint_name).uniform(0.0, 0.4))
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


def all_bytes(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_resume_of_a_finished_run_changes_nothing_and_keeps_a_bounded_number(reference, tmp_path, capsys):
    kept = sorted(p.name for p in (reference / "checkpoints").glob("train-*"))
    assert kept == ["train-000001200", "train-000001600"]  # keep_checkpoints=2 of the 4 written
    before = all_bytes(reference)
    code, out, err = in_process(capsys, "train", "--resume", str(reference), "--no-progress", "--no-video")
    assert code == 0, err
    assert "finished at step 1600 (summary.json); nothing to resume" in out
    assert all_bytes(reference) == before  # summary.json's timings too: nothing retrained, nothing rewritten


def test_resume_refuses_an_edited_config_and_extends_with_total_steps(reference, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    text = (run / "config.yaml").read_text()
    assert "  critic_lr: 0.001\n" in text
    (run / "config.yaml").write_text(text.replace("  critic_lr: 0.001\n", "  critic_lr: 0.01\n"))
    before = all_bytes(run)
    code, out, err = in_process(capsys, "train", "--resume", str(run), "--total-steps", "2000", "--no-progress",
                                "--no-video")
    assert code == 2 and err.count("\n") == 1, err
    assert "config.yaml was edited after the run started (agent.critic_lr: 0.001 when trained, 0.01 in the " \
           "file)" in err
    assert all_bytes(run) == before  # refused before anything was touched
    (run / "config.yaml").write_text(text.replace("  critic_lr: 0.001\n", "  critic_lr: oops\n"))
    code, out, err = in_process(capsys, "train", "--resume", str(run), "--no-progress", "--no-video")
    assert code == 2 and "config.yaml: agent.critic_lr='oops': expected a number. Undo the edit" in err, err
    (run / "config.yaml").write_text(text)
    code, out, err = in_process(capsys, "train", "--resume", str(run), "--total-steps", "2000", "--no-progress",
                                "--no-video")
    assert code == 0, err
    rows = metric_rows(run / "metrics.csv")
    assert rows[-1]["step"] == "2000"
    assert rows[: len(metric_rows(reference / "metrics.csv"))] == metric_rows(reference / "metrics.csv")
    assert "total_steps: 2000\n" in (run / "config.yaml").read_text()  # the file says what the run trained
    # a longer budget written into config.yaml extends the run as --total-steps does
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("total_steps: 2000", "total_steps: 2400"))
    code, out, err = in_process(capsys, "train", "--resume", str(run), "--no-progress", "--no-video")
    assert code == 0, err
    assert metric_rows(run / "metrics.csv")[-1]["step"] == "2400"


def test_sigterm_before_the_first_checkpoint_saves_interrupted_and_resume_restarts_it(reference, tmp_path):
    run = tmp_path / "run"
    args = [a if a != "400" else "1200" for a in ARGS]  # the first training checkpoint only at step 1200
    proc = subprocess.Popen([sys.executable, "-m", "offpolicy.cli", *args, "--run-dir", str(run)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (run / "metrics.csv").is_file() or len((run / "metrics.csv").read_text().splitlines()) < 2:
        assert proc.poll() is None and time.time() < deadline, "the run ended before the first episode end"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # after the first episode (step 200), long before step 1200
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM) at step" in out and (run / "checkpoints" / "interrupted").is_dir()
    assert not list((run / "checkpoints").glob("train-*"))
    result = cli("train", "--resume", str(run), "--no-progress", "--no-video")
    assert result.returncode == 0, result.stderr
    assert "no training checkpoint yet" in result.stdout and "again from step 0" in result.stdout
    assert not (run / "checkpoints" / "interrupted").exists()  # the old attempt's outputs are gone
    assert_same_run(reference, run)


def test_resume_errors_are_clear(tmp_path, reference, capsys):
    code, out, err = in_process(capsys, "train", "--resume", str(tmp_path))
    assert code == 2 and "not a run directory (no config.yaml) to resume" in err
    code, out, err = in_process(capsys, "train", "ddpg-pendulum", "--resume", str(reference))
    assert code == 2 and "pass only --resume RUN_DIR" in err


def test_a_signal_inside_a_jitted_step_stops_at_its_end_with_the_state_saved(tmp_path):
    from offpolicy.config import make_config
    from offpolicy.errors import Terminated
    from offpolicy.run.trainer import Trainer

    config = make_config("ddpg-pendulum", {**TINY, "video": False})
    trainer = Trainer(config, run_dir=tmp_path / "run", progress=False)
    original, sent = trainer.loop.fns.step, []

    def step(carry, *args, **kwargs):
        out = original(carry, *args, **kwargs)  # ``carry`` was donated to the jitted step: its buffers are gone
        if kwargs["update"] and not sent:
            sent.append(trainer.step + 1)
            os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode: still inside this step
        return out

    trainer.loop.fns.step = step
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        trainer.learn(config.total_steps)
    trainer.close()
    saved = json.loads((tmp_path / "run/checkpoints/interrupted/meta.json").read_text())["info"]
    assert saved["step"] == sent[0] == trainer.step  # the step the signal came in finished, then the run stopped
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is gone with learn()
