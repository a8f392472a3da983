"""DQN (Mnih et al. 2015) with NoisyNet exploration (Fortunato et al. 2017) as pure functions over one state pytree.

The update, in the order the tutorial's ``update_model`` runs it (equations in docs/dqn.md):

    y         = r + gamma * (1 - terminated) * max_a Q'(s', a; eps')     TD target from the target net and its noise;
                                                                           truncation is NOT terminal
                (n_step > 1: r is the n-step return sum_{j<k} gamma^j r_{t+j}, s' = s_{t+k} and gamma^k replaces
                 gamma, the window k <= n cut at an episode end; buffer.n_step_batch)
                (double: Q'(s', argmax_a Q(s', a; eps); eps') instead of the max: the online net picks, the target
                 net evaluates; van Hasselt et al. 2016)
    L         = mean huber(Q(s, a; eps) - y)                             on the taken action a only (smooth L1)
                (prioritized: mean w_i huber(...) with the importance weights w of the drawn batch, and the drawn
                 transitions get priorities from |Q(s, a; eps) - y|; Schaul et al. 2016, buffer.py)
                (distributional, C51: Q(s, a) = sum_i z_i p_i(s, a) on atoms z_i in [v_min, v_max]; the target is
                 the distribution of r + gamma (1 - terminated) z under p(s', a'), projected onto the atoms
                 (``categorical_projection``), and L = mean KL(target || p(s, a)); Bellemare et al. 2017)
    theta     <- Adam step on L                                          at rate lr (lr_end set: falling linearly
                                                                           to lr_end over lr_decay_updates updates)
    eps, eps' <- fresh independent samples                               online and target noise, after every update
    theta'    <- theta            every target_update updates            hard copy (parameters only, not the noise)

The noise eps (online) and eps' (target) are explicit arrays in the state. Training actions are argmax_a Q(s, a; eps)
with the current eps (``noise_resample="update"``, the tutorial's), or with a fresh sample drawn for every action
(``"step"``, the NoisyNet paper's Algorithm 1); evaluation (``explore=False``) uses the mean weights mu only, unless
``eval_noise``. ``dueling`` gives the Q-network a value and an advantage stream (Wang et al. 2016, networks.QNetwork).
With ``exploration="epsilon"`` the same network has plain Dense layers instead of noisy ones, and training actions
are epsilon-greedy with epsilon falling linearly over ``epsilon_decay_steps`` policy steps.
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import optax

from offpolicy import buffer as rb
from offpolicy.agents.base import Agent, EnvSpec, PolicyNetwork, prioritized_replay
from offpolicy.buffer import Transition
from offpolicy.hparams import DQNConfig
from offpolicy.networks import QNetwork, q_layers, sample_q_noise


@flax.struct.dataclass
class DQNState:
    params: dict  # online Q-network params (mu and sigma of the noisy layers)
    target_params: dict
    opt: optax.OptState
    online_noise: dict  # {layer name: {"kernel": [fan_in, fan_out], "bias": [fan_out]}}; {} without NoisyNet
    target_noise: dict  # same structure, drawn independently
    updates: jax.Array  # int32, number of updates done
    policy_steps: jax.Array  # int32, env steps taken by the exploring policy (drives the epsilon schedule)


def network(cfg: DQNConfig, spec: EnvSpec) -> QNetwork:
    return QNetwork(spec.n_actions, tuple(cfg.hidden_sizes), noisy=cfg.exploration == "noisy", sigma0=cfg.sigma0,
                    bias_sigma_fan_out=cfg.bias_sigma_fan_out, dueling=cfg.dueling, n_atoms=atoms(cfg))


def atoms(cfg: DQNConfig) -> int:
    """Outputs per action: C51's n_atoms, else 1 (Q itself)."""
    return cfg.n_atoms if cfg.distributional else 1


def support(cfg: DQNConfig) -> jax.Array:
    """C51's atoms z_i = v_min + i (v_max - v_min) / (n_atoms - 1), i = 0 .. n_atoms - 1."""
    return jnp.linspace(cfg.v_min, cfg.v_max, cfg.n_atoms, dtype=jnp.float32)


def to_q(cfg: DQNConfig, out: jax.Array) -> jax.Array:
    """Q [B, n_actions] from the network's output: itself, or (C51) the mean sum_i z_i p_i of its distributions."""
    return jnp.sum(jax.nn.softmax(out, axis=-1) * support(cfg), axis=-1) if cfg.distributional else out


def categorical_projection(target_atoms: jax.Array, probs: jax.Array, z: jax.Array) -> jax.Array:
    """Project the distribution with probabilities ``probs`` [B, N] on the points ``target_atoms`` [B, N] onto the
    fixed atoms ``z`` [N] (evenly spaced; Bellemare et al. 2017, Algorithm 1): each point, clipped to [z_0, z_N-1],
    splits its probability between its two neighbouring atoms in proportion to closeness,

        m_i = sum_j clip(1 - |clip(Tz_j, z_0, z_N-1) - z_i| / dz, 0, 1) p_j,

    which gives a point on an atom all of its mass (no special case). Rows of the result sum to those of ``probs``."""
    dz = (z[-1] - z[0]) / (z.shape[0] - 1)
    tz = jnp.clip(target_atoms, z[0], z[-1])  # [B, N]
    closeness = jnp.clip(1.0 - jnp.abs(tz[:, None, :] - z[None, :, None]) / dz, 0.0, 1.0)  # [B, N (i), N (j)]
    return jnp.sum(closeness * probs[:, None, :], axis=-1)  # [B, N]


def optimizer(cfg: DQNConfig) -> optax.GradientTransformation:
    """Adam (eps 1e-8, as torch.optim.Adam) at lr, or with lr_end at a rate falling linearly from lr to lr_end over
    lr_decay_updates updates (the schedule counts the optimizer's own steps, so a rejected update does not advance
    it); with max_grad_norm the gradient's global norm is clipped first."""
    lr = cfg.lr if cfg.lr_end is None else optax.linear_schedule(cfg.lr, cfg.lr_end, cfg.lr_decay_updates)
    adam = optax.adam(lr)
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), adam) if cfg.max_grad_norm > 0 else adam


def resample(cfg: DQNConfig, spec: EnvSpec, key: jax.Array) -> dict:
    """A fresh noise pytree for one Q-network ({} when exploration is epsilon-greedy)."""
    if cfg.exploration != "noisy":
        return {}
    return sample_q_noise(key, spec.obs_shape[0], tuple(cfg.hidden_sizes), spec.n_actions, cfg.noise_type,
                          cfg.dueling, atoms(cfg))


def epsilon(cfg: DQNConfig, policy_steps: jax.Array) -> jax.Array:
    """Linear schedule: epsilon_start at step 0, epsilon_end from epsilon_decay_steps on."""
    frac = jnp.clip(policy_steps / cfg.epsilon_decay_steps, 0.0, 1.0)
    return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)


def init(cfg: DQNConfig, spec: EnvSpec, key: jax.Array, n_envs: int = 1) -> DQNState:
    del n_envs  # the noise is shared by all envs; nothing per-env
    params_key, online_key, target_key = jax.random.split(key, 3)
    obs = jnp.zeros((1,) + tuple(spec.obs_shape), jnp.float32)
    params = network(cfg, spec).init(params_key, obs)
    return DQNState(
        params=params,
        target_params=jax.tree.map(jnp.copy, params),  # the target starts as an exact copy (own buffers)
        opt=optimizer(cfg).init(params),
        online_noise=resample(cfg, spec, online_key),
        target_noise=resample(cfg, spec, target_key),
        updates=jnp.zeros((), jnp.int32),
        policy_steps=jnp.zeros((), jnp.int32),
    )


def q_values(cfg: DQNConfig, spec: EnvSpec, state: DQNState, obs: jax.Array, noisy: bool) -> jax.Array:
    """Q(s, ·) of the online network [B, n_actions]: with the current noise, or the mean weights mu only."""
    noise = state.online_noise if noisy and cfg.exploration == "noisy" else None
    return to_q(cfg, network(cfg, spec).apply(state.params, obs, noise))


def act(cfg: DQNConfig, spec: EnvSpec, state: DQNState, obs: jax.Array, key: jax.Array, explore: bool):
    """int32 actions [B]. explore: argmax of the noisy Q (NoisyNet) or epsilon-greedy; else argmax of Q with mu.
    With NoisyNet and ``noise_resample="step"`` the exploring Q uses noise drawn from ``key`` for this action only
    (one sample shared by the batch, as one network acts); the state's online noise is left for the update."""
    if not explore:
        return jnp.argmax(q_values(cfg, spec, state, obs, noisy=cfg.eval_noise), axis=-1).astype(jnp.int32), state
    if cfg.exploration == "noisy" and cfg.noise_resample == "step":
        q = to_q(cfg, network(cfg, spec).apply(state.params, obs, resample(cfg, spec, key)))
    else:
        q = q_values(cfg, spec, state, obs, noisy=True)
    greedy = jnp.argmax(q, axis=-1).astype(jnp.int32)  # [B]
    n = obs.shape[0]
    if cfg.exploration == "epsilon":
        coin_key, action_key = jax.random.split(key)
        explore_now = jax.random.uniform(coin_key, (n,)) < epsilon(cfg, state.policy_steps)
        greedy = jnp.where(explore_now, jax.random.randint(action_key, (n,), 0, spec.n_actions), greedy)
    return greedy, state.replace(policy_steps=state.policy_steps + n)


def reset(state: DQNState, episode_start: jax.Array) -> DQNState:
    del episode_start  # no per-episode state: NoisyNet noise is resampled per update, not per episode
    return state


def update(cfg: DQNConfig, spec: EnvSpec, state: DQNState, batch: Transition, key: jax.Array):
    q_net, tx = network(cfg, spec), optimizer(cfg)

    # TD target from the target network with its own noise; only a true termination stops the bootstrap.
    target_noise = state.target_noise if cfg.exploration == "noisy" else None
    online_noise = state.online_noise if cfg.exploration == "noisy" else None
    next_out = q_net.apply(state.target_params, batch.next_obs, target_noise)  # [B, n_actions] (C51: [B, A, N])
    next_q = to_q(cfg, next_out)  # [B, n_actions]
    if cfg.double:  # the online net (with its current noise) picks a', the target net evaluates it
        next_action = jnp.argmax(to_q(cfg, q_net.apply(state.params, batch.next_obs, online_noise)), axis=-1)
    else:
        next_action = jnp.argmax(next_q, axis=-1)  # [B]
    not_terminal = 1.0 - batch.terminated.astype(jnp.float32)
    discount = cfg.gamma if batch.discount is None else batch.discount  # n-step: gamma^k of each sample's window
    if cfg.distributional:  # the target distribution: r + discount z under p'(s', a'), projected onto the atoms
        next_probs = jax.nn.softmax(jnp.take_along_axis(next_out, next_action[:, None, None], axis=1)[:, 0], -1)
        shifted = batch.reward[:, None] + (discount * not_terminal)[:, None] * support(cfg)  # [B, N]
        target = jax.lax.stop_gradient(categorical_projection(shifted, next_probs, support(cfg)))  # [B, N]
    else:
        next_value = jnp.take_along_axis(next_q, next_action[:, None], axis=-1)[:, 0]  # max_a Q' without double
        target = jax.lax.stop_gradient(batch.reward + discount * not_terminal * next_value)  # [B]
    weight = 1.0 if batch.weight is None else batch.weight  # prioritized replay's importance weights [B]

    # Loss on the taken action, with the online noise (the actions of noise_resample="update" were chosen with it).

    def loss_fn(params):
        out = q_net.apply(params, batch.obs, online_noise)  # [B, n_actions] (C51: [B, A, N] logits)
        taken = jnp.take_along_axis(out, batch.action.astype(jnp.int32).reshape((-1,) + (1,) * (out.ndim - 1)),
                                    axis=1)[:, 0]  # [B] (C51: [B, N])
        if cfg.distributional:  # KL(target || p(s, a)): the cross-entropy less the target's own entropy
            log_p = jax.nn.log_softmax(taken, axis=-1)
            per_sample = jnp.sum(jax.scipy.special.xlogy(target, target) - target * log_p, axis=-1)  # [B]
            q_pred = jnp.sum(jnp.exp(log_p) * support(cfg), axis=-1)
            error = per_sample
        else:
            q_pred = taken
            td_error = q_pred - target
            per_sample = optax.huber_loss(td_error, delta=1.0) if cfg.loss == "huber" else td_error**2
            error = jnp.abs(td_error)
        return jnp.mean(weight * per_sample), (q_pred, error)

    (loss, (q_pred, error)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    param_updates, opt = tx.update(grads, state.opt, state.params)
    params = optax.apply_updates(state.params, param_updates)

    # New independent noise for both networks, then the hard target copy every target_update updates.
    online_key, target_key = jax.random.split(key)
    updates = state.updates + 1
    copy = updates % cfg.target_update == 0
    target_params = jax.tree.map(lambda new, old: jnp.where(copy, new, old), params, state.target_params)

    new_state = state.replace(
        params=params,
        target_params=target_params,
        opt=opt,
        online_noise=resample(cfg, spec, online_key),
        target_noise=resample(cfg, spec, target_key),
        updates=updates,
    )
    metrics = {"loss": loss, "q_mean": jnp.mean(q_pred)}
    if cfg.prioritized:
        metrics["priority"] = jax.lax.stop_gradient(error)  # [B] the drawn transitions' new priorities come from it
    if cfg.exploration == "noisy":  # mean |sigma| over the noisy layers' weights: how much noise is left
        sigmas = [jnp.abs(leaf).ravel() for path, leaf in jax.tree_util.tree_leaves_with_path(params)
                  if "sigma" in jax.tree_util.keystr(path)]
        metrics["sigma_mean"] = jnp.mean(jnp.concatenate(sigmas))
    else:
        metrics["epsilon"] = epsilon(cfg, state.policy_steps)
    return new_state, metrics


def policy_network(cfg: DQNConfig, spec: EnvSpec, state: DQNState) -> PolicyNetwork:
    """The greedy policy of ``act(..., explore=False)`` as plain arrays (for export): argmax_a Q(s, a) of the online
    network with the NoisyNet mean weights mu, or, with ``eval_noise``, with the state's current noise folded in
    (w = mu + sigma * eps, as ``q_values(..., noisy=True)`` computes it).

    A dueling network is written as the same plain MLP: its two streams side by side in one hidden layer
    ([h, 2h']: value then advantage), and the head Q = V + A - mean A, linear in that layer's output, as one output
    layer: kernel [w_V repeated for every action; w_A - mean_a w_A], bias b_V + b_A - mean b_A (C51: per atom).
    C51's network gives its [n_actions * n_atoms] logits, and the head "categorical_argmax" with the atoms takes the
    argmax of sum_i z_i softmax(logits)."""
    params = state.params["params"]
    noisy = cfg.exploration == "noisy"
    with_noise = noisy and cfg.eval_noise

    def weights(layer) -> tuple[jax.Array, jax.Array]:
        p = params[layer.name]
        if not (noisy and layer.noisy):  # a plain Dense layer
            return p["kernel"], p["bias"]
        if with_noise:
            eps = state.online_noise[layer.name]
            return p["kernel_mu"] + p["kernel_sigma"] * eps["kernel"], p["bias_mu"] + p["bias_sigma"] * eps["bias"]
        return p["kernel_mu"], p["bias_mu"]

    n_atoms = atoms(cfg)
    layers = q_layers(spec.obs_shape[0], tuple(cfg.hidden_sizes), spec.n_actions, cfg.dueling, n_atoms)
    named = {layer.name: weights(layer) for layer in layers}
    trunk = [named[layer.name] for layer in layers if layer.name.startswith("layer_")]
    if cfg.dueling:  # per atom (C51) or for Q itself: output (a, i) = V_i + A_(a, i) - mean_a' A_(a', i)
        (vh_k, vh_b), (v_k, v_b) = named["value_hidden"], named["value_out"]  # [h, h'], [h', N]
        (ah_k, ah_b), (a_k, a_b) = named["advantage_hidden"], named["advantage_out"]  # [h, h'], [h', n * N]
        hidden = (jnp.concatenate([vh_k, ah_k], axis=1), jnp.concatenate([vh_b, ah_b]))

        def centred(w):  # [..., n * N] minus its mean over actions, per atom
            per_action = w.reshape(w.shape[:-1] + (spec.n_actions, n_atoms))
            return (per_action - jnp.mean(per_action, axis=-2, keepdims=True)).reshape(w.shape)

        head_kernel = jnp.concatenate([jnp.tile(v_k, (1, spec.n_actions)), centred(a_k)], axis=0)
        head = (head_kernel, jnp.tile(v_b, spec.n_actions) + centred(a_b))
        trunk = [*trunk, hidden, head]
    n = len(trunk)
    what = ("online Q-network, NoisyNet mean weights mu plus sigma times the checkpoint's current noise sample "
            "(eval_noise)" if with_noise else
            "online Q-network, NoisyNet mean weights mu" if noisy else "online Q-network")
    if cfg.dueling:
        what += "; dueling streams merged into one hidden and one output layer"
    if cfg.distributional:
        what += f"; C51 logits of {n_atoms} atoms per action"
    return PolicyNetwork(kernels=tuple(k for k, _ in trunk), biases=tuple(b for _, b in trunk),
                         activations=("relu",) * (n - 1) + ("identity",),
                         head="categorical_argmax" if cfg.distributional else "argmax", weights=what,
                         support=support(cfg) if cfg.distributional else None)


def make(cfg: DQNConfig, spec: EnvSpec) -> Agent:
    if not spec.discrete:
        raise ValueError("DQN needs a discrete (gymnasium.spaces.Discrete) action space")
    extra = ("sigma_mean",) if cfg.exploration == "noisy" else ("epsilon",)
    return Agent(
        algo="dqn",
        config=cfg,
        spec=spec,
        init=functools.partial(init, cfg, spec),
        act=functools.partial(act, cfg, spec),
        reset=reset,
        update=functools.partial(update, cfg, spec),
        metric_names=("loss", "q_mean", *extra),
        gather=functools.partial(rb.n_step_batch, n=cfg.n_step, gamma=cfg.gamma) if cfg.n_step > 1 else None,
        prioritized=prioritized_replay(cfg),
    )
