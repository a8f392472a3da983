"""offpolicy against its peers, on this machine, in one run: learning-phase steps/s, start-up, wall time, final eval.

    python benchmarks/compare.py                       # everything (see below): about an hour on 2 idle cores
    python benchmarks/compare.py --quick --seeds 1     # smoke test with tiny budgets (~7 minutes)
    python benchmarks/compare.py --algos dqn --peers sb3,sbx --loops host --seeds 5
    python benchmarks/compare.py --algos td3,sac,td3-halfcheetah,sac-halfcheetah --seeds 2 --vmap-seeds 1 --out benchmarks/results/td3-sac

Benchmarks (--algos): DDPG on Pendulum-v1 (50k steps, 10k random warm-up) and DQN on CartPole-v1 (20k steps, 1k
warm-up) for offpolicy (presets ddpg-pendulum, noisy-dqn-cartpole and, with ε-greedy like the peers,
dqn-cartpole-epsilon); TD3 and SAC on Pendulum-v1 (td3-pendulum, sac-pendulum: rl-zoo's 20k steps) and on
HalfCheetah-v5 (td3-halfcheetah, sac-halfcheetah: 10k random warm-up + 5k learning steps, the rate over a fixed number
of learning steps; needs the [mujoco] extra) -- each against Stable-Baselines3 (PyTorch), SBX (its JAX version) and
rejax (fully jitted JAX over gymnax envs: Pendulum only, it has no MuJoCo HalfCheetah), with the hyperparameters taken
from offpolicy's presets (docs/benchmarks.md lists how each peer gets them and every mismatch).
Peers are installed into benchmarks/.venv-peers first (benchmarks/peers/setup_peers.py; skipped when up to date).

Every run is a fresh process (imports and compiles measured alike), one at a time (never in parallel: timings),
systems interleaved within each seed so slow drifts of the machine hit all of them. Writes
  benchmarks/results/compare.csv    one row per run
  benchmarks/results/compare.jsonl  the same with nested details (per-episode returns, thread settings)
  benchmarks/results/compare.md     medians per system, ratios of offpolicy to each peer, the targets, the set-up
and prints the Markdown. The matmul rate of this machine is measured at the start and at the end, and the FLOP floor
of one update (e.g. DDPG 47.8 MFLOP, DQN 17.6 MFLOP at the presets' sizes) is reported next to each system's time per
learning step. Ratios, not absolute times, are the claim.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

# benchmark -> algorithm, env, presets and budget (the tutorials': DDPG 50k steps with 10k warm-up; DQN 20k steps;
# rl-zoo's 20k for TD3/SAC on Pendulum; on HalfCheetah the rate over 5k learning steps after the preset's 10k warm-up).
# loops: offpolicy's loops that can run it (no gymnax port of MuJoCo: host only); peers: the peers that have the env;
# vmap: whether the vmapped offpolicy-vmap rows run (the DDPG/DQN throughput targets).
ALGOS = {
    "ddpg": {"algo": "ddpg", "title": "DDPG, Pendulum-v1", "env": "Pendulum-v1", "preset": "ddpg-pendulum",
             "total_steps": 50_000, "vmap": True},
    "dqn": {"algo": "dqn", "title": "DQN, CartPole-v1", "env": "CartPole-v1", "preset": "noisy-dqn-cartpole",
            "epsilon_preset": "dqn-cartpole-epsilon", "total_steps": 20_000, "vmap": True},
    "td3": {"algo": "td3", "title": "TD3, Pendulum-v1", "env": "Pendulum-v1", "preset": "td3-pendulum",
            "total_steps": 20_000},
    "sac": {"algo": "sac", "title": "SAC, Pendulum-v1", "env": "Pendulum-v1", "preset": "sac-pendulum",
            "total_steps": 20_000},
    "td3-halfcheetah": {"algo": "td3", "title": "TD3, HalfCheetah-v5", "env": "HalfCheetah-v5",
                        "preset": "td3-halfcheetah", "total_steps": 15_000, "loops": ("host",),
                        "peers": ("sb3", "sbx")},
    "sac-halfcheetah": {"algo": "sac", "title": "SAC, HalfCheetah-v5", "env": "HalfCheetah-v5",
                        "preset": "sac-halfcheetah", "total_steps": 15_000, "loops": ("host",),
                        "peers": ("sb3", "sbx")},
}
QUICK = {"total_steps": 3_000, "learning_starts": 1_000}  # --quick: every algorithm, for a smoke test
PEERS = ("sb3", "sbx", "rejax")
LOOPS = ("host", "compiled")
EVAL_EPISODES = 10

LABELS = {
    "sb3": "SB3 (PyTorch)", "sbx": "SBX (JAX)", "rejax": "rejax (JAX, jitted)",
    "offpolicy": "offpolicy", "offpolicy-eps": "offpolicy ε-greedy", "offpolicy-vmap": "offpolicy vmapped",
}
CSV_FIELDS = [
    "date", "commit", "dirty", "system", "label", "version", "algo", "env", "env_impl", "loop", "exploration", "seed",
    "steps", "learning_starts", "status", "learn_steps", "learn_time_s", "learn_steps_per_s", "lib_learn_steps_per_s",
    "ms_per_learn_step", "x_floor", "warmup_steps_per_s", "import_s", "setup_s", "compile_s", "first_update_s",
    "startup_s", "wall_time_s", "process_wall_s", "eval_mean", "eval_std", "n_seeds", "load_before", "threads",
]


# -- update FLOPs ----------------------------------------------------------------------------------------------------
def mlp_forward_flops(batch: int, sizes: list[int]) -> int:
    """Multiply-adds x 2 of the dense layers of an MLP with layer widths ``sizes`` (input first) on ``batch`` rows."""
    return 2 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def update_mflop(algo: str, obs_dim: int, n_out: int, hidden: list[int], batch: int, policy_delay: int = 1,
                 double: bool = False, dueling: bool = False, n_atoms: int = 1) -> float:
    """FLOPs of one update, counting a forward pass as F and forward + backward as 3F (the convention behind
    benchmarks/ddpg_step.py's 47.8 MFLOP; element-wise work, Adam and the NoisyNet weight noise are < 1 % and left out).
    ``n_out``: the action dimension (DDPG, TD3, SAC) or the number of actions (DQN).

    DDPG: critic step = target actor F + target critic F + critic 3F; actor step = actor 3F + critic 3F
          (gradient through the critic into the action) -> 4 F_actor + 7 F_critic.
    TD3:  critic step = target actor F + 2 target critics F + 2 critics 3F; every ``policy_delay``-th update an actor
          step = actor 3F + first critic 3F -> F_actor + 8 F_critic + (3 F_actor + 3 F_critic) / policy_delay.
    SAC:  critic step = policy F (a' ~ pi(s')) + 2 target critics F + 2 critics 3F; actor step = policy 3F + 2 critics
          3F (min of both through the action); the temperature's step is a scalar -> 4 F_policy + 14 F_critic, the
          policy's output layer 2 x n_out wide (mean and log-std).
    DQN:  target network F + online network 3F -> 4 F_q; Double DQN adds the online network's F on s' (its argmax
          picks the target's action) -> 5 F_q. F_q is the Q-network's layers as the agent builds them
          (offpolicy.networks.q_layers): ``dueling`` splits the last hidden layer into a value and an advantage
          stream, ``n_atoms`` (C51) makes every output n_atoms wide. C51's projection of the target distribution
          (batch x n_atoms x n_atoms compares) is left out with the element-wise work.
    """
    if algo == "dqn":
        from offpolicy.networks import q_layers

        layers = q_layers(obs_dim, tuple(hidden), n_out, dueling, n_atoms)
        f_q = 2 * batch * sum(layer.fan_in * layer.fan_out for layer in layers)
        return (5 if double else 4) * f_q / 1e6
    policy_out = 2 * n_out if algo == "sac" else n_out
    actor = mlp_forward_flops(batch, [obs_dim, *hidden, policy_out])
    critic = mlp_forward_flops(batch, [obs_dim + n_out, *hidden, 1])
    if algo == "ddpg":
        return (4 * actor + 7 * critic) / 1e6
    if algo == "td3":
        return (actor + 8 * critic + (3 * actor + 3 * critic) / policy_delay) / 1e6
    if algo == "sac":
        return (4 * actor + 14 * critic) / 1e6
    raise ValueError(f"no FLOP count for {algo!r}")


def bench_mflop(hp: dict) -> float:
    """``update_mflop`` at a benchmark's sizes (from its hyperparameters)."""
    n_out = hp["n_actions"] if hp["algo"] == "dqn" else hp["action_dim"]
    return update_mflop(hp["algo"], hp["obs_dim"], n_out, hp["hidden_sizes"], hp["batch_size"],
                        hp.get("policy_delay", 1))


# -- hyperparameters: one source (offpolicy's presets) for every system ------------------------------------------------
@functools.cache
def _env_spec(env_id: str, algo: str):
    """The env's sizes, read once per env (every seed's hyperparameters need them)."""
    from offpolicy.envs import make_env

    env, env_spec = make_env(env_id, algo)
    env.close()
    return env_spec


def hyperparameters(bench: str, seed: int, quick: bool = False) -> dict:
    """The JSON every runner (offpolicy and peers) receives: the preset's settings, the budget, the eval seeds, the
    env's sizes. ``algo`` is the algorithm (ddpg, dqn, td3, sac), ``bench`` the benchmark (a key of ALGOS)."""
    from offpolicy.config import make_config
    from offpolicy.envs import EpisodeSeeds

    spec = ALGOS[bench]
    budget = {"total_steps": spec["total_steps"]}
    cfg = make_config(spec["preset"], budget)
    ls, warmup = cfg.learning_starts, cfg.warmup_steps
    if quick:
        ls = warmup = QUICK["learning_starts"]
        budget["total_steps"] = QUICK["total_steps"]
    env_spec = _env_spec(cfg.env, cfg.algo)
    a = cfg.agent
    hp = {"bench": bench, "algo": cfg.algo, "preset": spec["preset"], "env": cfg.env,
          "total_steps": budget["total_steps"], "learning_starts": ls, "warmup_steps": warmup,
          "buffer_size": a.buffer_size, "batch_size": a.batch_size, "gamma": a.gamma,
          "hidden_sizes": list(a.hidden_sizes), "obs_dim": int(env_spec.obs_shape[0]),
          "action_dim": int(env_spec.action_dim), "n_actions": env_spec.n_actions,
          "eval_seeds": EpisodeSeeds(seed, EpisodeSeeds.FINAL).take(EVAL_EPISODES)}
    if cfg.algo in ("ddpg", "td3"):
        n = a.noise
        hp.update(tau=a.tau, actor_lr=a.actor_lr, critic_lr=a.critic_lr,
                  noise={"kind": n.kind, "theta": n.theta, "sigma": n.sigma, "mu": n.mu, "dt": n.dt})
        if cfg.algo == "ddpg":
            hp.update(final_layer_init=a.final_layer_init)
        else:
            hp.update(policy_delay=a.policy_delay, target_noise=a.target_noise, target_noise_clip=a.target_noise_clip)
    elif cfg.algo == "sac":
        hp.update(tau=a.tau, actor_lr=a.actor_lr, critic_lr=a.critic_lr, alpha_lr=a.alpha_lr, ent_coef=a.ent_coef,
                  init_ent_coef=a.init_ent_coef, target_entropy=a.target_entropy, log_std_min=a.log_std_min,
                  log_std_max=a.log_std_max)
    else:
        e = make_config(spec["epsilon_preset"]).agent  # the peers' epsilon-greedy schedule
        hp.update(epsilon_preset=spec["epsilon_preset"], lr=a.lr, target_update=a.target_update, loss=a.loss,
                  max_grad_norm=a.max_grad_norm,
                  epsilon={"start": e.epsilon_start, "end": e.epsilon_end, "decay_steps": e.epsilon_decay_steps})
    return hp


# -- the runs ----------------------------------------------------------------------------------------------------------
def plan(algos: list[str], peers: list[str], loops: list[str], epsilon: bool, vmap_seeds: int) -> list[dict]:
    """(system, loop) pairs per benchmark, in the order they run within a seed: offpolicy's loops that the benchmark
    can run, the ε-greedy DQN, the vmapped rows (where the benchmark has them), then the peers that have its env."""
    runs = []
    for algo in algos:
        spec = ALGOS[algo]
        mine = [loop for loop in loops if loop in spec.get("loops", LOOPS)]
        systems = [{"system": "offpolicy", "loop": loop} for loop in mine]
        if "epsilon_preset" in spec and epsilon:  # on each loop: the compiled one is like-for-like with rejax's DQN
            systems += [{"system": "offpolicy-eps", "loop": loop} for loop in mine]
        if vmap_seeds > 1 and spec.get("vmap"):
            systems += [{"system": "offpolicy-vmap", "loop": loop} for loop in mine]
        systems += [{"system": peer, "loop": "compiled" if peer == "rejax" else "host"} for peer in peers
                    if peer in spec.get("peers", PEERS)]
        runs.append((algo, systems))
    return runs


def run_one(system: str, loop: str, algo: str, seed: int, hp: dict, peer_python: Path | None, vmap_seeds: int,
            timeout: float, torch_threads: int = 0) -> dict:
    """One fresh process; its last stdout line is the JSON row. Failures become rows with a status, not crashes."""
    if system in PEERS:
        cmd = [str(peer_python), str(HERE / "peers" / "run_peer.py"), "--peer", system]
    else:
        cmd = [sys.executable, str(HERE / "offpolicy_run.py"), "--system", system, "--loop", loop,
               "--vmap-seeds", str(vmap_seeds)]
    cmd += ["--algo", algo, "--seed", str(seed), "--hp", json.dumps(hp)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SDL_AUDIODRIVER": "dummy"}
    if torch_threads:
        env["BENCH_TORCH_THREADS"] = str(torch_threads)
    base = {"system": system, "loop": loop, "algo": algo, "env": hp["env"], "seed": seed, "steps": hp["total_steps"],
            "learning_starts": hp["learning_starts"]}
    base["load_before"] = os.getloadavg()[0]  # 1-minute load average: anything well above 0 is another process
    tic = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {**base, "status": f"failed: timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - tic
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {**base, "status": f"failed: exit {proc.returncode}: {tail}", "process_wall_s": wall}
    row = json.loads(lines[-1])
    row.update(process_wall_s=wall, load_before=base["load_before"])
    return row


def add_derived(row: dict, floors_ms: dict[str, float]) -> dict:
    """ms per learning step and its multiple of the algorithm's FLOP floor (vmapped: per seed-step)."""
    sps = row.get("learn_steps_per_s")
    if row.get("status") == "ok" and sps:
        row["ms_per_learn_step"] = 1e3 / sps
        floor = floors_ms.get(row["algo"])
        row["x_floor"] = row["ms_per_learn_step"] / floor if floor else None
    row["label"] = label(row)
    return row


def label(row: dict) -> str:
    system = row["system"]
    text = LABELS.get(system, system)
    if system in ("offpolicy", "offpolicy-eps"):
        text += f" ({row.get('loop', 'host')})"
    elif system == "offpolicy-vmap":
        text += f" ({row.get('loop', '?')}, {row.get('n_seeds', '?')} seeds)"
    if system == "rejax" and row.get("algo") == "ddpg":
        text += " TD3 as DDPG"
    return text


# -- summaries (pure functions over rows: tested in tests/sweep/test_compare.py) -----------------------------------------
def median_or_none(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def system_key(row: dict) -> tuple[str, str, str]:
    return row["algo"], row["system"], row.get("loop") or ""


def summarize(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    """(algo, system, loop) -> medians over the successful seeds, eval mean ± std over seeds, and what failed."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault(system_key(row), []).append(row)
    out = {}
    for key, group in groups.items():
        ok = [r for r in group if r.get("status") == "ok"]
        evals = [r["eval_mean"] for r in ok if r.get("eval_mean") is not None]
        sps = [r["learn_steps_per_s"] for r in ok if r.get("learn_steps_per_s")]
        out[key] = {
            "algo": key[0], "system": key[1], "loop": key[2], "label": label(group[0]),
            "version": next((r.get("version") for r in ok if r.get("version")), None),
            "exploration": next((r.get("exploration") for r in group if r.get("exploration")), None),
            "env_impl": next((r.get("env_impl") for r in group if r.get("env_impl")), None),
            "n": len(ok), "seeds": sorted(r["seed"] for r in ok),
            "failed": sorted({r.get("status", "failed") for r in group if r.get("status") != "ok"}),
            "learn_steps_per_s": median_or_none(sps),
            "sps_min": min(sps) if sps else None, "sps_max": max(sps) if sps else None,
            "ms_per_learn_step": median_or_none([r.get("ms_per_learn_step") for r in ok]),
            "x_floor": median_or_none([r.get("x_floor") for r in ok]),
            "startup_s": median_or_none([r.get("startup_s") for r in ok]),
            "wall_time_s": median_or_none([r.get("wall_time_s") for r in ok]),
            "eval_mean": statistics.fmean(evals) if evals else None,
            "eval_std": statistics.pstdev(evals) if len(evals) > 1 else (0.0 if evals else None),
            "eval_median": median_or_none(evals),
        }
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return numerator / denominator


def ratios(summary: dict, algo: str) -> dict[str, dict[tuple[str, str], float | None]]:
    """For each offpolicy loop that ran: its median steps/s divided by each other system's median steps/s."""
    ours = {loop: s for (a, system, loop), s in summary.items() if a == algo and system == "offpolicy"}
    others = {(system, loop): s for (a, system, loop), s in summary.items() if a == algo}
    return {loop: {key: ratio(mine["learn_steps_per_s"], other["learn_steps_per_s"])
                   for key, other in others.items() if key != ("offpolicy", loop)}
            for loop, mine in ours.items()}


# The issue's targets: (text, algo, kind, offpolicy system + loop, compared system + loop or None, threshold)
TARGETS = [
    ("DDPG host loop ≥ 4× SB3 steps/s", "ddpg", "ratio", ("offpolicy", "host"), ("sb3", "host"), 4.0),
    ("DDPG host loop ≥ 1.5× SBX steps/s", "ddpg", "ratio", ("offpolicy", "host"), ("sbx", "host"), 1.5),
    ("NoisyNet-DQN host loop ≥ 3× SB3 steps/s", "dqn", "ratio", ("offpolicy", "host"), ("sb3", "host"), 3.0),
    ("NoisyNet-DQN host loop ≥ 3× SBX steps/s", "dqn", "ratio", ("offpolicy", "host"), ("sbx", "host"), 3.0),
    ("DDPG compiled loop ≤ 1.25× the FLOP floor per learning step", "ddpg", "floor", ("offpolicy", "compiled"), None,
     1.25),
    ("NoisyNet-DQN compiled loop ≥ 1.2× rejax DQN steps/s", "dqn", "ratio", ("offpolicy", "compiled"),
     ("rejax", "compiled"), 1.2),
    ("DDPG compiled loop start-up (import + compile) ≤ 5 s", "ddpg", "startup", ("offpolicy", "compiled"), None, 5.0),
    ("NoisyNet-DQN compiled loop start-up (import + compile) ≤ 5 s", "dqn", "startup", ("offpolicy", "compiled"), None,
     5.0),
    *[(f"{name}: vmapped seeds ≥ 3× the throughput of as many sequential {loop}-loop runs", algo, "ratio",
       ("offpolicy-vmap", loop), ("offpolicy", loop), 3.0)
      for loop in LOOPS for algo, name in (("ddpg", "DDPG"), ("dqn", "NoisyNet-DQN"))],
]


def check_targets(summary: dict) -> list[dict]:
    """Each target with its measured value and met / not met / not measured."""
    out = []
    for text, algo, kind, ours, theirs, threshold in TARGETS:
        mine = summary.get((algo, *ours))
        value = None
        if mine and mine["n"]:
            if kind == "ratio":
                other = summary.get((algo, *theirs))
                value = ratio(mine["learn_steps_per_s"], other["learn_steps_per_s"]) if other else None
            elif kind == "floor":
                value = mine["x_floor"]
            else:
                value = mine["startup_s"]
        if value is None:
            verdict = "not measured"
        elif kind in ("floor", "startup"):
            verdict = "met" if value <= threshold else "not met"
        else:
            verdict = "met" if value >= threshold else "not met"
        out.append({"target": text, "value": value, "threshold": threshold, "kind": kind, "verdict": verdict})
    return out


def fmt(value: float | None, spec: str = ".0f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def algo_table(summary: dict, algo: str) -> list[str]:
    """Markdown table of one algorithm: one row per system, with ratios of offpolicy's loops to it."""
    rows = [s for s in summary.values() if s["algo"] == algo]
    order = {"offpolicy": 0, "offpolicy-eps": 1, "offpolicy-vmap": 2, "sb3": 3, "sbx": 4, "rejax": 5}
    rows.sort(key=lambda s: (order.get(s["system"], 9), LOOPS.index(s["loop"]) if s["loop"] in LOOPS else 9))
    rat = ratios(summary, algo)
    loops = [loop for loop in LOOPS if loop in rat]
    header = ["system", "version", "exploration", "env", "seeds", "learning steps/s (median, range)",
              "ms / learning step", "× FLOP floor", "start-up s", "wall s", "final eval (mean ± std over seeds)"]
    header += [f"offpolicy {loop} ÷ this" for loop in loops]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in rows:
        if not s["n"]:
            cells = [s["label"], s["version"] or "–", s["exploration"] or "–", s["env_impl"] or "–", "0",
                     "; ".join(s["failed"])[:160]] + ["–"] * (len(header) - 6)
            lines.append("| " + " | ".join(cells) + " |")
            continue
        cells = [
            s["label"], s["version"] or "–", s["exploration"] or "–", s["env_impl"] or "–", str(s["n"]),
            f"**{s['learn_steps_per_s']:.0f}** ({s['sps_min']:.0f}–{s['sps_max']:.0f})",
            fmt(s["ms_per_learn_step"], ".3f"), fmt(s["x_floor"], ".2f"), fmt(s["startup_s"], ".1f"),
            fmt(s["wall_time_s"], ".0f"),
            f"{s['eval_mean']:.1f} ± {s['eval_std']:.1f}" if s["eval_mean"] is not None else "–",
        ]
        for loop in loops:
            value = None if (s["system"], s["loop"]) == ("offpolicy", loop) else rat[loop].get((s["system"], s["loop"]))
            cells.append(fmt(value, ".2f", "×"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(rows: list[dict], meta: dict) -> str:
    summary = summarize(rows)
    algos = [a for a in ALGOS if any(r["algo"] == a for r in rows)]
    out = ["# offpolicy vs peers: learning-phase speed and final evaluation", ""]
    out.append(f"- command: `{meta.get('command', '')}`")
    out.append(f"- date: {meta.get('date', '')}; commit `{meta.get('commit', '?')}`"
               + (" (**dirty**: uncommitted changes)" if meta.get("dirty") else ""))
    out.append(f"- machine: {meta.get('cpu', '?')}, {meta.get('cpus', '?')} CPUs; python {meta.get('python', '?')}")
    if meta.get("versions"):
        out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v))
    if meta.get("threads"):
        out.append("- threads: " + "; ".join(f"{k}: {v}" for k, v in meta["threads"].items()))
    out.append(f"- seeds: {meta.get('seeds', '?')}; budgets: {meta.get('budgets', '?')}"
               + ("; **quick mode: tiny budgets, a smoke test, not a measurement**" if meta.get("quick") else ""))
    if meta.get("gflops"):
        g = meta["gflops"]
        out.append(f"- matmul (128×128 float32, jitted scan): {g['start']:.1f} GFLOP/s at the start, {g['end']:.1f} at "
                   f"the end; FLOP floor per update at {g['used']:.1f} GFLOP/s: "
                   + ", ".join(f"{a.upper()} {meta['mflop'][a]:.1f} MFLOP = {meta['floors_ms'][a]:.3f} ms"
                               for a in meta.get("floors_ms", {})))
    if meta.get("load"):
        load = meta["load"]
        out.append(f"- 1-minute load average: {load['start']:.2f} before the first run, {load['max_before_run']:.2f} at "
                   f"most before any run (about 1 comes from the run just finished; much more means other processes were running: "
                   "the machine must be otherwise idle)")
    if meta.get("duration_s"):
        out.append(f"- total duration: {meta['duration_s'] / 60:.1f} min")
    out.append("")
    for algo in algos:
        out += [f"## {ALGOS[algo]['title']}", ""] + algo_table(summary, algo) + [""]
    out += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for t in check_targets(summary):
        unit = "×" if t["kind"] in ("ratio", "floor") else " s"
        out.append(f"| {t['target']} | {fmt(t['value'], '.2f', unit)} | {t['verdict']} |")
    out += ["", "## Notes", ""]
    out += [
        "- *learning steps/s*: env steps with a gradient update per second of wall time over the learning phase, "
        "after the first update (and its compile); medians over seeds. Ratios are offpolicy's median divided by the "
        "system's median. How each system is timed: docs/benchmarks.md.",
        "- *× FLOP floor*: time per learning step over the time one update's FLOPs take at the matmul rate measured "
        "above (vmapped: per seed-step).",
        "- *start-up*: wall time to the end of training minus what the steady warm-up and learning rates account for "
        "(imports, construction, every compile).",
        "- *final eval*: 10 noise-free episodes per seed on the Gymnasium env, from the same 10 reset seeds for every "
        "system (offpolicy's evaluation seeds).",
        "- exploration: SB3, SBX and rejax have no NoisyNet: their DQN is **ε-greedy** (1.0 → 0.05, linear until "
        "warm-up + 10k steps). `offpolicy ε-greedy` is offpolicy with the same exploration (dqn-cartpole-epsilon), "
        "for a like-for-like comparison; the headline DQN rows use NoisyNet.",
        "- rejax has no DDPG: its row is rejax's TD3 set to DDPG's settings (policy delay 1, no target smoothing, "
        "Gaussian exploration) but with TD3's **two critics** (about 1.6× DDPG's update FLOPs) and one learning rate.",
        "- TD3 and SAC: every system gets the preset's networks, batch, buffer, rates, delays and noise; SB3 (one "
        "learning rate per algorithm) gets each optimizer its own rate where the preset's differ. SB3, SBX and rejax "
        "begin learning after `learning_starts` uniformly random steps; offpolicy's sac-pendulum takes 100 random "
        "steps and acts with its policy until its first update at step 256. rejax has no MuJoCo HalfCheetah (its "
        "envs are gymnax and Brax ports), and offpolicy's compiled loop needs a gymnax port: HalfCheetah rows are "
        "host loops over Gymnasium's MuJoCo env.",
        "- env: `gymnasium` = the Gymnasium env stepped from Python (host loop); `gymnax` = its JAX port inside the "
        "jitted program (compiled loop).",
    ]
    missing = [s for s in summary.values() if s["failed"]]
    if missing:
        out += ["", "Runs that did not produce a result:", ""]
        out += [f"- {s['label']} ({s['algo']}): {'; '.join(s['failed'])}" for s in missing]
    return "\n".join(out) + "\n"


def write_csv(rows: list[dict], path: Path, meta: dict) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = {**row, "date": meta.get("date"), "commit": meta.get("commit"), "dirty": meta.get("dirty")}
            flat["threads"] = json.dumps(row.get("threads", {}), sort_keys=True)
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in flat.items()})


# -- set-up facts --------------------------------------------------------------------------------------------------------
def git_state() -> tuple[str, bool]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, check=True).stdout.strip())
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def thread_summary(rows: list[dict]) -> dict[str, str]:
    """One line per system: the thread settings its process saw."""
    out = {}
    for row in rows:
        t = row.get("threads")
        if not t or row["system"] in out:
            continue
        parts = [f"{t.get('affinity')} usable CPUs"]
        if "torch_threads" in t:
            parts.append(f"torch {t['torch_threads']} intra-op / {t.get('torch_interop_threads')} inter-op threads")
        if "jax_backend" in t:
            parts.append(f"JAX {t['jax_backend']}, {t.get('jax_devices')} device")
        env = t.get("env") or {}
        parts.append(", ".join(f"{k}={v}" for k, v in env.items()) or "no thread variables set (defaults)")
        out[row["system"]] = ", ".join(parts)
    return out


def measure_gflops() -> float:
    sys.path.insert(0, str(HERE))
    from ddpg_step import matmul_gflops

    matmul_gflops()  # compile and warm up
    return statistics.median(matmul_gflops() for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", default="ddpg,dqn",
                        help="comma-separated benchmarks: " + ", ".join(ALGOS) + " (the HalfCheetah ones need "
                             "offpolicy's [mujoco] extra)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 for every system")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of sb3,sbx,rejax (or none)")
    parser.add_argument("--loops", default="host,compiled", help="offpolicy's loops: host, compiled")
    parser.add_argument("--no-epsilon", action="store_true", help="skip the offpolicy ε-greedy DQN rows")
    parser.add_argument("--vmap-seeds", type=int, default=8,
                        help="also run each offpolicy loop with this many seeds vmapped in one process (1: skip)")
    parser.add_argument("--vmap-reps", type=int, default=1,
                        help="repetitions of each vmapped run (benchmark seeds 0 .. N-1; each trains --vmap-seeds "
                             "seeds, 8x the work of a single run)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny budgets ({QUICK['total_steps']} steps, {QUICK['learning_starts']} warm-up): smoke")
    parser.add_argument("--out", default=str(RESULTS), help="directory for compare.csv / .jsonl / .md")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads for SB3 (default 0: PyTorch's default, one per core)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run before it counts as failed")
    args = parser.parse_args()

    algos = [a for a in args.algos.split(",") if a]
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    loops = [loop for loop in args.loops.split(",") if loop]
    for name, values, allowed in (("algos", algos, ALGOS), ("peers", peers, PEERS), ("loops", loops, LOOPS)):
        bad = [v for v in values if v not in allowed]
        if bad:
            parser.error(f"--{name}: unknown {bad}; choose from {list(allowed)}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    peer_python, peer_versions = None, {}
    if peers:
        sys.path.insert(0, str(HERE / "peers"))
        from setup_peers import REPORTED, ensure_peers, installed_versions

        peer_python = ensure_peers()
        peer_versions = installed_versions(REPORTED)

    import jax

    import offpolicy

    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        print(f"warning: 1-minute load average is {load_start:.2f}: other processes are running, the timings will "
              "not be comparable (PyTorch's threads suffer most on a shared CPU)", flush=True)
    commit, dirty = git_state()
    gflops_start = measure_gflops()
    mflop = {a: bench_mflop(hyperparameters(a, 0, args.quick)) for a in algos}  # at the presets' sizes
    floors_ms = {a: mflop[a] / gflops_start for a in algos}
    print(f"matmul {gflops_start:.1f} GFLOP/s -> FLOP floor per update: "
          + ", ".join(f"{a.upper()} {mflop[a]:.1f} MFLOP = {floors_ms[a]:.3f} ms" for a in algos), flush=True)

    meta = {
        "command": "python benchmarks/compare.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "commit": commit, "dirty": dirty,
        "cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "versions": {"offpolicy": offpolicy.__version__, "jax (offpolicy)": jax.__version__,
                     **{f"{k} (peers)" if k in ("jax", "jaxlib", "flax", "optax", "gymnasium", "gymnax", "numpy")
                        else k: v for k, v in peer_versions.items()}},
        "seeds": list(range(args.seeds)), "quick": args.quick, "mflop": mflop,
    }
    rows: list[dict] = []
    jsonl = out_dir / "compare.jsonl"
    jsonl.write_text("")
    budgets = []
    for algo, systems in plan(algos, peers, loops, not args.no_epsilon, args.vmap_seeds):
        hp0 = hyperparameters(algo, 0, args.quick)
        budgets.append(f"{algo.upper()} {hp0['total_steps']} steps ({hp0['learning_starts']} warm-up)")
        for seed in range(args.seeds):
            hp = hyperparameters(algo, seed, args.quick)
            for s in systems:
                if s["system"] == "offpolicy-vmap" and seed >= args.vmap_reps:
                    continue  # each vmapped run already trains --vmap-seeds seeds: repeated only --vmap-reps times
                row = run_one(s["system"], s["loop"], algo, seed, hp, peer_python, args.vmap_seeds, args.timeout,
                              args.torch_threads)
                row = add_derived(row, floors_ms)
                rows.append(row)
                with open(jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
                sps = row.get("learn_steps_per_s")
                shown = f"{sps:7.0f} learning steps/s" if row.get("status") == "ok" and sps else row.get("status")
                evaluation = f", eval {row['eval_mean']:.1f}" if row.get("eval_mean") is not None else ""
                print(f"{algo} seed {seed} {row['label']:<34} {shown}{evaluation}"
                      f" ({row.get('process_wall_s', 0):.0f} s)", flush=True)
    gflops_end = measure_gflops()
    meta.update(gflops={"start": gflops_start, "end": gflops_end, "used": gflops_start}, floors_ms=floors_ms,
                budgets="; ".join(budgets), threads=thread_summary(rows), duration_s=time.perf_counter() - start,
                load={"start": load_start, "max_before_run": max((r.get("load_before") or 0.0) for r in rows)})
    write_csv(rows, out_dir / "compare.csv", meta)
    text = render_markdown(rows, meta)
    (out_dir / "compare.md").write_text(text)
    print()
    print(text)
    print(f"wrote {out_dir / 'compare.csv'}, {out_dir / 'compare.jsonl'}, {out_dir / 'compare.md'}")


if __name__ == "__main__":
    main()
