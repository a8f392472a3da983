"""Running trials, on the worker side (a local worker process or a Ray Tune trial).

The unit of work handed to a worker is a *batch*: a list of trials of one config (different seeds).
:func:`run_trial_batch` runs a batch: trials of a config whose seeds can share one process
(:func:`~offpolicy.sweep.plan.can_batch_seeds`) train together in one multi-seed :class:`~offpolicy.run.trainer.Trainer`
(agents vmapped), each into its own run directory; other batches are single trials (:func:`run_trial`). A batched trial has no training checkpoints: an
unfinished one is rerun from scratch, with the other unfinished seeds of its batch.

Nothing here imports JAX at module level: a worker sets its thread environment first
(:func:`offpolicy.run.processes.worker_env`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offpolicy.errors import OffpolicyError
from offpolicy.run.processes import exit_with_parent, import_env_module_from_environ
from offpolicy.sweep import store
from offpolicy.sweep.plan import can_batch_seeds


@dataclass(frozen=True)
class TrialJob:
    """What a worker needs to run one trial (picklable: plain data only)."""

    id: str
    config: dict[str, Any]
    """The trial's full config as a plain mapping (``offpolicy.config.to_dict``)."""
    run_dir: str
    sweep_dir: str
    keep_train_checkpoints: bool = False
    """Keep ``checkpoints/train-*`` after the trial finished (they are only needed to resume an unfinished one)."""


def make_jobs(trials: list, sweep_dir: Path, keep_train_checkpoints: bool = False) -> list[TrialJob]:
    from offpolicy.config import to_dict

    sweep_dir = Path(sweep_dir).resolve()
    return [TrialJob(id=t.id, config=to_dict(t.config), run_dir=str(t.run_dir(sweep_dir)), sweep_dir=str(sweep_dir),
                     keep_train_checkpoints=keep_train_checkpoints) for t in trials]


def run_trial_batch(jobs: list[TrialJob]) -> list[dict[str, Any]]:
    """Run a batch of trials of one config; one outcome dict per trial, in order (see :func:`run_trial`).

    Several trials (planned only for configs :func:`~offpolicy.sweep.plan.can_batch_seeds` accepts) train in one
    vmapped multi-seed Trainer, each into its own run directory; finished ones are skipped, and when a single one is
    left it runs alone. Never raises for a training error: every unfinished trial of the batch gets the error."""
    if len(jobs) < 2 or not _one_batchable_config(jobs):
        return [run_trial(job) for job in jobs]
    outcomes: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        skipped = _skip_if_done(job)
        if skipped is not None:
            outcomes[job.id] = skipped
        else:
            todo.append(job)
    if len(todo) == 1:
        outcomes[todo[0].id] = run_trial(todo[0])
    elif todo:
        locks = []
        try:
            for job in todo:
                lock, busy = _lock_trial(job)
                if busy is not None:
                    outcomes[job.id] = busy
                    continue
                locks.append((job, lock))
            mine = [job for job, _ in locks]
            if len(mine) == 1:
                outcomes[mine[0].id] = _run_locked(mine[0], Path(mine[0].run_dir), Path(mine[0].sweep_dir))
            elif mine:
                outcomes.update(_run_batch_locked(mine))
        finally:
            for _, lock in locks:
                lock.release()
    return [outcomes[job.id] for job in jobs]


def _one_batchable_config(jobs: list[TrialJob]) -> bool:
    from offpolicy.config import from_dict

    configs = [dict(job.config, seed=0) for job in jobs]
    return all(c == configs[0] for c in configs) and can_batch_seeds(from_dict(jobs[0].config))


def _run_batch_locked(jobs: list[TrialJob]) -> dict[str, dict[str, Any]]:
    """Train ``jobs`` (unfinished trials of one config, locked by the caller) in one multi-seed Trainer, from scratch."""
    from offpolicy.config import from_dict
    from offpolicy.run.trainer import Trainer

    sweep_dir = Path(jobs[0].sweep_dir)
    run_dirs = [Path(job.run_dir) for job in jobs]
    seeds = [int(job.config["seed"]) for job in jobs]
    ids = [job.id for job in jobs]
    multi = None
    try:
        for job, run_dir in zip(jobs, run_dirs):
            if run_dir.exists():
                shutil.rmtree(run_dir)  # an unfinished attempt: batched trials have no checkpoint to resume from
            store.log_event(sweep_dir, job.id, "start", batch=ids)
        import_env_module_from_environ()
        multi = Trainer(from_dict(jobs[0].config), seeds=seeds, run_dirs=run_dirs, progress=False)
        multi.learn(multi.config.total_steps)
        multi.finish()
    except Exception as exc:  # noqa: BLE001 - any training error is these trials' failure, not the sweep's
        message = f"{type(exc).__name__}: {exc}"
        detail = traceback.format_exc()
        outcomes = {}
        for job, run_dir in zip(jobs, run_dirs):
            if store.trial_state(run_dir) == store.DONE:  # it finished before another seed's final outputs failed
                outcomes[job.id] = _done(job, run_dir)
                continue
            store.write_error(run_dir, message, f"(in a batch of {len(jobs)} seeds trained together: "
                               f"{', '.join(ids)})\n{detail}")
            store.log_event(sweep_dir, job.id, "failed", error=message)
            outcomes[job.id] = {"id": job.id, "state": store.FAILED, "error": message, "resumed_from": None}
        return outcomes
    finally:
        if multi is not None:
            multi.close()
    return {job.id: _done(job, run_dir) for job, run_dir in zip(jobs, run_dirs)}


def _done(job: TrialJob, run_dir: Path) -> dict[str, Any]:
    final = _final(run_dir)
    store.log_event(Path(job.sweep_dir), job.id, "done", final_eval=final.get("final_eval"),
                     wall_time_s=final.get("wall_time_s"))
    return {"id": job.id, "state": store.DONE, "resumed_from": None, **final}


def run_trial(job: TrialJob) -> dict[str, Any]:
    """Run one trial to the end, in its run directory: skip it if it finished, resume it from its newest training
    checkpoint if it has one, else (re)start it from scratch. Never raises for a training error: the error and its
    traceback go to RUN_DIR/error.txt and the outcome says ``failed``."""
    skipped = _skip_if_done(job)
    if skipped is not None:
        return skipped
    lock, busy = _lock_trial(job)
    if busy is not None:
        return busy
    try:
        return _run_locked(job, Path(job.run_dir), Path(job.sweep_dir))
    finally:
        lock.release()


def _skip_if_done(job: TrialJob) -> dict[str, Any] | None:
    """The outcome of a trial that finished in an earlier session (logged as skipped), or None if it has not."""
    run_dir = Path(job.run_dir)
    if store.trial_state(run_dir) != store.DONE:
        return None
    store.log_event(Path(job.sweep_dir), job.id, "skipped")
    return {"id": job.id, "state": store.DONE, "skipped": True, **_final(run_dir)}


def _lock_trial(job: TrialJob) -> tuple[store.SweepLock | None, dict[str, Any] | None]:
    """Take the trial's lock: ``(lock, None)``, or ``(None, outcome)`` when another process runs the trial (not ours
    to touch)."""
    run_dir = Path(job.run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = store.SweepLock(run_dir.parent / f".{run_dir.name}.lock", f"trial {job.id}")
    try:
        lock.acquire()
    except Exception as exc:  # noqa: BLE001 - whatever the lock raised, the trial is busy elsewhere
        return None, {"id": job.id, "state": store.FAILED, "error": str(exc), "busy": True}
    return lock, None


def _run_locked(job: TrialJob, run_dir: Path, sweep_dir: Path) -> dict[str, Any]:
    from offpolicy.config import from_dict, to_dict
    from offpolicy.run.trainer import Trainer
    from offpolicy.run.writer import training_checkpoints

    (run_dir / store.ERROR_FILE).unlink(missing_ok=True)  # a retry: the previous error is in events.jsonl
    resumed_from = None
    trainer = None
    try:
        import_env_module_from_environ()
        config = from_dict(job.config)
        if training_checkpoints(run_dir):
            trainer = Trainer.resume(run_dir, progress=False)
            if to_dict(trainer.config) != job.config:
                raise OffpolicyError(
                    f"{run_dir}: its checkpoint was made with another config than the sweep's; the sweep file was "
                    "changed after the trial started. Move the run directory away to restart the trial.")
            resumed_from = trainer.resumed_from.name
            store.log_event(sweep_dir, job.id, "resume", checkpoint=resumed_from, step=trainer.step)
        else:
            if run_dir.exists():
                shutil.rmtree(run_dir)  # logs of an attempt that never reached a training checkpoint
            store.log_event(sweep_dir, job.id, "start")
            trainer = Trainer(config, run_dir=run_dir, progress=False)
        left = trainer.config.total_steps - trainer.step
        if left > 0:
            trainer.learn(left)
        summary = trainer.finish()
    except Exception as exc:  # noqa: BLE001 - any training error is this trial's failure, not the sweep's
        message = f"{type(exc).__name__}: {exc}"
        store.write_error(run_dir, message, traceback.format_exc())
        store.log_event(sweep_dir, job.id, "failed", error=message)
        return {"id": job.id, "state": store.FAILED, "error": message, "resumed_from": resumed_from}
    finally:
        if trainer is not None:
            trainer.close()
    if not job.keep_train_checkpoints:
        for path in training_checkpoints(run_dir):
            shutil.rmtree(path, ignore_errors=True)
    final = summary["final_eval"]["mean"]
    store.log_event(sweep_dir, job.id, "done", final_eval=final, wall_time_s=summary["wall_time_s"])
    return {"id": job.id, "state": store.DONE, "resumed_from": resumed_from, "final_eval": final,
            "steps": summary["steps"], "wall_time_s": summary["wall_time_s"]}


def _final(run_dir: Path) -> dict[str, Any]:
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        return {"final_eval": summary["final_eval"]["mean"], "steps": summary["steps"],
                "wall_time_s": summary["wall_time_s"]}
    except (OSError, ValueError, KeyError):
        return {}


# --------------------------------------------------------------------------------------------------------------------
# Local worker process entry point


def worker_main(jobs: list[TrialJob], env: dict[str, str]) -> None:
    """Entry point of a local worker process (spawned): set the thread environment, then run the batch."""
    os.environ.update(env)
    exit_with_parent()
    try:
        run_trial_batch(jobs)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the driver reports it
        sys.exit(130)
