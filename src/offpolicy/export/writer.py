"""Write a Policy's noise-free policy to one file: NumPy ``.npz`` or ONNX (the formats of docs/export.md).

The weights come from the agent module's ``policy_network(config, spec, state)`` (offpolicy.agents.policy_network):
a plain MLP plus an output head, exactly what ``act(..., explore=False)`` computes. This module needs JAX (it reads
an agent state); the file it writes does not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from offpolicy._version import __version__
from offpolicy.agents import policy_network
from offpolicy.errors import OffpolicyError
from offpolicy.export.numpy_policy import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_KEY,
    SUPPORT_KEY,
    bias_key,
    encode_metadata,
    kernel_key,
    validate,
)

FORMATS = {"numpy": ".npz", "onnx": ".onnx"}
"""Export format -> its file suffix."""


def policy_arrays(policy: Any, step: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of the policy file (``metadata`` included) for ``policy``, an ``offpolicy.policy.Policy``;
    ``step``: the training steps behind it when known (else read from its checkpoint's metadata)."""
    net = policy_network(policy.agent, policy.agent_state)
    spec, config = policy.spec, policy.config
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, (kernel, bias, activation) in enumerate(zip(net.kernels, net.biases, net.activations, strict=True)):
        kernel, bias = np.asarray(kernel, np.float32), np.asarray(bias, np.float32)
        arrays[kernel_key(i)], arrays[bias_key(i)] = kernel, bias
        layers.append({"kernel": kernel_key(i), "bias": bias_key(i), "in": int(kernel.shape[0]),
                       "out": int(kernel.shape[1]), "activation": activation})
    if net.support is not None:
        arrays[SUPPORT_KEY] = np.asarray(net.support, np.float32)
    if spec.discrete:
        action: dict[str, Any] = {"kind": "discrete", "n_actions": int(spec.n_actions)}
    else:
        low, high = (np.asarray(b, np.float32) for b in policy.action_bounds)
        arrays["action.low"], arrays["action.high"] = low, high
        action = {"kind": "continuous", "shape": [int(spec.action_dim)], "low": low.tolist(), "high": high.tolist()}
    meta_info = getattr(policy, "meta", None) or {}
    if step is None:
        step = meta_info.get("info", {}).get("step")
    checkpoint = getattr(policy, "path", None)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "offpolicy_version": __version__,
        "algo": config.algo,
        "env": config.env,
        "env_kwargs": config.env_kwargs,
        "obs_shape": [int(d) for d in spec.obs_shape],
        "obs_dtype": "float32",
        "action": action,
        "layers": layers,
        "head": net.head,
        "weights": net.weights,
        "source": {"checkpoint": None if checkpoint is None else str(checkpoint), "step": step,
                   "seed": config.seed},
    }
    try:
        arrays[METADATA_KEY] = encode_metadata(metadata)
    except (TypeError, ValueError) as exc:
        raise OffpolicyError(f"cannot export: the run's metadata is not JSON ({exc}); check env_kwargs.") from None
    validate(arrays, "the exported policy")  # the writer keeps the format it documents
    return arrays


def resolve_format(path: str | Path, format: str | None) -> str:  # noqa: A002 - mirrors --format
    """``format``, or the one ``path``'s suffix names (.onnx: onnx, else numpy); refuses a contradicting suffix."""
    suffix = Path(path).suffix.lower()
    by_suffix = {s: f for f, s in FORMATS.items()}.get(suffix)
    if format is None:
        return by_suffix or "numpy"
    if format not in FORMATS:
        raise OffpolicyError(f"format {format!r}: unknown; choose one of {', '.join(FORMATS)}.")
    if by_suffix is not None and by_suffix != format:
        raise OffpolicyError(f"{path}: a {suffix} file name for format {format!r}; use a {FORMATS[format]} name.")
    return format


def default_path(checkpoint: Path, format: str) -> Path:  # noqa: A002
    """Where ``offpolicy export`` writes without --out: beside the run directory's files (``RUN/policy.npz`` for
    checkpoints/final, ``RUN/policy-best.npz`` for checkpoints/best, ...), or, for a checkpoint directory outside a
    run directory, ``<checkpoint>-policy.npz`` beside it."""
    suffix = FORMATS[format]
    if checkpoint.parent.name == "checkpoints":
        name = "policy" if checkpoint.name == "final" else f"policy-{checkpoint.name}"
        return checkpoint.parent.parent / f"{name}{suffix}"
    return checkpoint.parent / f"{checkpoint.name}-policy{suffix}"


def export_policy(policy: Any, path: str | Path, format: str | None = None, force: bool = False,  # noqa: A002
                  step: int | None = None) -> Path:
    """Write ``policy`` (an ``offpolicy.policy.Policy``) to ``path`` in ``format`` ("numpy", "onnx", or None: from
    the suffix), refusing to replace an existing file unless ``force``. The file appears complete or not at all."""
    path = Path(path)
    format = resolve_format(path, format)  # noqa: A001
    if path.is_dir():
        raise OffpolicyError(f"{path} is a directory; name the file to write (e.g. {path / ('policy' + FORMATS[format])}).")
    if path.exists() and not force:
        raise OffpolicyError(f"{path} exists; pass --force (Python: force=True) to overwrite it.")
    if format == "onnx":
        from offpolicy.export.onnx_model import build_model

        model = build_model(policy_arrays(policy, step))  # the missing-extra error comes before any file is made
        data = model.SerializeToString()
        write = lambda f: f.write(data)  # noqa: E731
    else:
        arrays = policy_arrays(policy, step)
        write = lambda f: np.savez(f, **arrays)  # noqa: E731 - a file object: savez adds no ".npz" to the name
    if not path.parent.is_dir():
        raise OffpolicyError(f"{path.parent}: no such directory.")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OffpolicyError(f"cannot write {path}: {exc.strerror or exc}.") from None
    return path


def describe(path: Path) -> str:
    """One line about an exported file, for the CLI."""
    if path.suffix == ".onnx":
        return f"{path} ({path.stat().st_size:,} bytes, ONNX)"
    from offpolicy.export.numpy_policy import NumpyPolicy

    meta = NumpyPolicy.load(path).metadata
    return (f"{path} ({path.stat().st_size:,} bytes): {meta['algo']} on {meta['env']}, "
            f"{len(meta['layers'])} layers, head {meta['head']}; " + json.dumps(meta["source"]))
