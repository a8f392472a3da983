"""Agents: pure init / act / reset / update functions over a state pytree."""

from __future__ import annotations

import importlib
from typing import Any

from offpolicy import registry
from offpolicy.agents.base import Agent, EnvSpec, PolicyNetwork
from offpolicy.errors import OffpolicyError


def make_agent(algo: str, config: Any, spec: EnvSpec) -> Agent:
    """Bind an algorithm's pure functions to its (hashable) config and the env spec (the registry names its module)."""
    module = importlib.import_module(registry.get(algo).agent_module)
    return module.make(config, spec)


def policy_network(agent: Agent, state: Any) -> PolicyNetwork:
    """The noise-free policy of ``agent`` in ``state`` as a plain MLP (for export), from its agent module's
    ``policy_network(config, spec, state)``; an OffpolicyError when that module has none."""
    name = registry.get(agent.algo).agent_module
    extract = getattr(importlib.import_module(name), "policy_network", None)
    if extract is None:
        raise OffpolicyError(f"algo {agent.algo!r} cannot be exported yet: its agent module {name} has no "
                             "policy_network(config, spec, state) (see offpolicy.agents.base.PolicyNetwork).")
    return extract(agent.config, agent.spec, state)


__all__ = ["Agent", "EnvSpec", "PolicyNetwork", "make_agent", "policy_network"]
