"""Checkpoints: the agent-state pytree as safetensors + JSON metadata. Loading never executes code.

A checkpoint is a directory holding
  agent.safetensors   every array leaf of the state, keyed by its pytree path (e.g. ``.actor['params']...``)
  meta.json           format name and version, algorithm, the full config, env spec, step counters
It is written to a temporary sibling directory and renamed into place, so a crash never leaves a half-written one.
On load, the metadata is validated field by field, the config goes through the normal config validation, and every
array must match the shape and dtype of a freshly initialised state for that config: nothing else is accepted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
import safetensors.numpy

from offpolicy._version import __version__
from offpolicy.agents.base import EnvSpec
from offpolicy.config import RunConfig, from_dict, to_dict
from offpolicy.errors import CheckpointError, ConfigError

FORMAT = "offpolicy-checkpoint"
FORMAT_VERSION = 1
ARRAYS_FILE = "agent.safetensors"
META_FILE = "meta.json"


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _flatten(state: Any) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return {
        jax.tree_util.keystr(path): np.asarray(jax.device_get(jax.random.key_data(leaf) if _is_key(leaf) else leaf))
        for path, leaf in leaves
    }


def save(path: str | Path, state: Any, config: RunConfig, spec: EnvSpec, info: dict[str, Any] | None = None,
         kind: str = "policy", host: dict[str, Any] | None = None,
         action_bounds: tuple[list[float], list[float]] | None = None) -> Path:
    """Write ``state`` to the checkpoint directory ``path`` atomically (replacing an older one).

    ``kind`` is "policy" (the agent state: what ``load`` and ``offpolicy eval`` read) or "training" (the whole loop
    carry: agent, replay buffer, keys; plus the JSON-safe ``host`` state) for exact resume. ``action_bounds``: the
    env's own (low, high) action bounds of a continuous agent, so a Policy can act in them without making the env.
    Raises CheckpointError (with the OS reason) if the directory cannot be written; an older checkpoint at ``path``
    is only replaced once the new one is complete."""
    try:
        return _save(Path(path), state, config, spec, info, kind, host, action_bounds)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}. Earlier checkpoints are "
                              "untouched; free disk space or make the run directory writable, then resume.") from None


def _save(path: Path, state: Any, config: RunConfig, spec: EnvSpec, info: dict[str, Any] | None, kind: str,
          host: dict[str, Any] | None, action_bounds: tuple[list[float], list[float]] | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        _write(tmp, state, config, spec, info, kind, host, action_bounds)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(old)
    tmp.rename(path)  # atomic on POSIX: readers see the old checkpoint or the complete new one
    _fsync_dir(path.parent)
    if old.exists():
        shutil.rmtree(old)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(tmp: Path, state: Any, config: RunConfig, spec: EnvSpec, info: dict[str, Any] | None, kind: str,
           host: dict[str, Any] | None, action_bounds: tuple[list[float], list[float]] | None) -> None:
    arrays = _flatten(state)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "offpolicy_version": __version__,
        "algo": config.algo,
        "config": to_dict(config),
        "spec": {"obs_shape": list(spec.obs_shape), "action_dim": spec.action_dim, "n_actions": spec.n_actions},
        "action_bounds": None if action_bounds is None else {"low": list(map(float, action_bounds[0])),
                                                              "high": list(map(float, action_bounds[1]))},
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
        "info": info or {},
        "host": host,
    }
    safetensors.numpy.save_file(arrays, str(tmp / ARRAYS_FILE))
    with open(tmp / META_FILE, "w") as f:
        json.dump(meta, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    with open(tmp / ARRAYS_FILE, "rb") as f:
        os.fsync(f.fileno())


def read_meta(path: str | Path, kind: str = "policy") -> tuple[dict[str, Any], RunConfig, EnvSpec]:
    """Validated metadata, config and spec of a checkpoint directory of the given kind."""
    path = Path(path)
    meta_path = path / META_FILE
    if not path.is_dir() or not meta_path.is_file():
        raise CheckpointError(f"{path}: not a checkpoint directory (expected {META_FILE} and {ARRAYS_FILE} inside).")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not valid JSON ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: not an offpolicy checkpoint (format field missing or wrong).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path}: checkpoint format version {meta.get('format_version')!r}; this offpolicy reads "
            f"version {FORMAT_VERSION}."
        )
    if meta.get("kind", "policy") != kind:
        raise CheckpointError(f"{meta_path}: a {meta.get('kind')!r} checkpoint where a {kind!r} one is needed.")
    try:
        config = from_dict(meta.get("config"))
    except ConfigError as exc:
        raise CheckpointError(f"{meta_path}: invalid config in checkpoint: {exc}") from None
    if meta.get("algo") != config.algo:
        raise CheckpointError(f"{meta_path}: algo {meta.get('algo')!r} does not match its config ({config.algo}).")
    raw = meta.get("spec")
    try:
        spec = EnvSpec(
            obs_shape=tuple(int(x) for x in raw["obs_shape"]),
            action_dim=int(raw["action_dim"]),
            n_actions=int(raw["n_actions"]),
        )
    except (TypeError, KeyError, ValueError):
        raise CheckpointError(f"{meta_path}: missing or malformed env spec.") from None
    return meta, config, spec


def restore(path: str | Path, template: Any) -> Any:
    """Arrays of the checkpoint at ``path``, validated against ``template`` (same pytree), as that pytree.
    ``template``'s leaves may be arrays or ``jax.ShapeDtypeStruct`` (e.g. from ``jax.eval_shape``): only their shapes
    and dtypes are read."""
    path = Path(path)
    file = path / ARRAYS_FILE
    if not file.is_file():
        raise CheckpointError(f"{path}: {ARRAYS_FILE} is missing.")
    try:
        arrays = safetensors.numpy.load_file(str(file))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers / truncation
        raise CheckpointError(f"{file}: not a readable safetensors file ({exc}).") from None
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    expected = {jax.tree_util.keystr(p): leaf for p, leaf in leaves}
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{file}: arrays do not match the agent (missing {missing[:3]}, unexpected {extra[:3]}).")
    out = []
    for key, leaf in expected.items():
        got = arrays[key]
        is_key = _is_key(leaf)
        want = jax.eval_shape(jax.random.key_data, leaf) if is_key else leaf
        want_shape, want_dtype = tuple(np.shape(want)), np.dtype(want.dtype)
        if got.shape != want_shape or got.dtype != want_dtype:
            raise CheckpointError(
                f"{file}: array {key} has shape {got.shape} dtype {got.dtype}; the config needs "
                f"shape {want_shape} dtype {want_dtype}."
            )
        out.append(jax.random.wrap_key_data(got) if is_key else jax.numpy.asarray(got))
    return jax.tree_util.tree_unflatten(treedef, out)
