"""`offpolicy train --seeds` against one seed, on this machine: what the worker processes buy.

    python benchmarks/seeds_speed.py [--preset ddpg-pendulum] [--loop host] [--seeds 8] [--reps 3] [--steps 3000]

Each repetition runs, as a user would type them (alternating, in this order), with the same short budget:
  one seed      offpolicy train PRESET --seed 0
  N, 1 process  offpolicy train PRESET --seeds 0-(N-1) --workers 1   (every agent vmapped in one process)
  N, W procs    offpolicy train PRESET --seeds 0-(N-1)               (the default: one process per core)
and reads each run's summary.json: learning-phase agent-steps/s (for several seeds, the sum over processes of seeds
x per-seed steps/s) and the command's wall time (start-up, compiling, final evaluations included). Prints medians
and the ratios to one seed, with the machine's matmul rate (ddpg_step.matmul_gflops) and load beside them. The
ratios are the claim; absolute rates move with machine load.
"""

from __future__ import annotations

import argparse
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


def run(preset: str, loop: str, steps: int, extra: list[str], out: Path) -> tuple[float, float]:
    """(learning-phase agent-steps/s, wall seconds) of one `offpolicy train` command."""
    budget = {"total_steps": steps, "learning_starts": min(1000, steps // 3), "eval_every": 0, "eval_episodes": 1,
              "video": False}
    cmd = [sys.executable, "-m", "offpolicy.cli", "train", preset, "--loop", loop, "--run-dir", str(out),
           "--no-progress", "--set", *(f"{k}={json.dumps(v)}" for k, v in budget.items()), *extra]
    tic = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - tic
    summary = json.loads((out / "summary.json").read_text())
    return summary.get("learning_phase_agent_steps_per_s") or summary["learning_phase_steps_per_s"], wall


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
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for i, (name, extra) in enumerate(rows.items()):
                results[name].append(run(args.preset, args.loop, args.steps, extra, Path(tmp) / f"{rep}-{i}"))
                print(f"  rep {rep + 1} {name}: {results[name][-1][0]:.0f} agent-steps/s, "
                      f"{results[name][-1][1]:.1f} s", flush=True)
    base = statistics.median(r[0] for r in results["one seed"])
    print(f"{'':40s} {'agent-steps/s':>14s} {'x one seed':>11s} {'wall s':>8s}")
    for name, values in results.items():
        rate = statistics.median(r[0] for r in values)
        print(f"{name:40s} {rate:14.0f} {rate / base:11.2f} {statistics.median(r[1] for r in values):8.1f}")
    print(f"matmul {matmul_gflops():.1f} GFLOP/s; load {os.getloadavg()[0]:.2f} (after)")


if __name__ == "__main__":
    main()
