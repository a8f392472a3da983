"""`offpolicy export` on a really trained run (tiny budget) and `model.export` through the Python API."""

import builtins
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_setup import assert_same_actions, random_obs, run_onnx
from tiny_runs import TINY

import offpolicy
from offpolicy import MODEL_CLASSES, Policy, registry
from offpolicy.cli import main
from offpolicy.export import NumpyPolicy


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "run"
    preset = registry.get(registry.DEFAULT).default_preset
    assert main(["train", preset, "--no-progress", "--no-video", "--run-dir", str(path), "--set",
                 *(f"{k}={json.dumps(v)}" for k, v in TINY.items())]) == 0
    assert (path / "checkpoints" / "best").is_dir() and (path / "checkpoints" / "final").is_dir()
    return path


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def test_export_of_a_run_directory(run, capsys):
    assert main(["export", str(run)]) == 0
    path = run / "policy.npz"
    assert f"wrote {path}" in capsys.readouterr().out
    policy = Policy.load(run)
    obs = random_obs(policy)
    exported = NumpyPolicy.load(path)
    assert_same_actions(exported(obs), policy.predict(obs), policy.spec.discrete)
    assert exported.metadata["source"]["checkpoint"] == str(run / "checkpoints" / "final")
    assert exported.metadata["source"]["step"] == TINY["total_steps"]
    # refuses to overwrite it, one line, exit status 2; --force does
    before = path.read_bytes()
    assert main(["export", str(run)]) == 2
    assert "policy.npz exists; pass --force" in _error(capsys)
    assert main(["export", str(run), "--force"]) == 0 and path.read_bytes() == before  # same weights, same bytes


def test_export_of_the_best_checkpoint(run, tmp_path):
    out = tmp_path / "best.npz"
    assert main(["export", str(run), "--checkpoint", "best", "--out", str(out)]) == 0
    best, final = Policy.load(run, "best"), Policy.load(run)
    assert not np.array_equal(best.agent_state.actor["params"]["mlp"]["out"]["kernel"],
                              final.agent_state.actor["params"]["mlp"]["out"]["kernel"])  # really another policy
    obs = random_obs(best)
    assert_same_actions(NumpyPolicy.load(out)(obs), best.predict(obs), best.spec.discrete)
    assert main(["export", str(run), "--checkpoint", "best"]) == 0
    assert (run / "policy-best.npz").is_file()


def test_export_to_onnx(run, tmp_path):
    pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "p.onnx")]) == 0
    assert main(["export", str(run / "checkpoints" / "final"), "--out", str(tmp_path / "q.onnx")]) == 0  # by suffix
    policy = Policy.load(run)
    obs = random_obs(policy)
    for name in ("p.onnx", "q.onnx"):
        assert_same_actions(run_onnx(tmp_path / name, obs), policy.predict(obs), policy.spec.discrete)


def test_a_missing_onnx_extra_names_the_install_command(run, tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    out = tmp_path / "p.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 2
    assert _error(capsys) == 'offpolicy: error: ONNX export needs the onnx package: pip install "offpolicy[onnx]"'
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--checkpoint", "nope"], "checkpoints/nope not found; this run has checkpoints"),
    (["--format", "numpy", "--out", "x.onnx"], "a .onnx file name for format 'numpy'"),
])
def test_bad_export_requests_are_one_line_errors(run, args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(run), *args]) == 2
    assert message in _error(capsys)
    assert not list(tmp_path.iterdir())


def test_a_numpy_only_python_runs_the_exported_run(run, tmp_path):
    out = tmp_path / "policy.npz"
    assert main(["export", str(run), "--out", str(out)]) == 0
    obs = random_obs(Policy.load(run), n=8)
    script = ("import json, sys; from offpolicy.export import NumpyPolicy; "
              f"a = NumpyPolicy.load({str(out)!r})({obs.tolist()!r}); "
              "bad = {'jax', 'flax', 'gymnasium'} & {m.split('.')[0] for m in sys.modules}; "
              "print(json.dumps({'action': a.tolist(), 'bad': sorted(bad)}))")
    src = str(Path(offpolicy.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["bad"] == []
    np.testing.assert_array_equal(np.asarray(got["action"], np.float32), NumpyPolicy.load(out)(obs))


def test_model_export_through_the_python_api(run, tmp_path):
    model = MODEL_CLASSES[registry.get(registry.DEFAULT).api_class].load(run, progress=False)
    path = model.export(tmp_path / "m.npz")
    obs = random_obs(model.policy())
    assert_same_actions(NumpyPolicy.load(path)(obs), model.predict(obs, deterministic=True)[0],
                        model.policy().spec.discrete)
    with pytest.raises(offpolicy.OffpolicyError, match="exists; pass --force"):
        model.export(path)
    fresh = type(model)(seed=3, progress=False, hidden_sizes=[16, 16])  # a trainer's policy, not a checkpoint's
    path = fresh.export(tmp_path / "fresh.onnx" if _has_onnx() else tmp_path / "fresh.npz")
    got = run_onnx(path, obs) if path.suffix == ".onnx" else NumpyPolicy.load(path)(obs)
    assert_same_actions(got, fresh.predict(obs, deterministic=True)[0], model.policy().spec.discrete)


def _has_onnx() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
