"""Sweep specification: preset x grid x seeds -> trials, validated before anything is written.

A sweep is a base config (a preset or a YAML config), fixed overrides (``--set``), a grid of values per key
(``--grid actor_lr=1e-4,3e-4``) and a list of seeds. Every grid point is one *config*; every config runs once per seed;
each (config, seed) is one *trial* and one ordinary run directory ``SWEEP_DIR/trials/<config slug>/s<seed>/``.
The spec is saved to ``SWEEP_DIR/sweep.yaml`` with the base config's full mapping, so a sweep can be resumed and
reported without the preset it came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from offpolicy import registry
from offpolicy.config import (
    RunConfig,
    apply_overrides,
    from_dict,
    load_preset_dict,
    parse_seeds,
    parse_set,
    read_yaml_mapping,
    resolve_key,
    to_dict,
    yaml_value,
)
from offpolicy.errors import ConfigError

SWEEP_FILE = "sweep.yaml"
FORMAT = "offpolicy-sweep"
FORMAT_VERSION = 1
BACKENDS = ("local", "ray")
FILE_KEYS = ("preset", "seeds", "grid", "set", "backend", "workers", "ray_address", "retries", "name", "batch_seeds")
"""Keys a sweep YAML file may have."""


@dataclass(frozen=True)
class Trial:
    """One (config, seed) of a sweep: an ordinary run directory under ``SWEEP_DIR/trials/``."""

    slug: str
    """Name of the grid point (``actor_lr=0.0001,tau=0.005``; the sweep's name when there is no grid)."""
    seed: int
    params: dict[str, Any]
    """The grid point: full dotted key -> value."""
    config: RunConfig

    @property
    def id(self) -> str:
        return f"{self.slug}/s{self.seed}"

    def run_dir(self, sweep_dir: str | Path) -> Path:
        return Path(sweep_dir) / "trials" / self.slug / f"s{self.seed}"


@dataclass
class SweepSpec:
    """What to run. Build it with :func:`make_spec` (validates) or :func:`load_spec` (from a sweep directory)."""

    name: str
    """Label of the sweep (default: the preset's name)."""
    preset: str
    """Preset name or config file the base came from (for labels and the recorded command)."""
    base: dict[str, Any]
    """The base config mapping (the preset's YAML content)."""
    seeds: tuple[int, ...]
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Full dotted key -> values, in the order given."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Fixed overrides for every trial (full dotted keys), including the sweep defaults (video off, checkpoints)."""
    backend: str = "local"
    workers: int | None = None
    """Trials run at once (default: the number of CPU cores)."""
    ray_address: str | None = None
    retries: int = 0
    """Re-run a failed trial up to this many times within the sweep (from its last training checkpoint)."""
    batch_seeds: bool = False
    """Train the seeds of a config together, in one vmapped process, where the loop allows it
    (:func:`can_batch_seeds`). Such configs get no default ``checkpoint_every`` (a batched trial
    has no training checkpoints). Saved in sweep.yaml: it decides the trials' configs. :func:`make_spec` turns it on
    by default; a sweep.yaml without the key (made before batching existed) reads as off."""

    @property
    def algo(self) -> str:
        return self.base.get("algo", RunConfig.algo)

    def trials(self) -> list[Trial]:
        """Every trial, config by config (grid order), seeds in order within a config."""
        return expand(self)

    def command(self) -> str:
        """The ``offpolicy sweep`` command line that makes this sweep."""
        args = ["offpolicy", "sweep", self.preset, "--seeds", _seeds_arg(self.seeds)]
        if self.name != Path(self.preset).stem:
            args += ["--name", self.name]
        for key, values in self.grid.items():
            args += ["--grid", f"{key}=" + ",".join(_flow(v) for v in values)]
        if self.overrides:
            args += ["--set", *(f"{k}={_flow(v)}" for k, v in self.overrides.items())]
        if self.backend != "local":
            args += ["--backend", self.backend]
        if self.ray_address:
            args += ["--ray-address", self.ray_address]
        if self.retries:
            args += ["--retries", str(self.retries)]
        if not self.batch_seeds:
            args += ["--no-batch-seeds"]
        return shlex.join(args)

    def to_yaml(self) -> str:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name, "preset": self.preset,
                "seeds": list(self.seeds), "grid": {k: list(v) for k, v in self.grid.items()},
                "set": dict(self.overrides), "backend": self.backend, "workers": self.workers,
                "ray_address": self.ray_address, "retries": self.retries, "batch_seeds": self.batch_seeds,
                "command": self.command(),
                "base": self.base}
        return yaml.safe_dump(_plain(data), sort_keys=False)


# --------------------------------------------------------------------------------------------------------------------
# Parsing


def split_values(text: str) -> list[str]:
    """Split ``1e-4,3e-4`` at top-level commas; brackets group: ``[64,64],[128,128]`` -> two values."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """``["actor_lr=1e-4,3e-4", "hidden_sizes=[64,64],[128,128]"]`` -> {key: [values]} (keys not yet resolved)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid {item!r}: expected KEY=V1,V2,..., e.g. --grid actor_lr=1e-4,3e-4.")
        key, raw = item.split("=", 1)
        key = key.strip()
        values = split_values(raw)
        if not key or not raw.strip() or any(v == "" for v in values):
            raise ConfigError(f"--grid {item!r}: expected KEY=V1,V2,... with no empty key or value.")
        if key in grid:
            raise ConfigError(f"--grid {key}: given twice; put all its values in one --grid {key}=V1,V2.")
        grid[key] = [yaml_value(v) for v in values]
    return grid


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Raw mapping of a sweep YAML file (keys checked; values validated by :func:`make_spec`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {str(path)!r} not found.")
    data = read_yaml_mapping(path, not_a_mapping=f"expected a mapping with keys {', '.join(FILE_KEYS)}.")
    for key in data:
        if key not in FILE_KEYS:
            hint = difflib.get_close_matches(str(key), FILE_KEYS, n=1, cutoff=0.5)
            raise ConfigError(f"{path}: unknown sweep key {key!r}." + (f" Did you mean {hint[0]!r}?" if hint else
                                                                       f" Sweep keys: {', '.join(FILE_KEYS)}."))
    if "preset" not in data:
        raise ConfigError(f"{path}: no 'preset' (a preset name or a config YAML path) to sweep over.")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: 'grid' must map keys to lists of values, e.g. grid: {{actor_lr: [1e-4, 3e-4]}}.")
    data["grid"] = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in grid.items()}
    overrides = data.get("set") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: 'set' must map keys to values, e.g. set: {{total_steps: 20000}}.")
    data["set"] = overrides
    if isinstance(data["preset"], str) and data["preset"].endswith((".yaml", ".yml")):
        preset_path = Path(data["preset"])
        if not preset_path.is_absolute():  # relative to the sweep file
            data["preset"] = str(path.parent / preset_path)
    return data


def is_sweep_file(target: str) -> bool:
    """A YAML file whose top level has sweep keys (``preset``, ``grid``, ``seeds``) rather than config keys."""
    path = Path(target)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        return "preset" in read_yaml_mapping(path)
    except ConfigError:
        return False


# --------------------------------------------------------------------------------------------------------------------
# Building and expanding


def make_spec(preset: str, seeds: Any = 1, grid: dict[str, list[Any]] | None = None,
              overrides: dict[str, Any] | None = None, backend: str = "local", workers: int | None = None,
              ray_address: str | None = None, retries: int = 0, name: str | None = None,
              batch_seeds: bool = True) -> SweepSpec:
    """Validated spec: keys resolved to full dotted keys, values coerced, every trial's config checked.

    ``batch_seeds``: train the seeds of a config in one vmapped process where the loop allows it; those configs
    then get no default ``checkpoint_every`` (see :attr:`SweepSpec.batch_seeds`)."""
    base = load_preset_dict(preset)
    if not isinstance(batch_seeds, bool):
        raise ConfigError(f"batch_seeds {batch_seeds!r}: expected true or false.")
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: must be one of {list(BACKENDS)}.")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1.")
    if retries < 0:
        raise ConfigError(f"--retries {retries}: must be >= 0.")
    algo = (overrides or {}).get("algo", base.get("algo", RunConfig.algo))
    fixed = {}
    for key, value in (overrides or {}).items():
        if key == "seed":
            raise ConfigError("--set seed=...: a sweep sets each trial's seed; use --seeds 10 or --seeds 0,3,7.")
        fixed[_resolve(key, algo)] = value
    resolved_grid: dict[str, list[Any]] = {}
    for key, values in (grid or {}).items():
        if key in ("seed", "algo"):
            raise ConfigError(f"--grid {key}: " + ("use --seeds to choose seeds." if key == "seed" else
                                                   "a sweep runs one algorithm; compare sweeps with `offpolicy compare`."))
        full = _resolve(key, algo)
        if full in resolved_grid:
            raise ConfigError(f"--grid {key}: the key {full} is given twice.")
        if full in fixed:
            raise ConfigError(f"{full} is both in --grid and --set; keep it in one of them.")
        if not values:
            raise ConfigError(f"--grid {key}: no values.")
        resolved_grid[full] = list(values)
    if "video" not in fixed and "video" not in resolved_grid:
        fixed["video"] = False  # a sweep's trials are for numbers; record videos with `offpolicy eval --video`
    spec = SweepSpec(name=name or Path(preset).stem, preset=preset, base=base, seeds=tuple(parse_seeds(seeds)),
                     grid={}, overrides=fixed, backend=backend, workers=workers, ray_address=ray_address,
                     retries=retries, batch_seeds=batch_seeds)
    # Coerce every grid value through the config's own validation (so 1e-4 and 0.0001 are one value), then check
    # that each grid point makes a valid config.
    for full, values in resolved_grid.items():
        coerced = []
        for value in values:
            config = _build(spec, {full: value}, spec.seeds[0])
            coerced.append(_lookup(to_dict(config), full))
        dupes = {_flow(v) for v in coerced if coerced.count(v) > 1}
        if dupes:
            raise ConfigError(f"--grid {full}: value {sorted(dupes)[0]} is repeated.")
        spec.grid[full] = tuple(coerced)
    if ("checkpoint_every" not in fixed and "checkpoint_every" not in spec.grid and "total_steps" not in spec.grid
            and not _batching(spec)):
        # Trials are resumable by default: about ten training checkpoints over the run. (With batching, _build
        # decides per config: none for the configs whose seeds train together, this default for the others.)
        total = _build(spec, {}, spec.seeds[0]).total_steps
        spec.overrides["checkpoint_every"] = max(1, total // 10)
    expand(spec)  # every point x seed validates
    return spec


def expand(spec: SweepSpec) -> list[Trial]:
    keys = list(spec.grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(spec.grid[k] for k in keys))]
    slugs = _slugs(spec.name, points)
    trials = []
    for point, slug in zip(points, slugs):
        for seed in spec.seeds:
            trials.append(Trial(slug=slug, seed=seed, params=point, config=_build(spec, point, seed)))
    return trials


def configs(trials: list[Trial]) -> dict[str, list[Trial]]:
    """Trials grouped by config slug, in order."""
    groups: dict[str, list[Trial]] = {}
    for trial in trials:
        groups.setdefault(trial.slug, []).append(trial)
    return groups


def _build(spec: SweepSpec, point: dict[str, Any], seed: int) -> RunConfig:
    overrides = {**spec.overrides, **point, "seed": seed}
    config = from_dict(apply_overrides(spec.base, overrides))
    if "checkpoint_every" not in overrides:
        every = max(1, config.total_steps // 10)
        if _batching(spec):
            if seeds_share_a_process(dataclasses.replace(config, checkpoint_every=0)):
                every = 0  # its seeds train in one vmapped process, which writes no training checkpoints
        config = dataclasses.replace(config, checkpoint_every=every)
    return config


def _batching(spec: SweepSpec) -> bool:
    """Whether the sweep batches seeds at all: it is on and there are several seeds to batch."""
    return spec.batch_seeds and len(spec.seeds) > 1


def _resolve(key: str, algo: str) -> str:
    if algo not in registry.ALGORITHMS:
        return key  # from_dict names the unknown algorithm
    return resolve_key(key, algo)


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def _flow(value: Any) -> str:
    """A value as it is written on a command line and in a slug: 0.0001, [64,64], true."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_flow(v)}" for k, v in value.items()) + "}"
    return str(value)


def _short_keys(keys: list[str]) -> dict[str, str]:
    """Shortest dotted suffix of each key that no other key ends with: agent.actor_lr -> actor_lr."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            short = ".".join(parts[-n:])
            if not any(other != key and (other == short or other.endswith("." + short)) for other in keys):
                break
        out[key] = short
    return out


def _slugs(name: str, points: list[dict[str, Any]]) -> list[str]:
    if not points or not points[0]:
        return [_safe(name)]
    short = _short_keys(list(points[0]))
    slugs, seen = [], set()
    for point in points:
        slug = _safe(",".join(f"{short[k]}={_flow(v)}" for k, v in point.items()))
        base, i = slug, 2
        while slug in seen:
            slug = f"{base}#{i}"
            i += 1
        seen.add(slug)
        slugs.append(slug)
    return slugs


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=,+\-\[\]{}:]", "_", text)[:200] or "config"


def _seeds_arg(seeds: tuple[int, ...]) -> str:
    """``--seeds`` in :func:`offpolicy.config.parse_seeds`'s grammar: a count from 0, one seed as a range, or a list."""
    if seeds == tuple(range(len(seeds))):
        return str(len(seeds))
    if len(seeds) == 1:
        return f"{seeds[0]}-{seeds[0]}"
    return ",".join(str(s) for s in seeds)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# --------------------------------------------------------------------------------------------------------------------
# Batches: the seeds of one config in one vmapped process


def seeds_share_a_process(config: Any) -> bool:
    """Whether the loop can train several seeds of ``config`` in one process with their agents vmapped
    (a multi-seed :class:`~offpolicy.run.trainer.Trainer`): ``loop: compiled`` on a gymnax env without env_kwargs, or
    ``loop: host`` with ``nonfinite: stop``; and no training checkpoints, which a multi-seed run does not write."""
    if config.checkpoint_every:
        return False
    if config.loop == "compiled":
        from offpolicy.envs import GYMNAX_ENVS

        return config.env in GYMNAX_ENVS and not config.env_kwargs
    return config.loop == "host" and config.nonfinite == "stop"


def can_batch_seeds(config: Any, enabled: bool = True) -> bool:
    """Whether the seeds of ``config`` are trained together, in one vmapped process: batching is ``enabled`` (the
    sweep's ``--batch-seeds``, on by default) and the loop supports it (:func:`seeds_share_a_process`)."""
    return bool(enabled) and seeds_share_a_process(config)


def plan_batches(trials: list, workers: int, batch_seeds: bool = True) -> list[list]:
    """Split trials into batches, in the order they should start: one trial each, or, for configs whose seeds can
    be batched (:func:`can_batch_seeds`), chunks of one config's seeds sized so that every worker gets work.

    Batches go round-robin over the configs (every config's first seed, then every config's second, ...): the
    trials running at once compile different programs, those after them find theirs in the compilation cache, and
    a sweep stopped early has results for every config."""
    groups = configs(trials)
    per_group: list[list[list]] = []
    for group in groups.values():
        if len(group) > 1 and can_batch_seeds(group[0].config, batch_seeds):
            chunks = max(1, min(len(group), -(-workers // len(groups))))  # ceil(workers / configs) chunks
            size = -(-len(group) // chunks)
            per_group.append([group[i:i + size] for i in range(0, len(group), size)])
        else:
            per_group.append([[t] for t in group])
    rounds = max((len(b) for b in per_group), default=0)
    return [b[i] for i in range(rounds) for b in per_group if i < len(b)]


# --------------------------------------------------------------------------------------------------------------------
# Saved specs


def save_spec(spec: SweepSpec, sweep_dir: Path) -> None:
    from offpolicy.sweep.store import write_atomic

    write_atomic(Path(sweep_dir) / SWEEP_FILE, spec.to_yaml())


def load_spec(sweep_dir: str | Path) -> SweepSpec:
    """The spec saved in ``SWEEP_DIR/sweep.yaml`` (made by ``offpolicy sweep``)."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise ConfigError(f"{sweep_dir}: no {SWEEP_FILE} here; pass a sweep directory made by `offpolicy sweep`.")
    data = read_yaml_mapping(path, not_a_mapping=f"not an offpolicy sweep file (format: {FORMAT}).")
    if data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not an offpolicy sweep file (format: {FORMAT}).")
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: sweep format version {data.get('format_version')}; this offpolicy reads "
                          f"version {FORMAT_VERSION}.")
    missing = [key for key in ("name", "preset", "base", "seeds") if key not in data]
    if missing:
        raise ConfigError(f"{path}: no {', '.join(missing)}; the file was edited or cut short. Start a new sweep.")
    try:
        spec = SweepSpec(name=data["name"], preset=data["preset"], base=data["base"] or {},
                         seeds=tuple(parse_seeds(list(data["seeds"]))),
                         grid={k: tuple(v) for k, v in (data.get("grid") or {}).items()},
                         overrides=dict(data.get("set") or {}), backend=data.get("backend", "local"),
                         workers=data.get("workers"), ray_address=data.get("ray_address"),
                         retries=int(data.get("retries") or 0), batch_seeds=bool(data.get("batch_seeds", False)))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: a value has the wrong type ({exc}); the file was edited. Start a new sweep.") from None
    expand(spec)  # still valid with this offpolicy's config rules
    return spec


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return parse_set(list(items))
