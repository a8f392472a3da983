#!/usr/bin/env bash
# docs/results-mujoco.md: TD3 and SAC on HalfCheetah-v5 and Hopper-v5 (pip install "offpolicy[mujoco]"), 3 seeds
# (0-2) each at 200,000 steps, one sweep per (algorithm, env) row, then one comparison page over the four rows.
#
#   bash benchmarks/results_mujoco.sh          # the published run: ~6 hours of both cores (12 trials of ~1 hour of
#                                              # one core each at 200k steps); rerun it to resume where it stopped
#   SEEDS=1 SET="total_steps=12000 eval_every=1000 learning_starts=10000" DOC=/tmp/mj.md OUT=/tmp/mj-sweeps \
#     bash benchmarks/results_mujoco.sh        # a quick check of the pipeline at a tiny budget
#   PRESETS="td3-halfcheetah sac-halfcheetah" bash benchmarks/results_mujoco.sh
#                                              # those rows only, and a page of them (its title names them)
#
# The presets run as they ship (rl-zoo's MuJoCo hyperparameters; every difference is a comment in the preset) except
# for the budget: 200,000 steps instead of their 1,000,000, evaluated every 25,000 steps over 10 noise-free episodes
# (the presets' own evaluation). Nothing was tuned, on these seeds or any other. Host loop (MuJoCo has no gymnax port).
# Sweeps as in benchmarks/results.sh (benchmarks/results_lib.sh): resumable from 10k-step training checkpoints, one
# process per trial. The sweeps live in benchmarks/results/mujoco/ (OUT), which git tracks except for the weights,
# checkpoints and TensorBoard logs (.gitignore): a finished row is committed with its data files (configs, CSVs,
# summaries, reports), so the ~6 hours can be spread over machines and sessions. A clone has the finished rows; rerun
# the script there and it skips them (nothing left to run) and trains the rest. WORKERS trials at a time (default 3:
# a row's three seeds together, one XLA thread each, so no core idles while the last seed of a row finishes alone);
# their wall times and steps/s are those of 3 processes sharing 2 cores, not of a lone run: the learning-phase rate of
# a lone run is benchmarks/compare.py's (README, Speed).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/results_lib.sh
source benchmarks/results_lib.sh
SEEDS="${SEEDS:-3}"
OUT="${OUT:-benchmarks/results/mujoco}"
DOC="${DOC:-docs/results-mujoco.md}"
SET="${SET:-}"
WORKERS="${WORKERS:-3}"
ALL=(td3-halfcheetah sac-halfcheetah td3-hopper sac-hopper)
# shellcheck disable=SC2206 # PRESETS is a list of words
PRESETS=(${PRESETS:-${ALL[@]}})  # PRESETS="td3-halfcheetah": those rows only (a page of the rows finished so far)
TITLE="TD3 and SAC on HalfCheetah-v5 and Hopper-v5 at 200k steps: $SEEDS seeds each"
[ "${PRESETS[*]}" == "${ALL[*]}" ] || TITLE="$TITLE (${#PRESETS[@]} of the ${#ALL[@]} rows: ${PRESETS[*]})"

preset_rows "$OUT" "$DOC" "$TITLE" "${PRESETS[@]}" -- total_steps=200000 video=false checkpoint_every=10000

# How the page was made and what to compare it with, for a reader of it alone.
cat >> "$DOC" <<'NOTE'

## How to read it

- **Budget**: 200,000 env steps (10,000 uniformly random, then one update per step), a fifth of the presets' and
  rl-zoo's 1,000,000: what fits the 2-core machine (~1 hour of one core per trial). Evaluation every 25,000 steps,
  10 noise-free episodes each (SAC: the action tanh(mean)); "final" is the evaluation at 200,000 steps.
- **No tuning**: the presets' hyperparameters are rl-zoo's (`hyperparams/td3.yml`, `sac.yml`; every difference is a
  comment in the preset); nothing was tuned on seeds 0–2 or on any other seeds. Three seeds say where the runs land,
  not how they rank: the intervals are wide.
- **Published numbers at the same step** (none uses the v5 envs; they are the nearest at 200k steps we found):
  Tianshou's MuJoCo benchmark (thu-ml/tianshou, `examples/mujoco/benchmark/<env>-v3/<algo>/test_rew_10seeds.csv`,
  read at commit 39acf209; 10 seeds, mean ± std over seeds of a 10-episode noise-free test at exactly that step,
  gym 0.17 v3 envs) at 200,000 steps: **TD3 HalfCheetah 6720.7 ± 617.2, Hopper 887.2 ± 649.3; SAC HalfCheetah
  8207.6 ± 928.3, Hopper 3234.4 ± 314.2** (at 100,000: TD3 5335.8 / 596.5, SAC 6514.6 / 2613.5). Its settings are
  not rl-zoo's: TD3 with learning rate 3e-4, [256, 256] and 25,000 random steps; SAC with learning rate 1e-3 (its
  README, footnote 8). CleanRL and rl-zoo publish final (1M-step) numbers only — rl-zoo's `benchmark.md` (one agent
  each, commit 0088472b, v3 envs): TD3 HalfCheetah 9655.7, Hopper 3606.4; SAC HalfCheetah 9535.5, Hopper 2325.5 —
  and curves as figures.
- **Threshold**: Gymnasium's `reward_threshold` for each env (HalfCheetah-v5 4800, Hopper-v5 3800).
- **Wall time and steps/s**: three trials at a time on the 2 cores, one XLA thread each (see
  [results.md](results.md#how-to-read-the-wall-time-columns)); a lone run's learning-phase rate is in README, Speed.
  The published rows also shared the machine with other work at times, and were paused (SIGSTOP) while it took
  timings: their wall times are longer, and their steps/s lower, than an idle machine's. Read them as a bound.
NOTE
