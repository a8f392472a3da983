#!/usr/bin/env bash
# docs/results-lunarlander.md: Rainbow against NoisyNet-DQN on LunarLander-v3 (pip install "offpolicy[box2d]"),
# 5 seeds (0-4) each at rainbow-lunarlander's budget of 200,000 steps, one sweep per row, then one comparison page.
#
#   bash benchmarks/results_lunarlander.sh     # the published run (the page's header says when, where and how long)
#   SEEDS=2 SET="total_steps=3000 eval_every=1000 learning_starts=1000" DOC=/tmp/ll.md OUT=/tmp/ll-sweeps bash benchmarks/results_lunarlander.sh
#                                              # a quick check of the pipeline at a tiny budget
#
# Rows: `rainbow-lunarlander` as it ships, and NoisyNet-DQN: the same preset with every other Rainbow part switched
# off (single-step targets without Double, one Q stream, uniform replay, no C51), so the two differ only in those
# parts (network, replay size, optimiser, target period, warm-up, NoisyNet settings and budget are the same).
# Nothing was tuned, on these seeds or others. Host loop (LunarLander has no gymnax port).
#
# The published page (2026-12-01) ran this script's two sweeps at once to fit one session: both were started (the
# NoisyNet-DQN row by hand, with the same sweep_row call), stopped after 29 minutes (Rainbow, 2 trials at a time) and
# 21 minutes (NoisyNet-DQN), and finished with `offpolicy sweep --resume runs/results-lunarlander/ROW --no-report
# --no-compile-cache --no-batch-seeds --workers 5` for each row (10 trial processes on the 2 cores; the interrupted
# trials continued from their last 10k-step training checkpoint: offpolicy's exact resume, tested bit-identical to an
# uninterrupted run); then this script made the reports and the page. Its wall times and steps/s are those of 5-10
# processes sharing 2 cores, not of a lone run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/results_lib.sh
source benchmarks/results_lib.sh
SEEDS="${SEEDS:-5}"
OUT="${OUT:-runs/results-lunarlander}"
DOC="${DOC:-docs/results-lunarlander.md}"
SET="${SET:-}"
COMMON=(video=false checkpoint_every=10000)
PARTS_OFF=(double=false dueling=false n_step=1 prioritized=false distributional=false)

sweep_row "$OUT" rainbow rainbow-lunarlander "${COMMON[@]}"
sweep_row "$OUT" noisy-dqn rainbow-lunarlander "${COMMON[@]}" "${PARTS_OFF[@]}"

offpolicy compare "$OUT/rainbow" "$OUT/noisy-dqn" --out "$DOC" --threshold LunarLander-v3=200 \
  --title "Rainbow against NoisyNet-DQN on LunarLander-v3: $SEEDS seeds each at 200k steps"
