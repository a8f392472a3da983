"""The exported policy file (format ``offpolicy-policy``, version 1) and its NumPy runtime: NumPy and stdlib only.

A file is an ``.npz`` archive (``numpy.savez``) of plain arrays, loaded with ``allow_pickle=False``:

    metadata          uint8 [n]            UTF-8 JSON (the fields below)
    layers.<i>.kernel float32 [fan_in, fan_out]   for i = 0 .. len(metadata["layers"]) - 1, input to output
    layers.<i>.bias   float32 [fan_out]
    action.low        float32 [action_dim]  continuous only: the env's action bounds
    action.high       float32 [action_dim]
    head.support      float32 [n_atoms]     "categorical_argmax" only: the atoms of the return distributions

The policy: x = obs; for every layer, x = activation(x @ kernel + bias); then the head: "tanh_then_rescale" gives
``clip(low + (tanh(x) + 1) * (high - low) / 2, low, high)`` (the map of gymnasium's RescaleAction that training
stepped the env through), "argmax" gives ``argmax(x, axis=-1)`` (the first index on ties), "categorical_argmax"
(C51) reads x as [n_actions, n_atoms] logits and gives ``argmax_a sum_i support_i softmax(x[a])_i``. docs/export.md has the
metadata fields; every one is checked on load, with one-line errors (ExportFormatError) naming the problem.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from offpolicy.errors import ExportFormatError

FORMAT = "offpolicy-policy"
FORMAT_VERSION = 1
METADATA_KEY = "metadata"
ACTIVATIONS = ("relu", "tanh", "identity")
HEADS = {"tanh_then_rescale": "continuous", "argmax": "discrete", "categorical_argmax": "discrete"}  # -> action kind
SUPPORT_KEY = "head.support"
REQUIRED_KEYS = ("format", "format_version", "offpolicy_version", "algo", "env", "obs_shape", "action", "layers",
                 "head")


def kernel_key(i: int) -> str:
    return f"layers.{i}.kernel"


def bias_key(i: int) -> str:
    return f"layers.{i}.bias"


def encode_metadata(metadata: Mapping[str, Any]) -> np.ndarray:
    """The metadata as the uint8 array stored under ``metadata`` (UTF-8 JSON)."""
    return np.frombuffer(json.dumps(metadata, indent=1, sort_keys=True).encode(), np.uint8).copy()


def decode_metadata(array: np.ndarray, source: str) -> dict[str, Any]:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ExportFormatError(f"{source}: '{METADATA_KEY}' must be a 1-D uint8 array of UTF-8 JSON, got "
                                f"{array.dtype} {array.shape}.")
    try:
        metadata = json.loads(array.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportFormatError(f"{source}: '{METADATA_KEY}' is not valid UTF-8 JSON ({exc}).") from None
    if not isinstance(metadata, dict):
        raise ExportFormatError(f"{source}: '{METADATA_KEY}' must be a JSON object.")
    return metadata


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickle."""
    path = Path(path)
    if not path.is_file():
        raise ExportFormatError(f"{path}: no such file (make one with `offpolicy export RUN_DIR`).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, AttributeError, TypeError) as exc:
        # AttributeError/TypeError: a plain .npy file (np.load gives an array, not an archive)
        raise ExportFormatError(f"{path}: not a readable .npz policy file ({type(exc).__name__}: {exc}).") from None


def _fail(source: str, message: str) -> None:
    raise ExportFormatError(f"{source}: {message}")


def validate(arrays: Mapping[str, np.ndarray], source: str = "policy file") -> dict[str, Any]:
    """The metadata of a policy file's arrays, after checking every field and shape (ExportFormatError if not)."""
    if METADATA_KEY not in arrays:
        _fail(source, f"no '{METADATA_KEY}' array; not an offpolicy policy file.")
    meta = decode_metadata(np.asarray(arrays[METADATA_KEY]), source)
    if meta.get("format") != FORMAT:
        _fail(source, f"format {meta.get('format')!r}, expected {FORMAT!r}; not an offpolicy policy file.")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        _fail(source, f"policy format version {version!r}; this offpolicy reads version {FORMAT_VERSION}"
              + (" (upgrade offpolicy to read it)." if newer else "."))
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        _fail(source, f"metadata lacks {', '.join(missing)}.")

    obs_shape = meta["obs_shape"]
    if not (isinstance(obs_shape, list) and len(obs_shape) == 1 and isinstance(obs_shape[0], int)
            and obs_shape[0] >= 1):
        _fail(source, f"obs_shape {obs_shape!r} must be [obs_dim] with obs_dim >= 1.")
    head = meta["head"]
    if head not in HEADS:
        _fail(source, f"unknown head {head!r}; this offpolicy knows {sorted(HEADS)}.")
    action = meta["action"]
    kind = action.get("kind") if isinstance(action, dict) else None
    if kind != HEADS[head]:
        _fail(source, f"action kind {kind!r} does not fit head {head!r} (needs {HEADS[head]!r}).")
    if kind == "continuous":
        shape = action.get("shape")
        if not (isinstance(shape, list) and len(shape) == 1 and isinstance(shape[0], int) and shape[0] >= 1):
            _fail(source, f"action shape {shape!r} must be [action_dim] with action_dim >= 1.")
        out_dim = shape[0]
    else:
        out_dim = action.get("n_actions")
        if not (isinstance(out_dim, int) and out_dim >= 1):
            _fail(source, f"action n_actions {out_dim!r} must be an int >= 1.")

    layers = meta["layers"]
    if not (isinstance(layers, list) and layers and all(isinstance(layer, dict) for layer in layers)):
        _fail(source, "layers must be a non-empty list of objects.")
    expected = {METADATA_KEY}
    width = obs_shape[0]
    for i, layer in enumerate(layers):
        if layer.get("activation") not in ACTIVATIONS:
            _fail(source, f"layer {i}: unknown activation {layer.get('activation')!r}; this offpolicy knows "
                  f"{list(ACTIVATIONS)}.")
        for key, ndim in ((kernel_key(i), 2), (bias_key(i), 1)):
            if key not in arrays:
                _fail(source, f"array {key} is missing.")
            array = np.asarray(arrays[key])
            if array.dtype != np.float32 or array.ndim != ndim:
                _fail(source, f"array {key} is {array.dtype} with {array.ndim} dims; expected float32 with {ndim}.")
            if not np.all(np.isfinite(array)):
                _fail(source, f"array {key} holds NaN or inf.")
            expected.add(key)
        kernel, bias = np.asarray(arrays[kernel_key(i)]), np.asarray(arrays[bias_key(i)])
        if kernel.shape[0] != width:
            _fail(source, f"array {kernel_key(i)} has shape {kernel.shape}; its input size must be {width} "
                  f"({'obs_dim' if i == 0 else f'the output size of layer {i - 1}'}).")
        if bias.shape != (kernel.shape[1],):
            _fail(source, f"array {bias_key(i)} has shape {bias.shape}; expected ({kernel.shape[1]},) to match "
                  f"{kernel_key(i)} {kernel.shape}.")
        if layer.get("in", width) != width or layer.get("out", kernel.shape[1]) != kernel.shape[1]:
            _fail(source, f"layer {i}: metadata in/out {layer.get('in')}/{layer.get('out')} do not match array "
                  f"{kernel_key(i)} {kernel.shape}.")
        width = kernel.shape[1]
    if head == "categorical_argmax":
        if SUPPORT_KEY not in arrays:
            _fail(source, f"array {SUPPORT_KEY} is missing (head {head!r} needs the atoms).")
        support = np.asarray(arrays[SUPPORT_KEY])
        if support.dtype != np.float32 or support.ndim != 1 or support.shape[0] < 2 \
                or not np.all(np.isfinite(support)):
            _fail(source, f"array {SUPPORT_KEY} is {support.dtype} {support.shape}; expected finite float32 "
                  "(n_atoms,) with n_atoms >= 2.")
        expected.add(SUPPORT_KEY)
        out_dim *= support.shape[0]  # n_actions * n_atoms logits
    if width != out_dim:
        _fail(source, f"the last layer has {width} outputs; the {kind} action needs {out_dim}.")

    if kind == "continuous":
        bounds = []
        for name in ("low", "high"):
            key = f"action.{name}"
            if key not in arrays:
                _fail(source, f"array {key} is missing.")
            array = np.asarray(arrays[key])
            if array.dtype != np.float32 or array.shape != (out_dim,):
                _fail(source, f"array {key} is {array.dtype} {array.shape}; expected float32 ({out_dim},).")
            listed = action.get(name)
            if not isinstance(listed, list) or np.asarray(listed, np.float32).shape != array.shape \
                    or not np.array_equal(np.asarray(listed, np.float32), array):
                _fail(source, f"metadata action.{name} {listed!r} does not match array {key}.")
            expected.add(key)
            bounds.append(array)
        low, high = bounds
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low <= high)):
            _fail(source, "action.low and action.high must be finite with low <= high.")
    unexpected = sorted(set(arrays) - expected)
    if unexpected:
        _fail(source, f"unexpected arrays {unexpected[:3]}; the metadata lists {len(layers)} layers.")
    return meta


class NumpyPolicy:
    """An exported noise-free policy, run with NumPy alone.

        pi = NumpyPolicy.load("policy.npz")
        action = pi(obs)     # one observation [obs_dim] or a batch [B, obs_dim]; float32 computation

    Continuous: the action in the env's own bounds (float32 [action_dim], or [B, action_dim]); discrete: the greedy
    action index (int64; a NumPy scalar for one observation, [B] for a batch).
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], source: str = "policy arrays"):
        self.metadata = validate(arrays, source)
        self.source = source
        meta = self.metadata
        self.algo: str = meta["algo"]
        self.env_id: str = meta["env"]
        self.obs_shape: tuple[int, ...] = tuple(meta["obs_shape"])
        self.head: str = meta["head"]
        self.discrete = self.head != "tanh_then_rescale"
        self.support = np.asarray(arrays[SUPPORT_KEY]) if self.head == "categorical_argmax" else None
        self.layers = [(np.asarray(arrays[kernel_key(i)]), np.asarray(arrays[bias_key(i)]), layer["activation"])
                       for i, layer in enumerate(meta["layers"])]
        if self.discrete:
            self.n_actions: int = meta["action"]["n_actions"]
            self.low = self.high = None
        else:
            self.n_actions = 0
            self.low = np.asarray(arrays["action.low"])
            self.high = np.asarray(arrays["action.high"])
            self._half_range = (self.high - self.low) / np.float32(2)

    @classmethod
    def load(cls, path: str | Path) -> NumpyPolicy:
        """Read and check an exported ``.npz`` policy file (ExportFormatError naming the problem if it is not one)."""
        return cls(read_arrays(path), str(path))

    def forward(self, obs_batch: np.ndarray) -> np.ndarray:
        """The MLP's raw output for a batch ``[B, obs_dim]``: pre-tanh actions, Q-values [B, n_actions], or C51's
        logits [B, n_actions * n_atoms]."""
        x = np.asarray(obs_batch, np.float32)
        for kernel, bias, activation in self.layers:
            x = x @ kernel + bias
            if activation == "relu":
                x = np.maximum(x, np.float32(0))
            elif activation == "tanh":
                x = np.tanh(x)
        return x

    def __call__(self, obs: Any) -> np.ndarray:
        obs = np.asarray(obs, np.float32)
        single = obs.shape == self.obs_shape
        if not single and (obs.ndim != len(self.obs_shape) + 1 or obs.shape[1:] != self.obs_shape):
            raise ValueError(f"obs has shape {obs.shape}; expected {self.obs_shape} or [B, *{self.obs_shape}].")
        out = self.forward(obs[None] if single else obs)
        if self.support is not None:  # C51: Q = sum_i z_i softmax(logits)_i per action
            logits = out.reshape(out.shape[0], self.n_actions, self.support.shape[0])
            e = np.exp(logits - logits.max(axis=-1, keepdims=True))
            out = np.sum(e / e.sum(axis=-1, keepdims=True) * self.support, axis=-1)
        if self.discrete:
            action = np.argmax(out, axis=-1).astype(np.int64)
        else:
            action = np.clip(self.low + (np.tanh(out) + np.float32(1)) * self._half_range, self.low, self.high)
        return action[0] if single else action

    predict = __call__

    def __repr__(self) -> str:
        action = f"{self.n_actions} actions" if self.discrete else f"action in [{self.low}, {self.high}]"
        return f"NumpyPolicy({self.algo} on {self.env_id}: obs {self.obs_shape}, {action}, {len(self.layers)} layers)"
