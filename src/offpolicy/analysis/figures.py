"""Figures (matplotlib, rendered by Agg to PNG): a run's learning curve, the multi-seed aggregate curve, and the
sweep report's curves and final returns. matplotlib (and scipy, for the aggregate's interval) are imported only when
a figure is drawn, so importing this module costs a training run nothing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from offpolicy.analysis.results import read_csv
from offpolicy.errors import CheckpointError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from offpolicy.analysis.stats import Analysis

COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
          "tab:olive", "tab:cyan"]


# --------------------------------------------------------------------------------------------------------------------
# One run


BASE_COLUMNS = ("step", "episode", "episode_return", "episode_length", "steps_per_s", "time_s")
"""metrics.csv's columns that are not an agent's metric."""
METRIC_LABELS = {"q_mean": "mean Q(s, a) over the batch (return units)", "sigma_mean": "mean σ of the noisy layers",
                 "epsilon": "ε (random-action rate)", "alpha": "α (entropy coefficient)",
                 "entropy": "policy entropy (nats)"}


def panel_metrics(names) -> list[str]:
    """The logged metrics drawn in a panel of their own beside the score: every metric the agent logs."""
    return [k for k in names if k not in BASE_COLUMNS]


def panel_grid(n_metrics: int) -> tuple[int, int]:
    """(rows, columns) of the score panel plus ``n_metrics`` metric panels: at most 4 per row."""
    n = 1 + n_metrics
    cols = min(n, 4)
    return -(-n // cols), cols


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = np.nanmean(x[max(0, i - window + 1) : i + 1])
    return out


def draw_learning_curve(fig: Figure, metrics: dict[str, np.ndarray], evals: dict[str, np.ndarray],
                        title: str | None = None, learning_starts: int | None = None) -> None:
    """Draw the tutorial's panels into ``fig``: score per episode (with its 10-episode mean and the noise-free
    evaluations), then every metric the algorithm logs (losses, mean Q, NoisyNet σ, ε, SAC's α ...), against
    environment steps, at most 4 panels a row; a dotted line marks ``learning_starts`` (the first update) when given.
    ``metrics``/``evals`` are columns as in metrics.csv / evaluations.csv (step, episode_return, metrics; step,
    eval_return_mean, eval_return_std). Shared by the run's PNG and the live notebook plot."""
    losses = panel_metrics(metrics)
    rows, cols = panel_grid(len(losses))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[1 + len(losses):]:
        ax.set_visible(False)
    step = metrics["step"]
    mark = learning_starts is not None and len(step) and learning_starts <= step[-1]
    for i, ax in enumerate(axes[: 1 + len(losses)]):
        if mark:
            ax.axvline(learning_starts, color="gray", ls=":", lw=1, label="learning starts" if i == 0 else None)
    score = metrics["episode_return"]
    ax = axes[0]
    ax.plot(step, score, color="tab:blue", alpha=0.35, lw=1, label="episode return")
    ax.plot(step, _moving_average(score, 10), color="tab:blue", lw=2, label="mean of last 10")
    if evals and len(evals.get("step", ())):
        ax.errorbar(evals["step"], evals["eval_return_mean"], yerr=evals["eval_return_std"], color="tab:red",
                    marker="o", ms=4, capsize=3, lw=1.5, label="noise-free eval (mean ± std)")
    last = np.nanmean(score[-10:])
    ax.set_title(f"step {int(step[-1])}: score {last:.1f} (last 10 episodes)")
    ax.set_xlabel("environment step")
    ax.set_ylabel("episode return (sum of rewards)")
    ax.legend(loc="lower right", fontsize=8)
    for ax, name in zip(axes[1:], losses):
        y = metrics[name]
        ok = ~np.isnan(y)
        ax.plot(step[ok], y[ok], color="tab:orange", lw=1.2)
        ax.set_title(name)
        ax.set_xlabel("environment step")
        ax.set_ylabel(METRIC_LABELS.get(name, name.replace("_", " ") + " (mean over the episode's updates)"))
    if title:
        fig.suptitle(title)


def plot_run(run_dir: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """The tutorial's panels (see :func:`draw_learning_curve`) from a run directory's CSV files, as a PNG."""
    from matplotlib.figure import Figure

    run_dir = Path(run_dir)
    metrics = read_csv(run_dir / "metrics.csv")
    evals = read_csv(run_dir / "evaluations.csv")
    if not metrics:
        raise CheckpointError(f"{run_dir / 'metrics.csv'} is missing or has no rows: nothing to plot (a run writes a "
                              "row at each episode end).")
    for name, table, needed in (("metrics.csv", metrics, ("step", "episode_return")),
                                ("evaluations.csv", evals, ("step", "eval_return_mean", "eval_return_std"))):
        missing = [c for c in needed if table and c not in table]
        if missing:
            raise CheckpointError(f"{run_dir / name}: no column {', '.join(map(repr, missing))} (it has "
                                  f"{', '.join(map(repr, table))}); not a file written by `offpolicy train`.")
    rows, cols = panel_grid(len(panel_metrics(metrics)))
    fig = Figure(figsize=(6 * cols, 4.5 * rows), layout="constrained")
    draw_learning_curve(fig, metrics, evals, title, _learning_starts(run_dir))
    out = Path(out) if out else run_dir / "learning_curve.png"
    fig.savefig(out, dpi=100)
    return out


def _learning_starts(run_dir: Path) -> int | None:
    """The run's learning_starts from its config.yaml (None when it cannot be read: the mark is left out)."""
    from offpolicy.config import read_yaml_mapping
    from offpolicy.errors import ConfigError

    try:
        value = read_yaml_mapping(run_dir / "config.yaml").get("learning_starts")
    except ConfigError:
        return None
    return value if isinstance(value, int) else None


# --------------------------------------------------------------------------------------------------------------------
# Several seeds of one config, trained together (offpolicy train --seeds)


def write_aggregate(run_dir: Path, seeds: list[int], steps: list[int], table: np.ndarray, title: str,
                    figure: bool = True) -> None:
    """``run_dir/aggregate.csv`` (per evaluation step: mean over seeds, its 95% bootstrap interval, how many seeds
    have a value, then each seed's value) and, unless ``figure`` is False, ``run_dir/aggregate.png`` (the mean with
    its band, each seed a thin line). ``table``: evaluation means [seeds, steps], NaN where a seed has no evaluation
    at that step."""
    from offpolicy.analysis.stats import bootstrap_ci

    if not steps:
        return
    run_dir = Path(run_dir)
    mean = np.nanmean(table, axis=0)
    if table.shape[0] > 1 and not np.isnan(table).any():
        low, high = bootstrap_ci(table, lambda x, axis: np.mean(x, axis=axis))
    else:
        low = high = np.full(len(steps), np.nan)
    with open(run_dir / "aggregate.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "mean", "ci95_low", "ci95_high", "n_seeds"] + [f"seed_{s}" for s in seeds])
        for j, step in enumerate(steps):
            writer.writerow([step, mean[j], low[j], high[j], int(np.sum(~np.isnan(table[:, j])))]
                            + table[:, j].tolist())
    if not figure:
        return
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))  # not pyplot: no global backend or figure state (same PNG bytes as pyplot's Agg)
    draw_aggregate(fig, seeds, steps, table, mean, low, high, title)
    fig.tight_layout()
    fig.savefig(run_dir / "aggregate.png", dpi=120)


MIN_SEEDS_FOR_BAND = 5
"""Below this many seeds the aggregate figure draws each seed instead of a bootstrap band: a percentile bootstrap
over 3 seeds spans little more than their min-max."""


def draw_aggregate(fig: Figure, seeds: list[int], steps: list[int], table: np.ndarray, mean: np.ndarray,
                   low: np.ndarray, high: np.ndarray, title: str) -> None:
    """The aggregate curve into ``fig``: the mean over seeds, with its 95% bootstrap band from MIN_SEEDS_FOR_BAND
    seeds on (each seed a thin gray line), or with each seed drawn in its own colour below that."""
    ax = fig.subplots()
    few = len(seeds) < MIN_SEEDS_FOR_BAND
    for i, seed in enumerate(seeds):
        if few:
            ax.plot(steps, table[i], lw=1, alpha=0.8, color=COLORS[(i + 1) % len(COLORS)], marker=".",
                    label=f"seed {seed}")
        else:
            ax.plot(steps, table[i], lw=0.7, alpha=0.35, color="gray", label="single seeds" if i == 0 else None)
    ax.plot(steps, mean, lw=2, color="C0", label=f"mean of {len(seeds)} seeds"
            + (f" (too few for an interval: fewer than {MIN_SEEDS_FOR_BAND})" if few else ""))
    if not few and not np.isnan(low).all():
        ax.fill_between(steps, low, high, alpha=0.25, color="C0", label="95% bootstrap CI of the mean")
    ax.set(xlabel="env steps (per seed)", ylabel="evaluation return (noise-free)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)


# --------------------------------------------------------------------------------------------------------------------
# Groups of runs (offpolicy report, offpolicy compare)


def plot_curves(analyses: list[Analysis], out: Path, title: str | None = None) -> Path:
    """Evaluation return vs steps: IQM over seeds with a 95% bootstrap band; one panel per env."""
    from matplotlib.figure import Figure

    envs = list(dict.fromkeys(a.group.env for a in analyses))
    fig = Figure(figsize=(6.5 * len(envs), 4.6), layout="constrained")
    axes = fig.subplots(1, len(envs), squeeze=False)[0]
    for ax, env in zip(axes, envs):
        threshold = None
        for i, a in enumerate(analyses):
            if a.group.env != env or a.curve_steps.size == 0:
                continue
            color = COLORS[i % len(COLORS)]
            n = len(a.group.runs)
            ax.plot(a.curve_steps, a.curve_iqm, color=color, lw=2, marker="o", ms=3, label=f"{a.group.label} (n={n})")
            if n > 1:
                ax.fill_between(a.curve_steps, a.curve_low, a.curve_high, color=color, alpha=0.2, lw=0)
            threshold = a.threshold
        if threshold is not None:
            ax.axhline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:g}")
        ax.set_title(env)
        ax.set_xlabel("environment step")
        ax.set_ylabel("evaluation return (IQM over seeds, 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=100)
    return out


def plot_finals(analyses: list[Analysis], out: Path, title: str | None = None) -> Path:
    """Each seed's final return (dots), with the IQM (bar) and its 95% interval; one panel per env."""
    from matplotlib.figure import Figure

    envs = list(dict.fromkeys(a.group.env for a in analyses))
    heights = [sum(a.group.env == env for a in analyses) for env in envs]
    fig = Figure(figsize=(8, 1.2 + 0.55 * sum(heights) + 0.6 * len(envs)), layout="constrained")
    axes = fig.subplots(len(envs), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, env in zip(axes, envs):
        rows = [(i, a) for i, a in enumerate(analyses) if a.group.env == env]
        for y, (i, a) in enumerate(rows):
            color = COLORS[i % len(COLORS)]
            finals = [r.final for r in a.group.runs]
            jitter = np.linspace(-0.15, 0.15, len(finals)) if len(finals) > 1 else np.zeros(len(finals))
            ax.scatter(finals, y + jitter, color=color, s=18, alpha=0.7, zorder=3)
            f = a.finals
            if f["n"]:
                ax.plot([f["iqm"]] * 2, [y - 0.3, y + 0.3], color=color, lw=3, zorder=4)
            if f["n"] > 1:
                ax.plot(f["iqm_ci"], [y, y], color=color, lw=1.5, zorder=2)
        if rows and rows[0][1].threshold is not None:
            ax.axvline(rows[0][1].threshold, color="black", ls="--", lw=1)
        ax.set_yticks(range(len(rows)), [a.group.label for _, a in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{env}: final evaluation return per seed (bar: IQM, line: 95% CI)", fontsize=9)
        ax.set_xlabel("final evaluation return (mean over its episodes)")
        ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=100)
    return out
