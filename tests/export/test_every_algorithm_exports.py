"""Export contract, parametrised over the registry: every registered algorithm's noise-free policy, written as NumPy
and as ONNX, acts like the JAX Policy on 1,000 random observations (within 1e-5 continuous, exactly discrete).
A new algorithm gets these tests by being registered, and fails them until its agent module has policy_network."""

import gymnasium as gym
import numpy as np
import pytest
from export_setup import assert_same_actions, perturbed_policy, random_obs, run_onnx

from offpolicy import registry
from offpolicy.config import make_config, preset_names
from offpolicy.errors import OffpolicyError
from offpolicy.export import NumpyPolicy

# Every registered algorithm with its default preset, then the other presets (tutorial, epsilon-greedy ...) and the
# NoisyNet tutorial's way of evaluating (eval_noise: the checkpoint's noise sample folded into the weights).
CASES = [(registry.get(a).default_preset, {}) for a in registry.names()]
CASES += [(p, {}) for p in preset_names() if (p, {}) not in CASES]
CASES += [(p, {"eval_noise": True}) for p in preset_names() if make_config(p).algo == "dqn"
          and make_config(p).agent.exploration == "noisy" and not make_config(p).agent.eval_noise][:1]
# The dueling head (two streams merged into one plain MLP on export): with a shared layer and the mean weights, and
# without one (both streams read the observation) with eval_noise. The widths are ones whose perturbed policy picks
# every action somewhere (with 16-16, seed 0's perturbation makes one action win everywhere).
CASES += [("noisy-dqn-cartpole", {"dueling": True, "hidden_sizes": [32, 32]}),
          ("noisy-dqn-cartpole", {"dueling": True, "eval_noise": True, "hidden_sizes": [16]})]
# C51 (the "categorical_argmax" head: logits per action and atom, the atoms in the file): rainbow-cartpole above has
# it with the dueling streams; here without them and with a shared layer's noise folded in, and on [-10, 10].
CASES += [("rainbow-cartpole", {"dueling": False, "eval_noise": True, "v_min": -10.0, "v_max": 10.0})]
IDS = [p + "".join(f"-{k}" for k in o) for p, o in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def policy(request):
    preset, overrides = request.param
    if str(gym.spec(make_config(preset).env).entry_point).startswith("gymnasium.envs.mujoco"):
        pytest.importorskip("mujoco", reason=f'{preset} needs the extra: pip install "offpolicy[mujoco]"')
    return perturbed_policy(preset, overrides)


def test_every_algorithm_has_a_case():
    assert {make_config(p).algo for p, _ in CASES} == set(registry.names())


def test_numpy_export_acts_as_the_jax_policy(policy, tmp_path):
    obs = random_obs(policy)
    path = policy.export(tmp_path / "policy.npz")
    exported = NumpyPolicy.load(path)
    want = policy.predict(obs)
    assert_same_actions(exported(obs), want, policy.spec.discrete)
    # one observation at a time gives the same as the batch, with the single shape and dtype of Policy.predict
    for i in (0, 1, 2):
        single, ref = exported(obs[i]), policy.predict(obs[i])
        assert np.shape(single) == np.shape(ref) and np.asarray(single).dtype == np.asarray(ref).dtype
        assert_same_actions(np.asarray(single), np.asarray(ref), policy.spec.discrete)
    if not policy.spec.discrete:  # the actions reach far into the bounds: the rescaling is really tested
        low, high = policy.action_bounds
        assert np.all((want >= low) & (want <= high))
        assert np.ptp(want) > 0.5 * float(np.min(high - low))
    else:
        assert len(np.unique(want)) == policy.spec.n_actions  # every action is chosen somewhere
    meta = exported.metadata
    assert (meta["algo"], meta["env"], meta["obs_shape"]) == (policy.config.algo, policy.config.env,
                                                              list(policy.spec.obs_shape))


def test_onnx_export_acts_as_the_jax_policy(policy, tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    obs = random_obs(policy)
    path = policy.export(tmp_path / "policy.onnx")
    assert_same_actions(run_onnx(path, obs), policy.predict(obs), policy.spec.discrete)
    assert_same_actions(run_onnx(path, obs[:1]), policy.predict(obs[:1]), policy.spec.discrete)  # dynamic batch
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["algo"] == policy.config.algo and '"format": "offpolicy-policy"' in props["offpolicy"]


def test_an_algorithm_without_policy_network_is_refused(policy, monkeypatch, tmp_path):
    import importlib

    module = importlib.import_module(registry.get(policy.config.algo).agent_module)
    monkeypatch.delattr(module, "policy_network")
    with pytest.raises(OffpolicyError, match=f"algo '{policy.config.algo}' cannot be exported yet"):
        policy.export(tmp_path / "policy.npz")
    assert not (tmp_path / "policy.npz").exists()

