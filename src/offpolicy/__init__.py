"""offpolicy: off-policy deep RL (DDPG, TD3, SAC, NoisyNet-DQN) in pure JAX, for any Gymnasium env.

The public names below are imported on first use (module ``__getattr__``), so that ``import offpolicy.export`` (the
NumPy-only policy runtime) does not import JAX, Flax or Gymnasium through this package's ``__init__``.
``new_run_dir(root, name, seed)`` gives a fresh stamped run-directory path (for ``learn(run_dir=...)``), and
``read_csv(path)`` a run's metrics.csv or evaluations.csv as columns of float arrays (the notebooks use both).
"""

from __future__ import annotations

import importlib
from typing import Any

from offpolicy._version import __version__
from offpolicy.errors import (
    CheckpointError,
    ConfigError,
    EnvError,
    ExportFormatError,
    NonFiniteError,
    OffpolicyError,
)
from offpolicy.registry import ALGORITHMS as _ALGORITHMS

_LAZY = {  # public name -> the module that defines it
    "Callback": "offpolicy.callbacks",
    "MODEL_CLASSES": "offpolicy.api",
    "Policy": "offpolicy.policy",
    "RunConfig": "offpolicy.config",
    "make_config": "offpolicy.config",
    "new_run_dir": "offpolicy.run.trainer",
    "read_csv": "offpolicy.analysis.results",
    "preset_names": "offpolicy.config",
    **{entry.api_class: "offpolicy.api" for entry in _ALGORITHMS.values()},  # one class per algorithm: DDPG, DQN, ...
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'offpolicy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [*(entry.api_class for entry in _ALGORITHMS.values()), "MODEL_CLASSES", "Callback", "Policy", "RunConfig",
           "make_config", "preset_names", "new_run_dir", "read_csv", "OffpolicyError", "ConfigError", "EnvError",
           "CheckpointError", "NonFiniteError", "ExportFormatError", "__version__"]
