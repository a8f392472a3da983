"""The Ray backend: the same trials as Ray Tune trials (``pip install "offpolicy[ray]"``).

Ray Tune does the scheduling (one CPU per trial by default, as many at once as the cluster has CPUs, or
``--workers``), the fault tolerance (a failed or lost trial is retried up to ``--retries`` times through
``FailureConfig``; the retry resumes from the trial's own training checkpoint) and keeps its result store in
``SWEEP_DIR/ray/``. The trials are one ``tune.grid_search`` over the sweep's batches of trials, and each trial writes
its ordinary run directory into ``SWEEP_DIR/trials/`` so `offpolicy report` reads both backends' sweeps alike.

With ``--batch-seeds`` (the default) a Tune trial is a batch, as a local worker process is: the seeds of one config
(as many batches per config as it takes to give every Ray CPU work) trained together in one vmapped process on one
CPU. A batch has no training checkpoints, so Tune's retry of a failed batch reruns its unfinished seeds from scratch;
``--no-batch-seeds`` makes every Tune trial one seed, resumable from its own checkpoints.

On a multi-node cluster ``SWEEP_DIR`` must be on storage every node mounts at the same path (NFS or similar), as Ray
asks of its own ``storage_path``; offpolicy must be installed on every node.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from offpolicy import provenance
from offpolicy.errors import OffpolicyError
from offpolicy.sweep import store
from offpolicy.sweep.plan import plan_batches
from offpolicy.sweep.progress import SweepProgress, describe
from offpolicy.sweep.worker import make_jobs, run_trial_batch


def import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise OffpolicyError('the ray backend needs Ray Tune: pip install "offpolicy[ray]" (or pip install '
                             '"ray[tune]"); or use --backend local.') from None
    return ray, tune


def _trainable(config: dict[str, Any], jobs_by_batch: dict[str, list]) -> None:
    """One Tune trial: a batch of sweep trials (one config's seeds), run in this Ray worker."""
    from ray import tune

    jobs = jobs_by_batch[config["batch"]]
    outcomes = run_trial_batch(jobs)
    failed = [o for o in outcomes if o["state"] == store.FAILED]
    if failed:  # Tune records the error and retries the trial up to FailureConfig.max_failures times
        raise RuntimeError("; ".join(f"{o['id']}: {o.get('error')}" for o in failed))
    finals = [o["final_eval"] for o in outcomes if o.get("final_eval") is not None]
    tune.report({"final_eval_mean": sum(finals) / len(finals) if finals else float("nan"),
                 "trials": len(outcomes), "steps": sum(o.get("steps", 0) for o in outcomes),
                 "wall_time_s": sum(o.get("wall_time_s", 0.0) for o in outcomes)})


def run_ray(sweep_dir: Path, trials: list, workers: int | None, env: dict[str, str], retries: int,
            progress: SweepProgress, address: str | None = None, keep_train_checkpoints: bool = False,
            batch_seeds: bool = False) -> None:
    """``env``: the Ray workers' environment (:func:`offpolicy.run.processes.worker_env`), set through runtime_env.
    ``batch_seeds``: a Tune trial trains several seeds of a config together where the loop allows it."""
    ray, tune = import_ray()
    sweep_dir = Path(sweep_dir).resolve()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's console tables off (verbose=0): the sweep has its bar
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {"runtime_env": {"env_vars": env}, "logging_level": logging.ERROR,
                                "log_to_driver": False}
        if address:
            init["address"] = address
        else:
            init.update(num_cpus=workers, include_dashboard=False)
        try:
            ray.init(**init)
        except ConnectionError as exc:
            raise OffpolicyError(f"cannot connect to the Ray cluster at {address!r}: {exc}. Start one with "
                                 "`ray start --head`, or leave out --ray-address to start a local instance.") from None
    try:
        slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))  # trials that can run at once
        batches = plan_batches(trials, slots, batch_seeds)
        jobs_by_batch = {_batch_id(b): make_jobs(b, sweep_dir, keep_train_checkpoints) for b in batches}
        by_batch = {_batch_id(b): b for b in batches}
        trainable = tune.with_resources(tune.with_parameters(_trainable, jobs_by_batch=jobs_by_batch), {"cpu": 1})
        tuner = tune.Tuner(
            trainable,
            param_space={"batch": tune.grid_search(list(jobs_by_batch))},
            tune_config=tune.TuneConfig(max_concurrent_trials=workers, trial_name_creator=_trial_name,
                                        trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=f"tune-{provenance.stamp()}", storage_path=str(sweep_dir / "ray"),
                failure_config=tune.FailureConfig(max_failures=retries), verbose=0,
                callbacks=[_progress_callback(tune, sweep_dir, by_batch, progress)]),
        )
        results = tuner.fit()
        for result in results:
            if result.error is None:
                continue
            batch = by_batch.get((result.config or {}).get("batch"), [])
            _record_lost(sweep_dir, batch, f"Ray trial failed: {_first_line(result.error)}", progress)
    finally:
        if started_here:
            ray.shutdown()


def _progress_callback(tune, sweep_dir: Path, by_batch: dict[str, list], progress: SweepProgress):
    class Progress(tune.Callback):
        """Drives the sweep's progress bar from Tune's trial events (called in the driver)."""

        def __init__(self) -> None:
            self.last_poll = 0.0

        def on_trial_start(self, iteration, trials, trial, **info):
            progress.started([t.id for t in by_batch[trial.config["batch"]]])

        def on_trial_complete(self, iteration, trials, trial, **info):
            progress.poll()

        def on_trial_error(self, iteration, trials, trial, **info):
            _record_lost(sweep_dir, by_batch[trial.config["batch"]], "Ray trial failed (its worker died or the "
                         f"trainable raised; Ray's log: {trial.path})", progress)

        def on_step_begin(self, iteration, trials, **info):
            now = time.monotonic()
            if now - self.last_poll >= 1.0:
                self.last_poll = now
                progress.poll()

    return Progress()


def _record_lost(sweep_dir: Path, batch: list, message: str, progress: SweepProgress) -> None:
    """Mark the trials of a failed Tune trial that left no outcome (a killed worker) failed, with Ray's reason."""
    for trial in batch:
        run_dir = trial.run_dir(sweep_dir)
        state = store.trial_state(run_dir)
        if state not in (store.DONE, store.FAILED):
            store.write_error(run_dir, message)
            store.log_event(sweep_dir, trial.id, "killed", error=message)
            state = store.FAILED
        progress.ended(trial.id, state, describe(run_dir, state))


def _batch_id(batch: list) -> str:
    if len(batch) == 1:
        return batch[0].id
    return f"{batch[0].slug}/s" + "+".join(str(t.seed) for t in batch)


def _trial_name(trial) -> str:
    name = str(trial.config["batch"]).replace(os.sep, "__")
    return "".join(c if c.isalnum() or c in "._=-+,[]" else "_" for c in name)[:120]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
