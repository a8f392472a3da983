# Shared by benchmarks/results*.sh (source it): one sweep per row of a results page, resumable, then its report.
#
#   sweep_row OUT NAME PRESET [KEY=VALUE ...]
#
# runs `offpolicy sweep PRESET --seeds $SEEDS` into OUT/NAME under the sweep name NAME (the row's label on the page),
# with the KEY=VALUE overrides and then $SET (so SET wins); a rerun resumes it instead (finished trials are skipped,
# interrupted ones continue from their training checkpoints). --no-compile-cache: each trial compiles its own
# programs, so its wall time is what a standalone `offpolicy train` costs. --no-batch-seeds: one process per trial
# (by default a sweep trains a config's seeds together in one vmapped process, and they share its wall time), so each
# trial's wall time is its own; the page's header says so and quotes the commands with the flags.
sweep_row() {
  local out="$1" name="$2" preset="$3"
  shift 3
  if [ -f "$out/$name/sweep.yaml" ]; then
    offpolicy sweep --resume "$out/$name" --no-report --no-compile-cache --no-batch-seeds
  else
    local extra=("$@")
    # shellcheck disable=SC2206 # SET is a list of key=value words
    extra+=(${SET:-})
    offpolicy sweep "$preset" --seeds "$SEEDS" --name "$name" --sweep-dir "$out/$name" --no-report \
      --no-compile-cache --no-batch-seeds ${extra[@]:+--set "${extra[@]}"}
  fi
  offpolicy report "$out/$name"
}
