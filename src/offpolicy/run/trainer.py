"""The training shell: config -> envs, agent, loop (1..N seeds) -> one run directory per seed.

The Trainer builds the loop the config asks for (host or compiled, for one seed or several) and drives it through
the loop contract alone (offpolicy.loops.contract), so it never asks which loop it drives. Per seed it composes an
Evaluator (noise-free evaluation and video), a RunWriter (run directory, logs, checkpoints) and the "new best"
bookkeeping (SeedRun); a Progress bar and clock serve the whole call.

One seed (``seeds=None``): ``run_dir`` is the run directory. Several seeds (``seeds=[...]``): ``run_dir`` is the
parent (seed s writes ``run_dir/s<s>/`` plus aggregate.csv/png and summary.json), or ``run_dirs`` names one run
directory per seed. Nothing is written before the config and the environment have been validated.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from offpolicy.agents import make_agent
from offpolicy.analysis.figures import write_aggregate
from offpolicy.analysis.stats import bootstrap_ci
from offpolicy.config import RunConfig
from offpolicy.envs import check_registered, env_action_space, make_env
from offpolicy.errors import CheckpointError, ConfigError, NonFiniteError, OffpolicyError, Terminated
from offpolicy.loops.contract import Loop
from offpolicy.loops.learner import EpisodeRecord, example_transition, first_update_step
from offpolicy.policy import noise_free_act
from offpolicy.provenance import available_memory, new_stamped_dir, versions
from offpolicy.run import checkpoint, compile_cache
from offpolicy.run.evaluate import Evaluator
from offpolicy.run.progress import Progress
from offpolicy.run.signals import signal_handlers
from offpolicy.run.writer import (
    RunWriter,
    check_config_file,
    check_new,
    clear_outputs,
    finished_steps,
    read_run_config,
    training_checkpoints,
)


def new_run_dir(root: str | Path, name: str, seed: int | str) -> Path:
    """A fresh, not-yet-existing path ``root/{name}_s{seed}_{timestamp}``."""
    return new_stamped_dir(root, f"{name}_s{seed}")


def make_loop(config: RunConfig, seeds: list[int], announce=None) -> tuple[Loop, Any, list]:
    """The loop the config asks for over ``seeds``: (loop, agent, Gymnasium training envs, empty for compiled).
    ``announce()``, when given, runs once the env and the sizes are validated, before the first compilation."""
    common = dict(buffer_size=config.agent.buffer_size, batch_size=config.agent.batch_size,
                  warmup_steps=config.warmup_steps, learning_starts=config.learning_starts,
                  truncation_as_terminal=config.truncation_as_terminal, nonfinite=config.nonfinite,
                  align=(config.eval_every, config.checkpoint_every), train_freq=config.train_freq,
                  gradient_steps=config.updates_per_phase, n_envs=config.n_envs)
    seed = seeds[0] if len(seeds) == 1 else seeds
    check_registered(config.env, config.env_module)
    if config.loop == "compiled":
        from offpolicy.envs import make_jax_env
        from offpolicy.loops.compiled import CompiledLoop

        jax_env, spec = make_jax_env(config.env, config.algo, config.env_kwargs)
        agent = agent_for_run(config, spec)
        check_buffer_fits(agent, config.agent.buffer_size, len(seeds))
        if announce is not None:
            announce()
        return CompiledLoop(agent, jax_env, seed=seed, **common), agent, []
    from offpolicy.loops.host import HostLoop

    made = [make_env(config.env, config.algo, config.env_kwargs) for _ in range(len(seeds) * config.n_envs)]
    envs = [env for env, _ in made]
    agent = agent_for_run(config, made[0][1])
    try:
        check_buffer_fits(agent, config.agent.buffer_size, len(seeds))
        if announce is not None:
            announce()
        loop = HostLoop(agent, envs if len(envs) > 1 else envs[0], seed=seed, env_id=config.env, **common)
    except BaseException:
        for env in envs:
            env.close()
        raise
    return loop, agent, envs


def agent_for_run(config: RunConfig, spec: Any) -> Any:
    """The agent a training loop runs, with what depends on the run filled in: prioritized replay's beta schedule
    (unset: the run's total_steps), and the stride of n-step windows in the buffer (n_envs)."""
    agent = make_agent(config.algo, config.agent, spec)
    beta_steps = config.total_steps if agent.prioritized is not None and agent.prioritized.beta_steps is None else None
    return _for_run(agent, beta_steps, config.n_envs if agent.gather is not None else 1)


@functools.lru_cache(maxsize=32)  # the same agent for the same run settings: its jitted programs are reused
def _for_run(agent: Any, beta_steps: int | None, stride: int) -> Any:
    if beta_steps is not None:
        agent = agent._replace(prioritized=agent.prioritized._replace(beta_steps=beta_steps))
    if stride > 1:
        agent = agent._replace(gather=functools.partial(agent.gather, stride=stride))
    return agent


def check_buffer_fits(agent: Any, buffer_size: int, n_seeds: int) -> None:
    """A ConfigError naming the size when ``n_seeds`` replay buffers of ``buffer_size`` transitions would not fit in
    the default device's free memory (checked before allocating: JAX would fail with a traceback, or a CPU machine
    that overcommits would be killed once the buffer fills)."""
    per_transition = sum(leaf.nbytes for leaf in jax.tree.leaves(example_transition(agent)))
    need = per_transition * buffer_size * n_seeds
    device = jax.devices()[0]
    free = available_memory(device)
    if free is not None and need > free:
        seeds = f" x {n_seeds} seeds" if n_seeds > 1 else ""
        raise ConfigError(
            f"agent.buffer_size={buffer_size}: the replay buffer needs {_size(need)} ({per_transition} bytes per "
            f"transition x {buffer_size:,}{seeds}), but {device.platform} memory has {_size(free)} free; lower "
            f"agent.buffer_size (about {free // (per_transition * n_seeds):,} transitions fit).")


def check_run(config: RunConfig, n_seeds: int) -> None:
    """What :func:`make_loop` checks before it builds a loop (the env exists and suits the algorithm; ``n_seeds``
    replay buffers fit in memory), without building one: for a caller that builds the loops elsewhere (one worker
    process per chunk of seeds, :mod:`offpolicy.run.processes`)."""
    check_registered(config.env, config.env_module)
    if config.loop == "compiled":
        from offpolicy.envs import make_jax_env

        _, spec = make_jax_env(config.env, config.algo, config.env_kwargs)
    else:
        env, spec = make_env(config.env, config.algo, config.env_kwargs)
        env.close()
    check_buffer_fits(agent_for_run(config, spec), config.agent.buffer_size, n_seeds)


def seeds_summary(config: RunConfig, parent: Path | None, chunks: list[list[int]], summaries: list[dict],
                  histories: list[list[tuple[int, float]]], wall_time: float, start_up: float) -> dict:
    """The summary of a multi-seed run whose seeds trained in ``chunks`` (one process each; a chunk's seeds
    vmapped), from each seed's summary and (step, evaluation mean) history, in the order of the chunks' seeds; with
    a ``parent`` directory, also its summary.json, aggregate.csv and aggregate.png."""
    seeds = [s for chunk in chunks for s in chunk]
    finals = np.array([s["final_eval"]["mean"] for s in summaries])
    low, high = bootstrap_ci(finals, np.mean) if len(finals) > 1 else (float("nan"), float("nan"))
    if parent is not None:
        steps = sorted({step for history in histories for step, _ in history})
        table = np.array([[dict(history).get(step, np.nan) for step in steps] for history in histories])
        write_aggregate(parent, seeds, steps, table, f"{config.algo.upper()} {config.env}, {config.loop} loop",
                        figure=config.plot)
    per_seed_sps = [s["learning_phase_steps_per_s"] for s in summaries]
    first = 0  # each chunk's first seed: its steps/s is the chunk's (the seeds of a chunk advance together)
    chunk_sps = []
    for chunk in chunks:
        chunk_sps.append(per_seed_sps[first])
        first += len(chunk)
    summary = {
        "algo": config.algo, "env": config.env, "loop": config.loop, "seeds": seeds,
        "vmapped": any(len(chunk) > 1 for chunk in chunks), "processes": len(chunks),
        "seeds_per_process": [len(chunk) for chunk in chunks],
        "steps_per_seed": summaries[0]["steps"], "wall_time_s": wall_time,
        "final_eval_mean": float(finals.mean()), "final_eval_ci95": [low, high],
        "final_eval_per_seed": dict(zip(map(str, seeds), finals.tolist())),
        # a chunk's seeds advance together in each timed step, and the chunks' processes run at the same time:
        # agent-steps/s = the sum over chunks of seeds x per-seed steps/s
        "learning_phase_agent_steps_per_s": (sum(len(c) * sps for c, sps in zip(chunks, chunk_sps))
                                             if all(chunk_sps) else None),
        "learning_phase_steps_per_s_per_seed": per_seed_sps,
        "start_up_s": start_up,
    }
    if parent is not None:
        (parent / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _size(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class SeedRun:
    """One seed of a Trainer: its config, evaluator, run-directory writer (or none) and evaluation history."""

    def __init__(self, config: RunConfig, evaluator: Evaluator):
        self.config, self.evaluator = config, evaluator
        self.writer: RunWriter | None = None
        self.best_eval: float | None = None
        self.last_eval: tuple[int, dict] | None = None  # the newest periodic evaluation
        self.final_eval: tuple[int, dict] | None = None  # finish()'s, on the final seeds
        self.eval_history: list[tuple[int, dict]] = []  # (step, result) of every evaluation this process ran
        self.last_row: tuple[int, float, float] | None = None  # (step, clock, excluded) at the previous row

    def record_eval(self, step: int, result: dict, save_best) -> None:
        """Log an evaluation; a new best mean saves ``checkpoints/best`` (``save_best(extra)``)."""
        self.last_eval = (step, result)
        self.eval_history.append(self.last_eval)
        if self.writer is not None:
            self.writer.evaluation(step, result)
        if self.best_eval is None or result["mean"] > self.best_eval:
            self.best_eval = result["mean"]
            if self.writer is not None:
                save_best({"eval": _brief(result)})


class Trainer:
    """Owns one training run of 1..N seeds. ``learn(n)`` may be called repeatedly; ``finish()`` writes the final
    outputs."""

    def __init__(self, config: RunConfig, run_dir: str | Path | None = None, progress: bool = True,
                 seeds: list[int] | None = None, run_dirs: list[str | Path] | None = None):
        config.check()
        self.multi = seeds is not None
        self.seeds = [config.seed] if seeds is None else [int(s) for s in seeds]
        if not self.seeds:
            raise ConfigError("Trainer: no seeds given.")
        if self.multi and config.checkpoint_every:
            raise ConfigError("checkpoint_every with several seeds: training checkpoints of a multi-seed run are not "
                              "supported; drop --checkpoint-every (or run the seeds one by one).")
        self.config = config
        self.parent_dir, self.run_dirs = self._plan_dirs(run_dir, run_dirs)
        for path in ([self.parent_dir] if self.parent_dir is not None else []) + [p for p in self.run_dirs if p]:
            check_new(path)
        self.progress = progress
        compile_cache.enable()  # before the first compile: a later run of the same programs loads them
        self.loop, self.agent, self.envs = make_loop(  # may raise EnvError: no dir written yet
            config, self.seeds, announce=lambda: self._say(
                f"building {config.algo} on {config.env} ({config.loop} loop): compiling the first programs"))
        self.spec = self.agent.spec
        self.policy_fn = noise_free_act(self.agent)
        self.runs = []
        for s in self.seeds:
            seed_config = dataclasses.replace(config, seed=s)
            evaluator = Evaluator(config.env, config.algo, config.env_kwargs, s, config.eval_episodes, self.policy_fn,
                                  config.eval_max_steps)
            self.runs.append(SeedRun(seed_config, evaluator))
        if self.runs[0].evaluator.time_limit is None:
            warnings.warn(_no_time_limit(config), stacklevel=2)
        for message in budget_warnings(config, self.runs[0].evaluator.time_limit):
            warnings.warn(message, stacklevel=2)
        space = env_action_space(self.runs[0].evaluator.env)
        self.action_bounds = None if self.spec.discrete else (space.low.tolist(), space.high.tolist())
        # Observers of seed 0 (offpolicy.Callback objects, live notebook plots): on_step(step) after each step the
        # loop hands back, on_episode(row: dict) each metrics.csv row, on_eval(step, result) each evaluation; any
        # of them returning False stops learn() after the current step. Time spent in them is kept out of steps/s.
        self.callbacks: list[Any] = []
        self.stopped_by: str | None = None  # "Class.method" of the callback that stopped the last learn() call
        self.wall_time = 0.0
        self.resumed_from: Path | None = None
        self.restarted = False  # resume() found no training checkpoint and starts the run again from step 0
        self._checkpoint_due: int | None = None  # the step a training checkpoint fell due (taken at an episode end)
        self._warned_no_episode_end = False
        self._bar: Progress | None = None
        self._interrupts = _Interrupts()
        self._compiled_once = False
        # the env-step count after which the host loop's first update (a new program) runs; the bar says so before
        self._first_update = first_update_step(config.learning_starts, config.train_freq, config.n_envs)
        if any(self.run_dirs):
            self.open_run_dirs()

    def _plan_dirs(self, run_dir, run_dirs) -> tuple[Path | None, list[Path | None]]:
        if not self.multi:
            if run_dirs is not None:
                raise ConfigError("Trainer: run_dirs is for several seeds; give run_dir for one.")
            return None, [Path(run_dir) if run_dir is not None else None]
        parent = Path(run_dir) if run_dir is not None else None
        if run_dirs is None:
            if parent is None:  # nothing written (e.g. a benchmark)
                return None, [None] * len(self.seeds)
            return parent, [parent / f"s{seed}" for seed in self.seeds]
        dirs = [Path(p) for p in run_dirs]
        if len(dirs) != len(self.seeds):
            raise ConfigError(f"Trainer: {len(dirs)} run directories for {len(self.seeds)} seeds; give one per seed.")
        if len({p.resolve() for p in dirs}) != len(dirs):
            raise ConfigError("Trainer: two seeds were given the same run directory.")
        return parent, dirs

    # -- run directories ----------------------------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path | None:
        """The run directory (one seed) or the parent directory (several seeds)."""
        return self.parent_dir if self.multi else self.run_dirs[0]

    def open_run_dirs(self, resume_rows: tuple[int, int, int] | None = None, restart: bool = False) -> None:
        """Start writing each seed's run directory (new or empty), or, with ``resume_rows`` = (metrics rows,
        evaluation rows, step) from a training checkpoint, continue a one-seed run's logs from that point, or with
        ``restart`` write a one-seed run's cleared directory again from step 0."""
        for run, path in zip(self.runs, self.run_dirs):
            run.writer = RunWriter(path, run.config, self.spec, self.agent.metric_names, self.action_bounds,
                                   resume_rows, restart)

    def open_run_dir(self, run_dir: str | Path) -> None:
        """Start writing a one-seed Trainer's outputs to ``run_dir`` (must be new or empty)."""
        if self.multi:
            raise OffpolicyError("open_run_dir is for a one-seed Trainer; give run_dir when making a multi-seed one.")
        self.run_dirs = [check_new(run_dir)]
        self.open_run_dirs()

    # -- policy -------------------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.loop.states[0].step

    def agent_state(self, i: int = 0) -> Any:
        return self.loop.agent_state(i)

    @property
    def state(self) -> Any:
        """Seed 0's agent state."""
        return self.loop.agent_state(0)

    def set_state(self, agent_state: Any, counters: dict[str, int] | None = None) -> None:
        """Replace the agent state of a one-seed run (e.g. restored from a checkpoint); with ``counters`` (a
        checkpoint's step, episodes, updates), also continue its step, episode and update counts."""
        self.loop.set_agent_state(agent_state)
        if counters is not None:
            s = self.loop.states[0]
            s.step, s.episode, s.updates = counters["step"], counters["episodes"], counters["updates"]

    def policy(self, obs: np.ndarray, i: int = 0) -> np.ndarray:
        return np.asarray(self.policy_fn(self.loop.agent_state(i), jnp.asarray(obs, jnp.float32)))

    def evaluate(self, episodes: int | None = None, i: int = 0) -> dict:
        return self.runs[i].evaluator.evaluate(self.loop.agent_state(i), episodes)

    def record_video(self, path: Path, i: int = 0) -> tuple[float, int]:
        return self.runs[i].evaluator.record_video(self.loop.agent_state(i), path)

    @property
    def eval_seeds(self) -> list[int]:
        return self.runs[0].evaluator.seeds

    @property
    def last_eval(self) -> tuple[int, dict] | None:
        return self.runs[0].last_eval

    @property
    def final_eval(self) -> tuple[int, dict] | None:
        """Seed 0's final evaluation (step, result) once ``finish`` ran: eval.json's numbers."""
        return self.runs[0].final_eval

    @property
    def best_eval(self) -> float | None:
        return self.runs[0].best_eval

    @property
    def eval_history(self) -> list[tuple[int, dict]]:
        return self.runs[0].eval_history

    # -- training -----------------------------------------------------------------------------------------------------
    def learn(self, total_steps: int) -> None:
        """Train every seed ``total_steps`` more env steps (a multiple of n_envs)."""
        cfg = self.config
        if total_steps % cfg.n_envs:
            raise ConfigError(f"total_steps={total_steps} is not a multiple of n_envs={cfg.n_envs}: each vector step "
                              f"takes {cfg.n_envs} env steps; give a multiple (e.g. "
                              f"{total_steps - total_steps % cfg.n_envs or cfg.n_envs}).")
        desc = f"{cfg.algo} {cfg.env}" + (f" x{len(self.seeds)} seeds" if self.multi else "")
        bar = self._bar = Progress(total_steps, desc, self.step, agents=len(self.seeds), enabled=self.progress)
        for run in self.runs:
            run.last_row = (self.step, bar.start, 0.0)
        if not self._compiled_once:  # the first call of the loop's step program compiles it (seconds)
            bar.status("compiling")
        self.stopped_by = None
        try:
            with _Interrupts() as self._interrupts:
                self.loop.run(total_steps, on_episode=self._on_episode, on_step=self._on_step)
        except _StopTraining:
            pass  # a callback asked to stop; the loop's state is whole after the step it stopped at
        except NonFiniteError as exc:
            bar.close(self.step)
            if self.runs[0].writer is not None and not self.multi:
                path = self._save_policy(0, "last-good", {"stopped": str(exc)})
                raise NonFiniteError(f"{exc} The last good agent state is saved in {path}.", exc.step, exc.episode,
                                     exc.quantity) from None
            raise
        except KeyboardInterrupt as exc:
            bar.close(self.step)
            how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            if self.runs[0].writer is not None and not self.multi:
                try:
                    print(f"\n{how} at step {self.step}; state saved to {self._save_policy(0, 'interrupted')}")
                except RuntimeError:  # stopped inside a jitted step (a second Ctrl-C): its inputs are gone
                    print(f"\n{how} at step {self.step} inside a step; the state could not be saved")
            raise
        finally:
            self.wall_time += bar.elapsed()
            bar.close(self.step)

    def _on_step(self, step: int, resumable: bool) -> None:
        bar, cfg = self._bar, self.config
        self._interrupts.check()
        if bar.state is not None:
            self._compiled_once = True
            bar.status(None)
        if cfg.loop == "host" and step + cfg.n_envs == self._first_update and step >= 1:  # the next step compiles it
            bar.status("compiling the update")
        if step % 100 < cfg.n_envs:  # the vector step that reached a multiple of 100
            postfix = None
            if self.multi:
                evals = [r.last_eval[1]["mean"] for r in self.runs if r.last_eval is not None]
                postfix = {"eval mean": f"{np.mean(evals):.1f}"} if evals else None
            bar.at(step, postfix)
        if cfg.eval_every and step % cfg.eval_every == 0:
            tic = time.perf_counter()
            for i in range(len(self.runs)):
                self._evaluate_into(i, step)
            bar.exclude_since(tic)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and self._checkpoint_due is None:
            self._checkpoint_due = step
        if self._checkpoint_due is not None and self.runs[0].writer is not None:
            if resumable:
                tic = time.perf_counter()
                self.save_training_checkpoint()
                bar.exclude_since(tic)
            elif step - self._checkpoint_due >= cfg.checkpoint_every and not self._warned_no_episode_end:
                self._warned_no_episode_end = True
                warnings.warn(f"step {step}: a training checkpoint has been due since step {self._checkpoint_due}, but "
                              "no episode has ended since (checkpoints are taken at episode ends). The final and an "
                              "interrupted checkpoint are still saved; give the env a time limit "
                              "(env_kwargs.max_episode_steps) to get resumable checkpoints.", stacklevel=2)
        if self.callbacks:
            tic = time.perf_counter()
            self._notify("on_step", step)
            bar.exclude_since(tic)
        if self.stopped_by is not None:
            raise _StopTraining()

    def _notify(self, method: str, *args: Any) -> None:
        """Call ``method`` of every callback that has it; one returning False stops training after this step."""
        for cb in self.callbacks:
            fn = getattr(cb, method, None)
            if fn is not None and fn(*args) is False and self.stopped_by is None:
                self.stopped_by = f"{type(cb).__name__}.{method}"

    def _evaluate_into(self, i: int, step: int) -> dict:
        """A periodic evaluation of seed ``i`` (fresh seeds each time): logged, and a new best saved."""
        run = self.runs[i]
        result = run.evaluator.evaluate_periodic(self.loop.agent_state(i))
        run.record_eval(step, result, lambda extra: self._save_policy(i, "best", extra))
        if i == 0:
            self._notify("on_eval", step, result)
        return result

    def _on_episode(self, i: int, record: EpisodeRecord) -> None:
        bar, run = self._bar, self.runs[i]
        now = time.perf_counter()
        last_step, last_time, last_excluded = run.last_row
        elapsed = now - last_time - (bar.excluded - last_excluded)
        steps_per_s = (record.step - last_step) / elapsed if elapsed > 0 else None
        run.last_row = (record.step, now, bar.excluded)
        row = {"step": record.step, "episode": record.episode, "episode_return": record.episode_return,
               "episode_length": record.episode_length, **{k: record.metrics.get(k) for k in self.agent.metric_names},
               "steps_per_s": steps_per_s, "time_s": self.wall_time + now - bar.start}
        if run.writer is not None:
            run.writer.episode(row)
        if i == 0 and self.callbacks:
            tic = time.perf_counter()
            self._notify("on_episode", row)
            bar.exclude_since(tic)
        if not self.multi:
            postfix = {"return": f"{record.episode_return:.1f}"}
            if run.last_eval is not None:
                postfix["eval"] = f"{run.last_eval[1]['mean']:.1f}"
            bar.bar.set_postfix(postfix, refresh=False)

    def _save_policy(self, i: int, name: str, extra: dict | None = None) -> Path:
        s = self.loop.states[i]
        info = {"step": s.step, "episodes": s.episode, "updates": s.updates, **(extra or {})}
        return self.runs[i].writer.save_policy(name, self.loop.agent_state(i), info)

    # -- training checkpoints and resume --------------------------------------------------------------------------------
    def save_training_checkpoint(self) -> Path:
        """Everything needed to continue bit-identically (one seed), taken where the loop said ``resumable``."""
        s, run = self.loop.states[0], self.runs[0]
        path = run.writer.save_training(s.step, self.loop.carry, self.counters(), self.training_host_state())
        self._checkpoint_due = None
        return path

    def counters(self) -> dict[str, int]:
        """Seed 0's step, episode and update counts (a checkpoint's ``info``)."""
        s = self.loop.states[0]
        return {"step": s.step, "episodes": s.episode, "updates": s.updates}

    def training_host_state(self) -> dict[str, Any]:
        """The JSON-safe part of a one-seed training checkpoint (the loop's ``carry`` holds the arrays): the loop's
        host state and the trainer's evaluation bookkeeping, log positions and wall time."""
        run = self.runs[0]
        metrics_rows, eval_rows = run.writer.log_rows() if run.writer is not None else (0, 0)
        elapsed = self._bar.elapsed() if self._bar is not None else 0.0
        return {
            "loop": self.loop.host_state(),
            "trainer": {"best_eval": run.best_eval, "last_eval": run.last_eval,
                        "metrics_rows": metrics_rows, "eval_rows": eval_rows,
                        "wall_time": self.wall_time + elapsed, "eval_seeds": run.evaluator.periodic.get_state()},
        }

    def restore_training(self, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
        """Put a fresh one-seed Trainer exactly where the training checkpoint at ``path`` (its ``meta``) was taken:
        the loop's carry and host state, the evaluation bookkeeping and wall time. Returns the trainer part of the
        checkpoint's host state (log positions)."""
        self.loop.carry = checkpoint.restore(path, self.loop.carry)
        self.loop.load_host_state(meta["host"]["loop"])
        t = meta["host"]["trainer"]
        run = self.runs[0]
        run.best_eval, self.wall_time = t["best_eval"], t["wall_time"]
        run.last_eval = tuple(t["last_eval"]) if t["last_eval"] else None
        if "eval_seeds" in t:  # written since evaluations draw fresh seeds; older checkpoints restart the stream
            run.evaluator.periodic.set_state(t["eval_seeds"])
        return t

    @classmethod
    def resume(cls, run_dir: str | Path, total_steps: int | None = None, progress: bool = True) -> Trainer:
        """A Trainer positioned exactly where ``run_dir``'s newest valid training checkpoint was taken; with no
        training checkpoint yet (interrupted or killed before the first, or trained without ``checkpoint_every``), a
        Trainer that starts the run again from step 0 in the same directory (``restarted``). Refused when the run's
        config.yaml was edited (except ``total_steps``: a longer budget extends the run, as ``total_steps`` does)."""
        run_dir = Path(run_dir)
        candidates = training_checkpoints(run_dir)
        if not candidates:
            return cls._restart(run_dir, total_steps, progress)
        errors = []
        for path in reversed(candidates):  # newest first; a damaged one falls back to the previous
            try:
                meta, config, spec = checkpoint.read_meta(path, kind="training")
                break
            except CheckpointError as exc:
                errors.append(str(exc))
        else:
            raise CheckpointError(f"{run_dir}: no readable training checkpoint: {'; '.join(errors)}")
        edited_budget = check_config_file(run_dir, config)
        budget = total_steps if total_steps is not None else edited_budget
        if budget is not None:
            config = dataclasses.replace(config, total_steps=budget)
            config.check()
        trainer = cls(config, run_dir=None, progress=progress)
        if trainer.spec != spec:
            raise CheckpointError(f"{path}: saved for env spec {spec}, but {config.env} now has {trainer.spec}.")
        t = trainer.restore_training(path, meta)
        trainer.run_dirs = [run_dir]
        trainer.open_run_dirs(resume_rows=(t["metrics_rows"], t["eval_rows"], trainer.step))
        trainer.resumed_from = path
        return trainer

    @classmethod
    def _restart(cls, run_dir: Path, total_steps: int | None, progress: bool) -> Trainer:
        """``resume`` of a run with no training checkpoint: the same run again from step 0, in its directory."""
        config = read_run_config(run_dir)
        done = finished_steps(run_dir)
        if done is not None:
            raise CheckpointError(f"{run_dir}: finished at step {done} and has no training checkpoint to continue "
                                  "from (train with --checkpoint-every N to make a run extendable).")
        for name in ("interrupted", "last-good", "best"):  # a saved state says which settings it trained with
            if (run_dir / "checkpoints" / name / checkpoint.META_FILE).is_file():
                _, trained, _ = checkpoint.read_meta(run_dir / "checkpoints" / name)
                check_config_file(run_dir, trained)
                break
        if total_steps is not None:
            config = dataclasses.replace(config, total_steps=total_steps)
            config.check()
        trainer = cls(config, run_dir=None, progress=progress)  # validates the env before anything is removed
        clear_outputs(run_dir)
        trainer.run_dirs = [run_dir]
        trainer.open_run_dirs(restart=True)
        trainer.restarted = True
        return trainer

    # -- final outputs ------------------------------------------------------------------------------------------------
    def finish(self, video: bool | None = None) -> dict:
        """Final evaluation, checkpoints, eval.json, summary.json, learning-curve PNG and test-episode MP4 of every
        seed; with several seeds and a parent directory, also the aggregate curve and summary. Returns the summary
        (one seed) or the aggregate summary (several; each seed's is in ``seed_summaries``)."""
        self.seed_summaries = [self._finish_seed(i, video) for i in range(len(self.runs))]
        if not self.multi:
            return self.seed_summaries[0]
        return self._finish_seeds()

    def _finish_seed(self, i: int, video: bool | None) -> dict:
        run, s, cfg = self.runs[i], self.loop.states[i], self.runs[i].config
        self._say(f"evaluating the final policy ({cfg.eval_episodes} episodes)" + self._of_seed(i))
        result = run.evaluator.evaluate(self.loop.agent_state(i))  # the final seeds: no periodic evaluation saw them
        run.final_eval = (s.step, result)
        if run.last_eval is None or run.last_eval[0] != s.step:  # the curve ends at the final step (never "best")
            run.eval_history.append(run.final_eval)
            if run.writer is not None:
                run.writer.evaluation(s.step, result)
        unchosen = run.best_eval is None  # no periodic evaluation: nothing was chosen, best is the final policy
        if unchosen:
            run.best_eval = result["mean"]
        learn_sps = s.learn_steps / s.learn_time if s.learn_time > 0 else None
        summary = {
            "algo": cfg.algo, "env": cfg.env, "seed": cfg.seed, "steps": s.step,
            "episodes": s.episode, "updates": s.updates, "wall_time_s": self.wall_time,
            "learning_phase_steps_per_s": learn_sps, "final_eval": _brief(result), "best_eval_mean": run.best_eval,
            "skipped_transitions": s.skipped_transitions, "rejected_updates": self.loop.rejected_updates(i),
            "loop": cfg.loop, "versions": versions(), "jax_backend": jax.default_backend(),
        }
        if self.multi:
            summary["vmapped_seeds"] = self.seeds  # the seeds that shared its process and wall time
        if run.writer is None:
            return summary
        writer = run.writer
        self._save_policy(i, "final", {"eval": _brief(result)})
        if unchosen:
            self._save_policy(i, "best", {"eval": _brief(result)})
        writer.write_json("eval.json", {"step": s.step, "checkpoint": "final", **result})
        if cfg.plot and s.episode > 0:  # a run shorter than one episode has no metrics row to draw
            self._say("plotting learning_curve.png" + self._of_seed(i))
            writer.plot(f"{cfg.algo.upper()} {cfg.env} (seed {cfg.seed})")
        if cfg.video if video is None else video:
            self._say("recording video.mp4 (one noise-free episode)" + self._of_seed(i))
            try:
                self.record_video(writer.run_dir / "video.mp4", i)
            except Exception as exc:  # rendering needs pygame and ffmpeg; training results stay valid without it
                warnings.warn(f"could not record the test-episode video: {exc}", stacklevel=2)
        writer.write_json("summary.json", summary)
        return summary

    def _say(self, text: str) -> None:
        """A status line on stderr for what happens outside the bar: building the loop (compiling), and the work after
        its 100% (final evaluation, plot, video)."""
        if self.progress:
            print(f"offpolicy: {text} ...", file=sys.stderr, flush=True)

    def _of_seed(self, i: int) -> str:
        return f", seed {self.seeds[i]}" if self.multi else ""

    def _finish_seeds(self) -> dict:
        histories = [[(step, result["mean"]) for step, result in run.eval_history] for run in self.runs]
        return seeds_summary(self.config, self.parent_dir, [self.seeds], self.seed_summaries, histories,
                             self.wall_time, self.loop.start_up_time)

    def close(self) -> None:
        """Close every seed's logs and envs (``finish`` does not; call it after ``finish`` or an error). Idempotent."""
        for run in self.runs:
            if run.writer is not None:
                run.writer.close()
                run.writer = None
            run.evaluator.close()
        for env in self.envs:
            env.close()
        self.envs = []


class _StopTraining(Exception):
    """Raised in ``on_step`` when a callback returned False; ``learn`` ends quietly there."""


class _Interrupts:
    """While training, Ctrl-C (SIGINT) and SIGTERM (``kill``, a scheduler's stop) stop the run at the end of the
    current step (the next ``on_step``: the loop's state is whole there; raised in the middle of a jitted step, whose
    input buffers are donated, the state could not be saved), where the Trainer raises KeyboardInterrupt
    (Terminated for SIGTERM) and saves ``checkpoints/interrupted``. A second Ctrl-C stops at once, unsaved. Only the
    main thread may set signal handlers; elsewhere nothing changes."""

    def __init__(self):
        self.signal: int | None = None
        self._handlers = signal_handlers({signal.SIGINT: self._handle, signal.SIGTERM: self._handle})

    def __enter__(self) -> _Interrupts:
        self._handlers.__enter__()
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: at once
        if self.signal is None:
            self.signal = signum
            name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
            print(f"\n{name}: stopping at the end of this step to save the state"
                  + (" (Ctrl-C again stops at once, unsaved)" if signum == signal.SIGINT else ""), flush=True)

    def check(self) -> None:
        """Raise the stop a signal asked for (called where the loop's state is whole)."""
        if self.signal is not None:
            raise Terminated() if self.signal == signal.SIGTERM else KeyboardInterrupt()

    def __exit__(self, *exc) -> None:
        self._handlers.__exit__(*exc)


def budget_warnings(config: RunConfig, time_limit: int | None) -> list[str]:
    """One line for each budget that does not mean what it seems to: a run that never acts on its own policy or
    never updates, periodic evaluations that never come, a run shorter than one episode (``time_limit``: the env's
    max_episode_steps, None when it has none)."""
    total, out = config.total_steps, []
    if config.warmup_steps >= total:
        out.append(f"warmup_steps={config.warmup_steps} >= total_steps={total}: every action of this run is uniformly "
                   "random, the agent never acts on its own policy; lower warmup_steps (unset, it follows "
                   "learning_starts).")
    first_update = first_update_step(config.learning_starts, config.train_freq, config.n_envs)
    if config.learning_starts > total:
        out.append(f"learning_starts={config.learning_starts} > total_steps={total}: no update ever runs, the agent "
                   "stays as initialised; lower learning_starts.")
    elif first_update > total:
        out.append(f"train_freq={config.train_freq}: the first update phase would come at step {first_update}, after "
                   f"total_steps={total}, so no update ever runs; lower train_freq or learning_starts.")
    if config.eval_every > total:
        out.append(f"eval_every={config.eval_every} > total_steps={total}: no periodic evaluation comes; the only "
                   "evaluation is the final one (the learning curve's evaluations are one point).")
    if time_limit is not None and total // config.n_envs < time_limit:
        per_env = f" / n_envs={config.n_envs}" if config.n_envs > 1 else ""
        out.append(f"total_steps={total}{per_env} is less than {config.env}'s time limit ({time_limit} steps): unless an "
                   "episode ends earlier, metrics.csv gets no row and there is no learning curve (the final "
                   "evaluation, checkpoints and summary.json are still written).")
    return out


def _no_time_limit(config: RunConfig) -> str:
    message = (f"{config.env} has no time limit (max_episode_steps): an evaluation episode stops after "
               f"eval_max_steps={config.eval_max_steps} steps")
    if config.checkpoint_every:
        message += (", and training checkpoints are taken only at episode ends, so an env that never ends writes "
                    "none (the final and an interrupted checkpoint are still saved)")
    return message + ". Give it one with env_kwargs.max_episode_steps=N."


def _brief(result: dict) -> dict:
    return {"mean": result["mean"], "std": result["std"], "episodes": result["episodes"]}
