"""Agents: pure init / act / reset / update functions over a state pytree."""

from __future__ import annotations

from typing import Any

from offpolicy.agents.base import Agent, EnvSpec


def make_agent(algo: str, config: Any, spec: EnvSpec) -> Agent:
    """Bind an algorithm's pure functions to its (hashable) config and the env spec."""
    if algo == "ddpg":
        from offpolicy.agents import ddpg

        return ddpg.make(config, spec)
    if algo == "dqn":
        from offpolicy.agents import dqn

        return dqn.make(config, spec)
    raise ValueError(f"unknown algo {algo!r}")


__all__ = ["Agent", "EnvSpec", "make_agent"]
