"""What does ``learn(..., live=True)`` cost? Wall-clock steps/s of the same model with and without the live plot.

By default the measurement runs inside a real Jupyter kernel (nbclient), so the figure really goes out through
IPython display messages, exactly as in a notebook. ``--in-process`` instead forces the live plot on in this process
and hands each PNG to a sink that base64-encodes it (what the display machinery does) — no Jupyter needed.

Protocol: one model per algorithm (eval_every=0, no video, no progress bar in either mode: the live plot alone is
measured); ``learn(--warmup)`` first (compilation and the random warm-up); then ``--reps`` rounds, each timing
``learn(--steps)`` with and without ``live`` (the order alternating between rounds) on the same, continuing model.
Steps/s = steps / wall time of the whole ``learn`` call, so everything the live plot does is counted, including its
redraws (the metrics.csv ``steps_per_s`` column leaves callback time out by design). Prints the medians, their ratio,
and the share of each live call's wall time spent inside the live plot (redraws included; timed directly, so it holds
even on a busy machine where the steps/s of two runs differ by chance).

    python benchmarks/live_overhead.py                          # DDPG Pendulum-v1 and DQN CartPole-v1, in a kernel
    python benchmarks/live_overhead.py --algos ddpg --reps 5 --steps 5000
    python benchmarks/live_overhead.py --in-process
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

MEASURE = r'''
import json, statistics, time
from offpolicy import DDPG, DQN
from offpolicy.run import live as _live

def measure(algo, steps, reps, warmup, sink=None):
    cls, env = {"ddpg": (DDPG, "Pendulum-v1"), "dqn": (DQN, "CartPole-v1")}[algo]
    model = cls(env, seed=0, warmup_steps=1000, learning_starts=1000, eval_every=0, video=False, progress=False)
    if sink is not None:  # in-process: force the plot on, as in a notebook
        model._live = _live.LivePlot(model._trainer.agent.metric_names, title=f"{algo} {env}", enabled=True, sink=sink)
    model.learn(warmup, live=True)  # untimed: compilation, random warm-up, matplotlib's first figure
    warm_rows = len(model._live.rows)
    inside = [0.0]  # seconds spent inside the live plot's callbacks (its redraws included)

    def timed(method):
        def wrapper(*args):
            tic = time.perf_counter()
            method(*args)
            inside[0] += time.perf_counter() - tic
        return wrapper

    model._live.on_episode, model._live.on_eval = timed(model._live.on_episode), timed(model._live.on_eval)
    model._live.end = timed(model._live.end)
    times = {True: [], False: []}
    redraws = draw_time = 0.0
    shares = []  # per live call: time inside the live plot / the call's wall time
    for rep in range(reps):
        for live in ((True, False) if rep % 2 == 0 else (False, True)):
            before = (model._live.redraws, model._live.draw_time, inside[0])
            tic = time.perf_counter()
            model.learn(steps, live=live)
            times[live].append(time.perf_counter() - tic)
            if live:
                shares.append((inside[0] - before[2]) / times[live][-1])
                redraws += model._live.redraws - before[0]
                draw_time += model._live.draw_time - before[1]
    sps = {k: statistics.median(steps / t for t in v) for k, v in times.items()}
    return {"algo": algo, "env": env, "steps": steps, "reps": reps, "episodes_per_call": (len(model._live.rows) - warm_rows) / reps,
            "steps_per_s_without": sps[False], "steps_per_s_with": sps[True], "ratio": sps[True] / sps[False],
            "redraws_per_call": redraws / reps, "seconds_per_redraw": draw_time / max(redraws, 1),
            "inside_live_share": statistics.median(shares), "live_enabled": model._live.enabled}
'''


def run_in_kernel(algos: list[str], steps: int, reps: int, warmup: int, save: str | None) -> list[dict]:
    import nbformat
    from nbclient import NotebookClient

    call = "\n".join(f"print('RESULT ' + json.dumps(measure({a!r}, {steps}, {reps}, {warmup})))" for a in algos)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    nb.cells = [nbformat.v4.new_code_cell(MEASURE), nbformat.v4.new_code_cell(call)]
    NotebookClient(nb, timeout=3600, kernel_name="python3").execute()
    if save:
        nbformat.write(nb, save)
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    return [json.loads(line[len("RESULT "):]) for line in text.splitlines() if line.startswith("RESULT ")]


def run_in_process(algos: list[str], steps: int, reps: int, warmup: int) -> list[dict]:
    import base64

    namespace: dict = {}
    exec(MEASURE, namespace)  # noqa: S102 - our own measurement code, shared with the kernel mode

    def sink(png: bytes) -> None:
        base64.b64encode(png)  # what IPython does to an image before sending it

    return [namespace["measure"](a, steps, reps, warmup, sink=sink) for a in algos]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=["ddpg", "dqn"], choices=["ddpg", "dqn"])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per timed learn() call")
    parser.add_argument("--reps", type=int, default=3, help="timed calls per mode (median reported)")
    parser.add_argument("--warmup", type=int, default=2000, help="untimed steps first (compile, random warm-up)")
    parser.add_argument("--in-process", action="store_true", help="no Jupyter: force the plot on in this process")
    parser.add_argument("--save", help="kernel mode: write the executed notebook (with the live figures) here")
    args = parser.parse_args()
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    tic = time.perf_counter()
    if args.in_process:
        results = run_in_process(args.algos, args.steps, args.reps, args.warmup)
    else:
        results = run_in_kernel(args.algos, args.steps, args.reps, args.warmup, args.save)
    where = "in-process (forced on)" if args.in_process else "Jupyter kernel (nbclient)"
    print(f"live-plot overhead, {where}; {args.reps} reps x {args.steps} steps per mode, medians; "
          f"load average at the end {os.getloadavg()[0]:.2f}; {time.perf_counter() - tic:.0f} s in all")
    print(f"{'algo':5s} {'env':12s} {'without':>9s} {'with live':>10s} {'ratio':>6s} {'in live plot':>13s} "
          f"{'redraws/call':>13s} {'s/redraw':>9s} {'episodes/call':>14s}")
    for r in results:
        if not r["live_enabled"]:
            print(f"warning: the live plot was not enabled for {r['algo']} (not a notebook?)", file=sys.stderr)
        print(f"{r['algo']:5s} {r['env']:12s} {r['steps_per_s_without']:9.0f} {r['steps_per_s_with']:10.0f} "
              f"{r['ratio']:6.3f} {100 * r['inside_live_share']:12.1f}% {r['redraws_per_call']:13.1f} "
              f"{r['seconds_per_redraw']:9.3f} "
              f"{r['episodes_per_call']:14.1f}")


if __name__ == "__main__":
    main()
