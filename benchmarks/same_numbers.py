"""Compare two folders made by benchmarks/same_numbers.sh: every run directory in them must hold bit-identical
numbers (metrics.csv but its wall-clock columns, evaluations.csv, eval.json, the final checkpoint's arrays, and a
multi-seed parent's aggregate.csv).

    python benchmarks/same_numbers.py /tmp/runs-before /tmp/runs-after
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

TIMING_COLUMNS = {"steps_per_s", "time_s"}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(f)]


def _eval(path: Path) -> dict:
    return json.loads(path.read_text())


CHECKS = {
    "metrics.csv": _rows,
    "evaluations.csv": lambda p: p.read_bytes(),
    "eval.json": _eval,
    "checkpoints/final/agent.safetensors": lambda p: p.read_bytes(),
    "aggregate.csv": lambda p: p.read_bytes(),
}


def compare(a: Path, b: Path) -> list[str]:
    problems, checked = [], 0
    for metrics in sorted(a.rglob("metrics.csv")):
        run = metrics.parent.relative_to(a)
        for name, read in CHECKS.items():
            pa, pb = a / run / name, b / run / name
            if not pa.exists():
                continue
            checked += 1
            if not pb.exists():
                problems.append(f"{run}/{name}: missing in {b}")
            elif read(pa) != read(pb):
                problems.append(f"{run}/{name}: differs")
    for agg in sorted(a.rglob("aggregate.csv")):
        rel = agg.relative_to(a)
        checked += 1
        if not (b / rel).exists() or agg.read_bytes() != (b / rel).read_bytes():
            problems.append(f"{rel}: differs or missing")
    print(f"{checked} files compared")
    if checked == 0:  # e.g. a folder of symlinks (rglob does not follow them) or the wrong folder
        problems.append(f"no run directory (metrics.csv) found under {a}")
    return problems


if __name__ == "__main__":
    problems = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    for p in problems:
        print("DIFF", p)
    print("identical" if not problems else f"{len(problems)} differences")
    sys.exit(1 if problems else 0)
