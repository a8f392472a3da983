# Shared by benchmarks/results*.sh (source it): one sweep per row of a results page, resumable, then its report.
#
#   sweep_row OUT NAME PRESET [KEY=VALUE ...]
#
# runs `offpolicy sweep PRESET --seeds $SEEDS` into OUT/NAME under the sweep name NAME (the row's label on the page),
# with the KEY=VALUE overrides and $SET (a key in both: SET's value); a rerun resumes it instead (finished trials are skipped,
# interrupted ones continue from their training checkpoints). --no-compile-cache: each trial compiles its own
# programs, so its wall time is what a standalone `offpolicy train` costs. --no-batch-seeds: one process per trial
# (by default a sweep trains a config's seeds together in one vmapped process, and they share its wall time), so each
# trial's wall time is its own; the page's header says so and quotes the commands with the flags. $WORKERS, if set,
# is the number of trials at once (--workers; by default one per core).
sweep_row() {
  local out="$1" name="$2" preset="$3"
  shift 3
  if [ -f "$out/$name/sweep.yaml" ]; then
    offpolicy sweep --resume "$out/$name" --no-report --no-compile-cache --no-batch-seeds ${WORKERS:+--workers "$WORKERS"}
  else
    # shellcheck disable=SC2206 # SET is a list of key=value words
    local set_words=(${SET:-}) extra=() kv
    for kv in "$@"; do  # a key also in $SET is left to $SET (`--set` refuses a key given twice)
      [[ " ${set_words[*]%%=*} " == *" ${kv%%=*} "* ]] || extra+=("$kv")
    done
    extra+=("${set_words[@]}")
    offpolicy sweep "$preset" --seeds "$SEEDS" --name "$name" --sweep-dir "$out/$name" --no-report \
      --no-compile-cache --no-batch-seeds ${WORKERS:+--workers "$WORKERS"} ${extra[@]:+--set "${extra[@]}"}
  fi
  offpolicy report "$out/$name"
}

# One row per preset (its own sweep in OUT/PRESET, all with the same KEY=VALUE settings), then one comparison page of
# them all at DOC:
#
#   preset_rows OUT DOC TITLE PRESET... -- [KEY=VALUE ...]
preset_rows() {
  local out="$1" doc="$2" title="$3" presets=() sources=() preset
  shift 3
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do presets+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for preset in "${presets[@]}"; do
    sweep_row "$out" "$preset" "$preset" "$@"
    sources+=("$out/$preset")
  done
  offpolicy compare "${sources[@]}" --out "$doc" --title "$title"
}
