"""SAC (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications": twin critics, learned temperature)
as pure functions over one state pytree.

The policy is a tanh-squashed Gaussian: u ~ N(mean(s), std(s)^2), a = tanh(u), with

    log pi(a|s) = sum_j [ log N(u_j; mean_j, std_j) - log(1 - tanh(u_j)^2) ],   log(1 - tanh(u)^2) = 2(log 2 - u - softplus(-2u))

One update, top to bottom, in SB3's order (equations in docs/sac.md):

    a~, log pi(a~|s)  sampled once from the current policy (reparameterised, key 1); alpha = exp(log alpha) before its step
    L_alpha   = -mean log_alpha * stopgrad(log pi(a~|s) + H_target)       one Adam step on log alpha (ent_coef auto)
    a', log pi(a'|s') from the current policy at s' (key 2)
    y         = r + gamma * (1 - terminated) * (min_i Q'_i(s', a') - alpha * log pi(a'|s'))     truncation is NOT terminal
    L_critic  = 1/2 sum_i mean w (Q_i(s, a) - y)^2                          one Adam step on both critics (w = 1;
                                                                            prioritized replay: the importance
                                                                            weights, max_i |Q_i(s, a) - y| the new
                                                                            priorities)
    L_actor   = mean (alpha * log pi(a~|s) - min_i Q_i,new(s, a~))          one Adam step on the actor, through the
                                                                            updated critics
    theta'    <- tau * theta + (1 - tau) * theta'                           polyak, both critics' targets (no target actor)

Acting: explore=True samples a = tanh(u); explore=False is the deterministic tanh(mean(s)) (evaluation, predict).
"""

from __future__ import annotations

import functools
import math

import flax.struct
import jax
import jax.numpy as jnp
import optax

from offpolicy.agents.base import Agent, EnvSpec, PolicyNetwork, prioritized_replay, tanh_mlp_policy
from offpolicy.buffer import Transition
from offpolicy.hparams import SACConfig
from offpolicy.networks import SquashedGaussianActor, TwinCritic, squashed_gaussian_sample


@flax.struct.dataclass
class SACState:
    actor: dict  # squashed-Gaussian policy params
    critic: dict  # twin critic params, every leaf [2, ...]
    critic_target: dict
    log_alpha: jax.Array  # float32 scalar, log of the learned entropy coefficient (ent_coef auto)
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState
    updates: jax.Array  # int32, number of updates done


def networks(cfg: SACConfig, spec: EnvSpec) -> tuple[SquashedGaussianActor, TwinCritic]:
    actor = SquashedGaussianActor(spec.action_dim, tuple(cfg.hidden_sizes), cfg.log_std_min, cfg.log_std_max)
    critic = TwinCritic(tuple(cfg.hidden_sizes), None, n=2)  # every layer U(±1/sqrt(fan_in)), PyTorch's default
    return actor, critic


def learns_alpha(cfg: SACConfig) -> bool:
    return cfg.ent_coef == "auto"


def target_entropy(cfg: SACConfig, spec: EnvSpec) -> float:
    """H_target: -|A| for auto (the paper's heuristic, SB3 and CleanRL), else the configured number."""
    return -float(spec.action_dim) if cfg.target_entropy == "auto" else float(cfg.target_entropy)


def current_alpha(cfg: SACConfig, state: SACState) -> jax.Array:
    """alpha = exp(log alpha) when learned, else the fixed ent_coef (which may be 0: no entropy term)."""
    return jnp.exp(state.log_alpha) if learns_alpha(cfg) else jnp.asarray(cfg.ent_coef, jnp.float32)


def init(cfg: SACConfig, spec: EnvSpec, key: jax.Array, n_envs: int = 1) -> SACState:
    del n_envs  # SAC keeps no per-env exploration state
    actor, critic = networks(cfg, spec)
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1,) + tuple(spec.obs_shape), jnp.float32)
    action = jnp.zeros((1, spec.action_dim), jnp.float32)
    actor_params = actor.init(actor_key, obs)
    critic_params = critic.init(critic_key, obs, action)  # the two critics draw from split keys
    log_alpha = jnp.asarray(math.log(cfg.init_ent_coef), jnp.float32)  # unused when ent_coef is a fixed number
    return SACState(
        actor=actor_params,
        critic=critic_params,
        critic_target=jax.tree.map(jnp.copy, critic_params),
        log_alpha=log_alpha,
        actor_opt=optax.adam(cfg.actor_lr).init(actor_params),
        critic_opt=optax.adam(cfg.critic_lr).init(critic_params),
        alpha_opt=optax.adam(cfg.alpha_lr).init(log_alpha),
        updates=jnp.zeros((), jnp.int32),
    )


def act(cfg: SACConfig, spec: EnvSpec, state: SACState, obs: jax.Array, key: jax.Array, explore: bool):
    """Action in [-1, 1] for a batch of observations [B, *obs_shape]: a sample of the policy with ``explore``,
    else tanh(mean)."""
    actor, _ = networks(cfg, spec)
    mean, log_std = actor.apply(state.actor, obs)  # [B, action_dim] each
    if not explore:
        return jnp.tanh(mean), state
    action, _ = squashed_gaussian_sample(mean, log_std, key)
    return action, state


def reset(cfg: SACConfig, state: SACState, episode_start: jax.Array) -> SACState:
    del cfg, episode_start  # no per-episode state: exploration is the policy's own sampling
    return state


def alpha_loss_fn(log_alpha: jax.Array, log_prob: jax.Array, entropy_target: float) -> jax.Array:
    """-mean log_alpha * (log pi + H_target): its gradient -mean(log pi + H_target) = entropy - H_target raises
    alpha when the policy's entropy (-mean log pi) is below the target and lowers it above."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + entropy_target))


def update(cfg: SACConfig, spec: EnvSpec, state: SACState, batch: Transition, key: jax.Array):
    actor, critic = networks(cfg, spec)
    actor_tx, critic_tx, alpha_tx = optax.adam(cfg.actor_lr), optax.adam(cfg.critic_lr), optax.adam(cfg.alpha_lr)
    pi_key, next_key = jax.random.split(key)

    # The current policy's reparameterised sample at s (shared by the alpha and the actor losses).
    def policy_sample(params):
        mean, log_std = actor.apply(params, batch.obs)
        return squashed_gaussian_sample(mean, log_std, pi_key)  # ([B, A], [B])

    _, log_prob = policy_sample(state.actor)
    alpha = current_alpha(cfg, state)  # this update's alpha: the value before its own step, as SB3

    # Temperature: one Adam step on log alpha toward the target entropy (skipped for a fixed alpha).
    entropy_target = target_entropy(cfg, spec)
    if learns_alpha(cfg):
        alpha_loss, alpha_grad = jax.value_and_grad(alpha_loss_fn)(state.log_alpha, log_prob, entropy_target)
        alpha_updates, alpha_opt = alpha_tx.update(alpha_grad, state.alpha_opt, state.log_alpha)
        log_alpha = optax.apply_updates(state.log_alpha, alpha_updates)
    else:
        alpha_loss, alpha_opt, log_alpha = jnp.zeros(()), state.alpha_opt, state.log_alpha

    # Soft clipped double-Q target; the next action comes from the current policy (there is no target actor).
    next_mean, next_log_std = actor.apply(state.actor, batch.next_obs)
    next_action, next_log_prob = squashed_gaussian_sample(next_mean, next_log_std, next_key)
    next_q = jnp.min(critic.apply(state.critic_target, batch.next_obs, next_action), axis=0)  # [B]
    not_terminal = 1.0 - batch.terminated.astype(jnp.float32)
    td_target = jax.lax.stop_gradient(
        batch.reward + cfg.gamma * not_terminal * (next_q - alpha * next_log_prob))  # [B]

    weight = 1.0 if batch.weight is None else batch.weight  # prioritized replay's importance weights [B]

    def critic_loss_fn(params):
        q_pred = critic.apply(params, batch.obs, batch.action)  # [2, B]
        return 0.5 * jnp.sum(jnp.mean(weight * (q_pred - td_target) ** 2, axis=1)), q_pred

    (critic_loss, q_pred), critic_grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic)
    critic_updates, critic_opt = critic_tx.update(critic_grads, state.critic_opt, state.critic)
    critic_params = optax.apply_updates(state.critic, critic_updates)

    # Actor: minimise alpha * log pi - min_i Q_i through the updated critics (gradients reach the actor only).
    def actor_loss_fn(params):
        action, log_prob = policy_sample(params)
        q_pi = jnp.min(critic.apply(critic_params, batch.obs, action), axis=0)  # [B]
        return jnp.mean(alpha * log_prob - q_pi)

    actor_loss, actor_grads = jax.value_and_grad(actor_loss_fn)(state.actor)
    actor_updates, actor_opt = actor_tx.update(actor_grads, state.actor_opt, state.actor)
    actor_params = optax.apply_updates(state.actor, actor_updates)

    new_state = state.replace(
        actor=actor_params,
        critic=critic_params,
        critic_target=optax.incremental_update(critic_params, state.critic_target, cfg.tau),
        log_alpha=log_alpha,
        actor_opt=actor_opt,
        critic_opt=critic_opt,
        alpha_opt=alpha_opt,
        updates=state.updates + 1,
    )
    metrics = {"actor_loss": actor_loss, "critic_loss": critic_loss, "alpha_loss": alpha_loss, "alpha": alpha,
               "entropy": -jnp.mean(log_prob), "q_mean": jnp.mean(q_pred)}
    if cfg.prioritized:  # the larger of the two critics' errors, as LAP (Fujimoto et al. 2020) does
        metrics["priority"] = jnp.max(jnp.abs(q_pred - td_target), axis=0)  # [B]
    return new_state, metrics


def policy_network(cfg: SACConfig, spec: EnvSpec, state: SACState) -> PolicyNetwork:
    """The deterministic policy tanh(mean(s)) of ``act(..., explore=False)``: the trunk and the mean head as plain
    arrays (for export; the log-std head is not needed)."""
    # hidden_0 .. hidden_{n-1}, mean, log_std (networks.SquashedGaussianActor): the log-std head is not needed
    return tanh_mlp_policy(state.actor["params"], len(cfg.hidden_sizes), "mean",
                           "actor mean head (tanh(mean), the deterministic action)")


def make(cfg: SACConfig, spec: EnvSpec) -> Agent:
    if spec.discrete:
        raise ValueError("SAC needs a continuous (Box) action space")
    return Agent(
        algo="sac",
        config=cfg,
        spec=spec,
        init=functools.partial(init, cfg, spec),
        act=functools.partial(act, cfg, spec),
        reset=functools.partial(reset, cfg),
        update=functools.partial(update, cfg, spec),
        prioritized=prioritized_replay(cfg),
        metric_names=("actor_loss", "critic_loss", "alpha_loss", "alpha", "entropy", "q_mean"),
    )
