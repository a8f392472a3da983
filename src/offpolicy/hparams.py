"""Hyperparameters of each algorithm: frozen, hashable dataclasses (static arguments of the jitted functions).

Each field has a one-line docstring (shown by ``offpolicy keys`` and in docs/config.md). The registry
(offpolicy.registry) names which class belongs to which algorithm; this module imports nothing from offpolicy but
its errors, so the registry and the config parser can both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from offpolicy.errors import ConfigError


@dataclass(frozen=True)
class NoiseConfig:
    """Exploration noise added to the actor's action (in the agent's [-1, 1] action space)."""

    kind: Literal["ou", "gaussian", "tutorial", "none"] = "ou"
    """ou: Ornstein-Uhlenbeck x += theta*(mu-x)*dt + sigma*sqrt(dt)*N(0,1); gaussian: sigma*N(0,1);
    tutorial: the notebook's x += theta*(mu-x) + sigma*U[0,1) (biased, kept to reproduce it); none."""
    theta: float = 1.0
    """OU mean-reversion rate."""
    sigma: float = 0.1
    """Noise scale (OU diffusion, or the Gaussian standard deviation)."""
    mu: float = 0.0
    """OU long-run mean."""
    dt: float = 1e-2
    """OU time step; lag-1 autocorrelation is 1 - theta*dt."""
    reset_each_episode: bool = True
    """Reset the OU state to mu at every episode start (the tutorial never resets)."""

    def check(self) -> None:
        require(self.theta >= 0, "agent.noise.theta", self.theta, "must be >= 0")
        require(self.sigma >= 0, "agent.noise.sigma", self.sigma, "must be >= 0")
        require(self.dt > 0, "agent.noise.dt", self.dt, "must be > 0")
        if self.kind == "ou":
            require(self.theta * self.dt <= 1, "agent.noise.theta", self.theta,
                     f"theta*dt must be <= 1 for a stable OU process (dt={self.dt})")


@dataclass(frozen=True)
class ReplayConfig:
    """What every off-policy agent's learning from replay shares: capacity, minibatch, discount and prioritized
    replay. Each algorithm's config extends it (and sets its own defaults for the first two)."""

    buffer_size: int = 100_000
    """Replay buffer capacity (transitions)."""
    batch_size: int = 128
    """Minibatch size per update."""
    gamma: float = 0.99
    """Discount factor."""
    prioritized: bool = False
    """Prioritized replay (Schaul et al. 2016, proportional): draw transition i with probability p_i / sum p, p_i =
    (error_i + priority_eps)^priority_alpha (error: |TD error|; twin critics: the larger of the two; C51: the
    per-sample loss), new transitions at the largest priority, the loss weighted by (N P(i))^-beta / max w."""
    priority_alpha: float = 0.6
    """Prioritized replay: how much the priorities count (0: uniform; Schaul et al.'s 0.6, Rainbow's 0.5)."""
    priority_beta: float = 0.4
    """Prioritized replay: importance-weight exponent at the start, annealed linearly to 1 (Schaul et al., Rainbow)."""
    priority_beta_steps: int | None = None
    """Prioritized replay: env steps over which beta reaches 1 (unset: the run's total_steps)."""
    priority_eps: float = 1e-6
    """Prioritized replay: added to the error so no transition has priority 0."""


@dataclass(frozen=True)
class DDPGConfig(ReplayConfig):
    """DDPG (Lillicrap et al. 2015) hyperparameters. Defaults are the tutorial's."""

    tau: float = 5e-3
    """Polyak rate of the soft target update: target <- tau*online + (1-tau)*target."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden layer widths of both actor and critic."""
    final_layer_init: float = 3e-3
    """Last layer weights and biases ~ U(-x, x)."""
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    """Exploration noise."""

    def check(self) -> None:
        check_replay_and_discount(self)
        require(0 < self.tau <= 1, "agent.tau", self.tau, "must be in (0, 1]")
        require(self.actor_lr > 0, "agent.actor_lr", self.actor_lr, "must be > 0")
        require(self.critic_lr > 0, "agent.critic_lr", self.critic_lr, "must be > 0")
        require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
                 "agent.hidden_sizes", list(self.hidden_sizes), "must be a non-empty list of positive ints")
        require(self.final_layer_init > 0, "agent.final_layer_init", self.final_layer_init, "must be > 0")
        self.noise.check()


@dataclass(frozen=True)
class DQNConfig(ReplayConfig):
    """DQN (Mnih et al. 2015) with NoisyNet (Fortunato et al. 2017) or epsilon-greedy exploration.
    Defaults are the NoisyNet tutorial's, with the paper's sigma initialisation."""

    buffer_size: int = 10_000
    lr: float = 1e-3
    """Adam learning rate (eps 1e-8, as PyTorch's default Adam in the tutorial)."""
    lr_end: float | None = None
    """Learning-rate schedule: the rate falls linearly from lr at the first update to lr_end at update
    lr_decay_updates and stays there (optax.linear_schedule; unset: lr throughout, as the tutorial)."""
    lr_decay_updates: int | None = None
    """Learning-rate schedule: updates over which the rate falls from lr to lr_end (set both or neither)."""
    target_update: int = 150
    """Hard copy of the online parameters into the target network every this many updates."""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden widths; the first layer is a plain Dense, every later layer (and the output) is noisy."""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss on the taken action's Q: huber (smooth L1, delta 1, as the tutorial) or mse (not with distributional:
    C51's loss is the KL to its projected target)."""
    max_grad_norm: float = 0.0
    """Clip the gradient's global norm to this before Adam (0: no clipping, as the tutorial)."""
    exploration: Literal["noisy", "epsilon"] = "noisy"
    """noisy: NoisyNet layers, greedy w.r.t. the noisy Q; epsilon: the same network without noise, epsilon-greedy."""
    sigma0: float = 0.5
    """NoisyNet sigma init: sigma = sigma0/sqrt(fan_in) (paper, factorised noise)."""
    noise_type: Literal["factorised", "independent"] = "factorised"
    """factorised: eps_w = f(eps_out) f(eps_in)^T, f(x) = sgn(x) sqrt|x|; independent: one N(0,1) per weight."""
    bias_sigma_fan_out: bool = False
    """Initialise the bias sigma with sigma0/sqrt(fan_out), as the tutorial does (the paper uses fan_in)."""
    eval_noise: bool = False
    """Evaluate and predict with the current noise sample, as the tutorial's test does (default: mean weights mu)."""
    noise_resample: Literal["update", "step"] = "update"
    """NoisyNet: when the acting noise changes: update (after every update, as the tutorial) or step (a fresh sample
    for every action, as the paper's Algorithm 1; the update's noise is still drawn after every update). Like sigma0,
    no effect with exploration=epsilon (so DQN(..., exploration="epsilon") from a step preset works)."""
    double: bool = False
    """Double DQN (van Hasselt et al. 2016): the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling network (Wang et al. 2016): value and advantage streams after the shared layers, Q = V + A - mean A."""
    n_step: int = 1
    """n-step returns (Rainbow, Hessel et al. 2018): learn from r_t + ... + gamma^(n-1) r_{t+n-1} + gamma^n Q'(s_{t+n}),
    the window cut at an episode end (a truncation still bootstraps from its own final observation). 1: one-step."""
    distributional: bool = False
    """C51 (Bellemare et al. 2017): learn a categorical return distribution on n_atoms atoms in [v_min, v_max] with
    the projected Bellman target and a cross-entropy loss; act on Q = sum_i z_i p_i."""
    n_atoms: int = 51
    """C51: number of atoms of the return distribution."""
    v_min: float = -10.0
    """C51: smallest return the distribution represents (targets below are clipped to it)."""
    v_max: float = 10.0
    """C51: largest return the distribution represents (targets above are clipped to it)."""
    epsilon_start: float = 1.0
    """epsilon-greedy: exploration rate at the first policy step."""
    epsilon_end: float = 0.05
    """epsilon-greedy: final exploration rate."""
    epsilon_decay_steps: int = 10_000
    """epsilon-greedy: policy steps (after warm-up) over which epsilon falls linearly from start to end."""

    def check(self) -> None:
        check_replay_and_discount(self)
        require(self.lr > 0, "agent.lr", self.lr, "must be > 0")
        require(self.lr_end is None or 0 <= self.lr_end <= self.lr, "agent.lr_end", self.lr_end,
                f"must be in [0, agent.lr ({self.lr})] (or unset: a constant learning rate)")
        require((self.lr_end is None) == (self.lr_decay_updates is None), "agent.lr_decay_updates",
                self.lr_decay_updates, f"set it together with agent.lr_end ({self.lr_end}): the schedule needs both")
        require(self.lr_decay_updates is None or self.lr_decay_updates >= 1, "agent.lr_decay_updates",
                self.lr_decay_updates, "must be >= 1")
        require(self.target_update >= 1, "agent.target_update", self.target_update, "must be >= 1")
        require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
                 "agent.hidden_sizes", list(self.hidden_sizes), "must be a non-empty list of positive ints")
        require(self.max_grad_norm >= 0, "agent.max_grad_norm", self.max_grad_norm, "must be >= 0 (0: off)")
        require(self.sigma0 >= 0, "agent.sigma0", self.sigma0, "must be >= 0")
        require(0 <= self.epsilon_end <= self.epsilon_start <= 1, "agent.epsilon_start", self.epsilon_start,
                 f"need 0 <= epsilon_end ({self.epsilon_end}) <= epsilon_start <= 1")
        require(self.epsilon_decay_steps >= 1, "agent.epsilon_decay_steps", self.epsilon_decay_steps, "must be >= 1")
        require(1 <= self.n_step <= min(self.buffer_size, 1000), "agent.n_step", self.n_step,
                f"must be in 1..{min(self.buffer_size, 1000)} (and at most agent.buffer_size)")
        require(not (self.distributional and self.loss == "mse"), "agent.loss", self.loss,
                "C51 (distributional) learns by the KL to its projected target, not a TD loss: drop agent.loss or "
                "set agent.distributional false")
        require(self.n_atoms >= 2, "agent.n_atoms", self.n_atoms, "must be >= 2")
        require(self.v_max > self.v_min, "agent.v_max", self.v_max, f"must be > agent.v_min ({self.v_min})")


@dataclass(frozen=True)
class TD3Config(ReplayConfig):
    """TD3 (Fujimoto et al. 2018) hyperparameters. Defaults are the paper's and SB3's (see docs/td3.md)."""

    buffer_size: int = 1_000_000
    batch_size: int = 256
    tau: float = 5e-3
    """Polyak rate of the soft target updates (done with the delayed actor step): target <- tau*online + (1-tau)*target."""
    actor_lr: float = 1e-3
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of both critics (one optimizer over the twin parameters)."""
    hidden_sizes: tuple[int, ...] = (400, 300)
    """Hidden layer widths of the actor and of each critic; every layer starts U(±1/sqrt(fan_in))."""
    policy_delay: int = 2
    """Update the actor and the targets once every this many critic updates."""
    target_noise: float = 0.2
    """Std of the Gaussian target-policy smoothing noise added to mu'(s') (agent's [-1, 1] action space)."""
    target_noise_clip: float = 0.5
    """Clip the target-policy smoothing noise to [-c, c]."""
    noise: NoiseConfig = field(default_factory=lambda: NoiseConfig(kind="gaussian", sigma=0.1))
    """Exploration noise added to mu(s) when acting."""

    def check(self) -> None:
        check_replay_and_discount(self)
        require(0 < self.tau <= 1, "agent.tau", self.tau, "must be in (0, 1]")
        require(self.actor_lr > 0, "agent.actor_lr", self.actor_lr, "must be > 0")
        require(self.critic_lr > 0, "agent.critic_lr", self.critic_lr, "must be > 0")
        check_hidden_sizes(self.hidden_sizes)
        require(self.policy_delay >= 1, "agent.policy_delay", self.policy_delay, "must be >= 1")
        require(self.target_noise >= 0, "agent.target_noise", self.target_noise, "must be >= 0")
        require(self.target_noise_clip >= 0, "agent.target_noise_clip", self.target_noise_clip, "must be >= 0")
        self.noise.check()


@dataclass(frozen=True)
class SACConfig(ReplayConfig):
    """SAC (Haarnoja et al. 2018, learned temperature) hyperparameters. Defaults are SB3's (see docs/sac.md)."""

    buffer_size: int = 1_000_000
    batch_size: int = 256
    tau: float = 5e-3
    """Polyak rate of the critics' soft target update, every update (SAC has no target actor)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of both critics (one optimizer over the twin parameters)."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha) when ent_coef is auto."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic; every layer starts U(±1/sqrt(fan_in))."""
    ent_coef: Literal["auto"] | float = "auto"
    """Entropy coefficient alpha: auto (learn log(alpha) toward target_entropy, starting at init_ent_coef) or a
    fixed number."""
    init_ent_coef: float = 1.0
    """Initial alpha when ent_coef is auto."""
    target_entropy: Literal["auto"] | float = "auto"
    """Entropy the learned alpha aims at: auto = -action_dim, or a number (nats)."""
    log_std_min: float = -20.0
    """Lower clip of the policy's log standard deviation (SB3's bound)."""
    log_std_max: float = 2.0
    """Upper clip of the policy's log standard deviation."""

    def check(self) -> None:
        check_replay_and_discount(self)
        require(0 < self.tau <= 1, "agent.tau", self.tau, "must be in (0, 1]")
        require(self.actor_lr > 0, "agent.actor_lr", self.actor_lr, "must be > 0")
        require(self.critic_lr > 0, "agent.critic_lr", self.critic_lr, "must be > 0")
        require(self.alpha_lr > 0, "agent.alpha_lr", self.alpha_lr, "must be > 0")
        check_hidden_sizes(self.hidden_sizes)
        require(self.ent_coef == "auto" or (is_number(self.ent_coef) and self.ent_coef >= 0),
                "agent.ent_coef", self.ent_coef, "must be auto or a number >= 0")
        require(self.init_ent_coef > 0, "agent.init_ent_coef", self.init_ent_coef, "must be > 0")
        require(self.target_entropy == "auto" or is_number(self.target_entropy), "agent.target_entropy",
                self.target_entropy, "must be auto or a number")
        require(self.log_std_min < self.log_std_max, "agent.log_std_min", self.log_std_min,
                f"must be < agent.log_std_max ({self.log_std_max})")


# -- validation helpers (also used by RunConfig) ------------------------------------------------------------------
def check_replay_and_discount(agent: Any) -> None:
    """Checks every off-policy agent config shares (ReplayConfig): buffer_size, batch_size, gamma, prioritized
    replay."""
    require(agent.buffer_size >= 1, "agent.buffer_size", agent.buffer_size, "must be >= 1")
    require(agent.buffer_size <= 2**31 - 1, "agent.buffer_size", agent.buffer_size,
            "must be <= 2147483647 (2**31 - 1: the replay buffer's write index is a 32-bit integer)")
    require(agent.batch_size >= 1, "agent.batch_size", agent.batch_size, "must be >= 1")
    require(agent.batch_size <= agent.buffer_size, "agent.batch_size", agent.batch_size,
             f"must be <= agent.buffer_size ({agent.buffer_size})")
    require(0 <= agent.gamma <= 1, "agent.gamma", agent.gamma, "must be in [0, 1]")
    require(agent.priority_alpha >= 0, "agent.priority_alpha", agent.priority_alpha, "must be >= 0")
    require(0 <= agent.priority_beta <= 1, "agent.priority_beta", agent.priority_beta, "must be in [0, 1]")
    require(agent.priority_beta_steps is None or agent.priority_beta_steps >= 1, "agent.priority_beta_steps",
            agent.priority_beta_steps, "must be >= 1 (or unset: the run's total_steps)")
    require(agent.priority_eps > 0, "agent.priority_eps", agent.priority_eps, "must be > 0")


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_hidden_sizes(hidden_sizes: tuple[int, ...]) -> None:
    require(len(hidden_sizes) >= 1 and all(h >= 1 for h in hidden_sizes),
            "agent.hidden_sizes", list(hidden_sizes), "must be a non-empty list of positive ints")


def require(ok: bool, key: str, value: Any, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: {message}.")
