#!/usr/bin/env bash
# docs/results.md: 10 seeds of each of the five presets (one sweep each), then one comparison page over them.
#
#   bash benchmarks/results.sh                 # the published run (21 min on the 2-core Intel machine of 2026-12-02, 41 min on the AMD one; nothing else on it)
#   SEEDS=2 SET="total_steps=2000 eval_every=500" DOC=/tmp/results.md OUT=/tmp/results-sweeps bash benchmarks/results.sh
#                                              # a quick check of the pipeline at a tiny budget
#
# Rerunning it resumes; each sweep runs with --no-compile-cache and --no-batch-seeds (benchmarks/results_lib.sh says
# why: each trial's wall time is its own, as a standalone `offpolicy train PRESET`'s).
# Run it on a clean checkout (the page records the commit and flags local changes) on an otherwise idle machine
# (it records the load average too): the wall-time columns are only meaningful then.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/results_lib.sh
source benchmarks/results_lib.sh
SEEDS="${SEEDS:-10}"
OUT="${OUT:-runs/results}"
DOC="${DOC:-docs/results.md}"
SET="${SET:-}"
PRESETS=(ddpg-pendulum ddpg-pendulum-tutorial noisy-dqn-cartpole noisy-dqn-cartpole-tutorial dqn-cartpole-epsilon)

for preset in "${PRESETS[@]}"; do sweep_row "$OUT" "$preset" "$preset"; done

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

## Rainbow

The Rainbow ablation on CartPole-v1 (NoisyNet-DQN, each Rainbow part added alone, all of them, and Rainbow with
ε-greedy; 10 seeds each, compiled loop) is on its own page, [results-rainbow.md](results-rainbow.md)
(`bash benchmarks/results_rainbow.sh`); what it says is in [rainbow.md](rainbow.md).
NOTE
