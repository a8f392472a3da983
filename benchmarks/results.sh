#!/usr/bin/env bash
# docs/results.md: 10 seeds of each of the five presets (one sweep each), then one comparison page over them.
#
#   bash benchmarks/results.sh                 # the published run (41 min on the 2-core machine, nothing else on it)
#   SEEDS=2 SET="total_steps=2000 eval_every=500" DOC=/tmp/results.md OUT=/tmp/results-sweeps bash benchmarks/results.sh
#                                              # a quick check of the pipeline at a tiny budget
#
# Rerunning it resumes: finished trials are skipped, interrupted ones continue from their training checkpoints.
# --no-compile-cache: each trial compiles its own programs, so its wall time is what a standalone
# `offpolicy train PRESET` costs (with the cache, seeds after the first of a config skip ~10 s of compilation).
# --no-batch-seeds: one process per trial (by default a sweep trains a config's seeds together in one vmapped
# process, and they share its wall time), so each trial's wall time is its own; the page's header says so
# ("seeds of a config batched in one process: no") and quotes the commands with the flag.
# Run it on a clean checkout (the page records the commit and flags local changes) on an otherwise idle machine
# (it records the load average too): the wall-time columns are only meaningful then.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS="${SEEDS:-10}"
OUT="${OUT:-runs/results}"
DOC="${DOC:-docs/results.md}"
SET="${SET:-}"
PRESETS=(ddpg-pendulum ddpg-pendulum-tutorial noisy-dqn-cartpole noisy-dqn-cartpole-tutorial dqn-cartpole-epsilon)

for preset in "${PRESETS[@]}"; do
  if [ -f "$OUT/$preset/sweep.yaml" ]; then
    offpolicy sweep --resume "$OUT/$preset" --no-report --no-compile-cache --no-batch-seeds
  else
    # shellcheck disable=SC2086 # SET is a list of key=value words
    offpolicy sweep "$preset" --seeds "$SEEDS" --sweep-dir "$OUT/$preset" --no-report --no-compile-cache \
      --no-batch-seeds ${SET:+--set $SET}
  fi
  offpolicy report "$OUT/$preset"
done

sources=()
for preset in "${PRESETS[@]}"; do sources+=("$OUT/$preset"); done
offpolicy compare "${sources[@]}" --out "$DOC" \
  --title "DDPG and DQN presets: $SEEDS seeds each, final return, time to threshold and wall time"

# How the page was made, for a reader of it alone (facts about this script, true of every run of it).
cat >> "$DOC" <<'NOTE'

## How to read the wall-time columns

The five sweeps ran back to back, on the machine in the header, with nothing else started beside them: two trials at
a time, one per core, each process limited to one XLA thread. A lone `offpolicy train` also uses the second core
(XLA's thread pool), so it runs faster than the per-trial learning steps/s here; single-run speeds against other
libraries are in [benchmarks.md](benchmarks.md). The 1-minute load averages of the second to fifth sweep sessions
count the previous sweep of this same script, which had just ended. Times to threshold are as fine as the
evaluations: one every `eval_every` steps (5,000 for the 50k-step presets, 2,000 for the tutorial DQN preset).

## TD3 and SAC

DDPG, TD3 and SAC on Pendulum-v1 at rl-zoo's budget of 20,000 steps, 10 seeds each, are on their own page,
[results-pendulum.md](results-pendulum.md) (`bash benchmarks/results_pendulum.sh`).
NOTE
