"""DQN variants over seeds: noise-free evaluation curves, seeds reaching 500, wall time and learning-phase steps/s.

Runs one training at a time (no parallel runs: the numbers are wall-clock timings), appends one JSON line per run
to ``--out``, and with ``--report`` turns such a file into the markdown table and figure used in docs/dqn.md.

    python benchmarks/dqn_report.py run --variant noisy --seeds 0 1 2 3 4 --out benchmarks/results/dqn.jsonl
    python benchmarks/dqn_report.py run --variant epsilon --seeds 0 1 2 3 4 --out benchmarks/results/dqn.jsonl
    python benchmarks/dqn_report.py run --variant tutorial-v1 --seeds 0 1 2 3 4 --out benchmarks/results/dqn.jsonl
    python benchmarks/dqn_report.py report benchmarks/results/dqn.jsonl --figure docs/img/dqn_variants.png

A variant is a preset plus ``--set`` overrides (see VARIANTS); ``--set key=value`` adds more (used for tuning).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS: dict[str, tuple[str, dict]] = {
    # the tuned preset, as shipped
    "noisy": ("noisy-dqn-cartpole", {}),
    # the same with epsilon-greedy instead of NoisyNet (the dqn-cartpole-epsilon preset)
    "epsilon": ("dqn-cartpole-epsilon", {}),
    # the tutorial's settings (faults included) moved to CartPole-v1 and run for 50k steps, to compare on one env
    "tutorial-v1": ("noisy-dqn-cartpole-tutorial", {"env": "CartPole-v1", "total_steps": 50_000, "eval_every": 5_000}),
    # the tutorial preset exactly as shipped (CartPole-v0, 200-step episodes, 20k steps)
    "tutorial": ("noisy-dqn-cartpole-tutorial", {}),
}


def run_one(preset: str, overrides: dict, seed: int) -> dict:
    from offpolicy.config import make_config, to_dict
    from offpolicy.run.trainer import Trainer

    config = make_config(preset, {**overrides, "seed": seed})
    trainer = Trainer(config, run_dir=None, progress=False)
    tic = time.perf_counter()
    trainer.learn(config.total_steps)
    summary = trainer.finish(video=False)
    wall = time.perf_counter() - tic
    trainer.close()
    # every periodic evaluation (and the final one), not just the last
    curve = [(step, result["mean"], result["std"]) for step, result in trainer.eval_history]
    final = summary["final_eval"]
    return {"preset": preset, "overrides": overrides, "seed": seed, "env": config.env, "config": to_dict(config),
            "curve": curve, "final_eval": final["mean"], "best_eval": summary["best_eval_mean"],
            "wall_time_s": wall, "learning_phase_steps_per_s": summary["learning_phase_steps_per_s"],
            "versions": summary["versions"]}


def cmd_run(args: argparse.Namespace) -> None:
    from offpolicy.config import parse_set

    preset, overrides = VARIANTS[args.variant]
    overrides = {**overrides, **parse_set(args.set)}
    name = args.name or (args.variant + ("" if not args.set else " " + " ".join(args.set)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        result = {"variant": name, **run_one(preset, overrides, seed)}
        with open(out, "a") as f:
            f.write(json.dumps(result) + "\n")
        curve = " ".join(f"{s // 1000}k:{m:.0f}" for s, m, _ in result["curve"])
        print(f"{name} seed {seed}: {curve} | best {result['best_eval']:.0f} | wall {result['wall_time_s']:.0f} s | "
              f"{result['learning_phase_steps_per_s']:.0f} steps/s", flush=True)


def eval_at(result: dict, step: int) -> float | None:
    for s, mean, _ in result["curve"]:
        if s == step:
            return mean
    return None


def cmd_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    variants: dict[str, list[dict]] = {}
    for r in rows:
        variants.setdefault(r["variant"], []).append(r)
    print("| variant | env | seeds | eval @20k | eval @50k | seeds at 500 @50k | seeds ever 500 | wall time (s) "
          "| learning steps/s |")
    print("|---|---|---|---|---|---|---|---|---|")

    def fmt(values: list) -> str:
        values = [v for v in values if v is not None]
        return f"{np.mean(values):.1f} ± {np.std(values):.1f}" if values else "–"

    for name, rs in variants.items():
        at20 = [eval_at(r, 20_000) for r in rs]
        at50 = [eval_at(r, 50_000) for r in rs]
        top = 500 if rs[0]["env"] == "CartPole-v1" else 200
        final_top = sum(1 for v in at50 if v is not None and v >= top) if any(v is not None for v in at50) else None
        ever = sum(1 for r in rs if max(m for _, m, _ in r["curve"]) >= top)
        walls = [r["wall_time_s"] for r in rs]
        sps = [r["learning_phase_steps_per_s"] for r in rs]
        print(f"| {name} | {rs[0]['env']} | {len(rs)} | {fmt(at20)} | {fmt(at50)} | "
              f"{'–' if final_top is None else f'{final_top}/{len(rs)}'} | {ever}/{len(rs)} (max {top}) | "
              f"{np.mean(walls):.0f} ± {np.std(walls):.0f} | {np.mean(sps):.0f} |")
    if args.figure:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for name, rs in variants.items():
            steps = sorted({s for r in rs for s, _, _ in r["curve"]})
            table = np.array([[dict((s, m) for s, m, _ in r["curve"]).get(s, np.nan) for s in steps] for r in rs])
            mean, std = np.nanmean(table, 0), np.nanstd(table, 0)
            line = ax.plot(steps, mean, marker="o", ms=3, label=f"{name} ({rs[0]['env']}, {len(rs)} seeds)")[0]
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("environment step")
        ax.set_ylabel("noise-free eval return (mean ± std over seeds)")
        ax.legend(fontsize=8, loc="lower right")
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure, dpi=100)
        print(f"\nwrote {args.figure}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train a variant over seeds, append results to --out")
    run.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    run.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra config overrides")
    run.add_argument("--name", default=None, help="label in the results (default: variant + overrides)")
    run.add_argument("--out", default="benchmarks/results/dqn.jsonl")
    report = sub.add_parser("report", help="markdown table (and figure) from a results file")
    report.add_argument("file")
    report.add_argument("--figure", default=None)
    args = parser.parse_args(argv)
    {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
