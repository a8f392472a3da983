"""TD3 (Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic Methods") as pure functions
over one state pytree. DDPG plus three changes: twin critics, target-policy smoothing, delayed policy updates.

One update, top to bottom (equations in docs/td3.md):

    eps       = clip(N(0, sigma~^2), -c, c)                               target-policy smoothing noise
    a'        = clip(mu'(s') + eps, -1, 1)
    y         = r + gamma * (1 - terminated) * min_i Q'_i(s', a')          clipped double-Q; truncation is NOT terminal
    L_critic  = sum_i mean w (Q_i(s, a) - y)^2                            one Adam step on both critics, every update
                                                                          (w = 1; prioritized replay: the importance
                                                                          weights, max_i |Q_i(s, a) - y| the new
                                                                          priorities)
    every policy_delay-th update (k = updates + 1, counted from 1; k % policy_delay == 0):
      L_actor = -mean Q_1,new(s, mu(s))                                   one Adam step on the actor, through Q_1
      theta'  <- tau * theta + (1 - tau) * theta'                         polyak, actor and both critics' targets

The delay is a pure function of the state's update counter (``jax.lax.cond``), so it runs the same inside jit, the
compiled loop's scan and vmapped seeds.
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
from offpolicy.hparams import TD3Config
from offpolicy.networks import Actor, TwinCritic


@flax.struct.dataclass
class TD3State:
    actor: dict  # online actor params
    critic: dict  # twin critic params, every leaf [2, ...]
    actor_target: dict
    critic_target: dict
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    noise: jax.Array  # [n_envs, action_dim] exploration-noise state
    updates: jax.Array  # int32, number of (critic) updates done


def networks(cfg: TD3Config, spec: EnvSpec) -> tuple[Actor, TwinCritic]:
    # final_init None: every layer U(±1/sqrt(fan_in)), PyTorch's nn.Linear default (the paper's code, SB3, CleanRL)
    actor = Actor(spec.action_dim, tuple(cfg.hidden_sizes), None)
    critic = TwinCritic(tuple(cfg.hidden_sizes), None, n=2)
    return actor, critic


def init(cfg: TD3Config, spec: EnvSpec, key: jax.Array, n_envs: int = 1) -> TD3State:
    actor, critic = networks(cfg, spec)
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1,) + tuple(spec.obs_shape), jnp.float32)
    action = jnp.zeros((1, spec.action_dim), jnp.float32)
    actor_params = actor.init(actor_key, obs)
    critic_params = critic.init(critic_key, obs, action)  # the two critics draw from split keys
    return TD3State(
        actor=actor_params,
        critic=critic_params,
        actor_target=jax.tree.map(jnp.copy, actor_params),
        critic_target=jax.tree.map(jnp.copy, critic_params),
        actor_opt=optax.adam(cfg.actor_lr).init(actor_params),
        critic_opt=optax.adam(cfg.critic_lr).init(critic_params),
        noise=exploration.init(cfg.noise, (n_envs, spec.action_dim)),
        updates=jnp.zeros((), jnp.int32),
    )


def act(cfg: TD3Config, spec: EnvSpec, state: TD3State, obs: jax.Array, key: jax.Array, explore: bool):
    """Action in [-1, 1] for a batch of observations [B, *obs_shape]; with ``explore``, mu(s) + noise, clipped."""
    actor, _ = networks(cfg, spec)
    action = actor.apply(state.actor, obs)  # [B, action_dim]
    if not explore:
        return action, state
    noise, noise_state = exploration.sample(cfg.noise, state.noise, key)
    action = jnp.clip(action + noise, -1.0, 1.0)
    return action, state.replace(noise=noise_state)


def reset(cfg: TD3Config, state: TD3State, episode_start: jax.Array) -> TD3State:
    """Reset the exploration noise of the envs whose episode starts (``episode_start``: bool [n_envs])."""
    return state.replace(noise=exploration.reset(cfg.noise, state.noise, episode_start))


def smoothed_target_action(cfg: TD3Config, target_action: jax.Array, key: jax.Array) -> jax.Array:
    """clip(mu'(s') + clip(eps, -c, c), -1, 1) with eps ~ N(0, target_noise^2), per action entry."""
    eps = cfg.target_noise * jax.random.normal(key, target_action.shape)
    eps = jnp.clip(eps, -cfg.target_noise_clip, cfg.target_noise_clip)
    return jnp.clip(target_action + eps, -1.0, 1.0)


def update(cfg: TD3Config, spec: EnvSpec, state: TD3State, batch: Transition, key: jax.Array):
    actor, critic = networks(cfg, spec)
    actor_tx, critic_tx = optax.adam(cfg.actor_lr), optax.adam(cfg.critic_lr)

    # Clipped double-Q target with target-policy smoothing; only a true termination stops the bootstrap.
    next_action = smoothed_target_action(cfg, actor.apply(state.actor_target, batch.next_obs), key)  # [B, A]
    next_q = jnp.min(critic.apply(state.critic_target, batch.next_obs, next_action), axis=0)  # [B]
    not_terminal = 1.0 - batch.terminated.astype(jnp.float32)
    td_target = jax.lax.stop_gradient(batch.reward + cfg.gamma * not_terminal * next_q)  # [B]

    # Both critics regress on the same target (sum of their mean squared errors), every update.
    weight = 1.0 if batch.weight is None else batch.weight  # prioritized replay's importance weights [B]

    def critic_loss_fn(params):
        q_pred = critic.apply(params, batch.obs, batch.action)  # [2, B]
        return jnp.sum(jnp.mean(weight * (q_pred - td_target) ** 2, axis=1)), q_pred

    (critic_loss, q_pred), critic_grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic)
    critic_updates, critic_opt = critic_tx.update(critic_grads, state.critic_opt, state.critic)
    critic_params = optax.apply_updates(state.critic, critic_updates)

    # Actor objective: ascend Q_1(s, mu(s)) through the just-updated critic (gradients reach the actor only).
    def actor_loss_fn(params):
        return -jnp.mean(critic.apply(critic_params, batch.obs, actor.apply(params, batch.obs))[0])

    def actor_and_target_step(_):
        actor_loss, actor_grads = jax.value_and_grad(actor_loss_fn)(state.actor)
        actor_updates, actor_opt = actor_tx.update(actor_grads, state.actor_opt, state.actor)
        actor_params = optax.apply_updates(state.actor, actor_updates)
        return (actor_params, actor_opt,
                optax.incremental_update(actor_params, state.actor_target, cfg.tau),
                optax.incremental_update(critic_params, state.critic_target, cfg.tau),
                actor_loss)

    def no_actor_step(_):
        # the same objective, evaluated only, so the actor_loss metric means one thing on every update
        return state.actor, state.actor_opt, state.actor_target, state.critic_target, actor_loss_fn(state.actor)

    updates = state.updates + 1
    actor_params, actor_opt, actor_target, critic_target, actor_loss = jax.lax.cond(
        updates % cfg.policy_delay == 0, actor_and_target_step, no_actor_step, None)

    new_state = state.replace(
        actor=actor_params,
        critic=critic_params,
        actor_target=actor_target,
        critic_target=critic_target,
        actor_opt=actor_opt,
        critic_opt=critic_opt,
        updates=updates,
    )
    metrics = {"actor_loss": actor_loss, "critic_loss": critic_loss, "q_mean": jnp.mean(q_pred)}
    if cfg.prioritized:  # the larger of the two critics' errors, as LAP (Fujimoto et al. 2020) does
        metrics["priority"] = jnp.max(jnp.abs(q_pred - td_target), axis=0)  # [B]
    return new_state, metrics


def policy_network(cfg: TD3Config, spec: EnvSpec, state: TD3State) -> PolicyNetwork:
    """The noise-free policy mu(s) = tanh(MLP(s)) of ``act(..., explore=False)``, as plain arrays (for export)."""
    return tanh_mlp_policy(state.actor["params"]["mlp"], len(cfg.hidden_sizes), "out", "online actor")


def make(cfg: TD3Config, spec: EnvSpec) -> Agent:
    if spec.discrete:
        raise ValueError("TD3 needs a continuous (Box) action space")
    return Agent(
        algo="td3",
        config=cfg,
        spec=spec,
        init=functools.partial(init, cfg, spec),
        act=functools.partial(act, cfg, spec),
        reset=functools.partial(reset, cfg),
        update=functools.partial(update, cfg, spec),
        prioritized=prioritized_replay(cfg),
        metric_names=("actor_loss", "critic_loss", "q_mean"),
    )
