"""Where one update's time goes, from a profile: called from Python, against one iteration of a jitted loop of updates.

    python benchmarks/update_profile.py [--preset sac-pendulum] [--calls 20] [--reps 5]

Builds the preset's agent on its env (host loop, 600 steps to fill a little), then:
  1. times, alternating over --reps rounds (medians): the update called from Python (jit, donated state, a fixed
     batch), the same update in a jitted fori_loop of 1 iteration (a program entry per update, like a call) and of
     100 iterations (per iteration), each iteration with its own key (fold_in), as benchmarks/ddpg_step.py does;
  2. profiles --calls called updates and --calls loop iterations with jax.profiler (XLA:CPU's per-op trace events,
     --xla_cpu_enable_xprof_traceme), and prints per update: the wall time of the program, the summed time of its
     ops by kind (ynn_fusion: XLA's YNNPACK matmul fusions; dot: other matmuls; while: the rolled threefry loops of
     jax.random on CPU; copy ...), and how many ops ran on each thread. Op times on two threads overlap, so their
     sum can exceed the wall time;
  3. counts, in the called update's optimized HLO, the while loops and the copies (by computation and shape): where
     the profile's `while` and `copy` time comes from;
  4. the host loop's learning step as HostLoop makes it (two program entries: the store, then sample + update + next
     action; the action read back): its time, alternating with the step call alone and the update called alone, then
     a profile of --calls steps (XLA's events only, no Python function events): the store call, the step call until
     its program starts (argument handling, dispatch), the program running, what follows it (the read-back, the carry
     rebuilt), the events inside by kind, and the while loops and copies of the step program's optimized HLO.
The per-op times are the claim (ratios between called and looped); absolute times move with machine load.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import time

if "xla_cpu_enable_xprof_traceme" not in os.environ.get("XLA_FLAGS", ""):  # per-op trace events, before JAX starts
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from offpolicy import buffer as rb  # noqa: E402
from offpolicy.agents import make_agent  # noqa: E402
from offpolicy.config import make_config  # noqa: E402
from offpolicy.envs import make_env  # noqa: E402
from offpolicy.loops.host import HostLoop  # noqa: E402

LOOP = 100
SKIP = ("Thunk", "Threadpool", "Slinky", "$", "Pjit", "Wait", "end:", "PjRt", "TfrtCpu", "Execute", "CommonPjRt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="sac-pendulum")
    parser.add_argument("--calls", type=int, default=20, help="updates profiled in each form")
    parser.add_argument("--reps", type=int, default=5, help="timing rounds (300 updates per form each)")
    args = parser.parse_args()
    cfg = make_config(args.preset, {})
    env, spec = make_env(cfg.env, cfg.algo)
    agent = make_agent(cfg.algo, cfg.agent, spec)
    loop = HostLoop(agent, env, 0, 10_000, cfg.agent.batch_size, warmup_steps=500, learning_starts=500)
    loop.run(600)
    batch = rb.sample(loop.carry.buffer, jax.random.key(0), cfg.agent.batch_size)
    state = jax.tree.map(jnp.copy, loop.agent_state())
    called = jax.jit(agent.update, donate_argnums=0)

    def looped(n):
        return jax.jit(lambda st, b, k: jax.lax.fori_loop(
            0, n, lambda i, x: agent.update(x, b, jax.random.fold_in(k, i))[0], st), donate_argnums=0)

    loop1, loop100 = looped(1), looped(LOOP)
    key = jax.random.key(1)
    state, _ = called(state, batch, key)
    state = loop100(loop1(state, batch, key), batch, key)
    jax.block_until_ready(state)

    # 1. timing, alternating
    times: dict[str, list[float]] = {"called": [], "fori_loop x1": [], f"fori_loop x{LOOP}": []}
    n = 300
    for _ in range(args.reps):
        tic = time.perf_counter()
        for i in range(n):
            state, _ = called(state, batch, jax.random.fold_in(key, i))
        jax.block_until_ready(state)
        times["called"].append((time.perf_counter() - tic) / n * 1e3)
        tic = time.perf_counter()
        for i in range(n):
            state = loop1(state, batch, jax.random.fold_in(key, i))
        jax.block_until_ready(state)
        times["fori_loop x1"].append((time.perf_counter() - tic) / n * 1e3)
        tic = time.perf_counter()
        for i in range(n // LOOP):
            state = loop100(state, batch, jax.random.fold_in(key, i))
        jax.block_until_ready(state)
        times[f"fori_loop x{LOOP}"].append((time.perf_counter() - tic) / n * 1e3)
    print(f"{args.preset}: jax {jax.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"ms per update, medians of {args.reps} x {n}:")
    for name, values in times.items():
        print(f"  {name:14s} {statistics.median(values):.3f}")

    # 2. profile: --calls called updates, then the same number of iterations of a looped program
    looped_n = looped(args.calls)
    state = looped_n(state, batch, key)
    jax.block_until_ready(state)

    def both_phases() -> None:
        nonlocal state
        for i in range(args.calls):
            state, _ = called(state, batch, jax.random.fold_in(key, i))
        jax.block_until_ready(state)
        time.sleep(0.05)  # the marker between the two phases (a Python event)
        state = looped_n(state, batch, key)
        jax.block_until_ready(state)

    events = traced(both_phases)
    cut = next(e["ts"] for e in events if e["name"] == "$time sleep")
    for phase, chosen in (("called", [e for e in events if e["ts"] < cut]),
                          (f"fori_loop x{args.calls}", [e for e in events if e["ts"] > cut])):
        ops = [e for e in chosen if not e["name"].startswith(SKIP)]
        programs = [e["dur"] for e in chosen if e["name"] == "ThunkExecutor::Execute (wait for completion)"]
        threads = sorted(collections.Counter(e["tid"] for e in ops).values(), reverse=True)
        print(f"profile, {phase}: program wall {sum(programs) / args.calls / 1e3:.3f} ms per update; ops summed "
              f"{sum(e.get('dur', 0) for e in ops) / args.calls / 1e3:.3f} ms per update; "
              f"{len(ops) / args.calls:.0f} ops per update on threads {threads}")
        print_kinds(ops, args.calls, 10)
    hlo_counts(called.lower(state, batch, key).compile().as_text(), "the called update")
    host_step(loop, called, state, batch, key, args)
    sys.stdout.flush()


def host_step(loop: HostLoop, called, state, batch, key, args) -> None:
    """Part 4: the host loop's learning step (store call + step call + the action read back), timed and profiled."""
    fns, spec = loop.fns, loop.agent.spec
    obs = np.zeros((1, *spec.obs_shape), np.float32)
    action = np.zeros((1, 1 if spec.discrete else spec.action_dim), np.float32)
    packed = fns.pack(obs, action, 0.0, obs, False, False, obs, False)
    t = np.int32(5000)

    def steps(n: int, store: bool) -> None:
        for _ in range(n):
            loop.carry, a = fns.step(loop.carry, packed, t, update=True, random_action=False, store=store)
            np.asarray(a)  # as HostLoop.run: the next env step needs the action

    steps(3, True)
    steps(3, False)
    n = 300
    times: dict[str, list[float]] = {"host step (store + step calls)": [], "step call alone (no store)": [],
                                     "update called alone": []}
    for _ in range(args.reps):
        for name, store in (("host step (store + step calls)", True), ("step call alone (no store)", False)):
            tic = time.perf_counter()
            steps(n, store)
            times[name].append((time.perf_counter() - tic) / n * 1e3)
        tic = time.perf_counter()
        for i in range(n):
            state, _ = called(state, batch, jax.random.fold_in(key, i))
        jax.block_until_ready(state)
        times["update called alone"].append((time.perf_counter() - tic) / n * 1e3)
    print(f"host loop learning step, ms, medians of {args.reps} x {n}:")
    for name, values in times.items():
        print(f"  {name:32s} {statistics.median(values):.3f}")

    # Python function events would inflate the Python-side times
    events = sorted(traced(lambda: steps(args.calls + 1, True), python=False), key=lambda e: e["ts"])

    def outer(name: str) -> list[dict]:  # a jitted call shows as two nested events of one name: keep the outer
        kept: list[dict] = []
        for e in (e for e in events if e["name"] == name):
            if not kept or e["ts"] >= kept[-1]["ts"] + kept[-1]["dur"]:
                kept.append(e)
        return kept

    stores, calls = outer("PjitFunction(_store)"), outer("PjitFunction(_step)")
    if len(stores) != args.calls + 1 or len(calls) != args.calls + 1:
        print(f"profile: {len(stores)} store and {len(calls)} step calls for {args.calls + 1} steps; skipped")
        return
    parts: dict[str, list[float]] = collections.defaultdict(list)
    ops_in: list[dict] = []
    for k in range(args.calls):  # step k runs from its store call to the next step's
        begin, call, end = stores[k]["ts"], calls[k]["ts"], stores[k + 1]["ts"]
        inside = [e for e in events if call <= e["ts"] < end]
        thunks = [e for e in inside if e["name"] == "ThunkExecutor::Execute"]
        run_start, run_end = min(e["ts"] for e in thunks), max(e["ts"] + e["dur"] for e in thunks)
        parts["whole step"].append(end - begin)
        parts["store call"].append(stores[k]["dur"])
        parts["between the calls"].append(call - begin - stores[k]["dur"])
        parts["step call until its program runs"].append(run_start - call)
        parts["step program running"].append(run_end - run_start)
        parts["after the program (read-back, Python)"].append(end - run_end)
        ops_in += [e for e in inside if not e["name"].startswith(SKIP)]
    print(f"profile of {args.calls} host steps (no env step; XLA's trace events only), us per step, medians:")
    for name, values in parts.items():
        print(f"    {name:40s} {statistics.median(values):8.1f}")
    print(f"  the step program's ops, {len(ops_in) / args.calls:.0f} per step, summed (two threads overlap):")
    print_kinds(ops_in, args.calls, 8)
    lowered = fns._step_jit.lower(loop.carry, packed, t, update=True, random_action=np.bool_(False), store=False)
    hlo_counts(lowered.compile().as_text(), "the step program (sample + update + next action)")


def traced(run, python: bool = True) -> list[dict]:
    """The complete ("X") events of a jax.profiler trace of ``run()``; ``python``: with Python function events."""
    options = jax.profiler.ProfileOptions()
    if not python:
        options.python_tracer_level = 0
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True, profiler_options=options):
            run()
        (path,) = glob.glob(f"{tmp}/plugins/profile/*/perfetto_trace.json.gz")
        with gzip.open(path) as f:
            trace = json.load(f)
    return [e for e in (trace["traceEvents"] if isinstance(trace, dict) else trace) if e.get("ph") == "X"]


def print_kinds(ops: list[dict], calls: int, top: int) -> None:
    """The ``top`` op kinds (the name before its first dot) by summed duration, in ms per call."""
    by_kind: dict[str, float] = collections.defaultdict(float)
    for e in ops:
        by_kind[e["name"].split(".")[0]] += e.get("dur", 0)
    for kind, total in sorted(by_kind.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {kind:28s} {total / calls / 1e3:.3f} ms")


def hlo_counts(text: str, what: str) -> None:
    """While loops and copies in an optimized HLO module's text, the copies by (computation, shape)."""
    copies: collections.Counter = collections.Counter()
    computation = "?"
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.rstrip().endswith("{"):
            computation = line.split("(")[0].replace("ENTRY ", "").strip().split(".")[0]
        match = re.search(r"= (\S+) copy\(", line)
        if match:
            copies[(computation, match.group(1))] += 1
    print(f"optimized HLO of {what}: {len(re.findall(r' while[(]', text))} while loops, "
          f"{sum(copies.values())} copies; the most common (computation, shape):")
    for (where, shape), n in copies.most_common(6):
        print(f"    {n:4d} x {shape:20s} in {where}")


if __name__ == "__main__":
    main()
