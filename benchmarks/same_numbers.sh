#!/usr/bin/env bash
# Run the fixed set of short runs that a refactor must leave bit-identical, into OUT_DIR.
# Compare two such folders with `python benchmarks/same_numbers.py A B`.
#   git worktree add /tmp/before <commit> && (cd /tmp/before && pip install -q -e . && bash benchmarks/same_numbers.sh /tmp/runs-before)
#   bash benchmarks/same_numbers.sh /tmp/runs-after && python benchmarks/same_numbers.py /tmp/runs-before /tmp/runs-after
# About 6 minutes on 2 cores. STEPS (default 20000) sets every run's budget. The --seeds runs pin --workers 1 (all
# seeds vmapped in one process, as the reference runs of issue 12 were): with the default, one process per core, a
# seed alone in its process runs the one-seed program, whose last bits differ from a vmapped seed's.
set -euo pipefail
out=${1:?usage: same_numbers.sh OUT_DIR}
steps=${STEPS:-20000}
mkdir -p "$out"
run() { local name=$1; shift; echo "== $name"; offpolicy train "$@" --set total_steps="$steps" --no-video --no-progress --run-dir "$out/$name" >"$out/$name.log" 2>&1 || { cat "$out/$name.log"; exit 1; }; }
run ddpg-host ddpg-pendulum
run noisy-dqn-host noisy-dqn-cartpole
run dqn-epsilon-host dqn-cartpole-epsilon
run ddpg-compiled ddpg-pendulum --loop compiled
run ddpg-seeds-host ddpg-pendulum --seeds 0-2 --workers 1
run ddpg-seeds-compiled ddpg-pendulum --seeds 0-2 --workers 1 --loop compiled
run noisy-dqn-seeds-host noisy-dqn-cartpole --seeds 0-2 --workers 1
run noisy-dqn-seeds-compiled noisy-dqn-cartpole --seeds 0-2 --workers 1 --loop compiled
echo "runs in $out"
