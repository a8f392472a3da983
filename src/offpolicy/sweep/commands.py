"""The `offpolicy sweep`, `offpolicy report` and `offpolicy compare` commands (registered in offpolicy.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import tyro

from offpolicy.errors import OffpolicyError


def sweep(
    target: Annotated[str | None, tyro.conf.Positional, tyro.conf.arg(metavar="[PRESET|SWEEP.yaml]")] = None,
    /,
    seeds: str | None = None,
    grid: Annotated[tuple[str, ...], tyro.conf.UseAppendAction, tyro.conf.arg(metavar="KEY=V1,V2")] = (),
    set: Annotated[tuple[str, ...], tyro.conf.arg(metavar="KEY=VALUE")] = (),  # noqa: A002 - the flag is --set
    backend: Literal["local", "ray"] | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    retries: int | None = None,
    out: Path = Path("sweeps"),
    sweep_dir: Path | None = None,
    name: str | None = None,
    resume: Path | None = None,
    retry_failed: bool = True,
    threshold: Annotated[tuple[str, ...], tyro.conf.arg(metavar="[ENV=]RETURN")] = (),
    report: bool = True,
    keep_train_checkpoints: bool = False,
    compile_cache: bool = True,
    batch_seeds: bool = True,
    dry_run: bool = False,
    progress: bool = True,
    env_module: str | None = None,
) -> None:
    """Run a grid of seeds x hyperparameters; each trial is an ordinary run directory under one sweep directory.

    Examples: ``offpolicy sweep ddpg-pendulum --seeds 10 --grid actor_lr=1e-4,3e-4 --grid tau=0.005,0.01``;
    ``offpolicy sweep my-sweep.yaml``; ``offpolicy sweep --resume sweeps/ddpg-pendulum_20260101-120000``.

    Args:
        target: A preset name, a config YAML, or a sweep YAML (keys: preset, seeds, grid, set, backend, workers,
            ray_address, retries, name, batch_seeds; command-line flags override it, and batching is on only if
            neither --no-batch-seeds nor batch_seeds: false says otherwise).
        seeds: How many seeds (10: seeds 0..9), or which: a range (0-7) or a list (0,3,7); one seed s as s-s.
            Default 1 (seed 0).
        grid: KEY=V1,V2,... values to sweep for one config key (full key or unique suffix, as --set); repeat the
            flag for more keys: every combination runs. Lists group with brackets: hidden_sizes=[64,64],[128,128].
        set: Overrides for every trial, as in `offpolicy train --set` (e.g. total_steps=20000).
        backend: local (default: worker processes on this machine) or ray (Ray Tune; pip install "offpolicy[ray]").
        workers: Trials at once (local default: the number of CPU cores; ray default: as many as Ray has CPUs for).
        ray_address: Ray cluster to connect to (e.g. auto, or ray://head:10001); default: start a local instance.
        retries: Re-run a failed trial up to this many times within the sweep (from its last training checkpoint).
        out: Parent folder of a new sweep directory (named <name>_<time>).
        sweep_dir: Exact sweep directory to create instead (must not exist or be empty).
        name: Sweep name (default: the preset's).
        resume: Finish this sweep directory: finished trials are skipped, interrupted ones continue from their
            training checkpoints, failed ones are retried; --backend, --workers, --ray-address, --retries may change.
        retry_failed: With --resume: also rerun failed trials (--no-retry-failed leaves them).
        threshold: Return threshold for the report's time-to-threshold: one number for every env, or ENV=NUMBER
            (defaults: Pendulum-v1 -200, else the env's reward_threshold, e.g. CartPole-v1 475).
        report: Write SWEEP_DIR/report.md and its figures at the end.
        keep_train_checkpoints: Keep the training checkpoints of finished trials (by default only those of unfinished
            trials are kept; final/ and best/ are always kept).
        compile_cache: Share compiled programs between trials (JAX's persistent compilation cache in
            SWEEP_DIR/.jax-cache): the seeds of a config compile once. --no-compile-cache makes each trial's wall time
            include its own compilation, as a standalone `offpolicy train` does.
        batch_seeds: Train the seeds of a config together in one process, agents vmapped (one multi-seed Trainer), where
            the loop allows it (loop compiled on a gymnax env without env_kwargs, or loop host with nonfinite stop)
            and checkpoint_every is not set: a worker (or Ray trial) trains a batch of seeds at once. Batched trials
            write no training checkpoints: --resume reruns their unfinished trials from scratch (finished ones are
            kept). --no-batch-seeds: one process per trial, each resumable from its checkpoints and with its own
            wall time. With --resume, --no-batch-seeds runs the sweep's trials one per process from now on.
        dry_run: List the trials and exit without writing anything.
        progress: Show the progress bar.
        env_module: Import this module (it registers a custom env) here and in every worker; recorded in the trials'
            config.yaml as env_module. A sweep file's env is a registered id, never ``module:EnvId``; give
            --env-module again with --resume.
    """
    from offpolicy.sweep.driver import new_sweep_dir, resume_sweep, start_sweep
    from offpolicy.sweep.plan import (
        is_sweep_file,
        load_spec_file,
        make_spec,
        parse_grid,
        parse_overrides,
    )
    from offpolicy.sweep.report import parse_thresholds

    thresholds = parse_thresholds(threshold)
    if env_module is not None:  # typed by the user: the one way a module gets imported
        from offpolicy.envs import import_env_module

        import_env_module(env_module)
    if resume is not None:
        if target or seeds is not None or grid or set or sweep_dir or name:
            raise OffpolicyError("--resume finishes a sweep with its own spec: pass only --resume SWEEP_DIR (and "
                                 "optionally --backend, --workers, --ray-address, --retries, --no-retry-failed, "
                                 "--no-batch-seeds, --env-module).")
        if not (resume / "sweep.yaml").is_file():
            raise OffpolicyError(f"{resume}: not a sweep directory (no sweep.yaml); pass one made by `offpolicy sweep`.")
        if backend == "ray" or (backend is None and _saved_backend(resume) == "ray"):
            from offpolicy.sweep.backends.ray import import_ray

            import_ray()
        status = resume_sweep(resume, backend=backend, workers=workers, ray_address=ray_address, retries=retries,
                              retry_failed=retry_failed, progress=progress, report=report, thresholds=thresholds,
                              keep_train_checkpoints=keep_train_checkpoints, compile_cache=compile_cache,
                              batch_seeds=batch_seeds, env_module=env_module)
        _raise_if_left(status, resume)
        return
    if target is None:
        raise OffpolicyError("name a preset or a sweep file, e.g. `offpolicy sweep ddpg-pendulum --seeds 10 --grid "
                             "actor_lr=1e-4,3e-4`, or finish one with `offpolicy sweep --resume SWEEP_DIR`.")
    file = load_spec_file(target) if is_sweep_file(target) else {}
    grid_items = {**file.get("grid", {}), **parse_grid(grid)}
    overrides = {**file.get("set", {}), **parse_overrides(set)}
    if env_module is not None:
        overrides["env_module"] = env_module
    spec = make_spec(
        preset=file.get("preset", target), seeds=seeds if seeds is not None else file.get("seeds", 1),
        grid=grid_items, overrides=overrides, backend=backend or file.get("backend", "local"),
        workers=workers if workers is not None else file.get("workers"),
        ray_address=ray_address or file.get("ray_address"),
        retries=retries if retries is not None else int(file.get("retries", 0)),
        name=name or file.get("name") or (Path(target).stem if file else None),
        batch_seeds=batch_seeds and _file_flag(file, "batch_seeds", target))
    if spec.backend == "ray":
        from offpolicy.sweep.backends.ray import import_ray

        import_ray()  # a missing Ray is a clear error before anything is written
    trials = spec.trials()
    if dry_run:
        print(spec.command())
        for trial in trials:
            print(f"  {trial.id}")
        print(f"{len(trials)} trials, {sum(t.config.total_steps for t in trials):,} environment steps in all")
        from offpolicy.sweep.plan import can_batch_seeds, configs

        groups = configs(trials)
        batched = sum(len(g) > 1 and can_batch_seeds(g[0].config, spec.batch_seeds) for g in groups.values())
        if batched:
            print(f"{batched} of {len(groups)} config{'s' * (len(groups) != 1)} train their seeds together, vmapped "
                  "in one process per batch (no training checkpoints; --no-batch-seeds: one process per trial)")
        return
    path = sweep_dir if sweep_dir is not None else new_sweep_dir(out, spec.name)
    status = start_sweep(spec, path, progress=progress, report=report, thresholds=thresholds,
                         keep_train_checkpoints=keep_train_checkpoints, compile_cache=compile_cache,
                         env_module=env_module)
    _raise_if_left(status, path)


def _file_flag(file: dict, key: str, target: str) -> bool:
    value = file.get(key, True)
    if not isinstance(value, bool):
        raise OffpolicyError(f"{target}: {key}: {value!r} must be true or false.")
    return value


def _saved_backend(sweep_dir: Path) -> str | None:
    """The backend saved in the sweep's spec; None if the spec cannot be read (resume_sweep then says why)."""
    from offpolicy.sweep.plan import load_spec

    try:
        return load_spec(sweep_dir).backend
    except OffpolicyError:
        return None


def _raise_if_left(status: dict, sweep_dir: Path) -> None:
    left = sum(entry["state"] != "done" for entry in status["trials"].values())
    if left:
        raise OffpolicyError(f"{left} of {len(status['trials'])} trials did not finish (listed above); finish them "
                             f"with `offpolicy sweep --resume {sweep_dir}`.")


def report(
    sweep_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="SWEEP_DIR")],
    /,
    threshold: Annotated[tuple[str, ...], tyro.conf.arg(metavar="[ENV=]RETURN")] = (),
) -> None:
    """Write SWEEP_DIR/report.md and SWEEP_DIR/report/*.png: per config, final-return IQM and mean with 95%
    bootstrap intervals over seeds, steps and wall time to a return threshold, learning curves with CI bands, and a
    ranked table.

    Args:
        sweep_dir: A sweep directory made by `offpolicy sweep`.
        threshold: Return threshold for time-to-threshold: one number, or ENV=NUMBER (defaults: Pendulum-v1 -200,
            else the env's reward_threshold, e.g. CartPole-v1 475).
    """
    from offpolicy.sweep.report import parse_thresholds, sweep_groups, write_report

    if not (sweep_dir / "sweep.yaml").is_file():
        raise OffpolicyError(f"{sweep_dir}: not a sweep directory (no sweep.yaml); pass one made by `offpolicy sweep`.")
    if not any(g.runs for g in sweep_groups(sweep_dir)):
        raise OffpolicyError(f"{sweep_dir}: no finished trial to report yet.")
    print(f"wrote {write_report(sweep_dir, parse_thresholds(threshold))}")


def compare(
    sources: Annotated[tuple[Path, ...], tyro.conf.Positional, tyro.conf.arg(metavar="RUN_OR_SWEEP")],
    /,
    out: Path = Path("comparison"),
    labels: tuple[str, ...] = (),
    threshold: Annotated[tuple[str, ...], tyro.conf.arg(metavar="[ENV=]RETURN")] = (),
    title: str | None = None,
) -> None:
    """Overlay the learning curves of several runs and sweeps in one figure and one table (each config of a sweep is
    one curve, with its seeds' IQM and 95% band).

    Example: ``offpolicy compare sweeps/ddpg-pendulum_… sweeps/ddpg-pendulum-tutorial_… --out docs/results.md``.

    Args:
        sources: Run directories and/or sweep directories.
        out: A Markdown file (figures go to a folder beside it with its name) or a folder (compare.md inside).
        labels: One label per source (default: the sweep's name or the run directory's name).
        threshold: Return threshold for time-to-threshold: one number, or ENV=NUMBER.
        title: Title of the page and figures.
    """
    from offpolicy.sweep.report import compare as write_comparison
    from offpolicy.sweep.report import parse_thresholds

    if not sources:
        raise OffpolicyError("name at least one run or sweep directory to compare.")
    path = write_comparison(list(sources), out, labels=list(labels) or None, thresholds=parse_thresholds(threshold),
                            title=title)
    print(f"wrote {path}")
