"""Agents: pure init / act / reset / update functions over a state pytree."""

from __future__ import annotations

import importlib
from typing import Any

from offpolicy import registry
from offpolicy.agents.base import Agent, EnvSpec


def make_agent(algo: str, config: Any, spec: EnvSpec) -> Agent:
    """Bind an algorithm's pure functions to its (hashable) config and the env spec (the registry names its module)."""
    module = importlib.import_module(registry.get(algo).agent_module)
    return module.make(config, spec)


__all__ = ["Agent", "EnvSpec", "make_agent"]
