"""What every agent provides: a static spec of the env, and pure functions over one state pytree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax


class EnvSpec(NamedTuple):
    """Shapes the agent is built for. Actions of continuous agents live in [-1, 1]^action_dim."""

    obs_shape: tuple[int, ...]
    action_dim: int  # continuous: action vector length; discrete: 1
    n_actions: int = 0  # discrete: number of actions; continuous: 0

    @property
    def discrete(self) -> bool:
        return self.n_actions > 0


class Prioritized(NamedTuple):
    """Prioritized replay (Schaul et al. 2016): priorities (error + eps)^alpha, importance-weight exponent beta
    annealed linearly from ``beta`` at step 0 to 1 at env step ``beta_steps``."""

    alpha: float
    beta: float
    beta_steps: int
    eps: float


def prioritized_replay(cfg: Any) -> Prioritized | None:
    """The Prioritized settings of an agent config (offpolicy.hparams.ReplayConfig), None for uniform replay."""
    if not cfg.prioritized:
        return None
    return Prioritized(cfg.priority_alpha, cfg.priority_beta, cfg.priority_beta_steps, cfg.priority_eps)


class Agent(NamedTuple):
    """An algorithm bound to its config and env spec.

    init(key, n_envs) -> state
    act(state, obs[B, ...], key, explore) -> (action[B, ...], state)    ``explore`` is static (Python bool)
    reset(state, episode_start[B]) -> state                               per-episode state (e.g. OU noise)
    update(state, batch, key) -> (state, metrics)                         metrics: the scalars of metric_names;
                                                                          with prioritized replay also "priority",
                                                                          the per-sample error [B] (|TD error| or
                                                                          the per-sample loss), not logged
    gather(buffer, idx[B], stride=1) -> batch                             the minibatch at the drawn buffer
                                                                          positions (one env's consecutive steps
                                                                          lie ``stride`` = n_envs positions apart);
                                                                          None: one-step transitions (buffer.gather)
    prioritized                                                           None: uniform replay; else the learner
                                                                          draws by priority, batch.weight holds the
                                                                          importance weights, update uses them
    """

    algo: str
    config: Any
    spec: EnvSpec
    init: Callable[[jax.Array, int], Any]
    act: Callable[..., tuple[jax.Array, Any]]
    reset: Callable[[Any, jax.Array], Any]
    update: Callable[[Any, Any, jax.Array], tuple[Any, dict[str, jax.Array]]]
    metric_names: tuple[str, ...]
    gather: Callable[..., Any] | None = None
    prioritized: Prioritized | None = None


class PolicyNetwork(NamedTuple):
    """An agent's noise-free policy as a plain MLP, for export (``offpolicy.export``): every agent module provides
    ``policy_network(config, spec, state) -> PolicyNetwork`` giving what its ``act(..., explore=False)`` computes.

    x = obs; for each layer i: x = activations[i](x @ kernels[i] + biases[i]); then the head:
      "tanh_then_rescale":  action = tanh(x) in [-1, 1], mapped to the env's bounds (continuous agents)
      "argmax":             action = argmax_a x[..., a] (discrete agents; x is Q(s, .))
      "categorical_argmax": action = argmax_a sum_i z_i softmax_i(x[..., a, :]) (C51: x is [n_actions * n_atoms]
                            logits, action-major, and z = ``support``)
    """

    kernels: tuple[Any, ...]
    """[fan_in, fan_out] each (Flax's layout), input to output."""
    biases: tuple[Any, ...]
    """[fan_out] each."""
    activations: tuple[str, ...]
    """One per layer: "relu", "tanh" or "identity" (the last layer's is usually "identity")."""
    head: str
    """"tanh_then_rescale", "argmax" or "categorical_argmax"."""
    weights: str = "online"
    """What the weights are, in words (e.g. the NoisyNet mean weights mu), recorded in the exported file."""
    support: Any = None
    """"categorical_argmax" only: the atoms z [n_atoms] of the return distributions."""


def tanh_mlp_policy(layers: dict, n_hidden: int, out: str, weights: str) -> PolicyNetwork:
    """The PolicyNetwork of a continuous actor ``tanh(MLP(s))`` whose Dense layers are ``layers["hidden_0"] ..
    layers[f"hidden_{n_hidden - 1}"]`` (ReLU) then ``layers[out]`` (networks.MLP's and SquashedGaussianActor's names)."""
    names = [f"hidden_{i}" for i in range(n_hidden)] + [out]
    return PolicyNetwork(
        kernels=tuple(layers[n]["kernel"] for n in names),
        biases=tuple(layers[n]["bias"] for n in names),
        activations=("relu",) * n_hidden + ("identity",),
        head="tanh_then_rescale",
        weights=weights,
    )
