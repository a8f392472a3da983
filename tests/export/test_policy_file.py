"""The exported file format, with NumPy alone: known values from hand-written weights, and tampered files refused
with a one-line error naming the problem."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import offpolicy
from offpolicy.export import FORMAT, FORMAT_VERSION, ExportFormatError, NumpyPolicy
from offpolicy.export.numpy_policy import encode_metadata


def hand_made(kind: str) -> dict[str, np.ndarray]:
    """obs [2] -> Dense(3) relu -> Dense(out): continuous out 2 in bounds [0, 10] x [-1, 3]; discrete 3 actions."""
    k0 = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -1.0]], np.float32)
    b0 = np.array([0.0, 1.0, -0.5], np.float32)
    out = 2 if kind == "continuous" else 3
    k1 = np.arange(3 * out, dtype=np.float32).reshape(3, out) / 10 - 0.3
    b1 = np.linspace(-0.2, 0.2, out, dtype=np.float32)
    arrays = {"layers.0.kernel": k0, "layers.0.bias": b0, "layers.1.kernel": k1, "layers.1.bias": b1}
    if kind == "continuous":
        low, high = np.array([0.0, -1.0], np.float32), np.array([10.0, 3.0], np.float32)
        arrays["action.low"], arrays["action.high"] = low, high
        action = {"kind": "continuous", "shape": [2], "low": low.tolist(), "high": high.tolist()}
    else:
        action = {"kind": "discrete", "n_actions": 3}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "offpolicy_version": offpolicy.__version__,
            "algo": "test", "env": "Test-v0", "obs_shape": [2], "action": action,
            "layers": [{"kernel": "layers.0.kernel", "bias": "layers.0.bias", "in": 2, "out": 3, "activation": "relu"},
                       {"kernel": "layers.1.kernel", "bias": "layers.1.bias", "in": 3, "out": out,
                        "activation": "identity"}],
            "head": "tanh_then_rescale" if kind == "continuous" else "argmax"}
    arrays["metadata"] = encode_metadata(meta)
    return arrays


def save(tmp_path: Path, arrays: dict, name: str = "policy.npz") -> Path:
    path = tmp_path / name
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def with_meta(arrays: dict, **changes) -> dict:
    meta = json.loads(arrays["metadata"].tobytes())
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    return {**arrays, "metadata": encode_metadata(meta)}


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_known_values(kind, tmp_path):
    pi = NumpyPolicy.load(save(tmp_path, hand_made(kind)))
    obs = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, 0.0]], np.float32)
    a = hand_made(kind)
    hidden = np.maximum(obs.astype(np.float64) @ a["layers.0.kernel"] + a["layers.0.bias"], 0)
    out = hidden @ a["layers.1.kernel"] + a["layers.1.bias"]
    if kind == "continuous":  # low + (tanh + 1) * (high - low) / 2
        want = np.array([0.0, -1.0]) + (np.tanh(out) + 1) * np.array([5.0, 2.0])
        np.testing.assert_allclose(pi(obs), want, rtol=0, atol=1e-5)
        assert pi(obs).dtype == np.float32 and pi(obs[0]).shape == (2,)
    else:
        np.testing.assert_array_equal(pi(obs), np.argmax(out, axis=-1))
        assert pi(obs).dtype == np.int64 and pi(obs[0]).shape == ()
    with pytest.raises(ValueError, match=r"obs has shape \(3,\); expected \(2,\)"):
        pi(np.zeros(3))


def test_continuous_actions_stay_in_bounds(tmp_path):
    pi = NumpyPolicy.load(save(tmp_path, hand_made("continuous")))
    action = pi(np.random.default_rng(0).normal(0, 100, (500, 2)))
    assert np.all(action >= pi.low) and np.all(action <= pi.high)


def _transposed(arrays):
    return {**arrays, "layers.1.kernel": arrays["layers.1.kernel"].T.copy()}


TAMPERED = {
    "unknown format version": (lambda a: with_meta(a, format_version=2),
                               r"policy format version 2; this offpolicy reads version 1 \(upgrade offpolicy"),
    "format version not a number": (lambda a: with_meta(a, format_version="1"), "policy format version '1'"),
    "other format": (lambda a: with_meta(a, format="something-else"), "not an offpolicy policy file"),
    "metadata key missing": (lambda a: with_meta(a, head=None), "metadata lacks head"),
    "metadata array missing": (lambda a: {k: v for k, v in a.items() if k != "metadata"}, "no 'metadata' array"),
    "metadata not JSON": (lambda a: {**a, "metadata": np.frombuffer(b"{not json", np.uint8)}, "not valid UTF-8 JSON"),
    "array missing": (lambda a: {k: v for k, v in a.items() if k != "layers.1.bias"}, "array layers.1.bias is missing"),
    "transposed kernel": (_transposed, r"array layers.1.kernel has shape \(2, 3\); its input size must be 3"),
    "wrong bias shape": (lambda a: {**a, "layers.0.bias": np.zeros(4, np.float32)},
                         r"array layers.0.bias has shape \(4,\); expected \(3,\)"),
    "float64 weights": (lambda a: {**a, "layers.0.kernel": a["layers.0.kernel"].astype(np.float64)},
                        "layers.0.kernel is float64 with 2 dims; expected float32"),
    "NaN weight": (lambda a: {**a, "layers.0.bias": np.array([0, np.nan, 0], np.float32)}, "holds NaN or inf"),
    "unknown activation": (lambda a: with_meta(a, layers=[{**json.loads(a["metadata"].tobytes())["layers"][0],
                                                           "activation": "gelu"},
                                                          json.loads(a["metadata"].tobytes())["layers"][1]]),
                           "layer 0: unknown activation 'gelu'"),
    "unknown head": (lambda a: with_meta(a, head="softmax"), "unknown head 'softmax'"),
    "obs shape mismatch": (lambda a: with_meta(a, obs_shape=[5]), r"input size must be 5 \(obs_dim\)"),
    "action size mismatch": (lambda a: with_meta(a, action={**json.loads(a["metadata"].tobytes())["action"],
                                                            "shape": [3]}), "the last layer has 2 outputs"),
    "bounds differ from metadata": (lambda a: {**a, "action.high": np.array([10.0, 4.0], np.float32)},
                                    "metadata action.high .* does not match array action.high"),
    "bounds missing": (lambda a: {k: v for k, v in a.items() if k != "action.low"}, "array action.low is missing"),
    "extra array": (lambda a: {**a, "layers.2.kernel": np.zeros((2, 2), np.float32)},
                    r"unexpected arrays \['layers.2.kernel'\]"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_files_are_refused(case, tmp_path):
    tamper, message = TAMPERED[case]
    path = save(tmp_path, tamper(hand_made("continuous")))
    with pytest.raises(ExportFormatError, match=message) as info:
        NumpyPolicy.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_discrete_file_with_a_continuous_head_is_refused(tmp_path):
    path = save(tmp_path, with_meta(hand_made("discrete"), head="tanh_then_rescale"))
    with pytest.raises(ExportFormatError, match="action kind 'discrete' does not fit head 'tanh_then_rescale'"):
        NumpyPolicy.load(path)


def test_unreadable_files_are_refused(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ExportFormatError, match="not a readable .npz policy file"):
        NumpyPolicy.load(tmp_path / "text.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ExportFormatError, match="not a readable .npz policy file"):
        NumpyPolicy.load(tmp_path / "plain.npy")
    with pytest.raises(ExportFormatError, match="no such file"):
        NumpyPolicy.load(tmp_path / "missing.npz")
    pickled = {**hand_made("discrete"), "layers.0.bias": np.array([0.0, 1.0, None], dtype=object)}
    with pytest.raises(ExportFormatError, match="not a readable .npz policy file"):  # object arrays need pickle
        NumpyPolicy.load(save(tmp_path, pickled, "pickled.npz"))


def test_importing_offpolicy_export_needs_numpy_only(tmp_path):
    """In a fresh Python where every import outside the standard library, NumPy and offpolicy fails (a Python with
    only NumPy installed), offpolicy.export loads and runs a policy file; JAX, Flax and Gymnasium are never loaded."""
    path = save(tmp_path, hand_made("continuous"))
    obs = np.array([[1.0, 2.0], [-3.0, 0.5]], np.float32)
    script = f"""
import importlib.abc, json, sys

ALLOWED = set(sys.stdlib_module_names) | {{"numpy", "offpolicy"}}

class OnlyNumpy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in ALLOWED:
            raise ImportError(f"{{name}} is not installed in this test (NumPy-only Python)")
        return None

sys.meta_path.insert(0, OnlyNumpy())
try:
    import yaml  # noqa: F401 - the blocker works
    raise SystemExit("yaml imported: the NumPy-only blocker does not work")
except ImportError:
    pass
from offpolicy.export import NumpyPolicy

pi = NumpyPolicy.load({str(path)!r})
action = pi({obs.tolist()!r})
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"jax", "jaxlib", "flax", "optax", "gymnasium", "yaml"}})
print(json.dumps({{"action": action.tolist(), "loaded": loaded}}))
"""
    src = str(Path(offpolicy.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["loaded"] == []
    np.testing.assert_array_equal(np.asarray(out["action"], np.float32), NumpyPolicy.load(path)(obs))
