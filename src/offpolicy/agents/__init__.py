"""Agents: pure init / act / reset / update functions over a state pytree."""

from __future__ import annotations

import importlib
from typing import Any

from offpolicy import registry
from offpolicy.agents.base import Agent, EnvSpec, PolicyNetwork
from offpolicy.errors import OffpolicyError

_AGENTS: dict[tuple, Agent] = {}  # make_agent's recent results, oldest first
_KEEP = 64


def make_agent(algo: str, config: Any, spec: EnvSpec) -> Agent:
    """Bind an algorithm's pure functions to its (hashable) config and the env spec (the registry names its module).

    The same arguments (a config of the same type and ``repr``, so 1 and 1.0 or 0.0 and -0.0 differ) give the same
    Agent object, within a process: the loops and the policy keep their jitted programs per agent (HostStep.shared,
    offpolicy.loops.compiled, noise_free_act), so a second run of one config, a resume or a loaded model in the same
    process traces and compiles nothing again."""
    key = (algo, type(config), repr(config), spec)
    agent = _AGENTS.pop(key, None)
    if agent is None:
        module = importlib.import_module(registry.get(algo).agent_module)
        agent = module.make(config, spec)
    _AGENTS[key] = agent  # most recent last
    if len(_AGENTS) > _KEEP:
        _AGENTS.pop(next(iter(_AGENTS)))
    return agent


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
