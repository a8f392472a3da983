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


def test_dqn_update_flops_count_double_dueling_and_c51_as_the_network_is_built():
    # rainbow-cartpole's network (4 inputs, 2 actions, 128-128) on 32 rows. Dueling: trunk 4x128, then per stream
    # its own 128x128 hidden layer and an output (value 51, advantage 2 x 51 with C51's 51 atoms)
    f_q = 2 * 32 * (4 * 128 + 128 * 128 + 128 * 51 + 128 * 128 + 128 * 2 * 51)
    assert compare.update_mflop("dqn", 4, 2, [128, 128], 32, double=True, dueling=True, n_atoms=51) == \
        pytest.approx(5 * f_q / 1e6)  # Double DQN: the online network's forward on s' besides the target's
    plain_c51 = 2 * 32 * (4 * 128 + 128 * 128 + 128 * 2 * 51)
    assert compare.update_mflop("dqn", 4, 2, [128, 128], 32, n_atoms=51) == pytest.approx(4 * plain_c51 / 1e6)


def test_td3_and_sac_update_flops_count_twin_critics_the_delay_and_the_policy_head():
    f = compare.mlp_forward_flops
    actor, critic = f(256, [3, 400, 300, 1]), f(256, [4, 400, 300, 1])
    # TD3: target actor + 2 target critics + 2 critics fwd/bwd every update; actor + critic 1 fwd/bwd every 2nd
    assert compare.update_mflop("td3", 3, 1, [400, 300], 256, policy_delay=2) == pytest.approx(
        (actor + 2 * critic + 2 * 3 * critic + (3 * actor + 3 * critic) / 2) / 1e6)
    assert compare.update_mflop("td3", 3, 1, [400, 300], 256, policy_delay=1) > compare.update_mflop(
        "td3", 3, 1, [400, 300], 256, policy_delay=2)
    # SAC: the policy outputs mean and log-std (2 x 6 for HalfCheetah); both critics in the actor step
    policy, critic = f(256, [17, 256, 256, 12]), f(256, [23, 256, 256, 1])
    assert compare.update_mflop("sac", 17, 6, [256, 256], 256) == pytest.approx((4 * policy + 14 * critic) / 1e6)
    hp = {"algo": "sac", "obs_dim": 17, "action_dim": 6, "n_actions": None, "hidden_sizes": [256, 256],
          "batch_size": 256}
    assert compare.bench_mflop(hp) == compare.update_mflop("sac", 17, 6, [256, 256], 256)
    with pytest.raises(ValueError, match="no FLOP count"):
        compare.update_mflop("ppo", 3, 1, [64], 64)


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
    assert names("dqn") == [("offpolicy", "host"), ("offpolicy", "compiled"), ("offpolicy-eps", "host"),
                            ("offpolicy-eps", "compiled"), ("offpolicy-vmap", "host"), ("offpolicy-vmap", "compiled"),
                            ("sb3", "host"), ("rejax", "compiled")]
    p1 = dict(compare.plan(["dqn"], [], ["host"], epsilon=False, vmap_seeds=1))
    assert [(s["system"], s["loop"]) for s in p1["dqn"]] == [("offpolicy", "host")]
    # TD3/SAC: no ε-greedy or vmapped rows; HalfCheetah: host loop only and no rejax (no MuJoCo port of either)
    p = dict(compare.plan(["td3", "sac-halfcheetah"], ["sb3", "sbx", "rejax"], ["host", "compiled"], epsilon=True,
                          vmap_seeds=8))
    assert names("td3") == [("offpolicy", "host"), ("offpolicy", "compiled"), ("sb3", "host"), ("sbx", "host"),
                            ("rejax", "compiled")]
    assert names("sac-halfcheetah") == [("offpolicy", "host"), ("sb3", "host"), ("sbx", "host")]


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
    assert (ddpg["algo"], ddpg["bench"], ddpg["obs_dim"], ddpg["action_dim"]) == ("ddpg", "ddpg", 3, 1)


def test_td3_and_sac_hyperparameters_come_from_their_presets():
    td3 = compare.hyperparameters("td3", 0)
    assert (td3["algo"], td3["preset"], td3["total_steps"], td3["learning_starts"]) == ("td3", "td3-pendulum", 20_000,
                                                                                        10_000)
    assert (td3["policy_delay"], td3["target_noise"], td3["target_noise_clip"], td3["noise"]["sigma"]) == (2, 0.2, 0.5,
                                                                                                           0.1)
    assert (td3["hidden_sizes"], td3["batch_size"], td3["gamma"]) == ([400, 300], 256, 0.98)
    sac = compare.hyperparameters("sac", 0)
    assert (sac["warmup_steps"], sac["learning_starts"], sac["ent_coef"], sac["init_ent_coef"]) == (100, 256, "auto", 1.0)
    assert (sac["actor_lr"], sac["critic_lr"], sac["alpha_lr"], sac["log_std_min"], sac["log_std_max"]) == (
        1e-3, 1e-3, 1e-3, -20.0, 2.0)
    assert "epsilon" not in td3 and "epsilon" not in sac


def test_every_benchmark_names_a_preset_of_its_algorithm_and_a_title():
    from offpolicy.config import load_preset_dict

    for bench, spec in compare.ALGOS.items():
        preset = load_preset_dict(spec["preset"])
        assert preset["algo"] == spec["algo"] and preset["env"] == spec["env"], bench
        assert spec["title"].startswith(spec["algo"].upper()), bench
        assert set(spec.get("loops", compare.LOOPS)) <= set(compare.LOOPS)
        assert set(spec.get("peers", compare.PEERS)) <= set(compare.PEERS)


def test_peer_pins_are_parsed_from_requirements():
    pins = setup_peers.pins()
    assert pins["stable-baselines3"] == "2.9.2" and pins["sbx-rl"] == "0.28.0" and pins["rejax"] == "0.1.3"
    assert pins["gymnasium"] == "1.3.0"  # extras stripped
    assert "six" not in pins  # unpinned lines are not checked


def test_missing_venv_reports_every_pin_missing(tmp_path):
    assert setup_peers.installed_versions(["rejax"], tmp_path / "nope") == {}
    missing = setup_peers.missing_pins(tmp_path / "nope")
    assert set(missing) == set(setup_peers.pins())
