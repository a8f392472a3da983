"""benchmarks/compare.py's bookkeeping on fixed fake rows: medians, ratios, targets, tables. No peer, no timing."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


compare = load("bench_compare", BENCH / "compare.py")
setup_peers = load("bench_setup_peers", BENCH / "peers" / "setup_peers.py")

FLOORS = {"ddpg": 0.5, "dqn": 0.2}


def row(system, algo, seed, sps, loop="host", eval_mean=-150.0, status="ok", **extra):
    r = {"system": system, "algo": algo, "seed": seed, "loop": loop, "status": status, "env": "E", "steps": 100,
         "learning_starts": 10, "exploration": "epsilon-greedy" if system in ("sb3", "sbx", "rejax") else "noisynet",
         "version": "1.0", "learn_steps_per_s": sps, "eval_mean": eval_mean, "eval_std": 1.0, "startup_s": 2.0,
         "wall_time_s": 60.0, "threads": {"affinity": 2, "env": {}}, **extra}
    return compare.add_derived(r, FLOORS)


@pytest.fixture
def rows():
    return [
        row("offpolicy", "dqn", 0, 900.0, eval_mean=300.0),
        row("offpolicy", "dqn", 1, 1000.0, eval_mean=400.0),
        row("offpolicy", "dqn", 2, 1300.0, eval_mean=500.0),
        row("offpolicy", "dqn", 0, 2000.0, loop="compiled", startup_s=4.0),
        row("offpolicy", "dqn", 1, 2400.0, loop="compiled", startup_s=6.0),
        row("sb3", "dqn", 0, 300.0),
        row("sb3", "dqn", 1, 250.0),
        row("sb3", "dqn", 2, None, status="failed: exit 1: boom", eval_mean=None),
        row("sbx", "dqn", 0, 500.0),
        row("rejax", "dqn", 0, 1600.0, loop="compiled"),
        row("offpolicy-vmap", "dqn", 0, 2500.0, n_seeds=8),
        {"system": "offpolicy-vmap", "algo": "dqn", "seed": 0, "loop": "compiled",
         "status": "not available: vmapped seeds: ImportError: x", "label": "offpolicy vmapped (? seeds)"},
    ]


def test_update_flops_match_the_ddpg_step_constant_and_count_dqn_alike():
    assert compare.update_mflop("ddpg", 3, 1, [128, 128], 128) == pytest.approx(47.8, abs=0.05)
    # DQN: target forward + online forward/backward = 4 forwards of a 4-128-128-2 MLP on 128 rows
    assert compare.update_mflop("dqn", 4, 2, [128, 128], 128) == pytest.approx(4 * 2 * 128 * 17152 / 1e6)
    assert compare.mlp_forward_flops(2, [3, 5, 1]) == 2 * 2 * (15 + 5)


def test_add_derived_gives_ms_per_step_and_floor_multiple():
    r = row("offpolicy", "ddpg", 0, 1000.0)
    assert r["ms_per_learn_step"] == pytest.approx(1.0)
    assert r["x_floor"] == pytest.approx(2.0)
    failed = row("sb3", "ddpg", 0, None, status="failed: x")
    assert "ms_per_learn_step" not in failed
    assert failed["label"] == "SB3 (PyTorch)"


def test_summarize_takes_medians_over_successful_seeds(rows):
    s = compare.summarize(rows)
    ours = s["dqn", "offpolicy", "host"]
    assert ours["n"] == 3 and ours["seeds"] == [0, 1, 2]
    assert ours["learn_steps_per_s"] == 1000.0
    assert (ours["sps_min"], ours["sps_max"]) == (900.0, 1300.0)
    assert ours["eval_mean"] == pytest.approx(400.0)
    assert ours["eval_std"] == pytest.approx((2 * 100.0**2 / 3) ** 0.5)  # population std over seeds
    sb3 = s["dqn", "sb3", "host"]
    assert sb3["n"] == 2 and sb3["learn_steps_per_s"] == 275.0
    assert sb3["failed"] == ["failed: exit 1: boom"]
    assert s["dqn", "offpolicy", "compiled"]["startup_s"] == 5.0
    vmap = s["dqn", "offpolicy-vmap", "compiled"]
    assert vmap["n"] == 0 and vmap["learn_steps_per_s"] is None and vmap["failed"][0].startswith("not available")


def test_ratios_divide_offpolicy_medians_by_each_system(rows):
    r = compare.ratios(compare.summarize(rows), "dqn")
    assert set(r) == {"host", "compiled"}
    assert r["host"]["sb3", "host"] == pytest.approx(1000 / 275)
    assert r["host"]["sbx", "host"] == pytest.approx(2.0)
    assert r["compiled"]["rejax", "compiled"] == pytest.approx(2200 / 1600)
    assert r["host"]["offpolicy", "compiled"] == pytest.approx(1000 / 2200)
    assert ("offpolicy", "host") not in r["host"]
    assert r["host"]["offpolicy-vmap", "compiled"] is None  # nothing measured: no ratio
    assert compare.ratios(compare.summarize(rows), "ddpg") == {}


def test_targets_report_met_not_met_and_not_measured(rows):
    verdicts = {t["target"]: t for t in compare.check_targets(compare.summarize(rows))}
    sb3 = verdicts["NoisyNet-DQN host loop ≥ 3× SB3 steps/s"]
    assert sb3["verdict"] == "met" and sb3["value"] == pytest.approx(1000 / 275)
    assert verdicts["NoisyNet-DQN host loop ≥ 3× SBX steps/s"]["verdict"] == "not met"
    assert verdicts["NoisyNet-DQN compiled loop ≥ 1.2× rejax DQN steps/s"]["verdict"] == "met"
    assert verdicts["NoisyNet-DQN compiled loop start-up (import + compile) ≤ 5 s"]["verdict"] == "met"
    assert verdicts["DDPG host loop ≥ 4× SB3 steps/s"]["verdict"] == "not measured"
    host_vmap = verdicts["NoisyNet-DQN: vmapped seeds ≥ 3× the throughput of as many sequential host-loop runs"]
    assert host_vmap["verdict"] == "not met" and host_vmap["value"] == pytest.approx(2.5)
    assert verdicts["NoisyNet-DQN: vmapped seeds ≥ 3× the throughput of as many sequential compiled-loop runs"][
        "verdict"] == "not measured"


def test_markdown_has_the_tables_ratios_notes_and_failures(rows):
    meta = {"command": "python benchmarks/compare.py --quick", "date": "2026-01-01", "commit": "abc", "dirty": True,
            "cpu": "AMD EPYC", "cpus": 2, "seeds": [0, 1, 2], "quick": True, "budgets": "DQN 100 steps",
            "versions": {"offpolicy": "0.1.0", "stable-baselines3": "2.9.2"}, "threads": compare.thread_summary(rows),
            "gflops": {"start": 70.0, "end": 68.0, "used": 70.0}, "mflop": {"dqn": 17.6}, "floors_ms": {"dqn": 0.25}}
    text = compare.render_markdown(rows, meta)
    assert "## DQN, CartPole-v1" in text and "## DDPG" not in text
    assert "**dirty**" in text and "quick mode" in text
    assert "offpolicy host ÷ this" in text and "offpolicy compiled ÷ this" in text
    assert "3.64×" in text  # offpolicy host / SB3 = 1000 / 275
    assert "ε-greedy" in text and "NoisyNet" in text
    assert "boom" in text and "not available" in text
    assert "17.6 MFLOP = 0.250 ms" in text
    assert "| NoisyNet-DQN host loop ≥ 3× SBX steps/s | 2.00× | not met |" in text


def test_csv_has_one_row_per_run_with_run_facts(rows, tmp_path):
    path = tmp_path / "compare.csv"
    compare.write_csv(rows, path, {"date": "d", "commit": "abc", "dirty": False})
    with open(path) as f:
        read = list(csv.DictReader(f))
    assert len(read) == len(rows)
    assert list(read[0]) == compare.CSV_FIELDS
    assert read[0]["commit"] == "abc" and read[0]["system"] == "offpolicy"
    assert json.loads(read[0]["threads"]) == {"affinity": 2, "env": {}}
    assert read[7]["status"].startswith("failed")
    assert read[10]["label"] == "offpolicy vmapped (host, 8 seeds)"


def test_plan_orders_systems_and_adds_epsilon_only_for_dqn():
    p = dict(compare.plan(["ddpg", "dqn"], ["sb3", "rejax"], ["host", "compiled"], epsilon=True, vmap_seeds=8))
    names = lambda algo: [(s["system"], s["loop"]) for s in p[algo]]  # noqa: E731
    assert names("ddpg") == [("offpolicy", "host"), ("offpolicy", "compiled"), ("offpolicy-vmap", "host"),
                             ("offpolicy-vmap", "compiled"), ("sb3", "host"), ("rejax", "compiled")]
    assert ("offpolicy-eps", "host") in names("dqn")
    p = dict(compare.plan(["dqn"], [], ["host"], epsilon=False, vmap_seeds=1))
    assert [(s["system"], s["loop"]) for s in p["dqn"]] == [("offpolicy", "host")]


def test_hyperparameters_come_from_the_presets():
    from offpolicy.envs import EpisodeSeeds

    dqn = compare.hyperparameters("dqn", 3)
    assert (dqn["total_steps"], dqn["learning_starts"], dqn["buffer_size"], dqn["target_update"]) == (20_000, 1000,
                                                                                                       10_000, 150)
    assert dqn["epsilon"] == {"start": 1.0, "end": 0.05, "decay_steps": 10_000}
    assert dqn["eval_seeds"] == EpisodeSeeds(3, EpisodeSeeds.FINAL).take(10)  # the final evaluation's
    ddpg = compare.hyperparameters("ddpg", 0, quick=True)
    assert (ddpg["total_steps"], ddpg["learning_starts"], ddpg["warmup_steps"]) == (3000, 1000, 1000)
    assert (ddpg["actor_lr"], ddpg["critic_lr"], ddpg["tau"], ddpg["noise"]["theta"]) == (3e-4, 1e-3, 5e-3, 1.0)


def test_peer_pins_are_parsed_from_requirements():
    pins = setup_peers.pins()
    assert pins["stable-baselines3"] == "2.9.2" and pins["sbx-rl"] == "0.28.0" and pins["rejax"] == "0.1.3"
    assert pins["gymnasium"] == "1.3.0"  # extras stripped
    assert "six" not in pins  # unpinned lines are not checked


def test_missing_venv_reports_every_pin_missing(tmp_path):
    assert setup_peers.installed_versions(["rejax"], tmp_path / "nope") == {}
    missing = setup_peers.missing_pins(tmp_path / "nope")
    assert set(missing) == set(setup_peers.pins())
