"""Where a learning step's time goes, on this machine, in one process: DDPG by default, any preset with --preset.

    python benchmarks/ddpg_step.py [--reps 5] [--steps 2000]
    python benchmarks/ddpg_step.py --preset td3-pendulum --reps 3 --steps 1000

Prints medians over --reps repetitions of:
  matmul        GFLOP/s of a 128x128x128 float32 matmul chain inside lax.scan (the machine's FLOP rate for this size)
  floor         the update's FLOPs (compare.update_mflop: 47.8 MFLOP for ddpg-pendulum, 128-128 MLPs, batch 128) at
                that rate: the compute floor of an update
  update        one jitted update call (donated state, fixed batch)
  update x100   the same update 100 times in one jitted fori_loop: per update (what one call costs beyond its work)
  step          one jitted host-loop step: store transition + sample + update + next action, action copied to host
  host loop     learning-phase env steps/s of HostLoop on the preset's env (env step + jitted step + bookkeeping)
  compiled      learning-phase env steps/s of CompiledLoop (the gymnax env + agent in one lax.scan per chunk)
  compiled xN   the same with --seeds N agents vmapped in one process: agent-steps/s and per-agent-step time
The compiled rows need a gymnax port of the env (Pendulum-v1, CartPole-v1, ...); for other envs they are skipped.
Ratios are the claim; absolute times move with machine load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from compare import update_mflop  # benchmarks/compare.py: the script's folder is on sys.path

from offpolicy import buffer as rb
from offpolicy.config import make_config
from offpolicy.envs import make_env, make_jax_env
from offpolicy.errors import EnvError
from offpolicy.loops.compiled import CompiledLoop
from offpolicy.loops.host import HostLoop
from offpolicy.run.trainer import agent_for_run


def matmul_gflops(n: int = 128, length: int = 2000) -> float:
    a = jnp.ones((n, n), jnp.float32) * 0.01
    f = jax.jit(lambda x, w: jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), x, None, length=length)[0])
    f(a, a).block_until_ready()
    tic = time.perf_counter()
    f(a, a).block_until_ready()
    return length * 2 * n**3 / (time.perf_counter() - tic) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=8, help="agents in the vmapped compiled-loop row")
    parser.add_argument("--preset", default="ddpg-pendulum", help="the preset whose agent and env are timed")
    args = parser.parse_args()

    cfg = make_config(args.preset)
    env, spec = make_env(cfg.env, cfg.algo)
    a = cfg.agent
    mflop = update_mflop(cfg.algo, int(np.prod(spec.obs_shape)), spec.n_actions if spec.discrete else spec.action_dim,
                         list(a.hidden_sizes), a.batch_size, getattr(a, "policy_delay", 1), getattr(a, "double", False),
                         getattr(a, "dueling", False), a.n_atoms if getattr(a, "distributional", False) else 1)
    agent = agent_for_run(cfg, spec)  # with what the run fills in (prioritized replay's beta schedule)
    loop = HostLoop(agent, env, 0, cfg.agent.buffer_size, cfg.agent.batch_size, warmup_steps=500, learning_starts=500)
    loop.run(1000)  # fill a little, compile every mode
    fns = loop.fns
    obs = np.zeros((1, *spec.obs_shape), np.float32)
    packed = fns.pack(obs, np.zeros((1, spec.action_dim), np.float32), 0.0, obs, False, False, obs, False)
    batch = rb.sample(loop.carry.buffer, jax.random.key(0), cfg.agent.batch_size)
    update = jax.jit(agent.update, donate_argnums=0)
    state = jax.tree.map(jnp.copy, loop.agent_state())
    state, m = update(state, batch, jax.random.key(1))
    jax.block_until_ready(m)

    reps_in_loop = 100
    looped = jax.jit(lambda st, b, k: jax.lax.fori_loop(
        0, reps_in_loop, lambda i, x: agent.update(x, b, jax.random.fold_in(k, i))[0], st), donate_argnums=0)
    state = looped(state, batch, jax.random.key(2))
    jax.block_until_ready(state)

    try:
        jax_env, _ = make_jax_env(cfg.env, cfg.algo)
    except EnvError as e:
        print(f"no compiled rows: {e}")
        jax_env = None
    compiled = {} if jax_env is None else {
        n: CompiledLoop(agent, jax_env, seed=0 if n == 1 else list(range(n)), chunk=1000,
                        buffer_size=cfg.agent.buffer_size, batch_size=cfg.agent.batch_size, warmup_steps=500,
                        learning_starts=500) for n in (1, args.seeds)}
    for c in compiled.values():
        c.run(2000)  # compile, fill a little, start learning

    results: dict[str, list[float]] = {"matmul GFLOP/s": [], "update ms": [], "update x100 ms": [], "step ms": [],
                                       "host loop steps/s": []}
    if compiled:
        results.update({"compiled steps/s": [], "compiled xN agent-steps/s": []})
    for _ in range(args.reps):
        results["matmul GFLOP/s"].append(matmul_gflops())
        tic = time.perf_counter()
        for _ in range(args.steps):
            state, m = update(state, batch, jax.random.key(1))
        jax.block_until_ready(m)
        results["update ms"].append((time.perf_counter() - tic) / args.steps * 1e3)
        calls = max(1, args.steps // reps_in_loop)
        tic = time.perf_counter()
        for i in range(calls):
            state = looped(state, batch, jax.random.key(i))
        jax.block_until_ready(state)
        results["update x100 ms"].append((time.perf_counter() - tic) / (calls * reps_in_loop) * 1e3)
        carry = loop.carry
        tic = time.perf_counter()
        for _ in range(args.steps):
            carry, action = fns.step(carry, packed, np.int32(5000), update=True, random_action=False, store=True)
            np.asarray(action)
        results["step ms"].append((time.perf_counter() - tic) / args.steps * 1e3)
        loop.carry = carry
        tic = time.perf_counter()
        loop.run(args.steps)
        results["host loop steps/s"].append(args.steps / (time.perf_counter() - tic))
        for n, key in ((1, "compiled steps/s"), (args.seeds, "compiled xN agent-steps/s")):
            if not compiled:
                break
            steps = max(1000, args.steps // 1000 * 1000)
            tic = time.perf_counter()
            compiled[n].run(steps)
            results[key].append(n * steps / (time.perf_counter() - tic))

    med = {k: statistics.median(v) for k, v in results.items()}
    floor_ms = mflop / med["matmul GFLOP/s"]
    print(f"{args.preset}: jax {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} CPUs, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    print(f"matmul          {med['matmul GFLOP/s']:.1f} GFLOP/s  -> update FLOP floor {mflop:.1f} MFLOP = {floor_ms:.3f} ms")
    for key, label in (("update ms", "update"), ("update x100 ms", "update x100"), ("step ms", "step")):
        print(f"{label:15s} {med[key]:.3f} ms   ({med[key] / floor_ms:.2f}x floor)")
    print(f"host loop       {med['host loop steps/s']:.0f} steps/s = {1e3 / med['host loop steps/s']:.3f} ms/step "
          f"({1e3 / med['host loop steps/s'] / floor_ms:.2f}x floor)")
    if not compiled:
        return
    for key, label in (("compiled steps/s", "compiled"), ("compiled xN agent-steps/s", f"compiled x{args.seeds}")):
        ms = 1e3 / med[key]
        print(f"{label:15s} {med[key]:.0f} {'agent-' if 'xN' in key else ''}steps/s = {ms:.3f} ms/"
              f"{'agent-' if 'xN' in key else ''}step ({ms / floor_ms:.2f}x floor)")
    print(f"vmapped x{args.seeds} vs {args.seeds} sequential single-seed compiled runs: "
          f"{med['compiled xN agent-steps/s'] / med['compiled steps/s']:.2f}x the throughput")


if __name__ == "__main__":
    main()
