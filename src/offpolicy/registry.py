"""The algorithm registry: the one place that names algorithms.

Each entry says what an algorithm is made of: its hyperparameter class, the kind of action space it needs, the agent
module that builds its pure functions (``make(config, spec) -> Agent``), its default preset, the name of its Python
API class, and its docs page. Config parsing, env checks, the agent factory, the API classes, the CLI and the sweep
tooling all ask the registry; adding an algorithm means one module under ``agents/``, its hyperparameter class in
``hparams.py``, one entry below, its presets and its docs page (the contract tests then run it through everything).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from offpolicy.errors import ConfigError
from offpolicy.hparams import DDPGConfig, DQNConfig, SACConfig, TD3Config


@dataclass(frozen=True)
class Algorithm:
    name: str
    """The ``algo`` value in configs and on the command line."""
    title: str
    """One line: what it is and where it comes from."""
    config_class: type
    """Its hyperparameters (the ``agent:`` section of a config)."""
    action_kind: Literal["continuous", "discrete"]
    """continuous: a 1-D bounded Box (the agent acts in [-1, 1]); discrete: gymnasium.spaces.Discrete."""
    agent_module: str
    """The module whose ``make(config, spec)`` returns the agent's pure functions (imported when an agent is built)."""
    default_preset: str
    """Preset used when only the algorithm is named (and by its API class without a preset)."""
    api_class: str
    """Name of its class in ``offpolicy`` (``offpolicy.DDPG``)."""
    docs: str
    """Its page: equations, defaults, deviations from the paper and the tutorials."""


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm(
        name="ddpg", title="Deep Deterministic Policy Gradient (Lillicrap et al. 2015)", config_class=DDPGConfig,
        action_kind="continuous", agent_module="offpolicy.agents.ddpg", default_preset="ddpg-pendulum",
        api_class="DDPG", docs="docs/ddpg.md"),
    Algorithm(
        name="dqn", title="DQN (Mnih et al. 2015) with NoisyNet (Fortunato et al. 2017) or epsilon-greedy exploration",
        config_class=DQNConfig, action_kind="discrete", agent_module="offpolicy.agents.dqn",
        default_preset="noisy-dqn-cartpole", api_class="DQN", docs="docs/dqn.md"),
    Algorithm(
        name="td3", title="Twin Delayed DDPG (Fujimoto et al. 2018)", config_class=TD3Config,
        action_kind="continuous", agent_module="offpolicy.agents.td3", default_preset="td3-pendulum",
        api_class="TD3", docs="docs/td3.md"),
    Algorithm(
        name="sac", title="Soft Actor-Critic with learned temperature (Haarnoja et al. 2018)", config_class=SACConfig,
        action_kind="continuous", agent_module="offpolicy.agents.sac", default_preset="sac-pendulum",
        api_class="SAC", docs="docs/sac.md"),
)}

DEFAULT = "ddpg"
"""The algorithm of a config that names none."""


def names() -> list[str]:
    return list(ALGORITHMS)


def get(name: str) -> Algorithm:
    """The entry of ``name``, or a ConfigError with the closest name."""
    try:
        return ALGORITHMS[name]
    except (KeyError, TypeError):
        match = difflib.get_close_matches(str(name), names(), n=1, cutoff=0.5)
        hint = f" Did you mean '{match[0]}'?" if match else f" Valid algorithms: {', '.join(names())}."
        raise ConfigError(f"algo={name!r}: unknown algorithm.{hint}") from None


def of_kind(kind: str) -> list[Algorithm]:
    """The algorithms for one kind of action space, in registry order."""
    return [a for a in ALGORITHMS.values() if a.action_kind == kind]
