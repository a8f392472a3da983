"""Where the test suite's CPU time goes: JAX tracing, lowering and XLA compilation per test, summed over every
process the test ran in (the xdist worker and any CLI, sweep, notebook or Ray process it started).

    python benchmarks/suite_profile.py run [--out DIR] [-- PYTEST_ARGS...]   # the suite with the profiler: 9-22 min
    python benchmarks/suite_profile.py show DIR [--top 30]                   # the totals and the top tests

`run` puts benchmarks/suite_profile/ (a sitecustomize.py) on PYTHONPATH so every Python process of the run records
JAX's compile-time events (jax.monitoring) and writes them to DIR at exit; pytest's --durations=0 goes to
DIR/pytest.log. Processes a test starts with an environment of its own (the export tests' clean subprocesses) are
not seen; those started with an environment copied before the test began (test_cli.py's and test_resume.py's
module-level ENV) count under "(outside a test)". Compare the totals with the run's CPU time (`/usr/bin/time`) to see what share compilation takes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVENTS = {"backend_compile_duration": "XLA compile", "jaxpr_to_mlir_module_duration": "lowering",
          "jaxpr_trace_duration": "tracing", "cache_retrieval_time_sec": "cache reads"}


def run(out: Path, pytest_args: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OFFPOLICY_SUITE_PROFILE_DIR": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE / "suite_profile"), os.environ.get("PYTHONPATH")]))}
    print(f"running the suite with the compile profiler; per-process files and pytest.log go to {out}", flush=True)
    with open(out / "pytest.log", "w") as log:
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "--durations=0", *pytest_args], env=env,
                             stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent)
    show(out, 30)
    return rc


def show(out: Path, top: int) -> int:
    per_test: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    programs: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])  # name -> [compiles, seconds]
    files = sorted(out.glob("*.jsonl"))
    if not files:
        print(f"no profile files in {out}: run `python benchmarks/suite_profile.py run --out {out}` first")
        return 2
    for path in files:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "program" in row:
                programs[row["program"]][0] += row["n"]
                programs[row["program"]][1] += row["secs"]
                continue
            per_test[row["test"]][row["event"]] += row["secs"]
    totals = {e: sum(t[e] for t in per_test.values()) for e in EVENTS}
    print(f"{len(files)} processes; seconds summed over all of them:")
    for event, name in EVENTS.items():
        print(f"  {name:12s} {totals[event]:8.1f}")
    print(f"\nthe {top} tests that compile longest (s): XLA compile, lowering+tracing, cache reads")
    ranked = sorted(per_test.items(), key=lambda kv: -kv[1]["backend_compile_duration"])
    for test, e in ranked[:top]:
        lowering = e["jaxpr_to_mlir_module_duration"] + e["jaxpr_trace_duration"]
        print(f"  {e['backend_compile_duration']:7.1f} {lowering:6.1f} {e['cache_retrieval_time_sec']:6.1f}  {test}")
    if programs:
        print(f"\nthe {top} jitted functions that compile longest, over all tests (s XLA compile incl. cache reads, "
              "number of compiles)")
        for name, (n, secs) in sorted(programs.items(), key=lambda kv: -kv[1][1])[:top]:
            print(f"  {secs:7.1f} {int(n):5d}  {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the suite with the profiler")
    r.add_argument("--out", type=Path, default=None, help="folder for the profile (default: a new temporary one)")
    s = sub.add_parser("show", help="summarise a profile folder")
    s.add_argument("out", type=Path)
    s.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.out or Path(tempfile.mkdtemp(prefix="offpolicy-suite-profile-")), pytest_args)
    return show(args.out, args.top)


if __name__ == "__main__":
    sys.exit(main())
