"""Figures a person can read: every logged metric drawn with labelled axes, where learning starts, and an aggregate
that does not draw a bootstrap band over too few seeds."""

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from offpolicy.analysis.figures import draw_aggregate, draw_learning_curve


def curve(names):
    step = np.arange(1, 11) * 100.0
    metrics = {"step": step, "episode": np.arange(1, 11.0), "episode_return": -step, "episode_length": step * 0 + 100,
               **{k: np.linspace(0, 1, 10) for k in names}, "steps_per_s": step, "time_s": step}
    evals = {"step": np.array([500.0, 1000.0]), "eval_return_mean": np.array([-1.0, -2.0]),
             "eval_return_std": np.array([0.1, 0.2])}
    return metrics, evals


def test_learning_curve_draws_every_logged_metric_with_labels_and_the_start_of_learning():
    fig = Figure()
    draw_learning_curve(fig, *curve(["loss", "q_mean", "sigma_mean"]), "DQN", learning_starts=300)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes[1:]] == ["loss", "q_mean", "sigma_mean"]  # not steps/s or time
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    for ax in axes:  # the dotted line at the first update, on every panel
        assert any(list(line.get_xdata()) == [300, 300] for line in ax.lines)
    # SAC's six metrics: two rows of at most four panels, the unused ones hidden
    fig = Figure()
    draw_learning_curve(fig, *curve(["actor_loss", "critic_loss", "alpha_loss", "alpha", "entropy", "q_mean"]))
    assert len(fig.axes) == 8 and sum(ax.get_visible() for ax in fig.axes) == 7
    assert not any(list(line.get_xdata()) == [300, 300] for ax in fig.axes for line in ax.lines)  # none given


def test_aggregate_draws_seeds_below_five_and_a_band_from_five():
    for n, band in ((3, False), (5, True)):
        table = np.arange(n * 4, dtype=float).reshape(n, 4)
        fig = Figure()
        draw_aggregate(fig, list(range(n)), [1, 2, 3, 4], table, table.mean(0), table.min(0), table.max(0), "t")
        ax = fig.axes[0]
        assert any(isinstance(c, PolyCollection) for c in ax.collections) == band
        labels = ax.get_legend_handles_labels()[1]
        assert ("seed 0" in labels) == (not band) and ("too few" in " ".join(labels)) == (not band)
