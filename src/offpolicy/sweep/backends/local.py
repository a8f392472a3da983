"""The local backend: trials in parallel worker processes on this machine, no extra service.

Each batch of trials (see :func:`offpolicy.sweep.plan.plan_batches`) runs in a fresh process started with the
``spawn`` method, at most ``workers`` at once. A fresh process per batch gives each trial a clean JAX runtime and
lets the driver tell exactly which trial's process died: a worker killed by a signal (out of memory, ``kill -9``)
marks its unfinished trials failed with the signal named, and they are retried (``--retries``) or left for
``offpolicy sweep --resume``, which continues them from their last training checkpoint (a batch of seeds trained
together has none: its unfinished trials are rerun from scratch).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from offpolicy.run.processes import environ
from offpolicy.sweep import store
from offpolicy.sweep.plan import plan_batches
from offpolicy.sweep.progress import SweepProgress
from offpolicy.sweep.worker import make_jobs, worker_main


def run_local(sweep_dir: Path, trials: list, workers: int, env: dict[str, str], retries: int,
              progress: SweepProgress, keep_train_checkpoints: bool = False, batch_seeds: bool = True) -> None:
    """``env``: the workers' environment (:func:`offpolicy.run.processes.worker_env`). ``batch_seeds``: train the
    seeds of a config together where the loop allows it (:func:`offpolicy.sweep.plan.plan_batches`)."""
    ctx = multiprocessing.get_context("spawn")
    queue = deque(plan_batches(trials, workers, batch_seeds))
    running: dict = {}  # Process -> batch
    tries: dict[str, int] = {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                batch = queue.popleft()
                jobs = make_jobs(batch, sweep_dir, keep_train_checkpoints)
                process = ctx.Process(target=worker_main, args=(jobs, env), name=f"offpolicy-sweep {batch[0].id}")
                with environ(env):  # the child starts with it: set before its Python, and JAX, start
                    process.start()
                running[process] = batch
                for trial in batch:
                    tries[trial.id] = tries.get(trial.id, 0) + 1
                progress.started([t.id for t in batch])
            wait([p.sentinel for p in running], timeout=1.0)
            progress.poll()
            for process in [p for p in running if not p.is_alive()]:
                process.join()
                batch = running.pop(process)
                again = []
                for trial in batch:
                    run_dir = trial.run_dir(sweep_dir)
                    state = store.trial_state(run_dir)
                    if state not in (store.DONE, store.FAILED):  # the process died without recording an outcome
                        message = f"worker process {process.pid} {_exit_reason(process.exitcode)}"
                        store.write_error(run_dir, message, _resume_note(run_dir))
                        store.log_event(sweep_dir, trial.id, "killed", error=message, exitcode=process.exitcode)
                        state = store.FAILED
                    progress.ended(trial.id, state, _note(run_dir, state))
                    if state == store.FAILED and tries[trial.id] <= retries:
                        again.append(trial)
                if again:  # the failed trials of a batch are retried together
                    queue.append(again)
    except KeyboardInterrupt:
        # Ctrl-C reached the workers too (same process group): each saves checkpoints/interrupted and exits.
        for process in running:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
        raise


def _resume_note(run_dir: Path) -> str:
    if any(p.is_dir() for p in (run_dir / "checkpoints").glob("train-*")):
        return ("The trial keeps its training checkpoints; `offpolicy sweep --resume SWEEP_DIR` continues it from "
                "the newest.")
    return "The trial has no training checkpoint; `offpolicy sweep --resume SWEEP_DIR` reruns it from the start."


def _note(run_dir: Path, state: str) -> str:
    from offpolicy.sweep.progress import describe

    return describe(run_dir, state)


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory, or killed)" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode} before the trial ended"
