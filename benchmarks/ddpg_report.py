"""Train the DDPG presets over several seeds (sequentially, one process each via the CLI) and tabulate the results.

    python benchmarks/ddpg_report.py --presets ddpg-pendulum ddpg-pendulum-tutorial --seeds 0 1 2 --out runs/report

Writes runs/report/<preset>_s<seed>/ run directories and prints a Markdown table: final noise-free eval (10 episodes
per seed; mean ± std over seeds of the per-seed means, and the pooled std of all episodes), wall time and
learning-phase steps/s (medians over seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["ddpg-pendulum", "ddpg-pendulum-tutorial"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/report"))
    parser.add_argument("--set", nargs="*", default=[], help="extra key=value overrides for every run")
    args = parser.parse_args()
    rows = []
    for preset in args.presets:
        summaries = []
        for seed in args.seeds:
            run_dir = args.out / f"{preset}_s{seed}"
            if not (run_dir / "summary.json").is_file():
                cmd = [sys.executable, "-m", "offpolicy.cli", "train", preset, "--seed", str(seed), "--run-dir",
                       str(run_dir), "--no-progress"]
                if args.set:
                    cmd += ["--set", *args.set]
                print("+", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True)
            summaries.append(json.loads((run_dir / "summary.json").read_text()))
            returns = json.loads((run_dir / "eval.json").read_text())["returns"]
            summaries[-1]["returns"] = returns
        means = [s["final_eval"]["mean"] for s in summaries]
        pooled = [r for s in summaries for r in s["returns"]]
        rows.append({
            "preset": preset, "seeds": len(summaries),
            "eval_mean": statistics.mean(means), "eval_std_over_seeds": statistics.pstdev(means),
            "eval_std_all_episodes": statistics.pstdev(pooled), "per_seed": means,
            "wall_s": statistics.median(s["wall_time_s"] for s in summaries),
            "learn_sps": statistics.median(s["learning_phase_steps_per_s"] for s in summaries),
        })
    print()
    print("| preset | seeds | final eval: mean ± std over seeds | std over all episodes | per-seed means "
          "| wall time (median) | learning-phase steps/s (median) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        per_seed = ", ".join(f"{m:.1f}" for m in r["per_seed"])
        print(f"| {r['preset']} | {r['seeds']} | {r['eval_mean']:.1f} ± {r['eval_std_over_seeds']:.1f} "
              f"| {r['eval_std_all_episodes']:.1f} | {per_seed} | {r['wall_s']:.1f} s | {r['learn_sps']:.0f} |")
    (args.out / "report.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
