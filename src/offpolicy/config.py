"""Typed configuration: dataclasses for a run and each agent, YAML presets, ``key=value`` overrides.

Every value that reaches a run passes through :func:`from_dict`, which checks types, ranges and relations field by
field and refuses unknown keys with the closest valid key as a hint. YAML is read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from offpolicy import registry
from offpolicy.errors import ConfigError
from offpolicy.hparams import DDPGConfig, DQNConfig, NoiseConfig, require  # noqa: F401 - the agent configs, re-exported

MAX_SEED = 2**32 - 1
"""The largest seed every RNG in a run takes (JAX keys hold 32 bits of it)."""

# --------------------------------------------------------------------------------------------------------------------
# The run's dataclass. Each field has a one-line docstring (shown by ``offpolicy train --help`` and in docs/config.md).
# Agent configs (offpolicy.hparams) are frozen and hashable: they are static arguments of the jitted functions.


@dataclass(frozen=True)
class RunConfig:
    """One training run: algorithm, environment, budget, seeding, evaluation and outputs."""

    algo: str = registry.DEFAULT
    """Algorithm (offpolicy.registry): ddpg (continuous actions) or dqn (discrete actions)."""
    env: str = "Pendulum-v1"
    """Gymnasium environment id."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make."""
    seed: int = 0
    """Master seed: network init, warm-up actions, noise, per-episode env seeds all derive from it."""
    total_steps: int = 50_000
    """Environment steps to train for."""
    warmup_steps: int = 10_000
    """Steps of uniformly random actions at the start (the learner is not used)."""
    learning_starts: int = 10_000
    """Updates begin once this many transitions are stored (one update per env step after that)."""
    truncation_as_terminal: bool = False
    """Store time-limit truncation as terminal (the tutorials' fault; keep False to bootstrap on truncation)."""
    eval_every: int = 5_000
    """Noise-free evaluation every this many env steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation (separate env, seeds disjoint from training)."""
    video: bool = True
    """Record an MP4 of one noise-free test episode at the end."""
    checkpoint_every: int = 0
    """Write a full training checkpoint (agent, replay buffer, RNG streams, counters) at the first episode end after
    every this many steps, for exact `offpolicy train --resume` (0: never)."""
    keep_checkpoints: int = 2
    """How many training checkpoints to keep (oldest deleted first)."""
    loop: Literal["host", "compiled"] = "host"
    """Training loop: host (any Gymnasium env stepped from Python, one jitted call per step) or compiled (the
    gymnax version of the env and the agent inside one jitted lax.scan per chunk of steps; Pendulum-v1,
    CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0)."""
    nonfinite: Literal["stop", "skip"] = "stop"
    """On a NaN/inf observation, reward, loss or parameter: stop with an error (after saving the last good state), or
    skip (drop such transitions, reject such updates) and keep training."""
    agent: Any = field(default_factory=registry.get(registry.DEFAULT).config_class)
    """Algorithm hyperparameters (the section's type depends on algo)."""

    def check(self) -> None:
        entry = registry.get(self.algo)
        require(isinstance(self.agent, entry.config_class), "agent", type(self.agent).__name__,
                f"algo {self.algo} needs a {entry.config_class.__name__}")
        require(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"must be in 0..{MAX_SEED} (2**32 - 1)")
        require(self.total_steps >= 1, "total_steps", self.total_steps, "must be >= 1")
        require(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "must be >= 0")
        batch = self.agent.batch_size
        require(self.learning_starts >= batch, "learning_starts", self.learning_starts,
                 f"must be >= agent.batch_size ({batch}) so the first batch can be drawn")
        require(self.eval_every >= 0, "eval_every", self.eval_every, "must be >= 0")
        require(self.eval_episodes >= 1, "eval_episodes", self.eval_episodes, "must be >= 1")
        require(self.checkpoint_every >= 0, "checkpoint_every", self.checkpoint_every, "must be >= 0")
        require(self.loop in ("host", "compiled"), "loop", self.loop, "must be host or compiled")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, "must be >= 1")
        self.agent.check()


def _closest(name: str, options: list[str], noun: str = "keys") -> str:
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" Did you mean '{match[0]}'?" if match else f" Valid {noun}: {', '.join(sorted(options))}."


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a YAML/CLI value to the annotated type, or raise a ConfigError naming the key."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}={value!r}: must be one of {list(choices)}.")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key}={value!r}: expected true or false.")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected an integer.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                number = float(value.replace("_", ""))
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number)
        raise ConfigError(f"{key}={value!r}: expected an integer.")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected a number.")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}={value!r}: expected a number.")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}={value!r}: expected a string.")
    if origin is tuple:
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r}: expected a list, e.g. [128, 128].")
        item_type = typing.get_args(tp)[0]
        return tuple(_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}={value!r}: expected a mapping.")
        return dict(value)
    raise ConfigError(f"{key}: unsupported type {tp}.")  # pragma: no cover - programming error


def _from_mapping(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}.")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key '{prefix}{key}'.{_closest(str(key), names)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        key = prefix + f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = _from_mapping(tp, data[f.name], key + ".")
        else:
            kwargs[f.name] = _coerce(data[f.name], tp, key)
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> RunConfig:
    """Build and validate a RunConfig from a plain mapping (e.g. parsed YAML)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping, got {type(data).__name__}.")
    data = dict(data)
    algo = data.get("algo", RunConfig.algo)
    agent = _from_mapping(registry.get(algo).config_class, data.pop("agent", {}) or {}, "agent.")
    config = _from_mapping(RunConfig, data, "")
    config = dataclasses.replace(config, agent=agent)
    config.check()
    return config


def to_dict(config: Any) -> dict[str, Any]:
    """Plain, YAML-safe mapping of a config (tuples become lists)."""

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, (tuple, list)):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x

    return plain(config)


# --------------------------------------------------------------------------------------------------------------------
# Presets, files, overrides


def preset_names() -> list[str]:
    """Names of the built-in presets (files in offpolicy/presets/)."""
    folder = resources.files("offpolicy") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of config keys at the top level.")
    return data


def load_preset_dict(name_or_path: str) -> dict[str, Any]:
    """Raw mapping of a preset name (e.g. ``ddpg-pendulum``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {name_or_path!r} not found.")
        return _read_yaml(path.read_text(), str(path))
    names = preset_names()
    if name_or_path not in names:
        hint = difflib.get_close_matches(name_or_path, names, n=1, cutoff=0.5)
        raise ConfigError(f"unknown preset {name_or_path!r}." + (f" Did you mean '{hint[0]}'?" if hint else "")
                          + f" Presets: {', '.join(names)}; or pass a path to a YAML file.")
    text = (resources.files("offpolicy") / "presets" / f"{name_or_path}.yaml").read_text()
    return _read_yaml(text, f"preset {name_or_path}")


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            keys += _all_keys(tp, prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def valid_keys(algo: str) -> list[str]:
    """Every dotted key a ``--set`` override may name for this algorithm."""
    run_keys = [k for k in _all_keys(RunConfig) if k != "agent"]
    return run_keys + _all_keys(registry.get(algo).config_class, "agent.")


def resolve_key(key: str, algo: str) -> str:
    """Full dotted key for ``key``: exact (``agent.actor_lr``) or a unique suffix (``actor_lr``, ``noise.sigma``)."""
    keys = valid_keys(algo)
    if key in keys:
        return key
    if key.startswith("env_kwargs."):
        return key
    matches = [k for k in keys if k.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(f"key {key!r} is ambiguous: use one of {matches}.")
    raise ConfigError(f"unknown key {key!r} for algo {algo}.{_closest(key, keys)}")


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides applied (keys resolved with :func:`resolve_key`)."""
    data = _deepcopy(data)
    if "algo" in overrides:
        data["algo"] = overrides["algo"]
    algo = data.get("algo", RunConfig.algo)
    registry.get(algo)  # an unknown algorithm: a ConfigError with the closest name
    given: dict[str, str] = {}
    for key, value in overrides.items():
        full = resolve_key(key, algo)
        if full in given and given[full] != key:
            raise ConfigError(f"{given[full]!r} and {key!r} both set {full}; give it once.")
        given[full] = key
        parts = full.split(".")
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"cannot set {key!r}: {part!r} is not a section.")
            node = child
        node[parts[-1]] = value
    return data


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML scalars/lists (``1e-4``, ``[64, 64]``, ``true``)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set actor_lr=1e-4.")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"--set {item!r}: empty key.")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        if key in out:
            raise ConfigError(f"--set {key} is given twice ({out[key]!r} and {value!r}); give each key once.")
        out[key] = value
    return out


def _deepcopy(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _deepcopy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_deepcopy(v) for v in x]
    return x


def make_config(preset: str | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Preset (or YAML path, or the defaults) + overrides -> validated RunConfig."""
    base = load_preset_dict(preset) if preset else {}
    return from_dict(apply_overrides(base, overrides or {}))


def save_yaml(config: RunConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
