"""Typed configuration: dataclasses for a run and each agent, YAML presets, ``key=value`` overrides, seeds.

Every value that reaches a run passes through :func:`from_dict`, which checks types, ranges and relations field by
field and refuses unknown keys with the closest valid key as a hint. YAML is read with a ``yaml.SafeLoader`` that also
refuses aliases, through :func:`read_yaml_mapping` (files, at most 1 MiB) and :func:`yaml_value` (command-line
values). :func:`parse_seeds` is the one seeds grammar of ``offpolicy train --seeds`` and ``offpolicy sweep --seeds``.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import re
import types
import typing
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from offpolicy import registry
from offpolicy.errors import ConfigError
from offpolicy.hparams import (  # noqa: F401 - the agent configs, re-exported
    DDPGConfig,
    DQNConfig,
    NoiseConfig,
    SACConfig,
    TD3Config,
    require,
)

MAX_SEED = 2**32 - 1
"""The largest seed every RNG in a run takes (JAX keys hold 32 bits of it)."""

MODULE_NAME = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_MODULE_ENV_HELP = ("a 'module:' env id imports module {module!r}, and a config or checkpoint may name only a "
                    "registered env id; import the module yourself (`--env-module {module}` on the command line, "
                    "or `import {module}` in Python) and name the env as {env!r}")

# --------------------------------------------------------------------------------------------------------------------
# The run's dataclass. Each field has a one-line docstring (shown by ``offpolicy keys`` and in docs/config.md).
# Agent configs (offpolicy.hparams) are frozen and hashable: they are static arguments of the jitted functions.


@dataclass(frozen=True)
class RunConfig:
    """One training run: algorithm, environment, budget, seeding, evaluation and outputs."""

    algo: str = registry.DEFAULT
    """Algorithm (offpolicy.registry): ddpg, td3, sac (continuous actions) or dqn (discrete actions)."""
    env: str = "Pendulum-v1"
    """Gymnasium environment id, registered (no `module:` prefix: a file may not choose a module to import)."""
    env_module: str | None = None
    """The module that registers env, as the user named it (`--env-module`, or `--env module:Id`): recorded so a
    resume or eval can say which module to import; never imported from a file."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make."""
    seed: int = 0
    """Master seed: network init, warm-up actions, noise, per-episode env seeds all derive from it."""
    total_steps: int = 50_000
    """Environment steps to train for."""
    warmup_steps: int | None = None
    """Steps of uniformly random actions at the start (the learner is not used). Unset (null): the same as
    learning_starts, so changing learning_starts moves both, like SB3's learning_starts."""
    learning_starts: int = 10_000
    """Updates begin once this many transitions are stored (then gradient_steps updates every train_freq steps)."""
    n_envs: int = 1
    """Envs per seed, stepped together (SB3's n_envs): each vector step takes one step in each and stores n_envs
    transitions; step counts (total_steps, learning_starts, eval_every, ...) count every env's steps."""
    train_freq: int = 1
    """Vector steps between update phases, as SB3's train_freq in steps (env steps with n_envs 1): an update phase
    runs after vector step k when k is a multiple of train_freq and k * n_envs >= learning_starts."""
    gradient_steps: int = 1
    """Updates per update phase, each on its own minibatch, as SB3's gradient_steps; -1: as many as the env steps
    between phases (train_freq * n_envs)."""
    truncation_as_terminal: bool = False
    """Store time-limit truncation as terminal (the tutorials' fault; keep False to bootstrap on truncation)."""
    eval_every: int = 5_000
    """Noise-free evaluation every this many env steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation (separate env, seeds disjoint from training)."""
    eval_max_steps: int = 10_000
    """Step cap of an evaluation episode when the env has no time limit of its own (no max_episode_steps; set one
    with env_kwargs.max_episode_steps): a policy that never ends an episode cannot hang the evaluation."""
    video: bool = True
    """Record an MP4 of one noise-free test episode at the end."""
    plot: bool = True
    """Draw learning_curve.png at the end (and aggregate.png for several seeds). False skips them: about a second of
    CPU per run, which adds up over many short runs; `offpolicy plot RUN_DIR` draws the curve later."""
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

    def __post_init__(self) -> None:
        if self.warmup_steps is None:  # unset: follows learning_starts
            object.__setattr__(self, "warmup_steps", self.learning_starts)

    @property
    def updates_per_phase(self) -> int:
        """gradient_steps, with -1 resolved (train_freq * n_envs: one update per env step, in phases)."""
        return self.train_freq * self.n_envs if self.gradient_steps == -1 else self.gradient_steps

    def check(self) -> None:
        entry = registry.get(self.algo)
        require(isinstance(self.agent, entry.config_class), "agent", type(self.agent).__name__,
                f"algo {self.algo} needs a {entry.config_class.__name__}")
        require(":" not in self.env, "env", self.env, _MODULE_ENV_HELP.format(
            module=self.env.split(":", 1)[0], env=self.env.split(":", 1)[-1]))
        require(self.env_module is None or re.fullmatch(MODULE_NAME, self.env_module) is not None, "env_module",
                self.env_module, "must be a module name such as mypkg or mypkg.envs")
        require(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"must be in 0..{MAX_SEED} (2**32 - 1)")
        require(self.total_steps >= 1, "total_steps", self.total_steps, "must be >= 1")
        require(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "must be >= 0")
        require(self.n_envs >= 1, "n_envs", self.n_envs, "must be >= 1 (envs per seed)")
        for name in ("total_steps", "eval_every", "checkpoint_every"):
            value = getattr(self, name)
            require(value % self.n_envs == 0, name, value, f"must be a multiple of n_envs ({self.n_envs}): each "
                    f"vector step takes {self.n_envs} env steps (e.g. {name}={value - value % self.n_envs or self.n_envs})")
        require(self.n_envs == 1 or self.nonfinite == "stop", "nonfinite", self.nonfinite,
                "needs n_envs=1 (a dropped transition would cut one env's episode inside a vector step); use "
                "nonfinite=stop")
        require(self.train_freq >= 1, "train_freq", self.train_freq,
                "must be >= 1 (vector steps between update phases; 1 updates after every step)")
        require(self.gradient_steps >= 1 or self.gradient_steps == -1, "gradient_steps", self.gradient_steps,
                "must be >= 1, or -1 for as many updates as env steps between phases (train_freq * n_envs)")
        batch = self.agent.batch_size
        require(self.learning_starts >= batch, "learning_starts", self.learning_starts,
                 f"must be >= agent.batch_size ({batch}) so the first batch can be drawn")
        require(self.eval_every >= 0, "eval_every", self.eval_every, "must be >= 0")
        require(self.eval_episodes >= 1, "eval_episodes", self.eval_episodes, "must be >= 1")
        require(self.eval_max_steps >= 1, "eval_max_steps", self.eval_max_steps, "must be >= 1")
        require(self.checkpoint_every >= 0, "checkpoint_every", self.checkpoint_every, "must be >= 0")
        require(self.loop in ("host", "compiled"), "loop", self.loop, "must be host or compiled")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, "must be >= 1")
        self.agent.check()


# Stable-Baselines3 / rl-zoo spellings -> ours: used for the hint of an unknown key only, never accepted in their place.
# A tuple names our keys (only those valid for the algorithm in question are suggested); a str says why none fits.
_SB3_NAMES: dict[str, tuple[str, ...] | str] = {
    "learning_rate": ("agent.lr", "agent.actor_lr", "agent.critic_lr", "agent.alpha_lr"),
    "n_timesteps": ("total_steps",),
    "total_timesteps": ("total_steps",),
    "eval_freq": ("eval_every",),
    "n_eval_episodes": ("eval_episodes",),
    "target_update_interval": ("agent.target_update",),
    "net_arch": ("agent.hidden_sizes",),
    "policy_kwargs": ("agent.hidden_sizes",),
    "exploration_final_eps": ("agent.epsilon_end",),
    "exploration_initial_eps": ("agent.epsilon_start",),
    "exploration_fraction": ("agent.epsilon_decay_steps",),
    "target_policy_noise": ("agent.target_noise",),
    "noise_std": ("agent.noise.sigma",),
    "noise_type": ("agent.noise.kind",),
    "actor_learning_rate": ("agent.actor_lr",),
    "critic_learning_rate": ("agent.critic_lr",),
}


def _sb3_hint(name: str, options: list[str], prefix: str = "") -> str | None:
    """The hint for an SB3/rl-zoo name, or None: our keys for it among ``options`` (full keys, or field names under
    ``prefix``), or why there is none."""
    ours = _SB3_NAMES.get(name.rsplit(".", 1)[-1])
    if isinstance(ours, str):
        return f" {name!r} (SB3/rl-zoo): {ours}."
    valid = [repr(key) for key in ours or () if key in options
             or (key.startswith(prefix) and key[len(prefix):] in options)]
    if not valid:
        return None
    keys = valid[0] if len(valid) == 1 else f"{', '.join(valid[:-1])} and {valid[-1]}"
    return f" For {name!r} (as in SB3/rl-zoo) use {keys}."


def _closest(name: str, options: list[str], noun: str = "keys", prefix: str = "") -> str:
    hint = _sb3_hint(name, options, prefix)
    if hint is not None:
        return hint
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" Did you mean '{match[0]}'?" if match else f" Valid {noun}: {', '.join(sorted(options))}."


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string literal right under it in the class body), on one line, read from the
    source of ``cls`` with ``ast`` (dataclasses keep no field docs at runtime). Fields without one are left out."""
    docs = {}
    for base in reversed(cls.__mro__[1:]):  # inherited fields (e.g. ReplayConfig's), unless cls documents them anew
        if dataclasses.is_dataclass(base):
            docs.update(field_docs(base))
    tree = ast.parse(Path(inspect.getsourcefile(cls)).read_text(encoding="utf-8"))
    body = next(node.body for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == cls.__name__)
    for stmt, after in zip(body, body[1:]):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


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
        for arg in args[:-1]:  # the first member that accepts the value (e.g. Literal["auto"] | float)
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        return _coerce(value, args[-1], key)
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
            value = yaml_value(value) if value.strip().startswith("[") else value.split(",")
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
            raise ConfigError(f"unknown key '{prefix}{key}'.{_closest(str(key), names, prefix=prefix)}")
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
    if isinstance(data.get("train_freq"), (list, tuple)):  # SB3's (n, "step" | "episode")
        raise ConfigError(f"train_freq={data['train_freq']!r}: give a number of env steps; SB3's (n, \"episode\") "
                          "form is not offered (on an env whose episodes have a fixed length, give that length).")
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


MAX_YAML_BYTES = 1 << 20
"""The largest config or sweep file read (presets are about 1 KB): a huge or endless file is refused at once."""


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python tags) that also refuses aliases (``*name``): nine levels of nine aliases are a
    few hundred bytes that expand to 9**9 values when the config is copied, hanging the process."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed; write the values out",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _safe_load(text: str) -> Any:
    """YAML text as Python data: safe types only, no aliases, no nesting deep enough to exhaust the stack."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader: no Python tags
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def read_yaml_mapping(text_or_path: str | Path, source: str | None = None,
                      not_a_mapping: str = "expected a mapping of config keys at the top level.") -> dict[str, Any]:
    """The top-level mapping of a YAML document, read with a safe loader only (no Python tags, no aliases): a
    ``Path`` is a file to read (at most :data:`MAX_YAML_BYTES`), a ``str`` is the YAML text itself. ``source`` names
    it in errors (default: the path). An empty document is ``{}``. Every problem is a one-line ConfigError: the file
    cannot be read or is too large, the YAML is not valid (where and why), or the top level is not a mapping
    (``not_a_mapping`` says what was expected)."""
    if isinstance(text_or_path, Path):
        source = source or str(text_or_path)
        try:
            with open(text_or_path, "rb") as f:
                raw = f.read(MAX_YAML_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{source}: cannot be read ({exc.strerror or exc}).") from None
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(f"{source}: larger than {MAX_YAML_BYTES // 2**20} MiB; a config or sweep file is a few "
                              "KB of YAML: is this the right file?")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start}); pass a YAML file.") from None
    else:
        text = text_or_path
        source = source or "YAML text"
    try:
        data = _safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({_yaml_problem(exc)}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {not_a_mapping}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error in one line: what is wrong and where."""
    problem = getattr(exc, "problem", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def yaml_value(raw: str) -> Any:
    """A command-line value read as YAML (``1e-4``, ``[64, 64]``, ``true``); text that is not valid YAML, or is
    empty, stays the string it was."""
    if not raw.strip():
        return raw
    try:
        return _safe_load(raw)
    except yaml.YAMLError:
        return raw


def load_preset_dict(name_or_path: str) -> dict[str, Any]:
    """Raw mapping of a preset name (e.g. ``ddpg-pendulum``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {name_or_path!r} not found.")
        return read_yaml_mapping(path)
    names = preset_names()
    if name_or_path not in names:
        hint = difflib.get_close_matches(name_or_path, names, n=1, cutoff=0.5)
        raise ConfigError(f"unknown preset {name_or_path!r}." + (f" Did you mean '{hint[0]}'?" if hint else "")
                          + f" Presets: {', '.join(names)}; or pass a path to a YAML file.")
    text = (resources.files("offpolicy") / "presets" / f"{name_or_path}.yaml").read_text()
    return read_yaml_mapping(text, f"preset {name_or_path}")


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
        value = yaml_value(raw)
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


# --------------------------------------------------------------------------------------------------------------------
# Seeds

MAX_SEEDS = 10_000
"""The most seeds one ``--seeds`` may name (a guard against a typo like ``0-2147483647``)."""
_SEEDS_HELP = "give a count (8), a range (0-7) or a list of distinct seeds (0,3,5)"


def parse_seeds(spec: str | int | Sequence[int], first: int = 0) -> list[int]:
    """The seeds grammar of ``offpolicy train --seeds`` and ``offpolicy sweep --seeds`` (and a sweep file's
    ``seeds:``): ``8`` or ``"8"`` -> eight seeds from ``first``; ``"0-7"`` -> 0..7; ``"0,3,5"`` -> those; a list of
    integers (``[0, 3, 5]`` in YAML) -> those. The seeds must be distinct and from 0 to 2**32 - 1. Anything else
    (``"7,"``, ``"0-"``, ``"5-2"``, ``"a"``, ``0``) is a one-line ConfigError."""
    if isinstance(spec, bool):
        raise ConfigError(f"--seeds {spec!r}: {_SEEDS_HELP}.")
    if isinstance(spec, int):
        return _seed_count(spec, first, spec)
    if isinstance(spec, str):
        text = spec.strip()
        if re.fullmatch(r"[0-9]{1,19}", text):
            return _seed_count(int(text), first, spec)
        if m := re.fullmatch(r"([0-9]{1,19})\s*-\s*([0-9]{1,19})", text):
            low, high = int(m[1]), int(m[2])
            if high < low:
                raise ConfigError(f"--seeds {spec!r}: the range ends before it starts; {_SEEDS_HELP}.")
            _check_seed_range(spec, low, high, high - low + 1)
            return list(range(low, high + 1))
        if re.fullmatch(r"[0-9]{1,19}(\s*,\s*[0-9]{1,19})+", text):
            return _seed_list(spec, [int(part) for part in text.split(",")])
        raise ConfigError(f"--seeds {spec!r}: {_SEEDS_HELP}.")
    if isinstance(spec, (list, tuple)):
        if not spec or not all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
            raise ConfigError(f"--seeds {list(spec)!r}: expected a non-empty list of integers, e.g. [0, 3, 5].")
        return _seed_list(spec, list(spec))
    raise ConfigError(f"--seeds {spec!r}: {_SEEDS_HELP}.")


def _seed_count(n: int, first: int, spec: Any) -> list[int]:
    if n < 1:
        raise ConfigError(f"--seeds {spec!r}: need at least 1 seed; {_SEEDS_HELP}.")
    _check_seed_range(spec, first, first + n - 1, n)
    return list(range(first, first + n))


def _seed_list(spec: Any, seeds: list[int]) -> list[int]:
    _check_seed_range(spec, min(seeds), max(seeds), len(seeds))
    repeated = sorted(s for s, count in Counter(seeds).items() if count > 1)
    if repeated:
        raise ConfigError(f"--seeds {spec!r}: seed {repeated[0]} is repeated; each seed runs once.")
    return seeds


def _check_seed_range(spec: Any, low: int, high: int, n: int) -> None:
    if low < 0 or high > MAX_SEED:
        raise ConfigError(f"--seeds {spec!r}: seeds must be from 0 to {MAX_SEED} (2**32 - 1), which every RNG "
                          "takes.")
    if n > MAX_SEEDS:
        raise ConfigError(f"--seeds {spec!r}: {n:,} seeds; at most {MAX_SEEDS:,}.")
