"""Write examples/ddpg_pendulum.ipynb and examples/noisy_dqn_cartpole.ipynb from the cells below, outputs stripped.

The notebooks are generated: edit the cells here, then run

    python examples/make_notebooks.py            # rewrite both notebooks (no outputs, deterministic cell ids)
    python examples/make_notebooks.py --check    # exit 1 if a stored notebook differs from what this file writes
    python examples/make_notebooks.py --strip examples/ddpg_pendulum.ipynb   # clear the outputs of any notebook

Running a notebook in Jupyter and saving it stores its outputs; `--strip` (or simply rerunning this script) removes
them again before a commit. Needs nbformat (`pip install -e ".[notebook]"`).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def md(text: str) -> tuple[str, str]:
    return "markdown", textwrap.dedent(text).strip("\n")


def code(text: str) -> tuple[str, str]:
    return "code", textwrap.dedent(text).strip("\n")


# ---------------------------------------------------------------------------------------------------------------------
# DDPG on Pendulum (retells shared/tutorials/000_*: "03. DDPG")

DDPG_CELLS = [
    md("""
    # DDPG on Pendulum, with offpolicy

    This notebook retells the classic *"03. DDPG"* tutorial (Lillicrap et al. 2015, *Continuous control with deep
    reinforcement learning*, arXiv:1509.02971) in the tutorial's order, with **offpolicy**'s own pieces instead of
    hand-written classes: the idea, the replay buffer, the Ornstein–Uhlenbeck noise, the networks, the update; then
    training with live plots, evaluation, a video of the trained agent; and last, the tutorial's exact settings
    (faults included) next to the corrected ones.

    **Budget.** `STEPS` below is the only knob: 20,000 steps by default (about 1–2 minutes per training run on a
    laptop CPU); the tutorial's full budget is `STEPS = 50_000`. CI runs this notebook with a tiny smoke budget through
    the `OFFPOLICY_NOTEBOOK_STEPS` environment variable.
    """),
    code("""
    import os

    STEPS = int(os.environ.get("OFFPOLICY_NOTEBOOK_STEPS", 20_000))  # the tutorial's full budget: 50_000
    WARMUP = min(10_000, STEPS // 2)  # the tutorial's 10,000 uniformly random steps (less only for tiny budgets)
    EVAL_EPISODES = 10 if STEPS >= 10_000 else 2  # noise-free test episodes per evaluation
    SMOKE = STEPS < 2_000  # CI's smoke run: the run directories skip their video (section 8 still records one)
    print(f"{STEPS:,} training steps, {WARMUP:,} of them random warm-up")
    """),
    code("""
    from pathlib import Path

    import jax
    import jax.numpy as jnp
    import matplotlib.pyplot as plt
    import numpy as np

    import offpolicy
    from offpolicy import DDPG
    from offpolicy import new_run_dir

    RUNS = Path("runs")  # run directories (config.yaml, metrics.csv, checkpoints, learning_curve.png, video.mp4)
    print("offpolicy", offpolicy.__version__, "| jax", jax.__version__, "on", jax.default_backend())
    """),
    md(r"""
    ## 1. The idea: deterministic policy gradient

    DQN picks actions by $\arg\max_a Q(s, a)$, which is out of reach when actions are continuous. DDPG keeps a
    deterministic **actor** $\mu(s\,|\,\theta^\mu)$ that maps a state to an action, and a **critic** $Q(s, a\,|\,\theta^Q)$
    learned with the Bellman equation as in Q-learning. The actor climbs the critic by the chain rule:

    $$\nabla_{\theta^\mu} J \approx \mathbb{E}_{s \sim \rho^\beta}\big[\nabla_a Q(s, a\,|\,\theta^Q)\big|_{a=\mu(s)}\,\nabla_{\theta^\mu}\mu(s\,|\,\theta^\mu)\big]$$

    Three ingredients make it work (each gets a section below): a **replay buffer** of past transitions sampled
    uniformly, **target networks** $\mu', Q'$ that slowly track the learned ones
    ($\theta' \leftarrow \tau\theta + (1-\tau)\theta'$, $\tau \ll 1$), and an **exploration process** $\mathcal N$ added
    to the actor's action, $\mu'(s_t) = \mu(s_t) + \mathcal N_t$ — the paper uses an Ornstein–Uhlenbeck process.
    The equations as offpolicy implements them, and every deviation from the paper and the tutorial:
    [docs/ddpg.md](../docs/ddpg.md).
    """),
    md("""
    ## 2. Replay buffer

    The tutorial keeps numpy arrays and a write pointer in a class. offpolicy's buffer (`offpolicy.buffer`) is the same
    idea as *pure functions over a pytree of preallocated JAX arrays*: `init`, `add` (a batch, written as a ring) and
    `sample` (uniform, with replacement), all jit-friendly. Unlike the tutorial it keeps `terminated` (a real end:
    no bootstrap) and `truncated` (a time limit: bootstrap) apart. A five-slot buffer after seven writes shows the ring:
    """),
    code("""
    from offpolicy import buffer as rb

    example = rb.Transition(obs=jnp.zeros(3), action=jnp.zeros(1), reward=jnp.zeros(()), next_obs=jnp.zeros(3),
                            terminated=jnp.zeros((), bool), truncated=jnp.zeros((), bool))
    buf = rb.init(5, example)  # capacity 5, shaped after one transition

    seven = rb.Transition(obs=jnp.zeros((7, 3)), action=jnp.zeros((7, 1)), reward=jnp.arange(7.0),
                          next_obs=jnp.zeros((7, 3)), terminated=jnp.zeros(7, bool),
                          truncated=jnp.arange(7) == 4)  # transition 4 hit a time limit
    buf = rb.add(buf, seven)
    print("rewards stored:", buf.data.reward, "| next write at", int(buf.index), "| size", int(buf.size))
    print("truncated flags:", buf.data.truncated)
    batch = rb.sample(buf, jax.random.key(0), 8)
    print("a minibatch of 8 rewards:", batch.reward)
    """),
    md(r"""
    ## 3. Ornstein–Uhlenbeck noise

    The OU process $dx_t = \theta(\mu - x_t)\,dt + \sigma\,dW_t$ gives temporally correlated noise, which suits
    physical control with inertia. offpolicy steps it with Euler–Maruyama,
    $x \leftarrow x + \theta(\mu - x)\,dt + \sigma\sqrt{dt}\,\mathcal N(0, 1)$, and resets it to $\mu$ at every episode
    start (`offpolicy.exploration`, a pure function of a state and a key). The tutorial's class instead adds
    $\sigma\cdot U[0, 1)$ with no $dt$ and never resets — kept as `kind="tutorial"` to reproduce it. Below, both with
    the tutorial's $\theta = 1$, $\sigma = 0.1$: a sample path, and the autocorrelation against OU's theory
    $(1 - \theta\,dt)^k$.
    """),
    code("""
    from offpolicy import exploration
    from offpolicy.config import NoiseConfig

    def noise_path(cfg, steps, seed=0):
        \"\"\"`steps` successive draws of one 1-D noise process, as a numpy array.\"\"\"
        def step(x, key):
            noise, x = exploration.sample(cfg, x, key)
            return x, noise[0]
        _, path = jax.lax.scan(step, exploration.init(cfg, (1,)), jax.random.split(jax.random.key(seed), steps))
        return np.asarray(path)

    def autocorrelation(x, max_lag):
        x = x - x.mean()
        return np.array([1.0] + [np.dot(x[:-k], x[k:]) / np.dot(x, x) for k in range(1, max_lag + 1)])

    ou = NoiseConfig(kind="ou", theta=1.0, sigma=0.1, dt=0.01)  # the ddpg-pendulum preset's noise
    tut = NoiseConfig(kind="tutorial", theta=1.0, sigma=0.1, reset_each_episode=False)  # the notebook's
    paths = {"OU (offpolicy)": noise_path(ou, 50_000), "tutorial's 'OU'": noise_path(tut, 50_000)}
    for name, x in paths.items():
        print(f"{name:16s} mean {x.mean():+.4f}  std {x.std():.4f}  lag-1 autocorrelation {autocorrelation(x, 1)[1]:.3f}")
    print(f"OU theory: mean 0, std ~ sigma/sqrt(2 theta) = {0.1 / np.sqrt(2):.4f}, lag-1 = 1 - theta dt = {1 - 0.01:.3f}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    for name, x in paths.items():
        ax1.plot(x[:1000], lw=1, label=name)
        ax2.plot(autocorrelation(x, 300), label=name)
    ax2.plot((1 - ou.theta * ou.dt) ** np.arange(301), "k--", lw=1, label="OU theory $(1-\\\\theta dt)^k$")
    ax1.set(title="noise added to the action (first 1,000 steps)", xlabel="step")
    ax2.set(title="autocorrelation", xlabel="lag (steps)")
    ax1.legend(); ax2.legend()
    plt.show()
    """),
    md("""
    With $\\theta = 1$ the tutorial's update is $x \\leftarrow \\sigma\\,U[0, 1)$: independent from step to step (no
    temporal correlation at all) and always positive (mean 0.05: a constant push of +0.1 N·m on Pendulum's $\\pm 2$
    torque). The OU path is zero-mean and correlated over about $1/(\\theta\\,dt) = 100$ steps. offpolicy resets it to
    $\\mu$ when an episode starts:
    """),
    code("""
    state = jnp.array([[0.3], [0.3]])  # noise state of two envs
    print(exploration.reset(ou, state, episode_start=jnp.array([True, False])).ravel(), "(env 0 starts an episode)")
    print(exploration.reset(tut, state, episode_start=jnp.array([True, False])).ravel(), "(the tutorial never resets)")
    """),
    md("""
    ## 4. Networks

    `offpolicy.networks.Actor` and `Critic` are the tutorial's: two hidden layers of 128 with ReLU; the actor ends in
    `tanh` (actions in $[-1, 1]$), the critic takes state and action concatenated at its input. Hidden layers start
    $\\sim U(\\pm 1/\\sqrt{\\text{fan-in}})$, the last layers $\\sim U(\\pm 3\\cdot 10^{-3})$, so initial actions and
    values are near zero. They are Flax modules: parameters are a plain pytree.
    """),
    code("""
    from offpolicy.envs import make_env
    from offpolicy.networks import Actor, Critic

    env, spec = make_env("Pendulum-v1", "ddpg")
    print(spec)
    actor, critic = Actor(spec.action_dim), Critic()
    obs = jnp.zeros((1, 3))
    actor_params = actor.init(jax.random.key(0), obs)
    critic_params = critic.init(jax.random.key(1), obs, jnp.zeros((1, 1)))
    print("actor:", jax.tree.map(jnp.shape, actor_params["params"]))
    print("critic's first layer:", critic_params["params"]["mlp"]["hidden_0"]["kernel"].shape, "(3 obs + 1 action inputs)")
    print("largest last-layer weight:", float(jnp.abs(actor_params["params"]["mlp"]["out"]["kernel"]).max()))
    states = jax.random.normal(jax.random.key(2), (5, 3))
    print("mu(s) of 5 random states:", actor.apply(actor_params, states).ravel())
    """),
    md("""
    The tutorial's `ActionNormalizer` maps the actor's $[-1, 1]$ to the env's torque range; offpolicy uses
    Gymnasium's `RescaleAction` wrapper for that, applied by `make_env` to every continuous env:
    """),
    code("""
    print("the agent acts in", env.action_space, "; Pendulum itself takes", env.env.action_space)
    """),
    md(r"""
    ## 5. The update

    One pure, jitted function (`offpolicy.agents.ddpg.update`) does what the tutorial's `update_model` does, top to
    bottom:

    $$y = r + \gamma\,(1 - d^{term})\,Q'(s', \mu'(s')),\qquad L_Q = \overline{(Q(s, a) - y)^2},\qquad
    L_\mu = -\overline{Q(s, \mu(s))},\qquad \theta' \leftarrow \tau\theta + (1-\tau)\theta'$$

    Only `terminated` stops the bootstrap. Below: fill a buffer with 1,000 random Pendulum steps (five episodes: every
    one ends by the 200-step *time limit*, so `truncated`, never `terminated`), run one update, and check the soft
    target update to the last bit.
    """),
    code("""
    from offpolicy.agents import make_agent
    from offpolicy.config import make_config

    cfg = make_config("ddpg-pendulum")
    agent = make_agent("ddpg", cfg.agent, spec)  # init / act / reset / update, bound to the config
    state = agent.init(jax.random.key(0), 1)

    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    steps = []
    for _ in range(1000):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        steps.append((obs, action, reward, next_obs, terminated, truncated))
        obs = env.reset()[0] if terminated or truncated else next_obs
    columns = [np.array(c, np.float32) for c in zip(*steps)]
    data = rb.Transition(obs=columns[0], action=columns[1], reward=columns[2], next_obs=columns[3],
                         terminated=columns[4].astype(bool), truncated=columns[5].astype(bool))
    buf = rb.add(rb.init(cfg.agent.buffer_size, jax.tree.map(lambda x: x[0], data)), data)
    print(f"{int(buf.size)} transitions; terminated: {int(data.terminated.sum())}, truncated: {int(data.truncated.sum())}")

    update = jax.jit(agent.update)
    batch = rb.sample(buf, jax.random.key(1), cfg.agent.batch_size)
    new_state, metrics = update(state, batch, jax.random.key(2))
    print({k: round(float(v), 4) for k, v in metrics.items()})

    tau = cfg.agent.tau  # theta' <- tau * theta + (1 - tau) * theta'
    expected = jax.tree.map(lambda new, old: tau * new + (1 - tau) * old, new_state.critic, state.critic_target)
    gap = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(new_state.critic_target)))
    print(f"critic target = tau*critic + (1-tau)*old target, largest difference: {gap:.1e}")
    """),
    md("""
    Repeating the update on this fixed buffer shows both losses at work. The critic fits the TD targets, so its loss
    falls. The actor's loss $-Q(s, \\mu(s))$ is read under a critic that moves too: Pendulum's rewards are all
    negative, so as the critic's $Q$ falls from its near-zero start towards those (negative) returns, $-Q$ *rises*,
    although each actor step raises $Q$ under the critic of that moment. A rising actor loss is normal here; the
    critic loss and the evaluations are the ones to read:
    """),
    code("""
    key = jax.random.key(3)
    history = []
    s = state
    for _ in range(300):
        key, sample_key = jax.random.split(key)
        s, m = update(s, rb.sample(buf, sample_key, cfg.agent.batch_size), key)
        history.append((float(m["actor_loss"]), float(m["critic_loss"])))
    history = np.array(history)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    for ax, col, name in zip(axes, history.T, ["actor_loss", "critic_loss"]):
        ax.plot(col)
        ax.set(title=name, xlabel="update")
    plt.show()
    """),
    md("""
    ## 6. Training, with live plots

    `DDPG.from_preset("ddpg-pendulum")` is the tutorial's agent and budget with its faults fixed (50k steps, 10k
    random warm-up steps, replay 100k, batch 128, γ 0.99, τ 5e-3, Adam 3e-4 / 1e-3). `learn(..., live=True)` redraws
    one figure in place while it trains — the score with its 10-episode mean and the noise-free evaluations (every
    5,000 steps), then each loss, as in the tutorial's `_plot` — at episode ends, at most every few seconds, so it
    costs a few percent of the speed at most (measured in [docs/notebooks.md](../docs/notebooks.md)). Outside a
    notebook the same call shows a progress bar. With `run_dir`, the run also writes its directory, as the `offpolicy`
    command does.
    """),
    code("""
    budget = dict(total_steps=STEPS, warmup_steps=WARMUP, learning_starts=WARMUP, eval_episodes=EVAL_EPISODES,
              video=not SMOKE)
    model = DDPG.from_preset("ddpg-pendulum", **budget)
    model.learn(STEPS, run_dir=new_run_dir(RUNS, "ddpg-pendulum", model.config.seed), live=True)
    print("run directory:", model.run_dir, sorted(p.name for p in model.run_dir.iterdir()))
    """),
    md("""
    ## 7. Evaluation

    The tutorial tests one episode. offpolicy evaluates noise-free ($a = \\mu(s)$) on a separate env with its own
    seeds, disjoint from the training episodes; `predict` gives the action for any observation, in the env's own
    units.
    """),
    code("""
    result = model.evaluate(episodes=EVAL_EPISODES)
    print(f"noise-free return over {result['episodes']} episodes: {result['mean']:.1f} ± {result['std']:.1f}"
          f"  (min {result['min']:.1f}, max {result['max']:.1f})")
    states = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -2.0], [-1.0, 0.0, 1.0]])  # [cos θ, sin θ, angular velocity]
    actions, _ = model.predict(states, deterministic=True)  # (action, state) as in Stable-Baselines3
    print("torques for a batch of 3 states, in Pendulum's own units (±2):", actions.ravel())
    """),
    md("""
    ## 8. Video

    `show_video()` records one noise-free episode and shows it inline as an HTML5 video (`show_video("episode.mp4")`
    also keeps the file). The run directory already holds the same kind of recording as `video.mp4`.
    """),
    code("""
    model.show_video()
    """),
    md("""
    ## 9. The tutorial's settings next to the corrected ones

    The `ddpg-pendulum-tutorial` preset reproduces the tutorial on purpose: its biased, uncorrelated, never-reset
    "OU" noise, and Pendulum's 200-step time limit stored as a terminal state. Both presets train below with the same
    budget and the same seed (the tutorial's own seed is 777), then side by side.
    """),
    code("""
    tutorial = DDPG.from_preset("ddpg-pendulum-tutorial", seed=model.config.seed, **budget)
    tutorial.learn(STEPS, run_dir=new_run_dir(RUNS, "ddpg-pendulum-tutorial", tutorial.config.seed), live=True)
    print("run directory:", tutorial.run_dir)
    """),
    code("""
    from offpolicy import read_csv

    runs = {"ddpg-pendulum (fixed)": model, "ddpg-pendulum-tutorial": tutorial}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for (name, m), color in zip(runs.items(), ["tab:blue", "tab:orange"]):
        rows, evals = read_csv(m.run_dir / "metrics.csv"), read_csv(m.run_dir / "evaluations.csv")
        mean10 = np.convolve(rows["episode_return"], np.ones(10) / 10, mode="valid") if len(rows["step"]) >= 10 else rows["episode_return"]
        axes[0].plot(rows["step"][-len(mean10):], mean10, color=color, label=name)
        axes[1].errorbar(evals["step"], evals["eval_return_mean"], yerr=evals["eval_return_std"], color=color,
                         marker="o", capsize=3, label=name)
        axes[2].plot(rows["step"], rows["q_mean"], color=color, label=name)
        print(f"{name:24s} final noise-free evaluation: {m.summary['final_eval']['mean']:8.1f} ± {m.summary['final_eval']['std']:.1f}")
    axes[0].set(title="training score (mean of 10 episodes)", xlabel="environment step")
    axes[1].set(title="noise-free evaluation", xlabel="environment step")
    axes[2].set(title="critic's mean Q on the minibatch", xlabel="environment step")
    for ax in axes:
        ax.legend(fontsize=8)
    plt.show()
    """),
    md("""
    **What differs, and what it does here.**

    1. *Exploration noise.* The tutorial's process with $\\theta = 1$ is $\\sigma\\,U[0,1)$: a constant positive bias
       (mean 0.05 in action units, +0.1 N·m) plus uncorrelated jitter, never reset. offpolicy's OU noise is zero-mean,
       correlated over ~100 steps and reset at each episode start (section 3). On Pendulum the 10,000 uniformly random
       warm-up steps dominate exploration, so the small biased noise costs little.
    2. *Time limits stored as terminal.* Pendulum never terminates; every episode is cut at 200 steps. The tutorial
       stores that cut as `done`, so for 1 transition in 200 the critic learns $y = r$ instead of
       $y = r + \\gamma Q'(s', \\mu'(s'))$ — for a state that looks exactly like the others (time is not in the
       observation). offpolicy bootstraps on truncation. With γ = 0.99 (a horizon of ~100 steps) the damage is a
       biased target on a few states, visible at most as a small shift of the critic's Q.
    3. *Seeding.* The tutorial seeds global RNGs and resets every episode with the same seed; offpolicy derives
       everything from one master seed, with a fresh seed per episode, so reruns are identical and different seeds
       differ.

    During the random warm-up the two runs are identical (same seed: same random actions, same episode seeds); they
    part when learning starts. With one seed and a small budget they then differ mostly by chance. Over 3 seeds and the full 50k
    steps both presets reach about −124 (README, "Results"; `python benchmarks/ddpg_report.py --presets ddpg-pendulum
    ddpg-pendulum-tutorial --seeds 0 1 2`): on this task the fixes matter for correctness and for longer-horizon or
    time-limited tasks, not for the final score. Try `STEPS = 50_000` above, or other seeds.
    """),
]


# ---------------------------------------------------------------------------------------------------------------------
# NoisyNet-DQN on CartPole (retells shared/tutorials/004_*: "05. Noisy Networks for Exploration")

DQN_CELLS = [
    md("""
    # NoisyNet-DQN on CartPole, with offpolicy

    This notebook retells the *"05. Noisy Networks for Exploration"* tutorial (Fortunato et al. 2017,
    arXiv:1706.10295) in the tutorial's order, with **offpolicy**'s own pieces: the idea, the replay buffer, the noisy
    layer, the noisy Q-network, the update; then training with live plots, evaluation, a video; and last, the
    tutorial's settings (faults included) next to the corrected ones.

    **Budget.** `STEPS` below is the only knob: 20,000 steps by default — the tutorial's own budget, about a minute
    per training run on a laptop CPU; the `noisy-dqn-cartpole` preset's full budget is `STEPS = 50_000`. CI runs this
    notebook with a tiny smoke budget through the `OFFPOLICY_NOTEBOOK_STEPS` environment variable.
    """),
    code("""
    import os

    STEPS = int(os.environ.get("OFFPOLICY_NOTEBOOK_STEPS", 20_000))  # the preset's full budget: 50_000
    WARMUP = min(1_000, STEPS // 2)  # uniformly random steps before learning (noisy-dqn-cartpole: 1,000)
    EVAL_EPISODES = 10 if STEPS >= 10_000 else 2  # noise-free test episodes per evaluation
    SMOKE = STEPS < 2_000  # CI's smoke run: the run directories skip their video (section 8 still records one)
    print(f"{STEPS:,} training steps, {WARMUP:,} of them random warm-up")
    """),
    code("""
    from pathlib import Path

    import jax
    import jax.numpy as jnp
    import matplotlib.pyplot as plt
    import numpy as np

    import offpolicy
    from offpolicy import DQN
    from offpolicy import new_run_dir

    RUNS = Path("runs")  # run directories (config.yaml, metrics.csv, checkpoints, learning_curve.png, video.mp4)
    print("offpolicy", offpolicy.__version__, "| jax", jax.__version__, "on", jax.default_backend())
    """),
    md(r"""
    ## 1. The idea: learned noise in the weights

    NoisyNet replaces ε-greedy exploration by perturbing the network's weights. A linear layer $y = wx + b$ becomes

    $$y = (\mu^w + \sigma^w \odot \varepsilon^w)\,x + \mu^b + \sigma^b \odot \varepsilon^b,$$

    where $\mu$ and $\sigma$ are learned and $\varepsilon$ is random. One weight sample changes the greedy action in a
    consistent, state-dependent way for as long as it is held, and the network can learn to shrink $\sigma$ where it
    no longer needs to explore. With **factorised Gaussian noise** a layer with $p$ inputs and $q$ outputs draws only
    $p + q$ Gaussians:

    $$\varepsilon^w_{i,j} = f(\varepsilon_i)\,f(\varepsilon_j),\qquad \varepsilon^b_j = f(\varepsilon_j),\qquad
    f(x) = \operatorname{sgn}(x)\sqrt{|x|}.$$

    The agent is otherwise plain DQN: replay buffer, a target network copied every 150 updates, the Huber (smooth L1)
    loss, and **no ε-greedy** — actions are the argmax of the noisy Q. Equations, deviations and tuning:
    [docs/dqn.md](../docs/dqn.md).
    """),
    md("""
    ## 2. Replay buffer

    The same pure buffer as DDPG's (`offpolicy.buffer`; the DDPG notebook shows its ring), here with integer actions.
    It stores `terminated` and `truncated` apart, so the 500-step time limit of CartPole-v1 is not mistaken for a
    failure:
    """),
    code("""
    from offpolicy import buffer as rb

    example = rb.Transition(obs=jnp.zeros(4), action=jnp.zeros((), jnp.int32), reward=jnp.zeros(()),
                            next_obs=jnp.zeros(4), terminated=jnp.zeros((), bool), truncated=jnp.zeros((), bool))
    buf = rb.init(10_000, example)
    # (a sixth field, discount, is set only in the minibatches of n-step returns: agent.n_step > 1)
    print({k: (v.shape, str(v.dtype)) for k, v in vars(buf.data).items() if v is not None})
    """),
    md(r"""
    ## 3. The noisy layer

    `offpolicy.networks.NoisyDense` is the tutorial's `NoisyLinear`, with one difference of design: the noise is an
    *argument*, not hidden module state. `sample_layer_noise(key, fan_in, fan_out)` draws it;
    `layer.apply(params, x, noise)` uses it; `noise=None` means the mean weights $\mu$ only. Initialisation (paper):
    $\mu \sim U(\pm 1/\sqrt{p})$ and $\sigma^w = \sigma^b = \sigma_0/\sqrt{p}$ with $\sigma_0 = 0.5$.
    """),
    code("""
    from offpolicy.networks import NoisyDense, sample_layer_noise

    layer = NoisyDense(features=3, sigma0=0.5)
    x = jnp.ones((1, 8))
    params = layer.init(jax.random.key(0), x)
    print({name: value.shape for name, value in params["params"].items()})
    print("sigma_w =", float(params["params"]["kernel_sigma"][0, 0]), "= 0.5/sqrt(8) =", 0.5 / np.sqrt(8))
    noise = sample_layer_noise(jax.random.key(1), fan_in=8, fan_out=3)
    print("y with mu only:    ", layer.apply(params, x))
    print("y with one epsilon:", layer.apply(params, x, noise))
    """),
    md("""
    Factorised noise is an outer product, so $\\varepsilon^w$ has rank 1 — $p + q$ random numbers instead of
    $pq + q$. Draw one for a 128×128 layer and compare with independent noise (`noise_type="independent"`):
    """),
    code("""
    factorised = sample_layer_noise(jax.random.key(2), 128, 128, "factorised")["kernel"]
    independent = sample_layer_noise(jax.random.key(2), 128, 128, "independent")["kernel"]
    for name, eps in [("factorised", factorised), ("independent", independent)]:
        sv = np.linalg.svd(np.asarray(eps), compute_uv=False)
        print(f"{name:12s} rank {np.linalg.matrix_rank(np.asarray(eps)):3d}; "
              f"2nd singular value / 1st = {sv[1] / sv[0]:.1e}")

    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, (name, eps) in zip(axes, [("factorised: f(ε_in) f(ε_out)ᵀ", factorised), ("independent", independent)]):
        ax.imshow(np.asarray(eps)[:32, :32], cmap="RdBu", vmin=-2, vmax=2)
        ax.set(title=f"ε_w, {name}\\n(top-left 32×32)", xlabel="output j", ylabel="input i")
    plt.show()
    """),
    md("""
    ## 4. The noisy Q-network

    `QNetwork` is the tutorial's network: Dense(128) → ReLU → Noisy(128) → ReLU → Noisy(2). `sample_q_noise` draws a
    fresh $\\varepsilon$ for every noisy layer. How much does one noise sample change the policy? For 500 random
    CartPole states and 100 noise samples of a freshly initialised network, count how often the noisy greedy action
    differs from the greedy action of the mean weights:
    """),
    code("""
    from offpolicy.networks import QNetwork, sample_q_noise

    q_net = QNetwork(n_actions=2)  # hidden_sizes=(128, 128), sigma0=0.5
    q_params = q_net.init(jax.random.key(0), jnp.zeros((1, 4)))
    states = jax.random.normal(jax.random.key(1), (500, 4)) * jnp.array([1.0, 1.0, 0.1, 1.0])
    greedy_mu = jnp.argmax(q_net.apply(q_params, states), axis=-1)

    def noisy_greedy(key):
        return jnp.argmax(q_net.apply(q_params, states, sample_q_noise(key, 4, (128, 128), 2)), axis=-1)

    noisy = jax.vmap(noisy_greedy)(jax.random.split(jax.random.key(2), 100))  # [100 samples, 500 states]
    flip = np.asarray((noisy != greedy_mu).mean(axis=0))
    print(f"a noise sample changes the greedy action in {flip.mean():.0%} of (state, sample) pairs;")
    print(f"per state this ranges from {flip.min():.0%} to {flip.max():.0%}: exploration depends on the state")
    """),
    md("""
    The tutorial initialises the bias $\\sigma$ with $\\sigma_0/\\sqrt{q}$ (fan-*out*) instead of the paper's
    $\\sigma_0/\\sqrt{p}$: on the 2-action output layer that is $0.354$ instead of $0.044$, eight times more bias noise.
    `bias_sigma_fan_out=True` reproduces it:
    """),
    code("""
    for fan_out_bias in (False, True):
        p = QNetwork(n_actions=2, bias_sigma_fan_out=fan_out_bias).init(jax.random.key(0), jnp.zeros((1, 4)))
        print(f"bias_sigma_fan_out={fan_out_bias!s:5}: output layer bias sigma = {float(p['params']['layer_2']['bias_sigma'][0]):.3f}")
    """),
    md(r"""
    ## 5. The update

    `offpolicy.agents.dqn.update` does what the tutorial's `update_model` does, as one pure function:

    $$y = r + \gamma\,(1 - d^{term})\max_{a'} Q(s', a';\ \theta', \varepsilon'),\qquad
    L = \overline{\mathrm{huber}\big(Q(s, a;\ \theta, \varepsilon) - y\big)}$$

    then one Adam step, fresh independent noise $\varepsilon, \varepsilon'$ for the online and the target network,
    and a hard copy $\theta' \leftarrow \theta$ every `target_update` (150) updates. The noise lives in the agent's
    state, so it is saved with checkpoints. Below: random CartPole transitions, then 150 updates, checking that the
    noise changes after every update and that the target is copied exactly at the 150th.
    """),
    code("""
    from offpolicy.agents import make_agent
    from offpolicy.config import make_config
    from offpolicy.envs import make_env

    env, spec = make_env("CartPole-v1", "dqn")
    cfg = make_config("noisy-dqn-cartpole")
    agent = make_agent("dqn", cfg.agent, spec)
    state = agent.init(jax.random.key(0), 1)

    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    steps = []
    for _ in range(1000):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        steps.append((obs, action, reward, next_obs, terminated, truncated))
        obs = env.reset()[0] if terminated or truncated else next_obs
    columns = [np.array(c) for c in zip(*steps)]
    data = rb.Transition(obs=columns[0].astype(np.float32), action=columns[1].astype(np.int32),
                         reward=columns[2].astype(np.float32), next_obs=columns[3].astype(np.float32),
                         terminated=columns[4].astype(bool), truncated=columns[5].astype(bool))
    buf = rb.add(buf, data)
    print(f"{int(buf.size)} random transitions, {int(data.terminated.sum())} episode ends (the pole fell)")

    def same(a, b):
        return all(bool(jnp.array_equal(x, y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    update = jax.jit(agent.update)
    key = jax.random.key(1)
    losses = []
    for i in range(1, cfg.agent.target_update + 1):
        key, sample_key, update_key = jax.random.split(key, 3)
        new_state, metrics = update(state, rb.sample(buf, sample_key, cfg.agent.batch_size), update_key)
        assert not same(new_state.online_noise, state.online_noise)  # fresh epsilon after every update
        losses.append(float(metrics["loss"]))
        if i in (1, cfg.agent.target_update - 1, cfg.agent.target_update):
            print(f"update {i:3d}: loss {losses[-1]:.4f}, target == online parameters: {same(new_state.target_params, new_state.params)}")
        state = new_state
    """),
    md("""
    ## 6. Training, with live plots

    `DQN.from_preset("noisy-dqn-cartpole")` is the tutorial's agent (replay 10k, batch 128, γ 0.99, Adam 1e-3, target
    copy every 150 updates, Huber loss) on CartPole-v1 with its faults fixed and 1,000 random warm-up steps (without
    them some seeds never try the second action: docs/dqn.md). `learn(..., live=True)` redraws one figure in place —
    score with its 10-episode mean and the noise-free evaluations, then the loss, as the tutorial's `_plot` — at
    episode ends, at most every few seconds; outside a notebook it shows a progress bar instead.
    """),
    code("""
    budget = dict(total_steps=STEPS, warmup_steps=WARMUP, learning_starts=WARMUP, eval_episodes=EVAL_EPISODES,
              video=not SMOKE)
    model = DQN.from_preset("noisy-dqn-cartpole", **budget)
    model.learn(STEPS, run_dir=new_run_dir(RUNS, "noisy-dqn-cartpole", model.config.seed), live=True)
    print("run directory:", model.run_dir, sorted(p.name for p in model.run_dir.iterdir()))
    """),
    md("""
    ## 7. Evaluation

    offpolicy evaluates with the mean weights $\\mu$ (no noise: deterministic), on a separate env with its own seeds.
    CartPole-v1's best return is 500. DQN's evaluation swings even after reaching it; the run directory's
    `checkpoints/best` keeps the best evaluated policy.
    """),
    code("""
    result = model.evaluate(episodes=EVAL_EPISODES)
    print(f"noise-free return over {result['episodes']} episodes: {result['mean']:.1f} ± {result['std']:.1f}"
          f"  (min {result['min']:.0f}, max {result['max']:.0f})")
    print(f"best periodic evaluation during training: {model.summary['best_eval_mean']:.1f}")
    """),
    md("""
    ## 8. Video

    `show_video()` records one noise-free episode and shows it inline (`show_video("episode.mp4")` also keeps the
    file); the run directory holds one as `video.mp4`.
    """),
    code("""
    model.show_video()
    """),
    md("""
    ## 9. The tutorial's settings next to the corrected ones

    The `noisy-dqn-cartpole-tutorial` preset is the notebook as it was: no warm-up (updates start once 128
    transitions are stored), the bias σ from fan-out, and time limits stored as terminal — on CartPole-v0 for 20k
    steps. To compare like with like we move it to CartPole-v1 (500-step limit) with the same budget and seed as the
    model above, as docs/dqn.md does.
    """),
    code("""
    tutorial = DQN.from_preset("noisy-dqn-cartpole-tutorial", env="CartPole-v1", seed=model.config.seed,
                               total_steps=STEPS, eval_episodes=EVAL_EPISODES, video=not SMOKE)
    tutorial.learn(STEPS, run_dir=new_run_dir(RUNS, "noisy-dqn-cartpole-tutorial", tutorial.config.seed), live=True)
    print("run directory:", tutorial.run_dir)
    """),
    code("""
    from offpolicy import read_csv

    runs = {"noisy-dqn-cartpole (fixed)": model, "noisy-dqn-cartpole-tutorial": tutorial}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for (name, m), color in zip(runs.items(), ["tab:blue", "tab:orange"]):
        rows, evals = read_csv(m.run_dir / "metrics.csv"), read_csv(m.run_dir / "evaluations.csv")
        mean10 = np.convolve(rows["episode_return"], np.ones(10) / 10, mode="valid") if len(rows["step"]) >= 10 else rows["episode_return"]
        axes[0].plot(rows["step"][-len(mean10):], mean10, color=color, label=name)
        axes[1].errorbar(evals["step"], evals["eval_return_mean"], yerr=evals["eval_return_std"], color=color,
                         marker="o", capsize=3, label=name)
        axes[2].plot(rows["step"], rows["sigma_mean"], color=color, label=name)
        print(f"{name:28s} final noise-free evaluation: {m.summary['final_eval']['mean']:6.1f} ± {m.summary['final_eval']['std']:.1f}"
              f", best {m.summary['best_eval_mean']:.1f}")
    axes[0].set(title="training score (mean of 10 episodes)", xlabel="environment step")
    axes[1].set(title="noise-free evaluation", xlabel="environment step")
    axes[2].set(title="mean |σ| of the noisy weights", xlabel="environment step")
    for ax in axes:
        ax.legend(fontsize=8)
    plt.show()
    """),
    md("""
    The tutorial also *tests* with noise: its test episode acts with the current $\\varepsilon$. offpolicy evaluates
    with $\\mu$ (`eval_noise: true` restores the notebook's way). `predict(obs, deterministic=False)` acts as the agent
    explores in training, with a noise sample; compare a few episodes of the trained model both ways:
    """),
    code("""
    import gymnasium as gym

    def episode_returns(m, deterministic, seeds):
        env = gym.make(m.config.env)
        returns = []
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(int(m.predict(obs, deterministic=deterministic)[0]))
                total, done = total + reward, terminated or truncated
            returns.append(total)
        return returns

    seeds = range(10_000, 10_000 + EVAL_EPISODES)
    print("mean weights mu (offpolicy):        ", episode_returns(model, True, seeds))
    print("current noise sample (the tutorial):", episode_returns(model, False, seeds))
    """),
    md("""
    **What differs, and what it does.**

    1. *Time limits stored as terminal.* On CartPole every step earns +1; the tutorial stores the time-limit cut as
       `done`, so the states the agent reaches when it balances to the end get the target $y = 1$ instead of
       $1 + \\gamma\\max Q$: the better the agent, the more it is told that balancing leads nowhere. offpolicy
       bootstraps on truncation.
    2. *Bias σ from fan-out.* Eight times more noise on the output biases (section 4): the two actions' Q values jitter
       more, independently of the state.
    3. *No warm-up.* The tutorial learns from its first 128 steps, all chosen by the initial noisy network; on unlucky
       seeds that network prefers one action everywhere and the noise never flips it, so the buffer never holds the
       other action (docs/dqn.md, "How noisy-dqn-cartpole was tuned"). The corrected preset starts with 1,000 random
       steps.
    4. *Testing with noise.* A noisy test mixes the policy's quality with one random perturbation of it; the μ
       evaluation measures the policy itself, repeatably.

    One seed and a small budget say little. Over 5 seeds at 50k steps on CartPole-v1, the corrected preset reaches
    395 ± 131 (5/5 seeds reach 500 at some evaluation) and the tutorial's settings 356 ± 194 (4/5): docs/dqn.md,
    "Results", with the commands. Try `STEPS = 50_000` above, or other seeds.
    """),
]

NOTEBOOKS = {"ddpg_pendulum.ipynb": DDPG_CELLS, "noisy_dqn_cartpole.ipynb": DQN_CELLS}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    stem = Path(name).stem
    for i, (kind, source) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(source)
        cell.id = f"{stem}-{i:02d}"  # deterministic ids: regenerating changes nothing unless a cell changed
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and per-run cell metadata."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata = {}
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a stored notebook differs from the generated one")
    parser.add_argument("--strip", nargs="+", metavar="NOTEBOOK", help="clear the outputs of these notebooks in place")
    args = parser.parse_args(argv)
    if args.strip:
        for path in args.strip:
            nb = nbformat.read(path, as_version=4)
            Path(path).write_text(text(strip(nb)))
            print(f"stripped {path}")
        return 0
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        new = text(build(name, cells))
        if args.check:
            if not path.is_file() or path.read_text() != new:
                stale.append(name)
        else:
            path.write_text(new)
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run `python examples/make_notebooks.py`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
