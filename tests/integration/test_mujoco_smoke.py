"""The four MuJoCo presets (TD3 and SAC on HalfCheetah-v5 and Hopper-v5) load with their env, budget and rl-zoo
values; two of them, one per algorithm and env (td3-halfcheetah, sac-hopper), train end to end through the CLI for
2,000 steps: 1,000 random warm-up steps, then 1,001 updates, one noise-free evaluation episode at the end.

Two runs, not four, and shrunk (32-32 networks, batch 64, a 2,000-transition replay buffer) to keep the file under a
minute of CPU on 2 cores (measured with -n 0: 38-53 s wall, 50-53 s CPU; all four runs: 56 s wall, 77 s CPU), most
of it compilation. The presets' 1e6 buffer is left out because it makes every update step of the host loop ~20x
slower here (a cost that grows with the buffer's size). These check the plumbing on real MuJoCo envs (float64 observations, 1,000-step truncation, early termination),
not learning. Skipped without the extra (pip install "offpolicy[mujoco]"); CI installs it with ".[test]"."""

import csv
import json
import math

import pytest

pytest.importorskip("mujoco", reason='the MuJoCo presets need the extra: pip install "offpolicy[mujoco]"')

from offpolicy.cli import main  # noqa: E402
from offpolicy.config import make_config  # noqa: E402
from offpolicy.envs import make_env  # noqa: E402

# preset: (algo, env, obs_dim, action_dim, hidden sizes)
PRESETS = {
    "td3-halfcheetah": ("td3", "HalfCheetah-v5", 17, 6, (400, 300)),
    "td3-hopper": ("td3", "Hopper-v5", 11, 3, (400, 300)),
    "sac-halfcheetah": ("sac", "HalfCheetah-v5", 17, 6, (256, 256)),
    "sac-hopper": ("sac", "Hopper-v5", 11, 3, (256, 256)),
}
SMOKE = {"total_steps": 2000, "warmup_steps": 1000, "learning_starts": 1000, "hidden_sizes": [32, 32],
         "batch_size": 64, "buffer_size": 2000, "eval_every": 0, "eval_episodes": 1, "video": False, "plot": False}


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """MuJoCo appends its warnings to MUJOCO_LOG.TXT in the working directory: keep it out of the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_loads_with_its_env_budget_and_rl_zoo_values(preset):
    algo, env_id, obs_dim, action_dim, hidden = PRESETS[preset]
    cfg = make_config(preset)
    assert (cfg.algo, cfg.env, cfg.total_steps) == (algo, env_id, 1_000_000)
    assert (cfg.warmup_steps, cfg.learning_starts, cfg.truncation_as_terminal) == (10_000, 10_000, False)
    assert (cfg.eval_every, cfg.eval_episodes, cfg.video) == (25_000, 10, False)
    agent = cfg.agent
    assert (agent.buffer_size, agent.batch_size, agent.gamma, agent.tau) == (1_000_000, 256, 0.99, 0.005)
    assert agent.hidden_sizes == hidden
    if algo == "td3":  # rl-zoo learning_rate 1e-3, normal noise 0.1; SB3 TD3 defaults for the rest
        assert (agent.actor_lr, agent.critic_lr) == (1e-3, 1e-3)
        assert (agent.noise.kind, agent.noise.sigma) == ("gaussian", 0.1)
        assert (agent.policy_delay, agent.target_noise, agent.target_noise_clip) == (2, 0.2, 0.5)
    else:  # SB3 SAC defaults
        assert (agent.actor_lr, agent.critic_lr, agent.alpha_lr) == (3e-4, 3e-4, 3e-4)
        assert (agent.ent_coef, agent.init_ent_coef, agent.target_entropy) == ("auto", 1.0, "auto")
    env, spec = make_env(cfg.env, cfg.algo, cfg.env_kwargs)
    assert env.spec.max_episode_steps == 1000
    env.close()
    assert (spec.obs_shape, spec.action_dim) == ((obs_dim,), action_dim)


@pytest.mark.parametrize("preset", ["td3-halfcheetah", "sac-hopper"])
def test_preset_trains_2000_steps_with_finite_losses_and_an_evaluation(preset, tmp_path):
    algo, env_id = PRESETS[preset][:2]
    run = tmp_path / "run"
    overrides = [f"{k}={json.dumps(v)}" for k, v in SMOKE.items()]
    assert main(["train", preset, "--no-progress", "--run-dir", str(run), "--set", *overrides]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["algo"], summary["env"], summary["steps"], summary["updates"]) == (algo, env_id, 2000, 1001)
    assert summary["rejected_updates"] == 0 and summary["skipped_transitions"] == 0
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["episode_length"]) for r in rows) <= 2000 and int(rows[-1]["step"]) <= 2000
    losses = [float(r[k]) for r in rows for k in ("actor_loss", "critic_loss") if r[k] != ""]
    assert losses and all(math.isfinite(x) for x in losses)
    with open(run / "evaluations.csv", newline="") as f:
        evaluations = list(csv.DictReader(f))
    assert [(e["step"], e["episodes"]) for e in evaluations] == [("2000", "1")]
    assert math.isfinite(float(evaluations[0]["eval_return_mean"]))
    assert json.loads((run / "eval.json").read_text())["episodes"] == 1
