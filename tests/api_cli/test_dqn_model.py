"""DQN on the shared core: API, save/load, run directory outputs, CLI, config and env errors."""

import json

import numpy as np
import pytest
from tiny_runs import TINY as SHARED_TINY

from offpolicy import DDPG, DQN
from offpolicy.agents import dqn
from offpolicy.config import make_config
from offpolicy.errors import ConfigError, EnvError

# The contract tests' settings (tests/tiny_runs.py) on CartPole-v1, the DQN preset's env: their programs serve these.
TINY = {**SHARED_TINY, "eval_every": 0}


def test_save_load_gives_identical_greedy_actions_and_state(tmp_path):
    model = DQN("CartPole-v1", seed=1, progress=False, **TINY).learn()
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    path = model.save(tmp_path / "ckpt")
    loaded = DQN.load(path, progress=False)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    # the whole state, noise included, round-trips exactly: even the noisy (training) actions agree
    np.testing.assert_array_equal(model.predict(obs)[0], loaded.predict(obs)[0])
    assert model.evaluate(2)["returns"] == loaded.evaluate(2)["returns"]
    assert model.predict(obs[0])[0].shape == () and model.predict(obs)[0].dtype == np.int64


def test_predict_deterministic_uses_mu_and_is_repeatable():
    # seed 5: its initial network picks both actions on these observations, and its noise sample changes 22 of them
    model = DQN("CartPole-v1", seed=5, progress=False, **TINY)
    obs = np.random.default_rng(1).normal(size=(128, 4)).astype(np.float32)
    first, _ = model.predict(obs, deterministic=True)
    assert np.array_equal(first, model.predict(obs, deterministic=True)[0])
    assert first.shape == (128,) and set(np.unique(first)) == {0, 1}
    # the greedy action of the mean weights mu: the Q-network applied with no noise at all ...
    cfg, spec, state = model.config.agent, model._trainer.spec, model._trainer.state
    net = dqn.network(cfg, spec)
    np.testing.assert_array_equal(first, np.argmax(net.apply(state.params, obs, None), axis=-1))
    # ... which this check tells from the current noise sample: the noisy Q picks other actions for some of them
    noisy = np.argmax(net.apply(state.params, obs, state.online_noise), axis=-1)
    assert np.sum(noisy != first) >= 10


def test_run_directory_has_every_output_and_the_dqn_metrics(tmp_path):
    run = tmp_path / "run"
    DQN("CartPole-v1", seed=0, progress=False, **{**TINY, "eval_every": 150, "video": False, "plot": True}).learn(
        run_dir=run)
    for name in ("config.yaml", "metrics.csv", "evaluations.csv", "eval.json", "summary.json", "learning_curve.png",
                 "checkpoints/best/meta.json", "checkpoints/final/agent.safetensors"):
        assert (run / name).exists(), name
    assert any((run / "tb").iterdir())
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "q_mean", "sigma_mean"} <= set(header)
    assert json.loads((run / "eval.json").read_text())["episodes"] == 2
    assert DQN.load(run, progress=False).config.algo == "dqn"


def test_epsilon_variant_logs_epsilon_and_has_no_noise_arrays(tmp_path):
    model = DQN("CartPole-v1", seed=0, progress=False, exploration="epsilon", **TINY)
    assert model._trainer.agent.metric_names == ("loss", "q_mean", "epsilon")
    path = model.learn().save(tmp_path / "eps")
    meta = json.loads((path / "meta.json").read_text())
    assert not any("noise" in key for key in meta["arrays"])


def test_other_discrete_env_works():
    model = DQN("Acrobot-v1", seed=0, progress=False, **{**TINY, "total_steps": 120})
    model.learn()
    assert model._trainer.spec.n_actions == 3 and model.predict(np.zeros(6, np.float32))[0] in (0, 1, 2)


def test_box_env_given_to_dqn_names_the_fix():
    with pytest.raises(EnvError, match="needs a discrete action space.*--algo ddpg"):
        DQN("Pendulum-v1", progress=False)


def test_discrete_env_given_to_ddpg_names_the_fix():
    with pytest.raises(EnvError, match="discrete action space.*--algo dqn"):
        DDPG("CartPole-v1", progress=False)


def test_config_errors():
    with pytest.raises(ConfigError, match="exploration"):
        make_config("noisy-dqn-cartpole", {"exploration": "boltzmann"})
    with pytest.raises(ConfigError, match="target_update"):
        make_config("noisy-dqn-cartpole", {"target_update": 0})
    with pytest.raises(ConfigError, match="unknown key 'actor_lr' for algo dqn"):
        make_config("noisy-dqn-cartpole", {"actor_lr": 1e-3})
    cfg = make_config("noisy-dqn-cartpole-tutorial")
    assert (cfg.env, cfg.total_steps, cfg.agent.buffer_size, cfg.agent.batch_size, cfg.agent.target_update) == (
        "CartPole-v0", 20_000, 10_000, 128, 150)
    assert cfg.truncation_as_terminal and cfg.agent.bias_sigma_fan_out and cfg.learning_starts == 128
    assert make_config("dqn-cartpole-epsilon").agent.exploration == "epsilon"
    with pytest.raises(ConfigError, match="noise_resample"):
        make_config("noisy-dqn-cartpole", {"noise_resample": "episode"})


def test_rainbow_switches_train_save_and_load(tmp_path):
    # Double, dueling, 3-step returns, per-step noise, prioritized replay and C51 together on the host loop; the
    # dueling streams and the atoms round-trip through a checkpoint
    model = DQN("CartPole-v1", seed=1, progress=False, double=True, dueling=True, noise_resample="step", n_step=3,
                prioritized=True, distributional=True, v_min=0.0, v_max=100.0, **TINY).learn()
    state = model._trainer.agent_state()
    assert {"value_out", "advantage_out"} <= set(state.params["params"]) and int(state.updates) == 201
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    loaded = DQN.load(model.save(tmp_path / "ckpt"), progress=False)
    assert loaded.config.agent.double and loaded.config.agent.dueling and loaded.config.agent.noise_resample == "step"
    assert loaded.config.agent.n_step == 3 and model._trainer.loop.rejected_updates(0) == 0
    assert loaded.config.agent.prioritized and loaded.config.agent.distributional
    assert state.params["params"]["value_out"]["kernel_mu"].shape == (16, 51)  # C51: one logit per atom
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])


def test_cli_train_eval_plot(tmp_path, capsys):
    # offpolicy's main in this process: tests/api_cli/test_cli.py runs the commands in subprocesses, as typed
    from offpolicy.cli import main

    run = tmp_path / "cli-run"
    sets = [f"{k}={json.dumps(v)}" for k, v in {**TINY, "total_steps": 200, "eval_episodes": 1}.items()]
    assert main(["train", "--algo", "dqn", "--env", "CartPole-v1", "--run-dir", str(run), "--no-video",
                 "--no-progress", "--set", *sets]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert "dqn CartPole-v1" in capsys.readouterr().out
    assert not (run / "learning_curve.png").exists()  # plot: false (TINY): `offpolicy plot` draws it
    assert main(["plot", str(run)]) == 0 and (run / "learning_curve.png").exists()
    assert main(["train", "--algo", "dqn", "--env", "Pendulum-v1", "--no-progress"]) == 2
    assert "--algo ddpg" in capsys.readouterr().err
