"""Statistics over seeds: IQM and mean with percentile-bootstrap confidence intervals (scipy.stats.bootstrap), and
steps / wall time to a return threshold.

The interquartile mean (IQM) is the mean of the middle 50% of the per-seed scores, computed as
``scipy.stats.trim_mean(x, 0.25)`` (25% cut from each end, rounded down to whole seeds: of 10 seeds the middle 6),
the same definition as rliable (Agarwal et al., 2021, "Deep RL at the Edge of the Statistical Precipice"). Its 95%
interval is the percentile bootstrap over seeds. rliable's *stratified* bootstrap resamples seeds within each task;
a config here is one task, so that is the plain bootstrap over its seeds.

:func:`analyze` applies them to a :class:`~offpolicy.analysis.results.Group` (the runs of one config).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from offpolicy.analysis.results import Group, RunResult

CONFIDENCE = 0.95
RESAMPLES = 10_000
DEFAULT_THRESHOLDS = {"Pendulum-v1": -200.0}
"""Return thresholds for time-to-threshold where Gymnasium's env spec has no reward_threshold (CartPole-v1 has 475,
CartPole-v0 195, Acrobot-v1 -100, MountainCarContinuous-v0 90)."""


def iqm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean after cutting 25% of the values from each end."""
    # imported here, not at the top: scipy.stats takes ~1 s to import, and a training run never needs it
    from scipy import stats

    return stats.trim_mean(x, 0.25, axis=axis)


def mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def bootstrap_ci(x: np.ndarray, statistic: Callable = iqm, confidence: float = CONFIDENCE,
                 resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` over the values in ``x`` (1-D), or over axis 0 of a 2-D
    ``x`` [seeds, points] (one interval per point). NaN with fewer than two values. Deterministic given ``seed``."""
    x = np.asarray(x, dtype=float)
    if x.shape[0] < 2:
        nan = np.full(x.shape[1:], np.nan)
        return (float(nan), float(nan)) if x.ndim == 1 else (nan, nan)
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate samples (all seeds equal) warn; their interval is the value
        result = stats.bootstrap((x,), statistic, n_resamples=resamples, confidence_level=confidence,
                                 method="percentile", vectorized=True, axis=0, rng=np.random.default_rng(seed))
    low, high = result.confidence_interval.low, result.confidence_interval.high
    point = statistic(x, axis=0)
    low = np.where(np.isnan(low), point, low)  # constant columns: scipy gives NaN; the interval is the point
    high = np.where(np.isnan(high), point, high)
    if x.ndim == 1:
        return float(low), float(high)
    return low, high


def summarize(x: np.ndarray, seed: int = 0) -> dict[str, float]:
    """IQM and mean of per-seed scores with their 95% intervals."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return {"n": 0, "iqm": math.nan, "iqm_ci": (math.nan, math.nan), "mean": math.nan,
                "mean_ci": (math.nan, math.nan), "std": math.nan}
    return {"n": int(x.size), "iqm": float(iqm(x)), "iqm_ci": bootstrap_ci(x, iqm, seed=seed),
            "mean": float(np.mean(x)), "mean_ci": bootstrap_ci(x, mean, seed=seed),
            "std": float(np.std(x, ddof=1)) if x.size > 1 else math.nan}


def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float) -> float | None:
    """The first step whose value is >= threshold, or None."""
    hits = np.flatnonzero(np.asarray(values, dtype=float) >= threshold)
    return float(np.asarray(steps)[hits[0]]) if hits.size else None


def median_reached(values: list[float | None]) -> float | None:
    """Median over seeds, counting a seed that never reached the threshold as infinitely late: None unless more than
    half of the seeds reached it."""
    if not values:
        return None
    x = np.array([np.inf if v is None else v for v in values], dtype=float)
    median = float(np.median(x))
    return None if not np.isfinite(median) else median


def threshold_for(env_id: str, overrides: dict[str, float] | None = None) -> float | None:
    """Return threshold for ``env_id``: an override, then ours (Pendulum-v1: -200), then the env spec's."""
    overrides = overrides or {}
    if env_id in overrides:
        return overrides[env_id]
    if "*" in overrides:
        return overrides["*"]
    if env_id in DEFAULT_THRESHOLDS:
        return DEFAULT_THRESHOLDS[env_id]
    try:
        import gymnasium

        value = gymnasium.spec(env_id).reward_threshold
    except Exception:  # noqa: BLE001 - an unregistered or custom env has no threshold
        return None
    return None if value is None else float(value)


# --------------------------------------------------------------------------------------------------------------------
# One group of runs (a config's seeds)


@dataclass
class Analysis:
    group: Group
    finals: dict[str, Any]
    threshold: float | None
    steps_to: list[float | None]
    wall_to: list[float | None]
    median_steps_to: float | None
    median_wall_to: float | None
    median_wall: float | None
    median_sps: float | None
    curve_steps: np.ndarray
    curve_iqm: np.ndarray
    curve_low: np.ndarray
    curve_high: np.ndarray

    @property
    def reached(self) -> int:
        return sum(s is not None for s in self.steps_to)


def analyze(group: Group, thresholds: dict[str, float] | None = None) -> Analysis:
    """Final-return summary, time to threshold per seed and their medians, and the IQM learning curve with its band;
    sorts ``group.runs`` by seed."""
    runs = sorted(group.runs, key=lambda r: r.seed)
    group.runs = runs
    finals = summarize(np.array([r.final for r in runs]))
    threshold = threshold_for(group.env, thresholds)
    steps_to: list[float | None] = []
    wall_to: list[float | None] = []
    for run in runs:
        step = first_crossing(run.eval_steps, run.eval_means, threshold) if threshold is not None else None
        steps_to.append(step)
        wall_to.append(run.time_at(step) if step is not None else None)
    curve_steps, matrix = _common_curve(runs)
    if matrix.size:
        curve_iqm = iqm(matrix, axis=0)
        low, high = bootstrap_ci(matrix, iqm)
    else:
        curve_iqm = low = high = np.zeros(0)
    return Analysis(
        group=group, finals=finals, threshold=threshold, steps_to=steps_to, wall_to=wall_to,
        median_steps_to=median_reached(steps_to) if threshold is not None else None,
        median_wall_to=median_reached(wall_to) if threshold is not None else None,
        median_wall=float(np.median([r.wall_time_s for r in runs])) if runs else None,
        median_sps=_median([r.learn_sps for r in runs]), curve_steps=curve_steps, curve_iqm=np.atleast_1d(curve_iqm),
        curve_low=np.atleast_1d(low), curve_high=np.atleast_1d(high))


def _common_curve(runs: list[RunResult]) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation steps every run has, and the [seeds, steps] matrix of evaluation means there."""
    if not runs:
        return np.zeros(0), np.zeros((0, 0))
    common = set(runs[0].eval_steps.tolist())
    for run in runs[1:]:
        common &= set(run.eval_steps.tolist())
    steps = np.array(sorted(common))
    matrix = np.array([[run.eval_means[np.flatnonzero(run.eval_steps == s)[-1]] for s in steps] for run in runs])
    return steps, matrix.reshape(len(runs), len(steps))


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None
