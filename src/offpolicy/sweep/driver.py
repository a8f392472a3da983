"""Driving a sweep: create or reopen the sweep directory, pick the trials left, run them on a backend, report."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from offpolicy import provenance
from offpolicy.errors import OffpolicyError
from offpolicy.run.processes import threads_per_worker, worker_env
from offpolicy.sweep import store
from offpolicy.sweep.plan import SweepSpec, configs, load_spec, plan_batches, save_spec
from offpolicy.sweep.progress import SweepProgress


def default_workers() -> int:
    """Trials at once on the local backend by default: one per usable CPU core."""
    return provenance.cpu_count()


def new_sweep_dir(root: str | Path, name: str) -> Path:
    """A fresh path ``root/{name}_{time}`` for a new sweep."""
    return provenance.new_stamped_dir(root, name)


def start_sweep(spec: SweepSpec, sweep_dir: Path, progress: bool = True, report: bool = True,
                thresholds: dict[str, float] | None = None, keep_train_checkpoints: bool = False,
                compile_cache: bool = True, env_module: str | None = None) -> dict:
    """Create ``sweep_dir`` (new or empty), save the spec, run every trial. Returns status.json's content.
    ``env_module``: a module the user named (``--env-module``), imported here already, for the workers to import."""
    sweep_dir = Path(sweep_dir)
    _check_envs(spec)
    if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
        hint = (f" To finish it: offpolicy sweep --resume {sweep_dir}" if (sweep_dir / "sweep.yaml").is_file()
                else " Choose another path.")
        raise OffpolicyError(f"sweep directory {sweep_dir} already exists and is not empty.{hint}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    save_spec(spec, sweep_dir)
    return run_pending(spec, sweep_dir, retry_failed=True, progress=progress, report=report, thresholds=thresholds,
                       keep_train_checkpoints=keep_train_checkpoints, compile_cache=compile_cache, env_module=env_module,
                       batch_seeds=spec.batch_seeds)


def resume_sweep(sweep_dir: Path, backend: str | None = None, workers: int | None = None,
                 ray_address: str | None = None, retries: int | None = None, retry_failed: bool = True,
                 progress: bool = True, report: bool = True, thresholds: dict[str, float] | None = None,
                 keep_train_checkpoints: bool = False, compile_cache: bool = True, batch_seeds: bool = True,
                 env_module: str | None = None) -> dict:
    """Finish a sweep: skip finished trials, continue interrupted ones from their newest training checkpoint, run
    the rest; failed ones too unless ``retry_failed`` is False. Backend, workers and retries may change.
    ``batch_seeds=False`` runs each trial in its own process even if the sweep batches seeds (its unfinished
    batched trials then rerun alone, from scratch); True keeps the sweep's own setting (it cannot batch a sweep made
    without batching: its trials have training checkpoints)."""
    sweep_dir = Path(sweep_dir)
    spec = load_spec(sweep_dir)
    _check_envs(spec)
    if backend is not None:
        spec.backend = backend
    if workers is not None:
        spec.workers = workers
    if ray_address is not None:
        spec.ray_address = ray_address
    if retries is not None:
        spec.retries = retries
    return run_pending(spec, sweep_dir, retry_failed=retry_failed, progress=progress, report=report,
                       thresholds=thresholds, keep_train_checkpoints=keep_train_checkpoints, compile_cache=compile_cache,
                       batch_seeds=spec.batch_seeds and batch_seeds, env_module=env_module)


def run_pending(spec: SweepSpec, sweep_dir: Path, retry_failed: bool, progress: bool, report: bool,
                thresholds: dict[str, float] | None, keep_train_checkpoints: bool, compile_cache: bool = True,
                batch_seeds: bool = False, env_module: str | None = None) -> dict:
    """Run the trials of ``spec`` that are not done (and not failed, unless ``retry_failed``), then write
    status.json and the report. ``compile_cache``: share compiled programs between trials through JAX's persistent
    cache (``SWEEP_DIR/.jax-cache``; on a remote Ray cluster a node-local folder). ``batch_seeds``: train the
    unfinished seeds of a config together in one vmapped process where the loop allows it."""
    with store.SweepLock(sweep_dir / store.LOCK, f"sweep {sweep_dir}"):
        trials = spec.trials()
        _check_started_configs(trials, sweep_dir)
        states = {t.id: store.trial_state(t.run_dir(sweep_dir)) for t in trials}
        todo = [t for t in trials if states[t.id] != store.DONE and (retry_failed or states[t.id] != store.FAILED)]
        n_configs = len(configs(trials))
        workers = spec.workers or default_workers()
        if spec.backend == "local":
            workers = max(1, min(workers, len(todo)))
        threads = threads_per_worker(workers) if spec.backend == "local" or not spec.ray_address else 1
        cache = None
        if compile_cache:
            cache = (os.path.join(tempfile.gettempdir(), "offpolicy-jax-cache") if spec.ray_address
                     else str((sweep_dir / ".jax-cache").resolve()))
        env = worker_env(threads, cache, env_module)
        counts = {s: sum(v == s for v in states.values()) for s in (store.DONE, store.FAILED, store.INTERRUPTED)}
        print(f"sweep {spec.name}: {len(trials)} trials ({n_configs} config{'s' * (n_configs != 1)} × "
              f"{len(spec.seeds)} seed{'s' * (len(spec.seeds) != 1)}) in {sweep_dir}/")
        if counts[store.DONE] or counts[store.FAILED] or counts[store.INTERRUPTED]:
            print(f"  {counts[store.DONE]} done (skipped), {counts[store.INTERRUPTED]} interrupted (resumed from "
                  f"their checkpoints), {counts[store.FAILED]} failed"
                  + ((" (retried)" if retry_failed else " (left as they are: --no-retry-failed)")
                     if counts[store.FAILED] else ""))
        if todo:
            where = f"Ray ({spec.ray_address or 'local instance'})" if spec.backend == "ray" else "local processes"
            at_once = (f"{workers} at a time" if spec.backend == "local" or spec.workers
                       else "as many at a time as Ray has CPUs")
            print(f"  running {len(todo)} on {where}, {at_once}" + (", 1 XLA thread each" if threads == 1 else ""))
            batched = [b for b in plan_batches(todo, workers, batch_seeds) if len(b) > 1]
            if batched and spec.backend == "local":  # (on Ray the batches are sized once Ray is up)
                print(f"  seeds trained together (vmapped, one process each): {len(batched)} batch"
                      f"{'es' * (len(batched) != 1)} of {'/'.join(str(n) for n in sorted({len(b) for b in batched}))}"
                      " trials; a batch writes no training checkpoints, so --resume reruns its unfinished trials")
            store.record_session(sweep_dir, spec.command(), spec.backend, workers, threads, spec.ray_address,
                                  compile_cache=cache is not None, batch_seeds=batch_seeds)
            bar = SweepProgress(sweep_dir, todo, enabled=progress)
            started = time.monotonic()
            try:
                if spec.backend == "ray":
                    from offpolicy.sweep.backends.ray import run_ray

                    run_ray(sweep_dir, todo, spec.workers, env, spec.retries, bar, spec.ray_address,
                            keep_train_checkpoints, batch_seeds)
                else:
                    from offpolicy.sweep.backends.local import run_local

                    run_local(sweep_dir, todo, workers, env, spec.retries, bar, keep_train_checkpoints, batch_seeds)
            except KeyboardInterrupt:
                bar.close()
                store.write_status(sweep_dir, trials, store.attempts_from_events(sweep_dir))
                print(f"\ninterrupted; finish with: offpolicy sweep --resume {sweep_dir}")
                raise
            bar.close()
            print(f"  ran for {_elapsed(started)}")
        status = store.write_status(sweep_dir, trials, store.attempts_from_events(sweep_dir))
    done, failed = status["counts"][store.DONE], status["counts"][store.FAILED]
    left = len(trials) - done
    if report and done:
        from offpolicy.sweep.report import write_report

        print(f"report: {write_report(sweep_dir, thresholds)}")
    print(f"{done} of {len(trials)} trials done" + (f", {failed} failed" if failed else ""))
    if left:
        for trial_id, entry in status["trials"].items():
            if entry["state"] == store.FAILED:
                print(f"  failed {trial_id}: {entry.get('error', '')} ({sweep_dir / entry['run_dir'] / 'error.txt'})")
    return status


def _check_envs(spec: SweepSpec) -> None:
    """One line before any worker starts when a trial's env comes from a module that nobody imported (a sweep file's
    env_module is never imported: ``--env-module`` does it)."""
    from offpolicy.envs import check_registered

    for env_id, module in {(t.config.env, t.config.env_module) for t in spec.trials()}:
        check_registered(env_id, module)


def _check_started_configs(trials: list, sweep_dir: Path) -> None:
    """A started trial's config.yaml must be the sweep's config for it (someone may have edited sweep.yaml)."""
    from offpolicy.config import from_dict, read_yaml_mapping, to_dict

    for trial in trials:
        path = trial.run_dir(sweep_dir) / "config.yaml"
        if not path.is_file():
            continue
        try:
            saved = to_dict(from_dict(read_yaml_mapping(path)))
        except Exception as exc:  # noqa: BLE001 - a damaged config.yaml is this trial's problem to report
            raise OffpolicyError(f"{path}: cannot read the trial's config ({exc}); move its run directory away to "
                                 "rerun the trial.") from None
        if saved != to_dict(trial.config):
            raise OffpolicyError(f"{path} differs from the sweep's config for trial {trial.id}: sweep.yaml was "
                                 "changed after the sweep started. Restore it, or move the trial's run directory "
                                 "away to rerun it.")


def _elapsed(start: float) -> str:
    seconds = int(time.monotonic() - start)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


__all__ = ["start_sweep", "resume_sweep", "load_spec", "default_workers", "new_sweep_dir"]
