"""Report statistics against values worked out by hand, and a report written from a fabricated sweep directory."""

import csv
import json
import math

import numpy as np
import pytest

from offpolicy.analysis import stats
from offpolicy.sweep.plan import make_spec, parse_grid, save_spec
from offpolicy.sweep.report import write_report


def test_iqm_of_known_sets():
    returns = np.array([-150.0, -140, -130, -120, -110, -100, -90, -80])
    assert stats.iqm(returns) == pytest.approx(-115.0)  # 2 cut from each end: mean(-130, -120, -110, -100)
    assert stats.iqm(np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 100])) == pytest.approx(5.5)  # mean(3..8); outlier gone
    assert stats.iqm(np.array([0.0, 0, 0, 100])) == 0.0  # mean is 25
    assert stats.iqm(np.array([3.0, 5.0])) == 4.0  # too few to cut: the mean


def test_bootstrap_interval_by_hand_and_containment():
    # Two seeds, 0 and 10: a resampled mean is 0 (p=1/4), 5 (1/2) or 10 (1/4); its 2.5% and 97.5% quantiles are 0, 10.
    assert stats.bootstrap_ci(np.array([0.0, 10.0]), stats.mean) == (0.0, 10.0)
    rng = np.random.default_rng(1)
    x = rng.normal(-150, 30, size=10)
    for statistic in (stats.iqm, stats.mean):
        low, high = stats.bootstrap_ci(x, statistic)
        assert low < statistic(x) < high
        assert (low, high) == stats.bootstrap_ci(x, statistic)  # fixed seed: the report is reproducible
    assert stats.bootstrap_ci(x, stats.mean, confidence=0.5)[1] < stats.bootstrap_ci(x, stats.mean)[1]
    # The mean's interval of 10 seeds is within the range of the data and roughly mean +- 2 standard errors.
    low, high = stats.bootstrap_ci(x, stats.mean)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert x.min() < low and high < x.max()
    assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.3)


def test_degenerate_samples():
    assert stats.bootstrap_ci(np.full(5, 500.0)) == (500.0, 500.0)  # every seed at CartPole's maximum
    low, high = stats.bootstrap_ci(np.array([42.0]))
    assert math.isnan(low) and math.isnan(high)  # one seed: no interval
    summary = stats.summarize(np.array([42.0]))
    assert summary["iqm"] == 42.0 and summary["n"] == 1 and math.isnan(summary["std"])
    columns = stats.bootstrap_ci(np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]]), stats.mean)  # [seeds, points]
    assert columns[0][1] == columns[1][1] == 5.0 and columns[0][0] < 2.0 < columns[1][0]


def test_time_to_threshold():
    steps, values = np.array([5000, 10000, 15000]), np.array([-800.0, -190.0, -150.0])
    assert stats.first_crossing(steps, values, -200) == 10000
    assert stats.first_crossing(steps, values, -100) is None
    assert stats.median_reached([10.0, None, 30.0]) == 30.0  # the seed that never got there counts as last
    assert stats.median_reached([10.0, 20.0, None, None]) is None  # half never reached it: no median
    assert stats.median_reached([10.0, 20.0, 40.0, None]) == 30.0
    assert stats.threshold_for("CartPole-v1") == 475 and stats.threshold_for("CartPole-v0") == 195
    assert stats.threshold_for("Pendulum-v1") == -200
    assert stats.threshold_for("Pendulum-v1", {"Pendulum-v1": -150}) == -150
    assert stats.threshold_for("CartPole-v1", {"*": 400}) == 400
    assert stats.threshold_for("not-an-env-v0") is None


def _fake_run(run_dir, seed, final, evals, step_time=0.01):
    """A finished run directory with the files the report reads: evaluations every 100 steps, one metrics row
    every 50 steps at ``step_time`` seconds per step."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("algo: ddpg\n")
    steps = [100 * (i + 1) for i in range(len(evals))]
    with open(run_dir / "evaluations.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "eval_return_mean", "eval_return_std", "eval_return_min", "eval_return_max",
                         "eval_length_mean", "episodes"])
        for step, value in zip(steps, evals):
            writer.writerow([step, value, 0, value, value, 200, 2])
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "episode", "episode_return", "time_s"])
        for i, step in enumerate(range(50, steps[-1] + 1, 50)):
            writer.writerow([step, i + 1, -500, step * step_time])
    (run_dir / "eval.json").write_text(json.dumps({"mean": final, "std": 0.0, "episodes": 2, "returns": [final] * 2}))
    (run_dir / "summary.json").write_text(json.dumps({
        "algo": "ddpg", "env": "Pendulum-v1", "seed": seed, "steps": steps[-1], "wall_time_s": steps[-1] * step_time,
        "learning_phase_steps_per_s": 1 / step_time, "final_eval": {"mean": final}, "best_eval_mean": max(evals),
        "versions": {"offpolicy": "0.1.0", "jax": "x"}}))


def test_report_of_a_fabricated_sweep(tmp_path):
    spec = make_spec("ddpg-pendulum", seeds=4, grid=parse_grid(["tau=0.005,0.01"]), overrides={"total_steps": 300})
    save_spec(spec, tmp_path)
    finals = {"tau=0.005": [-150.0, -140.0, -130.0, -800.0], "tau=0.01": [-400.0, -300.0, -200.0, -100.0]}
    for trial in spec.trials():
        final = finals[trial.slug][trial.seed]
        if trial.slug == "tau=0.01" and trial.seed == 3:
            trial.run_dir(tmp_path).mkdir(parents=True)
            (trial.run_dir(tmp_path) / "error.txt").write_text("RuntimeError: boom\n")
            continue
        # tau=0.005: seeds 0-2 reach -200 at step 200 (wall time 2 s), seed 3 never; tau=0.01: only seed 2, at 300.
        evals = [-900.0, final if final > -200 else -250.0, final]
        _fake_run(trial.run_dir(tmp_path), trial.seed, final, evals)
    text = write_report(tmp_path).read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    # Ranked by IQM: tau=0.005 IQM = mean(-150, -140) = -145 (mean -305); tau=0.01 (3 seeds): IQM = mean = -300.
    assert rows[0].startswith("| 1 | `tau=0.005` | 4 | **-145.0** [")
    assert "-305.0 [" in rows[0] and "3/4 ≥ -200 | 200 | 2 s |" in rows[0]
    assert rows[1].startswith("| 2 | `tau=0.01` | 3 (+1 unfinished) | -300.0 [")  # only the best row is bold
    assert "1/3 ≥ -200 | — | — |" in rows[1]  # fewer than half: no median
    assert "- `tau=0.01/s3`: RuntimeError: boom" in text
    assert (tmp_path / "report" / "curves.png").is_file() and (tmp_path / "report" / "finals.png").is_file()
    low, high = stats.bootstrap_ci(np.array(finals["tau=0.005"]), stats.iqm)
    assert f"**-145.0** [{low:,.1f}, {high:,.1f}]" in text


def test_a_page_over_several_envs_bolds_the_best_final_iqm_of_each_env():
    # offpolicy compare over HalfCheetah and Hopper rows: returns of different envs are not on one scale.
    from types import SimpleNamespace

    from offpolicy.sweep.report import table

    def analysis(label, env, iqm):
        group = SimpleNamespace(label=label, env=env, missing=[], runs=[None] * 3)
        finals = {"n": 3, "iqm": iqm, "iqm_ci": (math.nan, math.nan), "mean": iqm, "mean_ci": (math.nan, math.nan)}
        return SimpleNamespace(group=group, finals=finals, threshold=None, median_wall=None, median_sps=None)

    rows = table([analysis("td3-halfcheetah", "HalfCheetah-v5", 5000.0), analysis("sac-halfcheetah", "HalfCheetah-v5", 6000.0),
                  analysis("td3-hopper", "Hopper-v5", 3000.0), analysis("sac-hopper", "Hopper-v5", 2000.0)], ranked=False)
    bold = [row.split(" | ")[0].strip("| `") for row in rows[2:] if "**" in row]
    assert bold == ["sac-halfcheetah", "td3-hopper"]
