"""Start-up of a short `offpolicy train` run: empty compilation cache, warm cache, cache off.

    python benchmarks/startup.py [--preset ddpg-pendulum] [--reps 3]

Each repetition runs, alternating, the command of issue 18's start-up target
    offpolicy train PRESET --set total_steps=300 learning_starts=200 eval_every=0 video=false eval_episodes=1
        --no-progress
as a new process, and times it from the outside (process start to exit: imports, env, compiling, 300 steps, final
evaluation, plot):
  cold        OFFPOLICY_COMPILE_CACHE=<an empty folder>
  warm        the same folder after a first run (every program stored: offpolicy's default since 2026-12-02)
  warm 0.5 s  a folder filled and read with JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0.5 (the old default:
              only programs compiling in over half a second stored)
  off         OFFPOLICY_COMPILE_CACHE=off
Prints medians; the ratios are the claim, absolute times move with machine load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = ["--set", "total_steps=300", "learning_starts=200", "eval_every=0", "video=false", "eval_episodes=1",
        "--no-progress"]


def run(preset: str, out: Path, env: dict[str, str]) -> float:
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-m", "offpolicy.cli", "train", preset, "--run-dir", str(out), *ARGS],
                   check=True, capture_output=True, env={**os.environ, **env})
    return time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="ddpg-pendulum")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if any(k.startswith("JAX_") for k in os.environ):
        sys.exit("unset the JAX_* variables first: they would override the cache settings timed here")
    times: dict[str, list[float]] = {"cold": [], "warm": [], "warm 0.5 s": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        old = {"OFFPOLICY_COMPILE_CACHE": f"{tmp}/old", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.5"}
        run(args.preset, Path(tmp) / "fill-old", old)
        for rep in range(args.reps):
            cache = {"OFFPOLICY_COMPILE_CACHE": f"{tmp}/cache{rep}"}
            times["cold"].append(run(args.preset, Path(tmp) / f"cold{rep}", cache))
            times["warm"].append(run(args.preset, Path(tmp) / f"warm{rep}", cache))
            times["warm 0.5 s"].append(run(args.preset, Path(tmp) / f"old{rep}", old))
            times["off"].append(run(args.preset, Path(tmp) / f"off{rep}", {"OFFPOLICY_COMPILE_CACHE": "off"}))
            print(f"  rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    print(f"{args.preset}, 300-step run, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; seconds, medians of "
          f"{args.reps}:")
    for name, values in times.items():
        print(f"  {name:11s} {statistics.median(values):6.2f}")


if __name__ == "__main__":
    main()
