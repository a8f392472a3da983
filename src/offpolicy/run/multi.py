"""Many seeds of one config: the seeds grammar and the aggregate files (the Trainer trains the seeds).

Many seeds of one config: one run directory per seed under a parent directory, plus an aggregate curve.

The seeds train together in one process with their agents vmapped: ``loop: compiled`` runs one CompiledLoop over all
seeds, ``loop: host`` one VectorHostLoop (one Gymnasium env per seed, one vmapped jitted call per step for all).
Each seed's Trainer evaluates its own policy on the Gymnasium env and writes its usual run directory.

Parent directory (``offpolicy train --seeds``):
    s<seed>/            a normal run directory per seed (config.yaml with that seed, metrics.csv, eval.json, ...)
    aggregate.csv       per evaluation step: mean over seeds and its 95% bootstrap interval, then each seed's value
    aggregate.png       the same as a curve with a band, each seed a thin line
    summary.json        seeds, final evaluations, their mean and interval, wall time, agent-steps per second

Or each seed's run directory given explicitly (``run_dirs``, e.g. a sweep's ``trials/<config>/s<seed>/``), with the
parent's aggregate files only when a parent is given too.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from offpolicy.errors import ConfigError


def parse_seeds(spec: str | int, first: int = 0) -> list[int]:
    """``"0-7"`` -> 0..7, ``"1,5,9"`` -> those, ``"8"`` or 8 -> eight seeds from ``first``."""
    text = str(spec).strip()
    try:
        if re.fullmatch(r"\d+", text):
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(first, first + n))
        elif m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", text):
            lo, hi = int(m[1]), int(m[2])
            if hi < lo:
                raise ValueError
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ConfigError(f"--seeds {spec!r}: give a count (8), a range (0-7) or a list of distinct seeds >= 0 "
                          "(0,3,5).")
    return seeds


def write_aggregate(run_dir: Path, seeds: list[int], steps: list[int], table: np.ndarray, title: str) -> None:
    """aggregate.csv and aggregate.png of a multi-seed run: per evaluation step the mean over seeds, its 95% bootstrap
    interval and each seed's value (``table``: [seeds, steps] evaluation means)."""
    from offpolicy.sweep.stats import bootstrap_ci

    if not steps:
        return
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i in range(len(seeds)):
        ax.plot(steps, table[i], lw=0.7, alpha=0.35, color="gray", label="single seeds" if i == 0 else None)
    ax.plot(steps, mean, lw=2, color="C0", label=f"mean of {len(seeds)} seeds")
    if not np.isnan(low).all():
        ax.fill_between(steps, low, high, alpha=0.25, color="C0", label="95% bootstrap CI")
    ax.set(xlabel="env steps (per seed)", ylabel="evaluation return (noise-free)",
           title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(run_dir / "aggregate.png", dpi=120)
    plt.close(fig)
