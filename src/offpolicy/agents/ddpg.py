"""DDPG (Lillicrap et al. 2015) as pure functions over one state pytree.

The update, in the order the tutorial's ``update_model`` runs it (equations in docs/ddpg.md):

    a'        = mu'(s')                                         target actor
    y         = r + gamma * (1 - terminated) * Q'(s', a')       TD target; truncation is NOT terminal
    L_critic  = mean w (Q(s, a) - y)^2                          one Adam step on the critic (w = 1; prioritized replay:
                                                                the importance weights, and |Q(s, a) - y| the new
                                                                priorities)
    L_actor   = -mean Q_new(s, mu(s))                           one Adam step on the actor, through the updated critic
    theta'    <- tau * theta + (1 - tau) * theta'               polyak, both targets
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import optax

from offpolicy import exploration
from offpolicy.agents.base import Agent, EnvSpec, PolicyNetwork, prioritized_replay, tanh_mlp_policy
from offpolicy.buffer import Transition
from offpolicy.hparams import DDPGConfig
from offpolicy.networks import Actor, Critic


@flax.struct.dataclass
class DDPGState:
    actor: dict  # online actor params
    critic: dict  # online critic params
    actor_target: dict
    critic_target: dict
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    noise: jax.Array  # [n_envs, action_dim] exploration-noise state
    updates: jax.Array  # int32, number of updates done


def networks(cfg: DDPGConfig, spec: EnvSpec) -> tuple[Actor, Critic]:
    actor = Actor(spec.action_dim, tuple(cfg.hidden_sizes), cfg.final_layer_init)
    critic = Critic(tuple(cfg.hidden_sizes), cfg.final_layer_init)
    return actor, critic


def init(cfg: DDPGConfig, spec: EnvSpec, key: jax.Array, n_envs: int = 1) -> DDPGState:
    actor, critic = networks(cfg, spec)
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1,) + tuple(spec.obs_shape), jnp.float32)
    action = jnp.zeros((1, spec.action_dim), jnp.float32)
    actor_params = actor.init(actor_key, obs)
    critic_params = critic.init(critic_key, obs, action)
    return DDPGState(
        actor=actor_params,
        critic=critic_params,
        actor_target=jax.tree.map(jnp.copy, actor_params),  # targets start as exact copies (own buffers)
        critic_target=jax.tree.map(jnp.copy, critic_params),
        actor_opt=optax.adam(cfg.actor_lr).init(actor_params),
        critic_opt=optax.adam(cfg.critic_lr).init(critic_params),
        noise=exploration.init(cfg.noise, (n_envs, spec.action_dim)),
        updates=jnp.zeros((), jnp.int32),
    )


def act(cfg: DDPGConfig, spec: EnvSpec, state: DDPGState, obs: jax.Array, key: jax.Array, explore: bool):
    """Action in [-1, 1] for a batch of observations [B, *obs_shape]; with ``explore``, mu(s) + noise, clipped."""
    actor, _ = networks(cfg, spec)
    action = actor.apply(state.actor, obs)  # [B, action_dim]
    if not explore:
        return action, state
    noise, noise_state = exploration.sample(cfg.noise, state.noise, key)
    action = jnp.clip(action + noise, -1.0, 1.0)
    return action, state.replace(noise=noise_state)


def reset(cfg: DDPGConfig, state: DDPGState, episode_start: jax.Array) -> DDPGState:
    """Reset the exploration noise of the envs whose episode starts (``episode_start``: bool [n_envs])."""
    return state.replace(noise=exploration.reset(cfg.noise, state.noise, episode_start))


def update(cfg: DDPGConfig, spec: EnvSpec, state: DDPGState, batch: Transition, key: jax.Array):
    del key  # DDPG's update is deterministic given the batch
    actor, critic = networks(cfg, spec)
    actor_tx, critic_tx = optax.adam(cfg.actor_lr), optax.adam(cfg.critic_lr)

    # TD target from the target networks; only a true termination stops the bootstrap.
    next_action = actor.apply(state.actor_target, batch.next_obs)  # [B, action_dim]
    next_q = critic.apply(state.critic_target, batch.next_obs, next_action)  # [B]
    not_terminal = 1.0 - batch.terminated.astype(jnp.float32)
    td_target = jax.lax.stop_gradient(batch.reward + cfg.gamma * not_terminal * next_q)  # [B]

    # Critic: mean squared TD error (weighted by prioritized replay's importance weights).
    weight = 1.0 if batch.weight is None else batch.weight  # [B]

    def critic_loss_fn(params):
        q_pred = critic.apply(params, batch.obs, batch.action)  # [B]
        return jnp.mean(weight * (q_pred - td_target) ** 2), q_pred

    (critic_loss, q_pred), critic_grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic)
    critic_updates, critic_opt = critic_tx.update(critic_grads, state.critic_opt, state.critic)
    critic_params = optax.apply_updates(state.critic, critic_updates)

    # Actor: ascend Q(s, mu(s)) through the just-updated critic (gradients reach the actor only).
    def actor_loss_fn(params):
        return -jnp.mean(critic.apply(critic_params, batch.obs, actor.apply(params, batch.obs)))

    actor_loss, actor_grads = jax.value_and_grad(actor_loss_fn)(state.actor)
    actor_updates, actor_opt = actor_tx.update(actor_grads, state.actor_opt, state.actor)
    actor_params = optax.apply_updates(state.actor, actor_updates)

    # Soft target updates.
    new_state = state.replace(
        actor=actor_params,
        critic=critic_params,
        actor_target=optax.incremental_update(actor_params, state.actor_target, cfg.tau),
        critic_target=optax.incremental_update(critic_params, state.critic_target, cfg.tau),
        actor_opt=actor_opt,
        critic_opt=critic_opt,
        updates=state.updates + 1,
    )
    metrics = {"actor_loss": actor_loss, "critic_loss": critic_loss, "q_mean": jnp.mean(q_pred)}
    if cfg.prioritized:
        metrics["priority"] = jnp.abs(q_pred - td_target)  # [B]
    return new_state, metrics


def policy_network(cfg: DDPGConfig, spec: EnvSpec, state: DDPGState) -> PolicyNetwork:
    """The noise-free policy mu(s) = tanh(MLP(s)) of ``act(..., explore=False)``, as plain arrays (for export)."""
    return tanh_mlp_policy(state.actor["params"]["mlp"], len(cfg.hidden_sizes), "out", "online actor")


def make(cfg: DDPGConfig, spec: EnvSpec) -> Agent:
    if spec.discrete:
        raise ValueError("DDPG needs a continuous (Box) action space")
    return Agent(
        algo="ddpg",
        config=cfg,
        spec=spec,
        init=functools.partial(init, cfg, spec),
        act=functools.partial(act, cfg, spec),
        reset=functools.partial(reset, cfg),
        update=functools.partial(update, cfg, spec),
        metric_names=("actor_loss", "critic_loss", "q_mean"),
        prioritized=prioritized_replay(cfg),
    )
