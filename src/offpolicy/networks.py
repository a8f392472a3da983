"""Flax (linen) networks: MLP, DDPG/TD3 actor and critic, twin critics, SAC's squashed-Gaussian actor, NoisyDense and
the DQN Q-network.

Initialisation follows Lillicrap et al. 2015 (and PyTorch's nn.Linear default, which the tutorial relies on):
hidden layers' weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the last layer ~ U(-3e-3, 3e-3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp


def uniform_init(scale: float):
    """Initializer drawing from U(-scale, scale)."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def fan_in_dense(features: int, fan_in: int, scale: float | None = None, name: str | None = None) -> nn.Dense:
    """Dense layer with weights and biases ~ U(±scale), scale defaulting to 1/sqrt(fan_in)."""
    scale = 1.0 / math.sqrt(fan_in) if scale is None else scale
    return nn.Dense(features, kernel_init=uniform_init(scale), bias_init=uniform_init(scale), name=name)


class MLP(nn.Module):
    """ReLU MLP; the last layer is linear, initialised with U(±final_init) (None: U(±1/sqrt(fan_in)))."""

    hidden_sizes: Sequence[int]
    out_features: int
    final_init: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden_sizes):
            x = nn.relu(fan_in_dense(width, x.shape[-1], name=f"hidden_{i}")(x))
        return fan_in_dense(self.out_features, x.shape[-1], self.final_init, name="out")(x)


class Actor(nn.Module):
    """Deterministic policy mu(s) in [-1, 1]^action_dim (tanh output)."""

    action_dim: int
    hidden_sizes: Sequence[int] = (128, 128)
    final_init: float = 3e-3

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(MLP(self.hidden_sizes, self.action_dim, self.final_init, name="mlp")(obs))


class Critic(nn.Module):
    """Action value Q(s, a); state and action are concatenated at the input (as in the tutorial)."""

    hidden_sizes: Sequence[int] = (128, 128)
    final_init: float = 3e-3

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, action], axis=-1)
        return MLP(self.hidden_sizes, 1, self.final_init, name="mlp")(x)[..., 0]  # [B]


class TwinCritic(nn.Module):
    """``n`` independent critics Q_1..Q_n (TD3, SAC): one Critic vmapped over a leading parameter axis, so every
    parameter leaf is [n, ...], each slice initialised from its own key; the output is [n, B]."""

    hidden_sizes: Sequence[int] = (256, 256)
    final_init: float | None = None
    n: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        critics = nn.vmap(Critic, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None,
                          out_axes=0, axis_size=self.n)
        return critics(self.hidden_sizes, self.final_init, name="critics")(obs, action)  # [n, B]


class SquashedGaussianActor(nn.Module):
    """SAC's policy: a ReLU trunk with two linear heads, the mean and the log standard deviation (clipped to
    [log_std_min, log_std_max]) of a Gaussian over pre-squash actions u; the action is tanh(u). All layers start
    U(±1/sqrt(fan_in)) (PyTorch's nn.Linear default, which SB3 and CleanRL inherit)."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    log_std_min: float = -20.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = obs
        for i, width in enumerate(self.hidden_sizes):
            x = nn.relu(fan_in_dense(width, x.shape[-1], name=f"hidden_{i}")(x))
        mean = fan_in_dense(self.action_dim, x.shape[-1], name="mean")(x)  # [B, action_dim]
        log_std = fan_in_dense(self.action_dim, x.shape[-1], name="log_std")(x)
        return mean, jnp.clip(log_std, self.log_std_min, self.log_std_max)


def squashed_gaussian_sample(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterised a = tanh(mean + std * eps), eps ~ N(0, I), and log pi(a|s) summed over action dimensions."""
    u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    return jnp.tanh(u), squashed_gaussian_log_prob(u, mean, log_std)


def squashed_gaussian_log_prob(u: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """log pi(tanh(u)) = sum_j [log N(u_j; mean_j, std_j) - log(1 - tanh(u_j)^2)]   (change of variables a = tanh u)

    with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)): exact and finite for any u, where log(1 - a^2 + 1e-6)
    (SB3, CleanRL) is biased near |a| = 1. Returns [B]."""
    gaussian = -0.5 * ((u - mean) / jnp.exp(log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    log_det = 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    return jnp.sum(gaussian - log_det, axis=-1)


# --------------------------------------------------------------------------------------------------------------------
# NoisyNet (Fortunato et al. 2017) and the DQN Q-network.
#
# The noise is explicit data, not hidden module state: a NoisyDense layer takes its epsilon as an argument
# (``noise=None`` means the mean weights mu only), and ``sample_q_noise(key, ...)`` is the pure function that draws
# a fresh epsilon pytree for a whole Q-network. Flax kernels are [fan_in, fan_out], so epsilon_w is too.

NOISE_TYPES = ("factorised", "independent")


def signed_sqrt(x: jax.Array) -> jax.Array:
    """f(x) = sgn(x) * sqrt(|x|), the scaling of factorised Gaussian noise."""
    return jnp.sign(x) * jnp.sqrt(jnp.abs(x))


def sample_layer_noise(key: jax.Array, fan_in: int, fan_out: int, noise_type: str = "factorised") -> dict:
    """Epsilon of one noisy layer: {"kernel": [fan_in, fan_out], "bias": [fan_out]}.

    factorised:  eps_w = f(eps_in) f(eps_out)^T (rank 1), eps_b = f(eps_out), eps_in/out ~ N(0, I);
    independent: every entry ~ N(0, 1).
    """
    in_key, out_key = jax.random.split(key)
    if noise_type == "factorised":
        eps_in = signed_sqrt(jax.random.normal(in_key, (fan_in,)))
        eps_out = signed_sqrt(jax.random.normal(out_key, (fan_out,)))
        return {"kernel": jnp.outer(eps_in, eps_out), "bias": eps_out}
    if noise_type == "independent":
        return {"kernel": jax.random.normal(in_key, (fan_in, fan_out)), "bias": jax.random.normal(out_key, (fan_out,))}
    raise ValueError(f"noise_type must be one of {NOISE_TYPES}, got {noise_type!r}")


class NoisyDense(nn.Module):
    """y = (mu_w + sigma_w * eps_w) x + mu_b + sigma_b * eps_b; with ``noise=None``, y = mu_w x + mu_b.

    Init (paper, factorised): mu ~ U(±1/sqrt(fan_in)), sigma_w = sigma_b = sigma0/sqrt(fan_in).
    ``bias_sigma_fan_out`` uses sigma0/sqrt(fan_out) for sigma_b instead (the tutorial's choice).
    """

    features: int
    sigma0: float = 0.5
    bias_sigma_fan_out: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, noise: dict | None = None) -> jax.Array:
        fan_in, fan_out = x.shape[-1], self.features
        mu_init = uniform_init(1.0 / math.sqrt(fan_in))
        kernel_mu = self.param("kernel_mu", mu_init, (fan_in, fan_out))
        kernel_sigma = self.param("kernel_sigma", nn.initializers.constant(self.sigma0 / math.sqrt(fan_in)),
                                  (fan_in, fan_out))
        bias_mu = self.param("bias_mu", mu_init, (fan_out,))
        bias_fan = fan_out if self.bias_sigma_fan_out else fan_in
        bias_sigma = self.param("bias_sigma", nn.initializers.constant(self.sigma0 / math.sqrt(bias_fan)), (fan_out,))
        if noise is None:
            return x @ kernel_mu + bias_mu
        kernel = kernel_mu + kernel_sigma * noise["kernel"]
        bias = bias_mu + bias_sigma * noise["bias"]
        return x @ kernel + bias


class QLayer(NamedTuple):
    """One Dense or NoisyDense layer of a QNetwork."""

    name: str
    fan_in: int
    fan_out: int
    noisy: bool  # NoisyDense when the network is noisy: every layer but those reading the observation


def q_layers(obs_dim: int, hidden_sizes: Sequence[int], n_actions: int, dueling: bool = False,
             n_atoms: int = 1) -> list[QLayer]:
    """The layers of a QNetwork, input to output.

    Plain: layer_0 .. layer_k (obs -> h_1 -> ... -> h_k -> n_actions).
    Dueling (Wang et al. 2016): a shared trunk layer_0 .. layer_{k-2} (obs -> h_1 -> ... -> h_{k-1}), then two
    streams, each with its own last hidden layer of width h_k: value_hidden -> value_out (1) and advantage_hidden ->
    advantage_out (n_actions). Layers reading the observation are plain Dense; all others are noisy (NoisyNet).
    With ``n_atoms`` > 1 (C51) every output is n_atoms wide per action (n_actions * n_atoms; value_out n_atoms)."""
    widths = [obs_dim, *hidden_sizes]
    if not dueling:
        widths.append(n_actions * n_atoms)
        return [QLayer(f"layer_{i}", widths[i], widths[i + 1], i > 0) for i in range(len(widths) - 1)]
    trunk = [QLayer(f"layer_{i}", widths[i], widths[i + 1], i > 0) for i in range(len(widths) - 2)]
    split, width, deep = widths[-2], widths[-1], len(trunk) > 0
    streams = []
    for stream, out in (("value", n_atoms), ("advantage", n_actions * n_atoms)):
        streams += [QLayer(f"{stream}_hidden", split, width, deep), QLayer(f"{stream}_out", width, out, True)]
    return trunk + streams


def sample_q_noise(key: jax.Array, obs_dim: int, hidden_sizes: Sequence[int], n_actions: int,
                   noise_type: str = "factorised", dueling: bool = False, n_atoms: int = 1) -> dict:
    """Fresh epsilon for every noisy layer of a QNetwork (all layers but those reading the observation):
    {layer name: layer noise}."""
    layers = [layer for layer in q_layers(obs_dim, hidden_sizes, n_actions, dueling, n_atoms) if layer.noisy]
    keys = jax.random.split(key, len(layers))
    return {name: sample_layer_noise(k, fan_in, fan_out, noise_type)
            for k, (name, fan_in, fan_out, _) in zip(keys, layers)}


class QNetwork(nn.Module):
    """Q(s, ·) for n_actions discrete actions, the NoisyNet tutorial's network by default:
    Dense(128) -> ReLU -> Noisy(128) -> ReLU -> Noisy(n_actions).

    The layers reading the observation are plain Dense; every later layer is NoisyDense when ``noisy`` (else a plain
    Dense with the same mu initialisation, for epsilon-greedy). All weights start ~ U(±1/sqrt(fan_in)).

    ``dueling`` (Wang et al. 2016): the last hidden layer is split into a value and an advantage stream (see
    ``q_layers``) and Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a'). V and A are recorded with ``sow`` (collection
    "intermediates": ``apply(..., mutable=["intermediates"])`` returns them).

    ``n_atoms`` > 1 (C51, Bellemare et al. 2017): the output is the logits [B, n_actions, n_atoms] of a categorical
    return distribution per action instead of Q [B, n_actions]; dueling combines the logits the same way, per atom
    (as Rainbow does).
    """

    n_actions: int
    hidden_sizes: Sequence[int] = (128, 128)
    noisy: bool = True
    sigma0: float = 0.5
    bias_sigma_fan_out: bool = False
    dueling: bool = False
    n_atoms: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array, noise: dict | None = None) -> jax.Array:
        layers = {layer.name: layer for layer in q_layers(obs.shape[-1], self.hidden_sizes, self.n_actions,
                                                          self.dueling, self.n_atoms)}
        per_action = (self.n_actions,) if self.n_atoms == 1 else (self.n_actions, self.n_atoms)

        def dense(name: str, x: jax.Array, relu: bool) -> jax.Array:
            layer = layers[name]
            if layer.noisy and self.noisy:
                x = NoisyDense(layer.fan_out, self.sigma0, self.bias_sigma_fan_out, name=name)(
                    x, None if noise is None else noise[name])
            else:
                x = fan_in_dense(layer.fan_out, layer.fan_in, name=name)(x)
            return nn.relu(x) if relu else x

        x = obs
        trunk = [name for name in layers if name.startswith("layer_")]
        for i, name in enumerate(trunk):
            x = dense(name, x, relu=self.dueling or i < len(trunk) - 1)
        if not self.dueling:
            return x.reshape(x.shape[:-1] + per_action)  # [B, n_actions] (C51: [B, n_actions, n_atoms])
        value = dense("value_out", dense("value_hidden", x, relu=True), relu=False)  # [B, 1] (C51: [B, n_atoms])
        advantage = dense("advantage_out", dense("advantage_hidden", x, relu=True), relu=False)
        value = value.reshape(value.shape[:-1] + (1,) + per_action[1:])  # [B, 1] (C51: [B, 1, n_atoms])
        advantage = advantage.reshape(advantage.shape[:-1] + per_action)  # [B, n_actions] (C51: [B, n_actions, n_atoms])
        self.sow("intermediates", "value", value)
        self.sow("intermediates", "advantage", advantage)
        return value + advantage - jnp.mean(advantage, axis=-len(per_action), keepdims=True)
