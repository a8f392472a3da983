"""When each test ran, on which pytest-xdist worker: to see whether the suite's last minutes are one worker alone.

    PYTHONPATH=benchmarks OFFPOLICY_TIMELINE=/tmp/tl.jsonl python -m pytest -q -p suite_timeline   # record
    python benchmarks/suite_timeline.py /tmp/tl.jsonl [--top 15]                                    # read

A pytest plugin (loaded with ``-p suite_timeline``, benchmarks/ on PYTHONPATH): every worker appends one line per
test (worker, test id, loadgroup, start and end in seconds since the epoch, setup included) to $OFFPOLICY_TIMELINE.
Reading it prints each worker's busy time, the span of the run, the time when only one worker was still busy, and the
loadgroups that ran last or took longest (a loadgroup runs on one worker, so its sum is a floor on the suite's wall).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import time
from pathlib import Path

_starts: dict[str, float] = {}
_record = True


def pytest_configure(config):
    global _record
    # With xdist the controller sees every test's start and finish too (relayed): only workers, or a run without
    # workers (-n 0), record.
    _record = hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_runtest_logstart(nodeid, location):  # noqa: ARG001 - pytest's hook signature
    _starts[nodeid] = time.time()


def pytest_runtest_logfinish(nodeid, location):  # noqa: ARG001
    path = os.environ.get("OFFPOLICY_TIMELINE")
    if not _record or not path or nodeid not in _starts:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    group = nodeid.rsplit("@", 1)[1] if "@" in nodeid else ""
    row = {"worker": worker, "test": nodeid, "group": group, "start": _starts.pop(nodeid), "end": time.time()}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("timeline", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.timeline.read_text().splitlines() if line.strip()]
    if not rows:
        print(f"{args.timeline} has no tests")
        return 2
    t0 = min(r["start"] for r in rows)
    t1 = max(r["end"] for r in rows)
    print(f"{len(rows)} tests, span {t1 - t0:.1f} s (first test start to last test end)")
    by_worker: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_worker[r["worker"]].append(r)
    ends = {}
    for worker, rs in sorted(by_worker.items()):
        busy = sum(r["end"] - r["start"] for r in rs)
        ends[worker] = max(r["end"] for r in rs) - t0
        print(f"  {worker}: {len(rs)} tests, busy {busy:.1f} s, last test ends at {ends[worker]:.1f} s")
    if len(ends) > 1:
        alone = max(ends.values()) - sorted(ends.values())[-2]
        print(f"one worker alone for the last {alone:.1f} s")
    groups: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, float("inf"), 0])
    for r in rows:
        g = groups[r["group"] or r["test"].split("::")[0]]
        g[0] += r["end"] - r["start"]
        g[1] = max(g[1], r["end"] - t0)
        g[2] = min(g[2], r["start"] - t0)
        g[3] += 1
    print(f"\nlongest loadgroups / files (sum of their tests, first start, last end), top {args.top}:")
    for name, (total, end, start, n) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f"  {total:7.1f} s  {start:6.1f} → {end:6.1f}  {n:3d} tests  {name}")
    print(f"\nlast {args.top} tests to finish:")
    for r in sorted(rows, key=lambda r: r["end"])[-args.top:]:
        print(f"  {r['start'] - t0:6.1f} → {r['end'] - t0:6.1f}  {r['worker']}  {r['test']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
