"""Learning-phase steps/s of the training shell at two source trees, alternating A and B in one run.

    git worktree add /tmp/before f2389db
    python benchmarks/ab_commits.py /tmp/before/src src [--preset ddpg-pendulum] [--loop host] [--rounds 5]
                                     [--buffer-size N] [--buffer-size-b M]
    python benchmarks/ab_commits.py src src --buffer-size 10000 --buffer-size-b 1000000   # one tree, two capacities
    python benchmarks/ab_commits.py src src --set-b n_envs=4 gradient_steps=-1   # any config overrides, per side

Each round starts one fresh process per tree (A, then B; the order flips every round) that builds a Trainer from the
preset (no evaluation, no video, no run directory), runs part of the random warm-up (compiling its program), times
the rest of the warm-up (no update: the loop's own overhead plus the env), runs the compile of the update and a few
learning steps, then times ``--steps`` learning steps of ``Trainer.learn`` (step counts are env steps; with
``n_envs``, an n_envs that divides 120, --warm and --steps). A jitted update called alone in the same process is timed
too, as a control for the machine's speed at that moment. Prints each sample and the medians of the steps/s and of
the ratio (loop time per step) / (update alone), which load on a shared machine moves less than raw steps/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import yaml

CHILD = r"""
import json, sys, time
import jax, numpy as np
from offpolicy.config import make_config
from offpolicy.run.trainer import Trainer

preset, loop, steps, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
extra = json.loads(sys.argv[5])
cfg = make_config(preset, {"loop": loop, "total_steps": warm + steps, "warmup_steps": warm - 120,
                           "learning_starts": warm - 120, "eval_every": 0, "video": False, **extra})
trainer = Trainer(cfg, run_dir=None, progress=False)
trainer.learn(240)  # compiles the warm-up program
tic = time.perf_counter()
trainer.learn(warm - 360)  # random actions, no update
warmup_s = (time.perf_counter() - tic) / (warm - 360)
trainer.learn(120)  # the update's compile, then learning steps
tic = time.perf_counter()
trainer.learn(steps)
loop_s = (time.perf_counter() - tic) / steps

agent = trainer.agent
from offpolicy.buffer import Transition
spec = agent.spec
b = cfg.agent.batch_size
rng = np.random.default_rng(0)
batch = Transition(obs=rng.normal(size=(b, *spec.obs_shape)).astype(np.float32),
                   action=rng.uniform(-1, 1, size=(b, spec.action_dim)).astype(np.float32) if not spec.discrete
                   else rng.integers(0, spec.n_actions, size=(b,)).astype(np.int32),
                   reward=rng.normal(size=(b,)).astype(np.float32),
                   next_obs=rng.normal(size=(b, *spec.obs_shape)).astype(np.float32),
                   terminated=np.zeros((b,), bool), truncated=np.zeros((b,), bool))
update = jax.jit(agent.update, donate_argnums=0)
s = agent.init(jax.random.key(0), 1)
key = jax.random.key(1)
for _ in range(50):
    s, m = update(s, batch, key)
jax.block_until_ready(s)
n = 1000
tic = time.perf_counter()
for _ in range(n):
    s, m = update(s, batch, key)
jax.block_until_ready(s)
update_s = (time.perf_counter() - tic) / n
print(json.dumps({"steps_per_s": 1 / loop_s, "ratio": loop_s / update_s, "warmup_steps_per_s": 1 / warmup_s}))
"""


def sample(src: str, args, overrides: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    argv = [args.preset, args.loop, str(args.steps), str(args.warm), json.dumps(overrides)]
    out = subprocess.run([sys.executable, "-c", CHILD, *argv],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def parse_sets(items: list[str]) -> dict:
    """KEY=VALUE items (values read as YAML, as ``offpolicy train --set``) as a dict."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = yaml.safe_load(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="source tree A (the folder holding the offpolicy package)")
    parser.add_argument("b", help="source tree B")
    parser.add_argument("--preset", default="ddpg-pendulum")
    parser.add_argument("--loop", default="host", choices=["host", "compiled"])
    parser.add_argument("--steps", type=int, default=3000, help="timed learning steps per sample")
    parser.add_argument("--warm", type=int, default=2400,
                        help="steps before the timed learning (240 to compile, the rest of the warm-up timed, 120 "
                             "learning)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--buffer-size", type=int, default=None, help="replay capacity (default: the preset's)")
    parser.add_argument("--buffer-size-b", type=int, default=None,
                        help="B's replay capacity, when it differs from A's (--buffer-size)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for both sides")
    parser.add_argument("--set-a", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for A only")
    parser.add_argument("--set-b", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for B only")
    args = parser.parse_args()
    sizes = {"A": args.buffer_size, "B": args.buffer_size if args.buffer_size_b is None else args.buffer_size_b}
    overrides = {}
    for name in ("A", "B"):
        overrides[name] = {**parse_sets(args.set), **parse_sets(getattr(args, f"set_{name.lower()}"))}
        if sizes[name] is not None:
            overrides[name]["buffer_size"] = sizes[name]
    results: dict[str, list[dict]] = {"A": [], "B": []}
    for r in range(args.rounds):
        order = ("A", "B") if r % 2 == 0 else ("B", "A")
        for name in order:
            s = sample(args.a if name == "A" else args.b, args, overrides[name])
            results[name].append(s)
            print(f"round {r} {name}: {s['steps_per_s']:.1f} steps/s, loop/update {s['ratio']:.3f}, warm-up "
                  f"{s['warmup_steps_per_s']:.0f} steps/s", flush=True)
    for name in ("A", "B"):
        sps = statistics.median(s["steps_per_s"] for s in results[name])
        ratio = statistics.median(s["ratio"] for s in results[name])
        warm = statistics.median(s["warmup_steps_per_s"] for s in results[name])
        print(f"{name} ({getattr(args, name.lower())}, {overrides[name] or 'the preset'}): median {sps:.1f} steps/s, "
              f"median loop/update {ratio:.3f}, median warm-up {warm:.0f} steps/s")


if __name__ == "__main__":
    main()
