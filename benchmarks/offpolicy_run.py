"""Run offpolicy ONCE (one system / algorithm / seed) for benchmarks/compare.py and print one JSON line.

    python benchmarks/offpolicy_run.py --system offpolicy --loop host --algo ddpg --seed 0 --hp HP_JSON

compare.py starts this in a fresh process of the project's Python for every run, so imports and compiles are paid and
measured the same way as for the peers (benchmarks/peers/run_peer.py). Systems:
  offpolicy          the benchmark's preset (``hp["preset"]``, e.g. ddpg-pendulum), --loop host or compiled
  offpolicy-eps      ``hp["epsilon_preset"]`` (dqn-cartpole-epsilon): the same DQN with epsilon-greedy instead of
                     NoisyNet (the peers' exploration)
  offpolicy-vmap     the preset with --vmap-seeds seeds at once (jax.vmap) on --loop host or compiled; steps/s: the total
                     over seeds

Timing (``time.perf_counter``; ``T0`` taken before offpolicy is imported), no evaluation during training:
- host loop: the same outside-in method as for SB3/SBX. ``learn`` is called four times -- to ``learning_starts // 2``,
  to ``learning_starts - 1`` (end of warm-up), over two steps (the first update, which compiles, and one more), then
  to the end -- and the last call is the timed learning phase: ``learn_steps_per_s = (steps - learning_starts - 1) /
  its wall time`` (env step, jitted call and all per-step bookkeeping). The library's own figure
  (``summary["learning_phase_steps_per_s"]``: env step + jitted call only, first update excluded) is kept as
  ``lib_learn_steps_per_s``.
- compiled loop: one ``learn(steps)`` call; it runs in chunks and compiles once per chunk length, so the library's
  figure (chunks entirely in the learning phase that did not compile) is the learning-phase rate, and the compile
  time it reports (``start_up_time``) plus import and construction is the start-up.
- ``startup_s`` (host): wall time to the end of training minus what the steady warm-up and learning rates account for.
Evaluation: ``Trainer.evaluate`` on ``hp["eval_seeds"]`` (offpolicy's own evaluation seeds, which the peers use too).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

EXPLORATION = {"ddpg": "ou", "dqn": "noisynet", "td3": "gaussian", "sac": "stochastic policy"}


class NotAvailable(Exception):
    """This configuration cannot run with the installed offpolicy (e.g. a loop not implemented yet)."""


def thread_settings() -> dict:
    import jax

    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS", "JAX_PLATFORMS")
           if k in os.environ}
    return {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "env": env,
            "jax_backend": jax.default_backend(), "jax_devices": jax.device_count()}


def overrides_for(hp: dict, seed: int, loop: str) -> dict:
    """The benchmark's budget on top of the preset: no periodic evaluation, no video, nothing written."""
    return {"seed": seed, "total_steps": hp["total_steps"], "learning_starts": hp["learning_starts"],
            "warmup_steps": hp["warmup_steps"], "eval_every": 0, "eval_episodes": len(hp["eval_seeds"]),
            "video": False, "loop": loop}


def preset_for(system: str, hp: dict) -> str | None:
    """The preset a system runs for this benchmark (None: it has none, e.g. ε-greedy for TD3)."""
    return hp.get("epsilon_preset") if system == "offpolicy-eps" else hp["preset"]


def make_trainer(system: str, hp: dict, seed: int, loop: str):
    from offpolicy.config import make_config
    from offpolicy.errors import OffpolicyError
    from offpolicy.run.trainer import Trainer

    try:
        config = make_config(preset_for(system, hp), overrides_for(hp, seed, loop))
        return Trainer(config, run_dir=None, progress=False)
    except (OffpolicyError, NotImplementedError) as exc:
        raise NotAvailable(f"{type(exc).__name__}: {exc}") from exc


def timed_phases(advance, hp: dict) -> dict:
    """The outside-in host-loop timing: ``advance(n)`` steps n env steps (Trainer.learn or a loop's run)."""
    steps, ls = hp["total_steps"], hp["learning_starts"]
    t_setup = time.perf_counter()
    advance(ls // 2)
    t_half = time.perf_counter()
    advance(ls - 1 - ls // 2)  # to step ls - 1: the last warm-up step (offpolicy updates from step ls on)
    t_warm = time.perf_counter()
    advance(2)  # steps ls (first update: compiles) and ls + 1
    t_learn = time.perf_counter()
    advance(steps - ls - 1)
    t_end = time.perf_counter()
    warm_rate = (ls - 1 - ls // 2) / (t_warm - t_half)
    learn_steps = steps - ls - 1
    learn_rate = learn_steps / (t_end - t_learn)
    steady = ls / warm_rate + (steps - ls) / learn_rate
    return {"learn_steps": learn_steps, "learn_time_s": t_end - t_learn, "learn_steps_per_s": learn_rate,
            "warmup_steps_per_s": warm_rate, "setup_s": t_setup - T_IMPORT, "first_update_s": t_learn - t_warm,
            "wall_time_s": t_end - T0, "startup_s": t_end - T0 - steady}


def run_host(trainer, hp: dict) -> dict:
    result = timed_phases(trainer.learn, hp)
    summary = trainer.finish(video=False)  # final evaluation (not timed) + the library's own learning-phase figure
    return {**result, "lib_learn_steps_per_s": summary["learning_phase_steps_per_s"], "summary": summary}


def run_compiled(trainer, hp: dict) -> dict:
    t_setup = time.perf_counter()
    trainer.learn(hp["total_steps"])
    t_end = time.perf_counter()
    summary = trainer.finish(video=False)
    loop = trainer.loop
    state = loop.states[0]
    if not state.learn_time:
        raise NotAvailable("no learning chunk ran without compiling (budget too small for the chunk size)")
    compile_s = loop.start_up_time
    return {"learn_steps": state.learn_steps, "learn_time_s": state.learn_time,
            "learn_steps_per_s": summary["learning_phase_steps_per_s"],
            "lib_learn_steps_per_s": summary["learning_phase_steps_per_s"], "setup_s": t_setup - T_IMPORT,
            "compile_s": compile_s, "wall_time_s": t_end - T0,
            "startup_s": (T_IMPORT - T0) + (t_setup - T_IMPORT) + compile_s if compile_s is not None else None,
            "summary": summary}


def run_vmapped(hp: dict, seed: int, n_seeds: int, loop_kind: str) -> dict:
    """Seeds seed * n .. seed * n + n - 1 (n = n_seeds) trained at once by one multi-seed Trainer (writing nothing):
    the compiled loop vmapped over the whole carry, or the host loop with one Gymnasium env per seed and the agents
    vmapped in one jitted call per step. Timed like the single-seed run of the same loop; steps/s counts every seed's
    steps: the throughput to compare with n_seeds sequential runs."""
    import numpy as np

    from offpolicy.config import make_config
    from offpolicy.errors import OffpolicyError
    from offpolicy.run.trainer import Trainer

    seeds = list(range(seed * n_seeds, (seed + 1) * n_seeds))  # benchmark seed k: disjoint block k
    try:
        config = make_config(preset_for("offpolicy-vmap", hp), overrides_for(hp, seed, loop_kind))
        trainer = Trainer(config, progress=False, seeds=seeds)
    except (OffpolicyError, ImportError, NotImplementedError) as exc:
        raise NotAvailable(f"vmapped seeds ({loop_kind}): {type(exc).__name__}: {exc}") from exc
    loop = trainer.loop
    if loop_kind == "host":
        result = timed_phases(loop.run, hp)
        result["learn_steps_per_s"] *= n_seeds
        result["learn_steps"] *= n_seeds
        state = loop.states[0]
        result["lib_learn_steps_per_s"] = n_seeds * state.learn_steps / state.learn_time if state.learn_time else None
    else:
        t_setup = time.perf_counter()
        loop.run(hp["total_steps"])
        t_end = time.perf_counter()
        state = loop.states[0]
        if not state.learn_time:
            raise NotAvailable("no learning chunk ran without compiling (budget too small for the chunk size)")
        result = {"learn_steps": n_seeds * state.learn_steps, "learn_time_s": state.learn_time,
                  "learn_steps_per_s": n_seeds * state.learn_steps / state.learn_time, "lib_learn_steps_per_s": None,
                  "setup_s": t_setup - T_IMPORT, "compile_s": loop.start_up_time, "wall_time_s": t_end - T0,
                  "startup_s": (t_setup - T0) + loop.start_up_time}
    # each seed's policy on its own evaluation seeds (the Evaluator reads a seed's state once per evaluation)
    evals = [trainer.evaluate(i=i)["mean"] for i in range(n_seeds)]
    trainer.close()
    return {**result, "n_seeds": n_seeds, "eval_mean": float(np.mean(evals)), "eval_std": float(np.std(evals)),
            "eval_returns": evals}


def main() -> None:
    global T_IMPORT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", choices=("offpolicy", "offpolicy-eps", "offpolicy-vmap"), default="offpolicy")
    parser.add_argument("--loop", choices=("host", "compiled"), default="host")
    parser.add_argument("--algo", required=True, help="the benchmark's name (a key of compare.py's ALGOS)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--vmap-seeds", type=int, default=8)
    parser.add_argument("--hp", required=True, help="hyperparameters: a JSON string or a path to a JSON file")
    args = parser.parse_args()
    hp = json.loads(Path(args.hp).read_text() if not args.hp.lstrip().startswith("{") else args.hp)
    loop = args.loop
    row = {"system": args.system, "peer": "offpolicy", "algo": args.algo, "env": hp["env"], "seed": args.seed,
           "steps": hp["total_steps"], "learning_starts": hp["learning_starts"], "loop": loop,
           "env_impl": "gymnax" if loop == "compiled" else "gymnasium",
           "exploration": EXPLORATION[hp["algo"]] if args.system != "offpolicy-eps" else "epsilon-greedy"}
    if preset_for(args.system, hp) is None:
        row.update(status=f"not available: {args.system} has no {args.algo}")
        print(json.dumps(row), flush=True)
        return
    import offpolicy

    T_IMPORT = time.perf_counter()
    row.update(version=offpolicy.__version__, import_s=T_IMPORT - T0)
    try:
        if args.system == "offpolicy-vmap":
            result = run_vmapped(hp, args.seed, args.vmap_seeds, loop)
        else:
            trainer = make_trainer(args.system, hp, args.seed, loop)
            result = run_host(trainer, hp) if loop == "host" else run_compiled(trainer, hp)
            summary = result.pop("summary")
            final = trainer.final_eval[1]  # finish()'s evaluation: noise-free, on trainer.eval_seeds (final seeds)
            if final["seeds"] != list(hp["eval_seeds"]):
                raise RuntimeError("offpolicy's evaluation seeds differ from the ones the peers were given")
            result.update(eval_mean=final["mean"], eval_std=final["std"], eval_returns=final["returns"],
                          versions=summary["versions"])
            trainer.close()
        row.update(status="ok", **result)
    except NotAvailable as exc:
        row.update(status=f"not available: {exc}")
    except Exception as exc:  # report, don't crash the whole benchmark
        traceback.print_exc(file=sys.stderr)
        row.update(status=f"failed: {type(exc).__name__}: {exc}")
    row.update(threads=thread_settings(), python=platform.python_version())
    print(json.dumps(row), flush=True)


T_IMPORT = T0

if __name__ == "__main__":
    main()
