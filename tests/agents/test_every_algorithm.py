"""The contract every registered algorithm keeps, parametrised over the registry: a new algorithm gets these tests
by being registered. Train on the host and the compiled loop through the CLI, evaluate, save/load through the Python
API and a Policy, and resume a killed run bit-identically.

Budgets are tiny (a few hundred steps, 16-unit networks): these check the plumbing, not learning (tests/integration
has the learning tests)."""

import json

import numpy as np
import pytest
from run_files import resumed_equals_uninterrupted
from tiny_runs import TINY

from offpolicy import MODEL_CLASSES, Policy, registry
from offpolicy.cli import main
from offpolicy.config import make_config

ALGOS = registry.names()


def _set(overrides):
    return ["--set", *(f"{k}={json.dumps(v)}" for k, v in overrides.items())]


@pytest.fixture(scope="module", params=ALGOS)
def algo(request):
    return request.param


@pytest.mark.parametrize("loop", ["host", "compiled"])
def test_cli_trains_and_evaluates_on_both_loops(algo, loop, tmp_path):
    preset = registry.get(algo).default_preset
    run = tmp_path / "run"
    assert main(["train", preset, "--loop", loop, "--no-progress", "--no-video", "--run-dir", str(run),
                 *_set(TINY)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["algo"], summary["loop"], summary["steps"], summary["updates"]) == (algo, loop, 300, 201)
    assert [line.split(",")[0] for line in (run / "evaluations.csv").read_text().splitlines()[1:]] == ["200", "300"]
    # `offpolicy eval` loads the final policy without a trainer and replays the run's own final evaluation
    out = tmp_path / "eval.json"
    assert main(["eval", str(run), "--episodes", "2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["returns"] == json.loads((run / "eval.json").read_text())["returns"]


def test_save_load_and_policy_act_as_the_trained_model(algo, tmp_path):
    entry = registry.get(algo)
    model = MODEL_CLASSES[entry.api_class](seed=1, progress=False, **TINY)
    assert model.config.env == make_config(entry.default_preset).env  # the registry's default preset
    model.learn(300)
    obs = np.random.default_rng(0).normal(size=(64, *model._trainer.spec.obs_shape)).astype(np.float32)
    path = model.save(tmp_path / "ckpt")
    loaded = type(model).load(path, progress=False)
    policy = Policy.load(path)
    action, state = model.predict(obs, deterministic=True)  # SB3's (action, state) tuple
    assert state is None
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], action)
    np.testing.assert_array_equal(policy.predict(obs), action)
    assert loaded._trainer_ is None  # predicting built no env, loop or buffer
    assert loaded.evaluate(2)["returns"] == model.evaluate(2)["returns"]
    action = policy.predict(obs[0])
    if entry.action_kind == "continuous":
        low, high = policy.action_bounds
        assert action.shape == (model._trainer.spec.action_dim,) and np.all((low <= action) & (action <= high))
    else:
        assert action.shape == () and 0 <= int(action) < model._trainer.spec.n_actions


def test_a_resumed_run_equals_an_uninterrupted_one(algo, tmp_path):
    resumed_equals_uninterrupted(registry.get(algo).default_preset, tmp_path)


def test_a_resumed_rainbow_run_with_four_envs_equals_an_uninterrupted_one(tmp_path):
    # The prioritized buffer's sum tree and largest priority are part of the training checkpoint. With 4 envs (one
    # test for both: each costs a Rainbow compile) the checkpoint finds the other envs in mid-episode (replayed on
    # resume: CartPole's episodes differ in length), and the 3-step windows and priorities use the interleaved buffer.
    resumed_equals_uninterrupted("rainbow-cartpole", tmp_path, n_envs=4, part_steps=352)


