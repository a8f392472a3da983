"""`offpolicy train --seeds` against one seed, on this machine: what the worker processes buy.

    python benchmarks/seeds_speed.py [--preset ddpg-pendulum] [--loop host] [--seeds 8] [--reps 3] [--steps 3000]

Each repetition runs, as a user would type them (alternating, in this order), with the same short budget:
  one seed      offpolicy train PRESET --seed 0
  N, 1 process  offpolicy train PRESET --seeds 0-(N-1) --workers 1   (every agent vmapped in one process)
  N, W procs    offpolicy train PRESET --seeds 0-(N-1)               (the default: one process per core)
  N runs, W at a time   offpolicy train PRESET --seed i, for i in 0..N-1, W commands at once, one XLA thread each
                when W fills the cores (what a pool of one-seed processes would do: every seed bit for bit its
                `--seed i` run whatever the core count)
and reads each run's summary.json: learning-phase agent-steps/s (for several seeds, the sum over processes of seeds
x per-seed steps/s; for the N runs, W x the median run's steps/s, the rate while W run at once) and the wall time
(start-up, compiling, final evaluations included; for the N runs, from the first start to the last end). Prints medians
and the ratios to one seed, with the machine's matmul rate (ddpg_step.matmul_gflops) and load beside them. The
ratios are the claim; absolute rates move with machine load.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ddpg_step import matmul_gflops  # benchmarks/ddpg_step.py: the script's folder is on sys.path

from offpolicy.provenance import cpu_count
from offpolicy.run.processes import threads_per_worker, worker_env


def run(preset: str, loop: str, steps: int, extra: list[str], out: Path,
        env: dict[str, str] | None = None) -> tuple[float, float]:
    """(learning-phase agent-steps/s, wall seconds) of one `offpolicy train` command (``env``: added to its
    environment)."""
    budget = {"total_steps": steps, "learning_starts": min(1000, steps // 3), "eval_every": 0, "eval_episodes": 1,
              "video": False}
    cmd = [sys.executable, "-m", "offpolicy.cli", "train", preset, "--loop", loop, "--run-dir", str(out),
           "--no-progress", "--set", *(f"{k}={json.dumps(v)}" for k, v in budget.items()), *extra]
    tic = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - tic
    summary = json.loads((out / "summary.json").read_text())
    return summary.get("learning_phase_agent_steps_per_s") or summary["learning_phase_steps_per_s"], wall


def one_seed_runs(preset: str, loop: str, steps: int, seeds: int, at_once: int, out: Path) -> tuple[float, float]:
    """(at_once x the median run's learning-phase steps/s, wall seconds) of ``seeds`` one-seed commands, ``at_once``
    at a time, each with the environment `offpolicy train --seeds` gives its worker processes."""
    env = worker_env(threads_per_worker(at_once))
    tic = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
        rates = list(pool.map(lambda i: run(preset, loop, steps, ["--seed", str(i)], out / f"s{i}", env)[0],
                              range(seeds)))
    return at_once * statistics.median(rates), time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="ddpg-pendulum")
    parser.add_argument("--loop", choices=("host", "compiled"), default="host")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3000, help="env steps per seed")
    args = parser.parse_args()
    rows = {"one seed": ["--seed", "0"],
            f"{args.seeds} seeds, 1 process": ["--seeds", f"0-{args.seeds - 1}", "--workers", "1"],
            f"{args.seeds} seeds, default ({min(cpu_count(), args.seeds)} processes)": ["--seeds",
                                                                                    f"0-{args.seeds - 1}"]}
    print(f"{args.preset}, {args.loop} loop, {args.steps} steps per seed; {cpu_count()} CPUs; "
          f"matmul {matmul_gflops():.1f} GFLOP/s; load {os.getloadavg()[0]:.2f}", flush=True)
    at_once = min(cpu_count(), args.seeds)
    pool = f"{args.seeds} one-seed runs, {at_once} at a time"
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in [*rows, pool]}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for i, (name, extra) in enumerate(rows.items()):
                results[name].append(run(args.preset, args.loop, args.steps, extra, Path(tmp) / f"{rep}-{i}"))
                print(f"  rep {rep + 1} {name}: {results[name][-1][0]:.0f} agent-steps/s, "
                      f"{results[name][-1][1]:.1f} s", flush=True)
            results[pool].append(one_seed_runs(args.preset, args.loop, args.steps, args.seeds, at_once,
                                               Path(tmp) / f"{rep}-pool"))
            print(f"  rep {rep + 1} {pool}: {results[pool][-1][0]:.0f} agent-steps/s, {results[pool][-1][1]:.1f} s",
                  flush=True)
    base = statistics.median(r[0] for r in results["one seed"])
    print(f"{'':40s} {'agent-steps/s':>14s} {'x one seed':>11s} {'wall s':>8s}")
    for name, values in results.items():
        rate = statistics.median(r[0] for r in values)
        print(f"{name:40s} {rate:14.0f} {rate / base:11.2f} {statistics.median(r[1] for r in values):8.1f}")
    print(f"matmul {matmul_gflops():.1f} GFLOP/s; load {os.getloadavg()[0]:.2f} (after)")


if __name__ == "__main__":
    main()
