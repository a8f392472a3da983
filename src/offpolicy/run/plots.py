"""Learning-curve PNG from a run directory's CSV files (works on any finished or running run)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV as float arrays (empty cells -> NaN)."""
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]}


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = np.nanmean(x[max(0, i - window + 1) : i + 1])
    return out


def draw_learning_curve(fig: Figure, metrics: dict[str, np.ndarray], evals: dict[str, np.ndarray],
                        title: str | None = None) -> None:
    """Draw the tutorial's panels into ``fig``: score per episode (with its 10-episode mean and the noise-free
    evaluations), then each loss the algorithm logs (actor and critic for DDPG), against environment steps.
    ``metrics``/``evals`` are columns as in metrics.csv / evaluations.csv (step, episode_return, *_loss; step,
    eval_return_mean, eval_return_std). Shared by the run's PNG and the live notebook plot."""
    losses = [k for k in metrics if k.endswith("loss")]
    axes = fig.subplots(1, 1 + len(losses), squeeze=False)[0]
    step = metrics["step"]
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
    ax.legend(loc="lower right", fontsize=8)
    for ax, name in zip(axes[1:], losses):
        y = metrics[name]
        ok = ~np.isnan(y)
        ax.plot(step[ok], y[ok], color="tab:orange", lw=1.2)
        ax.set_title(name)
        ax.set_xlabel("environment step")
    if title:
        fig.suptitle(title)


def plot_run(run_dir: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """The tutorial's panels (see :func:`draw_learning_curve`) from a run directory's CSV files, as a PNG."""
    run_dir = Path(run_dir)
    metrics = read_csv(run_dir / "metrics.csv")
    evals = read_csv(run_dir / "evaluations.csv")
    if not metrics:
        raise FileNotFoundError(f"{run_dir / 'metrics.csv'} is missing or empty: nothing to plot.")
    losses = [k for k in metrics if k.endswith("loss")]
    fig = Figure(figsize=(6 * (1 + len(losses)), 4.5), layout="constrained")
    draw_learning_curve(fig, metrics, evals, title)
    out = Path(out) if out else run_dir / "learning_curve.png"
    fig.savefig(out, dpi=100)
    return out
