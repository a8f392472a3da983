"""Resident memory and compilations over a long run (issue: nothing lost, long runs).

    python benchmarks/long_run.py --steps 1000000 [--preset ddpg-pendulum] [--buffer-size 1000000]

Trains the preset in-process with the host loop for --steps env steps (no run directory, no evaluation) and prints,
every --every steps: resident set size (VmRSS from /proc/self/status), the jitted step's compiled-variant count,
and steps/s. Memory must stay flat once the replay buffer is full; the compile count must not grow.
"""

from __future__ import annotations

import argparse
import time

from offpolicy.config import make_config
from offpolicy.run.trainer import Trainer


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=50_000)
    parser.add_argument("--preset", default="ddpg-pendulum")
    parser.add_argument("--buffer-size", type=int, default=None, help="replay capacity (default: the preset's)")
    args = parser.parse_args()
    overrides = {"total_steps": args.steps, "eval_every": 0, "video": False}
    if args.buffer_size is not None:
        overrides["buffer_size"] = args.buffer_size
    config = make_config(args.preset, overrides)
    trainer = Trainer(config, progress=False)
    print(f"{args.preset}: buffer {config.agent.buffer_size} transitions, {args.steps} steps", flush=True)
    print("step,rss_mib,compiled_variants,steps_per_s", flush=True)
    done = 0
    while done < args.steps:
        tic = time.perf_counter()
        n = min(args.every, args.steps - done)
        trainer.learn(n)
        done += n
        sps = n / (time.perf_counter() - tic)
        print(f"{done},{rss_mib():.1f},{trainer.loop.fns.cache_size()},{sps:.0f}", flush=True)
    trainer.close()


if __name__ == "__main__":
    main()
