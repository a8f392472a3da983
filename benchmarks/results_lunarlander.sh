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
