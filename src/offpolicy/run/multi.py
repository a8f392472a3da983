"""Many seeds of one config: one run directory per seed under a parent directory, plus an aggregate curve.

The seeds train together in one process with their agents vmapped: ``loop: compiled`` runs one CompiledLoop over all
seeds, ``loop: host`` one VectorHostLoop (one Gymnasium env per seed, one vmapped jitted call per step for all).
Each seed's Trainer evaluates its own policy on the Gymnasium env and writes its usual run directory.

Parent directory (``offpolicy train --seeds``):
    s<seed>/            a normal run directory per seed (config.yaml with that seed, metrics.csv, eval.json, ...)
    aggregate.csv       per evaluation step: mean over seeds and its 95% bootstrap interval, then each seed's value
    aggregate.png       the same as a curve with a band, each seed a thin line
    summary.json        seeds, final evaluations, their mean and interval, wall time, agent-steps per second

Or each seed's run directory given explicitly (``run_dirs``, e.g. a sweep's ``trials/<config>/s<seed>/``), with the
parent's aggregate files only when a parent is given too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

import numpy as np

from offpolicy.config import RunConfig
from offpolicy.errors import ConfigError, OffpolicyError
from offpolicy.run.trainer import Trainer


def parse_seeds(spec: str | int, first: int = 0) -> list[int]:
    """``"0-7"`` -> 0..7, ``"1,5,9"`` -> those, ``"8"`` or 8 -> eight seeds from ``first``."""
    text = str(spec).strip()
    try:
        if re.fullmatch(r"\d+", text):
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(first, first + n))
        elif m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", text):
            lo, hi = int(m[1]), int(m[2])
            if hi < lo:
                raise ValueError
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ConfigError(f"--seeds {spec!r}: give a count (8), a range (0-7) or a list of distinct seeds >= 0 "
                          "(0,3,5).")
    return seeds


class MultiSeedTrainer:
    """Trains ``config`` once per seed; ``learn()`` then ``finish()``, like Trainer."""

    def __init__(self, config: RunConfig, seeds: list[int], run_dir: str | Path | None = None, progress: bool = True,
                 run_dirs: list[str | Path] | None = None):
        """``run_dir``: the parent directory (seed s writes ``run_dir/s<s>/``; aggregate.csv/png and summary.json
        go in it). ``run_dirs``: one run directory per seed, in the order of ``seeds``, instead; the parent's files
        are then written only if ``run_dir`` is given too. Every directory must be new or empty; all are checked
        before anything is written."""
        config.check()
        if config.checkpoint_every:
            raise ConfigError("checkpoint_every with several seeds: training checkpoints of a multi-seed run are not "
                              "supported; drop --checkpoint-every (or run the seeds one by one).")
        self.config, self.seeds, self.progress = config, list(seeds), progress
        if not self.seeds:
            raise ConfigError("MultiSeedTrainer: no seeds given.")
        if run_dir is None and run_dirs is None:
            raise ConfigError("MultiSeedTrainer: give a parent run_dir, or run_dirs (one per seed).")
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if run_dirs is None:
            self.run_dirs = [self.run_dir / f"s{seed}" for seed in self.seeds]
        else:
            self.run_dirs = [Path(p) for p in run_dirs]
            if len(self.run_dirs) != len(self.seeds):
                raise ConfigError(f"MultiSeedTrainer: {len(self.run_dirs)} run directories for {len(self.seeds)} "
                                  "seeds; give one per seed.")
            if len({p.resolve() for p in self.run_dirs}) != len(self.run_dirs):
                raise ConfigError("MultiSeedTrainer: two seeds were given the same run directory.")
        for path in ([self.run_dir] if self.run_dir is not None else []) + self.run_dirs:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise OffpolicyError(f"run directory {path} already exists and is not empty; choose another path.")
        configs = [dataclasses.replace(config, seed=s) for s in self.seeds]
        from offpolicy.agents import make_agent

        common = dict(buffer_size=config.agent.buffer_size, batch_size=config.agent.batch_size,
                      warmup_steps=config.warmup_steps, learning_starts=config.learning_starts,
                      truncation_as_terminal=config.truncation_as_terminal, nonfinite=config.nonfinite)
        if config.loop == "compiled":
            from offpolicy.envs import make_jax_env
            from offpolicy.loops.compiled import CompiledLoop

            jax_env, spec = make_jax_env(config.env, config.algo, config.env_kwargs)
            self.loop = CompiledLoop(make_agent(config.algo, config.agent, spec), jax_env, seed=self.seeds,
                                     align=(config.eval_every,), **common)
        else:
            from offpolicy.envs import make_env
            from offpolicy.loops.vector import VectorHostLoop

            envs = [make_env(config.env, config.algo, config.env_kwargs) for _ in self.seeds]
            self._envs = [env for env, _ in envs]
            self.loop = VectorHostLoop(make_agent(config.algo, config.agent, envs[0][1]), self._envs, self.seeds,
                                       env_id=config.env, **common)
        self.trainers = [Trainer(c, run_dir=None, progress=False, loop=self.loop.seed_view(i))
                         for i, c in enumerate(configs)]
        self._closed = False
        for trainer in self.trainers:
            trainer.summary_extra["vmapped_seeds"] = self.seeds  # the seeds that shared its process and wall time
        for path, trainer in zip(self.run_dirs, self.trainers):  # only now: nothing is written for bad input
            trainer.open_run_dir(path)
        self.wall_time = 0.0
        self.seed_summaries: list[dict] = []

    def learn(self, total_steps: int | None = None) -> None:
        total = int(total_steps if total_steps is not None else self.config.total_steps)
        tic = time.perf_counter()
        try:
            self._learn_vmapped(total)
        finally:
            self.wall_time += time.perf_counter() - tic

    def _learn_vmapped(self, total: int) -> None:
        from tqdm.auto import tqdm

        n = len(self.trainers)
        cfg = self.config
        bar = tqdm(total=total * n, unit="agent-step", disable=not self.progress, dynamic_ncols=True,
                   desc=f"{cfg.algo} {cfg.env} x{n} seeds", mininterval=0.5)
        start = self.loop.state.step
        for trainer in self.trainers:
            trainer.begin_learn(total)

        def on_step(step: int, boundary: bool) -> None:
            for trainer in self.trainers:
                trainer._on_step(step, boundary)
            if step % 100:  # the host loop calls this every step; the bar needs far less
                return
            bar.update((step - start) * n - bar.n)
            evals = [t.last_eval[1]["mean"] for t in self.trainers if t.last_eval is not None]
            if evals:
                bar.set_postfix({"eval mean": f"{np.mean(evals):.1f}"}, refresh=False)

        try:
            self.loop.run(total, on_episode=lambda i, record: self.trainers[i]._on_episode(record), on_step=on_step)
        finally:
            for trainer in self.trainers:
                trainer.end_learn()
            bar.update((self.loop.state.step - start) * n - bar.n)
            bar.close()

    def finish(self, video: bool | None = None) -> dict:
        """Each seed's final outputs (its ``summary.json`` content is in ``seed_summaries`` after), then, with a
        parent directory, the aggregate curve, PNG and summary. Returns the aggregate summary."""
        summaries = self.seed_summaries = []
        for trainer in self.trainers:
            summaries.append(trainer.finish(video=video))
        self.close()
        from offpolicy.analysis.stats import bootstrap_ci

        finals = np.array([s["final_eval"]["mean"] for s in summaries])
        low, high = bootstrap_ci(finals, np.mean) if len(finals) > 1 else (float("nan"), float("nan"))
        steps = sorted({step for t in self.trainers for step, _ in t.eval_history})
        table = np.array([[dict(t.eval_history).get(step, {}).get("mean", np.nan) for step in steps]
                          for t in self.trainers])  # [seeds, steps]
        if self.run_dir is not None:
            self._write_aggregate(steps, table)
        per_seed_sps = [s["learning_phase_steps_per_s"] for s in summaries]
        summary = {
            "algo": self.config.algo, "env": self.config.env, "loop": self.config.loop, "seeds": self.seeds,
            "vmapped": True, "steps_per_seed": summaries[0]["steps"], "wall_time_s": self.wall_time,
            "final_eval_mean": float(finals.mean()), "final_eval_ci95": [low, high],
            "final_eval_per_seed": dict(zip(map(str, self.seeds), finals.tolist())),
            # vmapped: every seed advances in each timed chunk, so agent-steps/s = seeds x per-seed steps/s
            "learning_phase_agent_steps_per_s": len(self.seeds) * per_seed_sps[0] if per_seed_sps[0] else None,
            "learning_phase_steps_per_s_per_seed": per_seed_sps,
            "start_up_s": getattr(self.loop, "start_up_time", None),  # compiled loop: chunks that compiled
        }
        if self.run_dir is not None:
            (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary

    def close(self) -> None:
        """Close every seed's logs and envs (``finish`` does; call it yourself after an error). Idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for trainer in self.trainers:
            trainer.close()
        for env in getattr(self, "_envs", []):
            env.close()

    def _write_aggregate(self, steps: list[int], table: np.ndarray) -> None:
        from offpolicy.analysis.figures import write_aggregate

        write_aggregate(self.run_dir, self.seeds, steps, table,
                        title=f"{self.config.algo.upper()} {self.config.env}, {self.config.loop} loop")
