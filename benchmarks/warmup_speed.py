"""Warm-up speed of the host loop: env steps/s while the actions are uniformly random and nothing updates.

    python benchmarks/warmup_speed.py [--preset ddpg-pendulum] [--steps 4000] [--rounds 5] [--set n_envs=4 ...]

In one process, alternating: A takes the warm-up in blocks (``HostLoop.block_warmup``, the default: the actions of
256 steps drawn in one call, the steps stored in one call), B makes one jitted call per step (as before blocks). Each
round builds a Trainer whose warm-up lasts the whole run, takes 400 steps (which compile), then times
``learn(--steps)``. Prints each round and the medians, the ratio A/B, and the env alone (reset + random actions,
``action_space.sample()``) stepped from Python for the same number of steps, the floor of any host loop.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import gymnasium as gym

from offpolicy.config import make_config, parse_set
from offpolicy.loops.host import HostLoop
from offpolicy.run.trainer import Trainer


def warmup_rate(preset: str, steps: int, sets: dict, blocks: bool) -> float:
    total = 400 + steps + 1000  # learn() stops 1,000 steps short of it: the last timed step is a warm-up step too
    config = make_config(preset, {**sets, "total_steps": total, "warmup_steps": total, "learning_starts": total,
                                  "eval_every": 0, "video": False, "loop": "host"})
    HostLoop.block_warmup = blocks
    try:
        with warnings.catch_warnings():  # "every action of this run is uniformly random": on purpose here
            warnings.simplefilter("ignore", UserWarning)
            trainer = Trainer(config, progress=False)
        trainer.learn(400)
        tic = time.perf_counter()
        trainer.learn(steps)
        rate = steps / (time.perf_counter() - tic)
        trainer.close()
    finally:
        HostLoop.block_warmup = True
    return rate


def env_rate(env_id: str, steps: int) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    tic = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - tic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="ddpg-pendulum")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides, as `train --set`")
    args = parser.parse_args()
    sets = parse_set(args.set)
    rates: dict[str, list[float]] = {"A blocks": [], "B per step": []}
    for r in range(args.rounds):
        for name, blocks in (("A blocks", True), ("B per step", False)) if r % 2 == 0 else (
                ("B per step", False), ("A blocks", True)):
            rates[name].append(warmup_rate(args.preset, args.steps, sets, blocks))
            print(f"round {r + 1} {name}: {rates[name][-1]:,.0f} env steps/s", flush=True)
    env = make_config(args.preset, sets).env
    medians = {name: statistics.median(v) for name, v in rates.items()}
    print(f"{args.preset} {' '.join(args.set)}: warm-up env steps/s, medians of {args.rounds}: "
          + ", ".join(f"{name} {m:,.0f}" for name, m in medians.items())
          + f"; A/B {medians['A blocks'] / medians['B per step']:.2f}; {env} alone {env_rate(env, args.steps):,.0f}")


if __name__ == "__main__":
    main()
