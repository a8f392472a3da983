"""Statistics over seeds: IQM and mean with percentile-bootstrap confidence intervals (scipy.stats.bootstrap), and
steps / wall time to a return threshold.

The interquartile mean (IQM) is the mean of the middle 50% of the per-seed scores, computed as
``scipy.stats.trim_mean(x, 0.25)`` (25% cut from each end, rounded down to whole seeds: of 10 seeds the middle 6),
the same definition as rliable (Agarwal et al., 2021, "Deep RL at the Edge of the Statistical Precipice"). Its 95%
interval is the percentile bootstrap over seeds. rliable's *stratified* bootstrap resamples seeds within each task;
a config here is one task, so that is the plain bootstrap over its seeds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 10_000
DEFAULT_THRESHOLDS = {"Pendulum-v1": -200.0}
"""Return thresholds for time-to-threshold where Gymnasium's env spec has no reward_threshold (CartPole-v1 has 475,
CartPole-v0 195, Acrobot-v1 -100, MountainCarContinuous-v0 90)."""


def iqm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean after cutting 25% of the values from each end."""
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
