"""The training shell: config -> env, agent, host loop -> run directory (CSV, TensorBoard, checkpoints, plot, video).

Nothing is written before the config and the environment have been validated, so bad input never leaves a
half-made run directory behind.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from offpolicy._version import __version__
from offpolicy.agents import make_agent
from offpolicy.analysis.figures import plot_run
from offpolicy.config import RunConfig, save_yaml
from offpolicy.envs import EpisodeSeeds, make_env
from offpolicy.errors import CheckpointError, OffpolicyError
from offpolicy.loops.host import EpisodeRecord, HostLoop, NonFiniteError
from offpolicy.run import checkpoint
from offpolicy.run.evaluate import evaluate, record_video
from offpolicy.run.logger import RunLogger


def new_run_dir(root: str | Path, name: str, seed: int | str) -> Path:
    """A fresh, not-yet-existing path ``root/{name}_s{seed}_{timestamp}``."""
    return new_stamped_dir(root, f"{name}_s{seed}")


def new_stamped_dir(root: str | Path, name: str) -> Path:
    """A fresh, not-yet-existing path ``root/{name}_{timestamp}`` (``-1``, ``-2``, ... appended if taken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}_{stamp}"
    path, i = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path


def versions() -> dict[str, str]:
    import flax
    import gymnasium
    import optax

    return {"offpolicy": __version__, "jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
            "gymnasium": gymnasium.__version__, "numpy": np.__version__, "python": platform.python_version()}


def training_checkpoints(run_dir: Path) -> list[Path]:
    """A run's training checkpoints, oldest first."""
    return sorted(p for p in (Path(run_dir) / "checkpoints").glob("train-*") if p.is_dir())


def make_policy(agent):
    """Jitted noise-free policy: (agent_state, obs[B, ...]) -> action[B, ...] in the agent's action space."""
    key = jax.random.key(0)  # unused when explore=False

    @jax.jit
    def policy(state, obs):
        return agent.act(state, obs, key, explore=False)[0]

    return policy


def make_loop(config: RunConfig, agent, env):
    """The training loop the config asks for: HostLoop on the Gymnasium env, or CompiledLoop on its gymnax port."""
    common = dict(seed=config.seed, buffer_size=config.agent.buffer_size, batch_size=config.agent.batch_size,
                  warmup_steps=config.warmup_steps, learning_starts=config.learning_starts,
                  truncation_as_terminal=config.truncation_as_terminal, nonfinite=config.nonfinite)
    if config.loop == "compiled":
        from offpolicy.envs import make_jax_env
        from offpolicy.loops.compiled import CompiledLoop

        jax_env, _ = make_jax_env(config.env, config.algo, config.env_kwargs)
        return CompiledLoop(agent, jax_env, align=(config.eval_every, config.checkpoint_every), **common)
    return HostLoop(agent, env, env_id=config.env, **common)


class Trainer:
    """Owns one training run. ``learn(n)`` may be called repeatedly; ``finish()`` writes the final outputs."""

    def __init__(self, config: RunConfig, run_dir: str | Path | None = None, progress: bool = True,
                 loop: Any = None):
        """``loop``: an already built loop (e.g. one seed's view of a multi-seed compiled loop); default: the
        config's loop (host or compiled) for this config's seed."""
        config.check()
        self.config = config
        self.env, self.spec = make_env(config.env, config.algo, config.env_kwargs)  # may raise EnvError: no dir yet
        self.eval_env, _ = make_env(config.env, config.algo, config.env_kwargs)
        self.agent = make_agent(config.algo, config.agent, self.spec)
        self.loop = loop if loop is not None else make_loop(config, self.agent, self.env)
        self.eval_seeds = EpisodeSeeds(config.seed, EpisodeSeeds.EVAL).take(config.eval_episodes)
        self.policy_fn = make_policy(self.agent)
        self.progress = progress
        self.best_eval: float | None = None
        self.last_eval: tuple[int, dict] | None = None
        self.eval_history: list[tuple[int, dict]] = []  # (step, result) of every evaluation this process ran
        # Observers (e.g. live notebook plots): on_episode(row: dict) gets each metrics.csv row, on_eval(step, result)
        # each evaluation. Time spent in them is kept out of steps/s.
        self.callbacks: list[Any] = []
        self.wall_time = 0.0
        self.summary_extra: dict[str, Any] = {}  # added to summary.json (a multi-seed run: the seeds trained with it)
        self._checkpoint_due = False
        self.resumed_from: Path | None = None
        self.run_dir: Path | None = None
        self.logger: RunLogger | None = None
        if run_dir is not None:
            self.open_run_dir(run_dir)

    def open_run_dir(self, run_dir: str | Path, resume_rows: tuple[int, int, int] | None = None) -> None:
        """Start writing outputs to ``run_dir`` (must be new or empty), or, with ``resume_rows`` = (metrics rows,
        evaluation rows, step) from a training checkpoint, continue the logs of an existing run from that point."""
        run_dir = Path(run_dir)
        if resume_rows is None:
            if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
                raise OffpolicyError(f"run directory {run_dir} already exists and is not empty; choose another path.")
            run_dir.mkdir(parents=True, exist_ok=True)
            save_yaml(self.config, run_dir / "config.yaml")
        self.run_dir = run_dir
        self.logger = RunLogger(run_dir, self.agent.metric_names, resume_rows)

    def set_state(self, agent_state: Any) -> None:
        """Replace the agent state (e.g. restored from a checkpoint)."""
        self.loop.set_agent_state(agent_state)

    # -- policy -------------------------------------------------------------------------------------------------------
    @property
    def state(self) -> Any:
        return self.loop.agent_state

    def policy(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.policy_fn(self.state, jnp.asarray(obs, jnp.float32)))

    def frozen_policy(self):
        """The current policy as obs -> action, with the agent state read once (a seed's state in a vmapped run is
        a slice of the shared one: slicing it at every env step would dominate an evaluation)."""
        state = self.state
        return lambda obs: np.asarray(self.policy_fn(state, jnp.asarray(obs, jnp.float32)))

    def evaluate(self, episodes: int | None = None) -> dict:
        seeds = self.eval_seeds if episodes is None else EpisodeSeeds(self.config.seed, EpisodeSeeds.EVAL).take(episodes)
        return evaluate(self.eval_env, self.frozen_policy(), seeds, self.spec.discrete)

    # -- training -----------------------------------------------------------------------------------------------------
    def learn(self, total_steps: int) -> None:
        self.begin_learn(total_steps)
        try:
            self.loop.run(total_steps, on_episode=self._on_episode, on_step=self._on_step)
        except NonFiniteError as exc:
            self._pbar.close()
            if self.run_dir is not None:
                path = self._save("last-good", {"stopped": str(exc)})
                raise NonFiniteError(f"{exc} The last good agent state is saved in {path}.", exc.step, exc.episode,
                                     exc.quantity) from None
            raise
        except KeyboardInterrupt:
            self._pbar.close()
            if self.run_dir is not None:
                path = self._save("interrupted")
                print(f"\ninterrupted at step {self.loop.state.step}; state saved to {path}")
            raise
        finally:
            self.end_learn()

    def begin_learn(self, total_steps: int) -> None:
        """Progress bar and timers for ``total_steps`` steps; ``learn`` calls it, a multi-seed driver calls it for
        each seed's Trainer before running their shared loop (feeding ``_on_episode`` / ``_on_step`` itself)."""
        from tqdm.auto import tqdm

        cfg = self.config
        self._pbar = tqdm(total=total_steps, unit="step", disable=not self.progress, dynamic_ncols=True,
                          desc=f"{cfg.algo} {cfg.env}", mininterval=0.5)
        self._pbar_pos = self.loop.state.step  # the bar counts this call's steps
        self._start = time.perf_counter()
        self._excluded = 0.0  # evaluation / checkpoint time, kept out of steps/s
        self._last_row = (self.loop.state.step, self._start, 0.0)

    def end_learn(self) -> None:
        self.wall_time += time.perf_counter() - self._start
        self._pbar.update(self.loop.state.step - self._pbar_pos)
        self._pbar.close()

    def _on_step(self, step: int, episode_done: bool) -> None:
        if step % 100 == 0:
            self._pbar.update(step - self._pbar_pos)
            self._pbar_pos = step
        cfg = self.config
        if cfg.eval_every and step % cfg.eval_every == 0:
            self._periodic_eval(step)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self._checkpoint_due = True
        if self._checkpoint_due and episode_done and self.run_dir is not None:
            tic = time.perf_counter()
            self.save_training_checkpoint()
            self._excluded += time.perf_counter() - tic

    def _on_episode(self, record: EpisodeRecord) -> None:
        now = time.perf_counter()
        last_step, last_time, last_excluded = self._last_row
        elapsed = now - last_time - (self._excluded - last_excluded)
        steps_per_s = (record.step - last_step) / elapsed if elapsed > 0 else None
        self._last_row = (record.step, now, self._excluded)
        row = {"step": record.step, "episode": record.episode, "episode_return": record.episode_return,
               "episode_length": record.episode_length, **{k: record.metrics.get(k) for k in self.agent.metric_names},
               "steps_per_s": steps_per_s, "time_s": self.wall_time + now - self._start}
        if self.logger is not None:
            self.logger.episode(row)
        if self.callbacks:
            tic = time.perf_counter()
            for cb in self.callbacks:
                if hasattr(cb, "on_episode"):
                    cb.on_episode(row)
            self._excluded += time.perf_counter() - tic
        postfix = {"return": f"{record.episode_return:.1f}"}
        if self.last_eval is not None:
            postfix["eval"] = f"{self.last_eval[1]['mean']:.1f}"
        self._pbar.set_postfix(postfix, refresh=False)

    def _periodic_eval(self, step: int) -> None:
        tic = time.perf_counter()
        result = self.evaluate()
        self.last_eval = (step, result)
        self.eval_history.append(self.last_eval)
        if self.logger is not None:
            self.logger.evaluation(step, result)
            if self.best_eval is None or result["mean"] > self.best_eval:
                self.best_eval = result["mean"]
                self._save("best", {"eval": _brief(result)})
        elif self.best_eval is None or result["mean"] > self.best_eval:
            self.best_eval = result["mean"]
        for cb in self.callbacks:
            if hasattr(cb, "on_eval"):
                cb.on_eval(step, result)
        self._excluded += time.perf_counter() - tic

    def _save(self, name: str, extra: dict | None = None) -> Path:
        s = self.loop.state
        info = {"step": s.step, "episodes": s.episode, "updates": s.updates, **(extra or {})}
        return checkpoint.save(self.run_dir / "checkpoints" / name, self.state, self.config, self.spec, info)

    # -- training checkpoints and resume --------------------------------------------------------------------------------
    def save_training_checkpoint(self) -> Path:
        """Everything needed to continue bit-identically: taken at an episode boundary (see checkpoint_every)."""
        s = self.loop.state
        host = {
            "loop": self.loop.host_state(),
            "trainer": {"best_eval": self.best_eval, "last_eval": self.last_eval,
                        "metrics_rows": self.logger.metrics.rows, "eval_rows": self.logger.evals.rows,
                        "wall_time": self.wall_time + time.perf_counter() - self._start},
        }
        folder = self.run_dir / "checkpoints"
        path = checkpoint.save(folder / f"train-{s.step:09d}", self.loop.carry, self.config, self.spec,
                               {"step": s.step, "episodes": s.episode, "updates": s.updates}, kind="training",
                               host=host)
        self._checkpoint_due = False
        for old in training_checkpoints(self.run_dir)[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    @classmethod
    def resume(cls, run_dir: str | Path, total_steps: int | None = None, progress: bool = True) -> Trainer:
        """A Trainer positioned exactly where ``run_dir``'s newest valid training checkpoint was taken."""
        run_dir = Path(run_dir)
        candidates = training_checkpoints(run_dir)
        if not candidates:
            raise CheckpointError(
                f"{run_dir}: no training checkpoint to resume from (checkpoints/train-*). Train with "
                "--checkpoint-every N (or set checkpoint_every) to make runs resumable.")
        errors = []
        for path in reversed(candidates):  # newest first; a damaged one falls back to the previous
            try:
                meta, config, spec = checkpoint.read_meta(path, kind="training")
                break
            except CheckpointError as exc:
                errors.append(str(exc))
        else:
            raise CheckpointError(f"{run_dir}: no readable training checkpoint: {'; '.join(errors)}")
        if total_steps is not None:
            config = dataclasses.replace(config, total_steps=total_steps)
            config.check()
        trainer = cls(config, run_dir=None, progress=progress)
        if trainer.spec != spec:
            raise CheckpointError(f"{path}: saved for env spec {spec}, but {config.env} now has {trainer.spec}.")
        trainer.loop.carry = checkpoint.restore(path, trainer.loop.carry)
        trainer.loop.load_host_state(meta["host"]["loop"])
        t = meta["host"]["trainer"]
        trainer.best_eval, trainer.wall_time = t["best_eval"], t["wall_time"]
        trainer.last_eval = tuple(t["last_eval"]) if t["last_eval"] else None
        step = trainer.loop.state.step
        trainer.open_run_dir(run_dir, resume_rows=(t["metrics_rows"], t["eval_rows"], step))
        for stale in run_dir.glob("checkpoints/.*"):  # leftovers of a write that was killed
            shutil.rmtree(stale, ignore_errors=True)
        trainer.resumed_from = path
        return trainer

    # -- final outputs ------------------------------------------------------------------------------------------------
    def finish(self, video: bool | None = None) -> dict:
        """Final evaluation, checkpoints, eval.json, summary.json, learning-curve PNG and test-episode MP4."""
        s = self.loop.state
        if self.last_eval is not None and self.last_eval[0] == s.step:
            result = self.last_eval[1]
        else:
            result = self.evaluate()
            self.last_eval = (s.step, result)
            self.eval_history.append(self.last_eval)
            if self.logger is not None:
                self.logger.evaluation(s.step, result)
            if self.best_eval is None or result["mean"] > self.best_eval:
                self.best_eval = result["mean"]
                if self.run_dir is not None:
                    self._save("best", {"eval": _brief(result)})
        learn_sps = s.learn_steps / s.learn_time if s.learn_time > 0 else None
        summary = {
            "algo": self.config.algo, "env": self.config.env, "seed": self.config.seed, "steps": s.step,
            "episodes": s.episode, "updates": s.updates, "wall_time_s": self.wall_time,
            "learning_phase_steps_per_s": learn_sps, "final_eval": _brief(result), "best_eval_mean": self.best_eval,
            "skipped_transitions": s.skipped_transitions, "rejected_updates": self.loop.rejected_updates,
            "loop": self.config.loop,
            "versions": versions(), "jax_backend": jax.default_backend(), **self.summary_extra,
        }
        if self.run_dir is None:
            return summary
        self._save("final", {"eval": _brief(result)})
        (self.run_dir / "eval.json").write_text(json.dumps({"step": s.step, "checkpoint": "final", **result}, indent=2))
        self.logger.tb.flush()
        plot_run(self.run_dir, title=f"{self.config.algo.upper()} {self.config.env} (seed {self.config.seed})")
        if self.config.video if video is None else video:
            try:
                self.record_video(self.run_dir / "video.mp4")
            except Exception as exc:  # rendering needs pygame and ffmpeg; training results stay valid without it
                warnings.warn(f"could not record the test-episode video: {exc}", stacklevel=2)
        summary["wall_time_s"] = self.wall_time
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary

    def record_video(self, path: Path) -> tuple[float, int]:
        env, _ = make_env(self.config.env, self.config.algo, self.config.env_kwargs, render_mode="rgb_array")
        try:
            seed = EpisodeSeeds(self.config.seed, EpisodeSeeds.VIDEO).next()
            return record_video(env, self.frozen_policy(), seed, self.spec.discrete, path)
        finally:
            env.close()

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()
            self.logger = None
        self.env.close()
        self.eval_env.close()


def _brief(result: dict) -> dict:
    return {"mean": result["mean"], "std": result["std"], "episodes": result["episodes"]}
