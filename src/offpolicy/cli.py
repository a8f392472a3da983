"""Command line: ``offpolicy train | eval | export | plot | presets | keys``. Errors a user can fix print one line, exit status 2."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated, Literal

import tyro

from offpolicy.errors import OffpolicyError, Terminated


def train(
    preset: Annotated[str | None, tyro.conf.Positional, tyro.conf.arg(metavar="[PRESET]")] = None,
    /,
    algo: str | None = None,
    env: str | None = None,
    env_module: str | None = None,
    seed: int | None = None,
    seeds: str | None = None,
    workers: int | None = None,
    loop: Literal["host", "compiled"] | None = None,
    total_steps: int | None = None,
    set: Annotated[tuple[tuple[str, ...], ...], tyro.conf.arg(metavar="KEY=VALUE"),  # noqa: A002 - the flag is --set
                   tyro.conf.UseAppendAction] = (),
    out: Path = Path("runs"),
    run_dir: Path | None = None,
    checkpoint_every: int | None = None,
    resume: Path | None = None,
    video: bool = True,
    progress: bool = True,
) -> None:
    """Train an agent and write a run directory.

    Examples: ``offpolicy train ddpg-pendulum``; ``offpolicy train --algo ddpg --env MountainCarContinuous-v0
    --set total_steps=20000 actor_lr=1e-3``; ``offpolicy train my-config.yaml --seed 3``.

    Args:
        preset: Built-in preset name (see ``offpolicy presets``) or path to a YAML config.
        algo: A registered algorithm (`offpolicy --help` lists them); overrides the preset's.
        env: Gymnasium env id; overrides the preset's. ``mypkg:Env-v0`` imports mypkg first (as --env-module
            mypkg --env Env-v0 does); an env id from a file (config, checkpoint, sweep file) never imports a module.
        env_module: Import this module first (it registers a custom env); recorded in config.yaml as env_module,
            and imported again on --resume only when given again.
        seed: Master seed; overrides the preset's.
        seeds: Train several seeds: a count (8: seeds from --seed or 0), a range (0-7) or a list (0,3,5). Each gets
            its own run directory under one parent, plus aggregate.csv/png (mean and 95% bootstrap CI over seeds).
            They train in --workers processes, each its share of the seeds with the agents vmapped (host loop: one
            Gymnasium env per seed).
        workers: Processes for --seeds (default: one per CPU core, at most one per seed): the seeds are split into
            that many contiguous chunks, one per process, with one XLA thread each when they fill the cores. 1:
            every seed in this process. A seed's numbers depend on its chunk only through vmap (within 1e-5); the
            same --workers reruns bit for bit.
        loop: host (any Gymnasium env, stepped from Python) or compiled (gymnax port of the env, whole chunks of
            training in one jitted loop: Pendulum-v1, CartPole-v1, Acrobot-v1, MountainCar(Continuous)).
        total_steps: Environment steps; overrides the preset's.
        set: Config overrides as key=value (full key like agent.noise.sigma, or a unique suffix like sigma); several
            after one --set, or --set repeated: every one applies, and a key given twice is refused. See `offpolicy keys
            PRESET` for every key (type, default, meaning).
        out: Parent folder for a new run directory (named <preset or algo-env>_s<seed>_<time>).
        run_dir: Exact run directory to create instead (must not exist or be empty).
        checkpoint_every: Write a full training checkpoint at the first episode end after every N steps.
        resume: Continue this run directory from its newest training checkpoint (bit-identical to an uninterrupted
            run); --total-steps may extend it; nothing else may change.
        video: Record the MP4 test episode at the end.
        progress: Show the progress bar.
    """
    from offpolicy.config import make_config, parse_set
    from offpolicy.envs import import_env_module, split_typed_env
    from offpolicy.run.trainer import Trainer, new_run_dir

    if resume is not None:
        if (preset or algo or env or seed is not None or set or run_dir or checkpoint_every is not None
                or seeds is not None or workers is not None or loop is not None):
            raise OffpolicyError("--resume continues a run with its own config: pass only --resume RUN_DIR "
                                 "(and optionally --total-steps to extend it, --env-module to import its env's module).")
        from offpolicy.run.writer import finished_steps, read_run_config

        if not (resume / "config.yaml").is_file():
            raise OffpolicyError(f"{resume}: not a run directory (no config.yaml) to resume."
                                 + (" A multi-seed run's seeds are its s<seed>/ folders; they have no training "
                                    "checkpoints." if (resume / "aggregate.csv").is_file() else ""))
        done = finished_steps(resume)
        if done is not None and done >= (total_steps or read_run_config(resume).total_steps):
            print(f"{resume} finished at step {done} (summary.json); nothing to resume. To train it longer: "
                  f"offpolicy train --resume {resume} --total-steps N (N > {done}).")
            return
        if env_module is not None:
            import_env_module(env_module)
        trainer = Trainer.resume(resume, total_steps=total_steps, progress=progress)
        _train_and_report(trainer, trainer.config.total_steps - trainer.step, video)
        return
    overrides = parse_set([item for group in set for item in group])
    if checkpoint_every is not None:
        overrides["checkpoint_every"] = checkpoint_every
    if env is not None:
        env, env_module = split_typed_env(env, env_module)
    if env_module is not None:  # typed by the user: the one way a module gets imported
        import_env_module(env_module)
        overrides["env_module"] = env_module
    for key, value in (("algo", algo), ("env", env), ("seed", seed), ("total_steps", total_steps), ("loop", loop)):
        if value is not None:
            overrides[key] = value
    if preset is None and env is None and algo is None:
        raise OffpolicyError("name a preset (e.g. `offpolicy train ddpg-pendulum`) or an env "
                             "(`offpolicy train --algo ddpg --env Pendulum-v1`). See `offpolicy presets`.")
    if workers is not None and seeds is None:
        raise OffpolicyError(f"--workers {workers} is for several seeds: add --seeds (e.g. --seeds 0-7), or drop "
                             "--workers.")
    config = make_config(preset, overrides)
    name = Path(preset).stem if preset else f"{config.algo}-{config.env}"
    if seeds is not None:
        from offpolicy.config import parse_seeds
        from offpolicy.run.processes import default_workers, split_seeds

        seed_list = parse_seeds(seeds, first=config.seed)
        chunks = split_seeds(seed_list, default_workers(len(seed_list)) if workers is None else workers)
        label = f"{seed_list[0]}-{seed_list[-1]}" if seed_list == list(range(seed_list[0], seed_list[-1] + 1)) \
            else f"{seed_list[0]}..{seed_list[-1]}"
        path = run_dir if run_dir is not None else new_run_dir(out, name, label)
        _train_seeds_and_report(config, path, chunks, progress, video, env_module)
        return
    path = run_dir if run_dir is not None else new_run_dir(out, name, config.seed)
    _train_and_report(Trainer(config, run_dir=path, progress=progress), config.total_steps, video)


def _train_seeds_and_report(config, path: Path, chunks: list[list[int]], progress: bool, video: bool,
                            env_module: str | None) -> None:
    from offpolicy.run.processes import describe_chunks, train_in_processes
    from offpolicy.run.trainer import Trainer

    seeds = [s for chunk in chunks for s in chunk]
    if len(chunks) > 1:
        summary = train_in_processes(config, path, chunks, progress, video and config.video, env_module)
    else:
        multi = Trainer(config, path, progress=progress, seeds=seeds)
        try:
            multi.learn(config.total_steps)
            summary = multi.finish(video=video and config.video)
        finally:
            multi.close()
    low, high = summary["final_eval_ci95"]
    print(f"{len(seeds)} seeds ({describe_chunks(chunks)}): "
          f"final eval mean {summary['final_eval_mean']:.1f} (95% CI {low:.1f} .. {high:.1f}); "
          f"wall time {summary['wall_time_s']:.1f} s"
          + (f"; learning phase {summary['learning_phase_agent_steps_per_s']:.0f} agent-steps/s"
             if summary["learning_phase_agent_steps_per_s"] else ""))
    print(f"outputs in {path}/ (s<seed>/ run directories, aggregate.csv, aggregate.png, summary.json)")


def _train_and_report(trainer, steps: int, video: bool) -> None:
    path = trainer.run_dir
    if trainer.resumed_from is not None:
        print(f"resuming {path} from {trainer.resumed_from.name} (step {trainer.step} of "
              f"{trainer.config.total_steps})")
    elif trainer.restarted:
        print(f"{path} has no training checkpoint yet (stopped before the first one, or trained without "
              f"--checkpoint-every): training it again from step 0 with its config.yaml")
    try:
        if steps > 0:
            trainer.learn(steps)
        summary = trainer.finish(video=video and trainer.config.video)
    finally:
        trainer.close()
    ev, sps = summary["final_eval"], summary["learning_phase_steps_per_s"]
    print(f"final eval over {ev['episodes']} episodes: {ev['mean']:.1f} ± {ev['std']:.1f}"
          + (f"; learning phase {sps:.0f} steps/s" if sps else "") + f"; wall time {summary['wall_time_s']:.1f} s")
    names = ("config.yaml", "metrics.csv", "evaluations.csv", "eval.json", "learning_curve.png", "checkpoints/", "tb/",
             "video.mp4")
    print(f"outputs in {path}/ ({', '.join(n for n in names if (path / n.rstrip('/')).exists())})")


def eval(  # noqa: A001 - the subcommand is `eval`
    run_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")],
    /,
    episodes: int = 10,
    checkpoint: str = "final",
    video: bool = False,
    out: Path | None = None,
    env_module: str | None = None,
) -> None:
    """Evaluate a run's checkpoint without exploration noise.

    Args:
        run_dir: A run directory (or a checkpoint directory).
        episodes: Number of episodes (the first 10 use the same seeds as the run's own evaluations).
        checkpoint: Which checkpoint of the run: final, best, or interrupted.
        video: Also record one episode to RUN_DIR/eval_video.mp4.
        out: Write the result as JSON to this file.
        env_module: Import this module first (it registers the run's custom env); never imported from the run's
            files.
    """
    from offpolicy.policy import Policy, checkpoint_dir

    if episodes < 1:
        raise OffpolicyError(f"--episodes {episodes}: must be >= 1.")
    if env_module is not None:
        from offpolicy.envs import import_env_module

        import_env_module(env_module)
    path = checkpoint_dir(run_dir, checkpoint)
    policy = Policy.load(path)
    config = policy.config
    result = policy.evaluate(episodes)
    print(f"{config.algo} {config.env} ({path}): {result['mean']:.2f} ± {result['std']:.2f} over "
          f"{episodes} episodes (min {result['min']:.1f}, max {result['max']:.1f})")
    if out is not None:
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")
    if video:
        target = (run_dir if (run_dir / "checkpoints").is_dir() else path) / "eval_video.mp4"
        ret, length = policy.record_video(target)
        print(f"video of one episode (return {ret:.1f}, {length} steps): {target}")


def export(
    run_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR_OR_CHECKPOINT")],
    /,
    format: Literal["numpy", "onnx"] | None = None,  # noqa: A002 - the flag is --format
    checkpoint: str = "final",
    out: Path | None = None,
    force: bool = False,
    env_module: str | None = None,
) -> None:
    """Write a run's noise-free policy to one file that runs without JAX: NumPy .npz or ONNX (docs/export.md).

    Examples: ``offpolicy export runs/ddpg-pendulum_s0_.../`` (writes RUN/policy.npz); ``offpolicy export RUN
    --format onnx --checkpoint best`` (RUN/policy-best.onnx; needs ``pip install "offpolicy[onnx]"``).

    Args:
        run_dir: A run directory (or a checkpoint directory).
        format: numpy (an .npz for offpolicy.export.NumpyPolicy, NumPy only) or onnx; default: from --out's suffix
            (.onnx: onnx), else numpy.
        checkpoint: Which checkpoint of the run: final, best, or interrupted.
        out: File to write (default: RUN_DIR/policy.npz for the final checkpoint, RUN_DIR/policy-<checkpoint>.npz
            for another; .onnx for onnx; beside a checkpoint directory given directly: <checkpoint>-policy.npz).
        force: Overwrite an existing file.
        env_module: Import this module first (a checkpoint without saved action bounds makes the run's env).
    """
    from offpolicy.export.writer import default_path, describe, resolve_format
    from offpolicy.policy import Policy, checkpoint_dir

    if env_module is not None:
        from offpolicy.envs import import_env_module

        import_env_module(env_module)

    path = checkpoint_dir(run_dir, checkpoint)
    fmt = resolve_format(out, format) if out is not None else (format or "numpy")
    target = out if out is not None else default_path(path, fmt)
    if target.exists() and not force:  # before loading the checkpoint: fail fast
        raise OffpolicyError(f"{target} exists; pass --force to overwrite it (or --out another file).")
    written = Policy.load(path).export(target, fmt, force=force)
    print(f"wrote {describe(written)}")


def plot(run_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")], /, out: Path | None = None) -> None:
    """Draw the learning curve (score, losses, evaluations) of a run directory as a PNG.

    Args:
        run_dir: A run directory with metrics.csv.
        out: Output PNG (default RUN_DIR/learning_curve.png).
    """
    from offpolicy.analysis.figures import plot_run

    if not (run_dir / "metrics.csv").is_file():
        raise OffpolicyError(f"{run_dir}: no metrics.csv here; pass a run directory made by `offpolicy train`.")
    print(f"wrote {plot_run(run_dir, out)}")


def presets() -> None:
    """List the built-in presets."""
    from offpolicy.config import load_preset_dict, preset_names

    for name in preset_names():
        data = load_preset_dict(name)
        print(f"{name:28s} {data.get('algo', '?'):6s} {data.get('env', '?'):16s} {data.get('total_steps', '?')} steps")


def keys(
    preset: Annotated[str | None, tyro.conf.Positional, tyro.conf.arg(metavar="[PRESET]")] = None,
    /,
    algo: str | None = None,
) -> None:
    """List every config key with its type, default and meaning (all algorithms: docs/config.md).

    Examples: ``offpolicy keys ddpg-pendulum`` (the preset's values); ``offpolicy keys --algo dqn`` (DQN's defaults).

    Args:
        preset: Built-in preset name (see ``offpolicy presets``) or path to a YAML config: show its values.
        algo: A registered algorithm whose agent keys to list (default: the preset's, else the default algorithm);
            with a preset, replaces the preset's algorithm.
    """
    import shutil

    from offpolicy.config_docs import render_text

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(render_text(preset, algo, width), end="")


_default_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """offpolicy's own warnings as one line, like its errors; other libraries' as Python shows them."""
    if issubclass(category, UserWarning) and "offpolicy" in Path(filename).parts:
        print(f"offpolicy: warning: {message}", file=file or sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


# rl-zoo's (and SB3 scripts') command-line flags -> what offpolicy's train and sweep take instead (never accepted).
_RL_ZOO_FLAGS = {
    ("-n", "--n-timesteps", "--total-timesteps"): ("--total-steps N", "--set total_steps=N"),
    ("--eval-freq",): ("--set eval_every=N",) * 2,
    ("--eval-episodes",): ("--set eval_episodes=N",) * 2,
    ("--save-freq",): ("--checkpoint-every N (resumable training checkpoints)", "--set checkpoint_every=N"),
    ("-f", "--log-folder"): ("--out DIR (the parent of the run directory) or --run-dir DIR",
                             "--out DIR (the parent of the sweep directory)"),
    ("-tb", "--tensorboard-log"): ("nothing: every run directory has its TensorBoard events in tb/",) * 2,
    ("-params", "--hyperparams"): ("--set KEY=VALUE ... (offpolicy keys PRESET lists every key)",
                                   "--set KEY=VALUE ... or --grid KEY=A,B (offpolicy keys PRESET lists every key)"),
    ("--env-kwargs",): ("--set env_kwargs.KEY=VALUE",) * 2,
    ("--gym-packages",): ("--env-module MODULE",) * 2,
    ("-i", "--trained-agent"): ("--resume RUN_DIR (continues a run from its training checkpoint)",
                                "--resume SWEEP_DIR"),
    ("--n-envs",): ("--set n_envs=N (N envs per seed)", "--set n_envs=N or --grid n_envs=A,B"),
    ("--vec-env",): ("nothing: offpolicy steps its own envs, one after the other (--set n_envs=N for N per seed)",) * 2,
    ("--device",): ("nothing: JAX picks the device (JAX_PLATFORMS=cpu or cuda)",) * 2,
}


def rl_zoo_flag_hint(args: list[str]) -> str | None:
    """A one-line hint when ``train`` or ``sweep`` is given one of rl-zoo's flags (``-n 5000``, ``--eval-freq``),
    naming offpolicy's spelling; None when there is none."""
    if args[:1] not in (["train"], ["sweep"]):
        return None
    for arg in args[1:]:
        flag = arg.split("=", 1)[0]
        for names, ours in _RL_ZOO_FLAGS.items():
            if flag in names:
                return (f"{flag} is rl-zoo's flag; offpolicy {args[0]} takes {ours[args[0] == 'sweep']}. "
                        f"See offpolicy {args[0]} --help.")
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["--version"]:  # before tyro and before any subcommand's imports
        from offpolicy._version import __version__

        print(f"offpolicy {__version__}")
        return 0
    hint = rl_zoo_flag_hint(args)
    if hint is not None:
        print(f"offpolicy: error: {hint}", file=sys.stderr)
        return 2
    from offpolicy import registry
    from offpolicy.sweep.commands import compare, report, sweep

    commands = {"train": train, "eval": eval, "export": export, "plot": plot, "presets": presets, "keys": keys, "sweep": sweep,
                "report": report, "compare": compare}
    shown, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        tyro.extras.subcommand_cli_from_dict(commands, args=argv, prog="offpolicy",
                                             description=f"Off-policy deep RL in JAX: {', '.join(n.upper() for n in registry.names())}. "
                                                         "`offpolicy --version` prints the version.")
    except OffpolicyError as exc:
        print(f"offpolicy: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        warnings.showwarning = shown
    return 0


if __name__ == "__main__":
    sys.exit(main())
