"""`offpolicy report SWEEP_DIR` and `offpolicy compare A B ...`: tables and figures over seeds.

Per config (a group of runs that differ only in seed):

- **final return** of a seed = the mean return of its final noise-free evaluation (``eval.json``); the group's IQM and
  mean over seeds with 95% percentile-bootstrap intervals (:mod:`offpolicy.analysis.stats`);
- **time to threshold** of a seed = the first evaluation step whose mean return is >= the env's threshold, and the
  run's wall time at that step (``metrics.csv`` ``time_s``, evaluations included); the group's median, counting seeds
  that never got there as infinitely late (so no median unless more than half did);
- **learning curves**: evaluation return against steps, IQM over seeds with a 95% bootstrap band;
- wall time and learning-phase steps/s (medians over seeds), from each run's ``summary.json``.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

from offpolicy import provenance
from offpolicy.analysis import stats
from offpolicy.analysis.figures import plot_curves, plot_finals
from offpolicy.analysis.results import Group, RunResult, is_run, load_run, run_group
from offpolicy.analysis.stats import Analysis, analyze
from offpolicy.errors import OffpolicyError
from offpolicy.sweep import store
from offpolicy.sweep.plan import SWEEP_FILE, load_spec


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def sweep_groups(sweep_dir: Path, label_prefix: str | None = None) -> list[Group]:
    """One group per config of a sweep, in grid order."""
    spec = load_spec(sweep_dir)
    groups: dict[str, Group] = {}
    for trial in spec.trials():
        if trial.slug not in groups:
            if label_prefix is None:
                label = trial.slug
            else:
                label = label_prefix if not spec.grid else f"{label_prefix}: {trial.slug}"
            groups[trial.slug] = Group(label=label, source=Path(sweep_dir), params=trial.params,
                                       env=trial.config.env, algo=trial.config.algo)
        group = groups[trial.slug]
        run_dir = trial.run_dir(sweep_dir)
        result = load_run(run_dir)
        if result is None:
            state = store.trial_state(run_dir)
            why = store.read_error(run_dir) if state == store.FAILED else state
            group.missing.append((trial.id, why))
        else:
            group.runs.append(result)
    return list(groups.values())


# --------------------------------------------------------------------------------------------------------------------
# Markdown


def _num(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _ci(ci: tuple[float, float]) -> str:
    if any(math.isnan(v) for v in ci):
        return ""
    return f" [{ci[0]:,.1f}, {ci[1]:,.1f}]"


def _steps(x: float | None) -> str:
    return "—" if x is None else f"{int(x):,}"


def _threshold_cells(a: Analysis) -> list[str]:
    if a.threshold is None:
        return ["no threshold", "—", "—"]
    n = len(a.group.runs)
    return [f"{a.reached}/{n} ≥ {a.threshold:g}", _steps(a.median_steps_to), _num(a.median_wall_to, 0) +
            (" s" if a.median_wall_to is not None else "")]


TABLE_HEAD = ("| {first} | seeds | final IQM [95% CI] | final mean [95% CI] | reached threshold | median steps to "
              "threshold | median wall time to threshold | median wall time | learning steps/s |")


def table(analyses: list[Analysis], ranked: bool) -> list[str]:
    first = "rank | config" if ranked else "run"
    lines = [TABLE_HEAD.format(first=first), "|" + "---|" * (TABLE_HEAD.count("|") - 1 + (1 if ranked else 0))]
    order = _ranked(analyses) if ranked else analyses
    best: dict[str, float] = {}  # per env: returns of different envs are not on one scale
    for a in analyses:
        if a.finals["n"]:
            best[a.group.env] = max(best.get(a.group.env, -math.inf), a.finals["iqm"])
    for rank, a in enumerate(order, 1):
        f = a.finals
        head = f"{rank} | `{a.group.label}`" if ranked else f"`{a.group.label}`"
        missing = f" (+{len(a.group.missing)} unfinished)" if a.group.missing else ""
        iqm = _num(f["iqm"])
        if f["n"] and f["iqm"] == best[a.group.env]:  # only each env's best final IQM (all on a tie) stands out
            iqm = f"**{iqm}**"
        cells = [head, f"{f['n']}{missing}", f"{iqm}{_ci(f['iqm_ci'])}", f"{_num(f['mean'])}"
                 f"{_ci(f['mean_ci'])}", *_threshold_cells(a),
                 _num(a.median_wall, 0) + (" s" if a.median_wall is not None else ""), _num(a.median_sps, 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ranked(analyses: list[Analysis]) -> list[Analysis]:
    return sorted(analyses, key=lambda a: -a.finals["iqm"] if a.finals["n"] else math.inf)


def seed_table(a: Analysis) -> list[str]:
    lines = ["| seed | final eval | best eval | steps to threshold | wall time to threshold | wall time | "
             "learning steps/s | run |", "|---|---|---|---|---|---|---|---|"]
    for run, step, wall in zip(a.group.runs, a.steps_to, a.wall_to):
        lines.append(f"| {run.seed} | {run.final:,.1f} | {_num(run.best)} | {_steps(step)} | "
                     f"{_num(wall, 0)}{' s' if wall is not None else ''} | {run.wall_time_s:,.0f} s | "
                     f"{_num(run.learn_sps, 0)} | `{_rel(run.run_dir, a.group.source)}` |")
    for name, why in a.group.missing:
        lines.append(f"| {name} | not finished: {why} | | | | | | |")
    return lines


def _rel(path: Path, start: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(start).resolve()))
    except ValueError:
        return str(path)


def provenance_lines(sources: list[Path], runs: list[RunResult]) -> list[str]:
    """Machine, versions and commit the results were produced with (from provenance.json and summary.json)."""
    lines = []
    sessions = [s for src in sources for s in store.read_sessions(src)]
    commits = sorted({(s["git"]["commit"][:12] + (" + local changes" if s["git"]["dirty"] else ""))
                      for s in sessions if s.get("git")})
    if commits:
        lines.append(f"- **commit**: {', '.join(commits)}")
    versions = sorted({json.dumps(r.versions, sort_keys=True) for r in runs if r.versions})
    for v in versions:
        lines.append("- **versions (as recorded by the runs)**: " + ", ".join(f"{k} {val}" for k, val in
                                                                           json.loads(v).items()))
    extra = sorted({", ".join(f"{k} {val}" for k, val in s.get("versions", {}).items() if k in ("scipy", "ray",
                                                                                                "jaxlib"))
                    for s in sessions})
    for e in extra:
        if e:
            lines.append(f"- **also installed**: {e}")
    machines = sorted({json.dumps({k: s["machine"].get(k) for k in ("system", "arch", "cpu", "cores", "memory_gib")},
                                  sort_keys=True) for s in sessions})
    for m in machines:
        m = json.loads(m)
        lines.append(f"- **machine**: {m.get('cpu') or m.get('arch')}, {m.get('cores')} cores, "
                     f"{m.get('memory_gib', '?')} GiB, {m.get('system')}")
    runs_by = sorted({f"{s['backend']} backend, {s['workers']} {_unit(s)} at a time, XLA threads per process: "
                      f"{s.get('xla_threads_per_trial') or 'default'}, compilation cache shared by trials: "
                      f"{'yes' if s.get('compile_cache') else 'no'}, seeds of a config batched in one process: "
                      f"{_batched(s)}" for s in sessions})
    for r in runs_by:
        lines.append(f"- **run with**: {r}")
    loads = [s["machine"].get("load_avg_1m") for s in sessions if s.get("machine", {}).get("load_avg_1m") is not None]
    if loads:
        lines.append(f"- **1-minute load average when each sweep session started**: {', '.join(f'{x:g}' for x in loads)}"
                     " (wall times are only comparable between runs on an otherwise idle machine)")
    if sessions:
        times = sorted(s["started"] for s in sessions)
        lines.append(f"- **sweep sessions**: {len(sessions)}, started {times[0]}" +
                     (f" … {times[-1]}" if len(times) > 1 else ""))
    return lines


def _unit(session: dict) -> str:
    one = session.get("workers") == 1
    if session.get("batch_seeds"):
        return "process (a batch of trials)" if one else "processes (batches of trials)"
    return "trial" if one else "trials"


def _batched(session: dict) -> str:
    if session.get("batch_seeds"):
        return ("yes, where the loop allows it (such trials share a process and its wall time: see each "
                "summary.json's vmapped_seeds)")
    return "no (one process per trial: each trial's wall time is its own)"


STATS_NOTE = (
    "Final return of a seed: the mean return of its final noise-free evaluation ({episodes}). IQM: interquartile "
    "mean over seeds (`scipy.stats.trim_mean(x, 0.25)`, as rliable). Intervals: 95% percentile bootstrap over seeds "
    "(`scipy.stats.bootstrap`, {resamples:,} resamples, fixed seed; rliable's stratified bootstrap, which resamples "
    "seeds within each task, is this plain bootstrap for one task). Time to threshold: the first periodic evaluation "
    "(every `eval_every` steps) whose mean return is ≥ the threshold, and the run's wall time at that step "
    "(evaluations included); medians count a seed that never reached it as infinitely late, so there is none unless "
    "more than half did. Wall time: the run's training time (`summary.json` `wall_time_s`: warm-up, compilation, "
    "updates, periodic evaluations and checkpoints; not process start-up or the final outputs).")


def _episodes_note(runs: list[RunResult]) -> str:
    counts = set()
    for run in runs:
        try:
            counts.add(json.loads((run.run_dir / "eval.json").read_text())["episodes"])
        except (OSError, ValueError, KeyError):
            pass
    return f"{'/'.join(str(c) for c in sorted(counts))} episodes per seed" if counts else "episodes per seed"


def write_report(sweep_dir: str | Path, thresholds: dict[str, float] | None = None) -> Path:
    """SWEEP_DIR/report.md and SWEEP_DIR/report/{curves,finals}.png."""
    sweep_dir = Path(sweep_dir)
    spec = load_spec(sweep_dir)
    groups = sweep_groups(sweep_dir)
    analyses = [analyze(g, thresholds) for g in groups]
    runs = [r for g in groups for r in g.runs]
    figures = sweep_dir / "report"
    figures.mkdir(exist_ok=True)
    title = f"{spec.name}: {len(spec.seeds)} seeds" + (f" × {len(groups)} configs" if spec.grid else "")
    plot_curves(analyses, figures / "curves.png", title)
    plot_finals(analyses, figures / "finals.png", title)
    n_done = len(runs)
    n_all = sum(len(g.runs) + len(g.missing) for g in groups)
    lines = [f"# Sweep report: {spec.name}", "",
             f"Generated by `offpolicy report {sweep_dir}` on {provenance.now()}; the sweep was made by", "",
             "```bash", spec.command(), "```", "",
             f"- **base**: `{spec.preset}` ({groups[0].algo if groups else '?'} on {groups[0].env if groups else '?'})",
             f"- **seeds**: {', '.join(str(s) for s in spec.seeds)}"]
    if spec.grid:
        lines.append("- **grid**: " + "; ".join(f"`{k}` ∈ {{{', '.join(str(v) for v in vs)}}}"
                                               for k, vs in spec.grid.items()))
    if spec.overrides:
        lines.append("- **set for every trial**: " + ", ".join(f"`{k}={v}`" for k, v in spec.overrides.items()))
    lines.append(f"- **trials finished**: {n_done} of {n_all}")
    lines += provenance_lines([sweep_dir], runs)
    lines += ["", "## Configs, ranked by final IQM", "", *table(analyses, ranked=True), "",
              STATS_NOTE.format(episodes=_episodes_note(runs), resamples=stats.RESAMPLES), "",
              "## Learning curves", "", "![learning curves](report/curves.png)", "",
              "## Final return per seed", "", "![final returns](report/finals.png)", ""]
    for a in analyses:
        lines += [f"### `{a.group.label}`", ""]
        if a.group.params:
            lines += ["Config: " + ", ".join(f"`{k}={v}`" for k, v in a.group.params.items()), ""]
        lines += [*seed_table(a), ""]
    failed = [(name, why) for g in groups for name, why in g.missing]
    if failed:
        lines += ["## Not finished", "", f"{len(failed)} trial(s); errors in `trials/<config>/s<seed>/error.txt`. "
                  f"Finish them with `offpolicy sweep --resume {sweep_dir}`.", ""]
        lines += [f"- `{name}`: {why}" for name, why in failed] + [""]
    out = sweep_dir / "report.md"
    store.write_atomic(out, "\n".join(lines))
    return out


def compare(sources: list[str | Path], out: str | Path, labels: list[str] | None = None,
            thresholds: dict[str, float] | None = None, title: str | None = None) -> Path:
    """Overlay runs and sweeps (each config of a sweep is one curve) in one figure and one table.

    ``out``: a Markdown file (figures go to a folder beside it, named after it: ``docs/results.md`` ->
    ``docs/results/``) or a folder (``compare.md`` and the figures inside)."""
    paths = [Path(s) for s in sources]
    if labels and len(labels) != len(paths):
        raise OffpolicyError(f"--labels: {len(labels)} labels for {len(paths)} runs/sweeps; give one per argument.")
    groups: list[Group] = []
    for i, path in enumerate(paths):
        label = labels[i] if labels else None
        if is_sweep(path):
            groups += sweep_groups(path, label_prefix=label or load_spec(path).name)
        elif is_run(path):
            groups.append(run_group(path, label))
        else:
            raise OffpolicyError(f"{path}: neither a sweep directory (no {SWEEP_FILE}) nor a run directory "
                                 "(no config.yaml and metrics.csv).")
    if not any(g.runs for g in groups):
        raise OffpolicyError("nothing to compare: none of these runs or sweeps has a finished run.")
    analyses = [analyze(g, thresholds) for g in groups]
    out = Path(out)
    if out.suffix == ".md":
        md, figures = out, out.with_suffix("")
    else:
        md, figures = out / "compare.md", out
    figures.mkdir(parents=True, exist_ok=True)
    md.parent.mkdir(parents=True, exist_ok=True)
    plot_curves(analyses, figures / "curves.png", title)
    plot_finals(analyses, figures / "finals.png", title)
    rel = _rel(figures, md.parent)
    rel = "" if rel == "." else rel + "/"
    runs = [r for g in groups for r in g.runs]
    command = shlex.join(["offpolicy", "compare", *map(str, paths), "--out", str(out),
                          *(["--labels", *labels] if labels else []), *(["--title", title] if title else []),
                          *_threshold_args(thresholds)])
    lines = [f"# {title or 'Comparison'}", "", f"Generated on {provenance.now()} by", "", "```bash"]
    sweep_commands = [f"{load_spec(p).command()} --sweep-dir {shlex.quote(str(p))}" for p in paths if is_sweep(p)]
    lines += [*sweep_commands, command, "```", ""]
    lines += provenance_lines([p for p in paths if is_sweep(p)], runs)
    lines += ["", "## Summary", "", *table(analyses, ranked=False), "",
              STATS_NOTE.format(episodes=_episodes_note(runs), resamples=stats.RESAMPLES), "",
              "## Learning curves", "", f"![learning curves]({rel}curves.png)", "",
              "## Final return per seed", "", f"![final returns]({rel}finals.png)", "",
              "## Per seed", ""]
    for a in analyses:
        budget = sorted({r.total_steps for r in a.group.runs})
        lines += [f"### `{a.group.label}`", "",
                  f"{a.group.algo} on {a.group.env}, {', '.join(f'{b:,}' for b in budget)} steps, from "
                  f"`{a.group.source}`.", "", *seed_table(a), ""]
    store.write_atomic(md, "\n".join(lines))
    return md


def parse_thresholds(items: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``["400"]`` -> every env 400; ``["CartPole-v1=400", "Pendulum-v1=-150"]`` -> per env."""
    out: dict[str, float] = {}
    for item in items:
        key, _, raw = item.rpartition("=") if "=" in item else ("*", "=", item)
        try:
            out[key.strip() or "*"] = float(raw)
        except ValueError:
            raise OffpolicyError(f"--threshold {item!r}: expected a number (400) or ENV=NUMBER "
                                 "(CartPole-v1=400).") from None
    return out


def _threshold_args(thresholds: dict[str, float] | None) -> list[str]:
    if not thresholds:
        return []
    return ["--threshold", *(f"{v:g}" if k == "*" else f"{k}={v:g}" for k, v in thresholds.items())]
