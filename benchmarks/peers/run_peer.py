"""Run ONE peer / algorithm / seed and print one JSON line. Runs inside benchmarks/.venv-peers (never imports offpolicy).

    benchmarks/.venv-peers/bin/python benchmarks/peers/run_peer.py --peer sb3 --algo ddpg --seed 0 --hp HP_JSON

``HP_JSON`` (a JSON string or a path to a JSON file) is written by benchmarks/compare.py from offpolicy's presets, so
every system gets its hyperparameters from the same place; this file only maps them onto each peer's API (see
docs/benchmarks.md for the mapping and every mismatch).

Timing (all ``time.perf_counter``, ``t0`` taken before any import of the peer):
- SB3 / SBX (host loop over the Gymnasium env): a callback takes timestamps when ``num_timesteps`` reaches
  ``learning_starts // 2``, ``learning_starts`` and ``learning_starts + 2`` and when training ends. SB3 trains after a
  step once ``num_timesteps > learning_starts``, so the first update (for SBX: its jit compile) happens between the
  last two of those; the learning phase is timed from ``learning_starts + 2`` to the end:
  ``learn_steps_per_s = (steps - learning_starts - 2) / (t_end - t_learn)``. Every learning step there is one env step,
  one gradient update and whatever bookkeeping the library does per step (logging, callbacks) -- what a user gets.
- rejax (fully jitted, gymnax env): the training is split at ``learning_starts`` into two jitted calls, each compiled
  ahead of time (``jit(...).lower(...).compile()``, timed as compile) and then run (timed as run). The warm-up call
  only collects uniform-random transitions; the second call does every learning step (env step + update), so
  ``learn_steps_per_s = (steps - learning_starts) / run time of the second call``.
- ``startup_s``: wall time from ``t0`` to the end of training minus the time the steady warm-up and learning phases
  account for (``learning_starts / warmup_rate + (steps - learning_starts) / learn_rate``): imports, construction and
  every compile or first-call cost. For rejax it is the same formula (= imports + construction + both compiles).
Evaluation: ``eval_episodes`` noise-free episodes on the Gymnasium env, one per seed in ``hp["eval_seeds"]`` (the
same seeds offpolicy evaluates on), not counted in any timing.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before the peers' imports: start-up includes them

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

PEERS = ("sb3", "sbx", "rejax")


def thread_settings() -> dict:
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS", "JAX_PLATFORMS",
                                      "BENCH_TORCH_THREADS") if k in os.environ}
    out = {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "env": env}
    if "torch" in sys.modules:
        import torch

        out["torch_threads"] = torch.get_num_threads()
        out["torch_interop_threads"] = torch.get_num_interop_threads()
    if "jax" in sys.modules:
        import jax

        out["jax_backend"] = jax.default_backend()
        out["jax_devices"] = jax.device_count()
    return out


def ou_stationary_std(noise: dict) -> float:
    """Std of the discretised OU process x <- x + theta (mu - x) dt + sigma sqrt(dt) N(0, 1) once stationary."""
    theta, sigma, dt = noise["theta"], noise["sigma"], noise["dt"]
    return sigma / math.sqrt(2 * theta - theta**2 * dt)


def evaluate(env_id: str, policy, seeds: list[int], discrete: bool) -> dict:
    """Noise-free episodes on the Gymnasium env; ``policy(obs[obs_dim]) -> action`` in the env's own bounds."""
    import gymnasium as gym

    env = gym.make(env_id)
    returns = []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        total, done = 0.0, False
        while not done:
            action = np.asarray(policy(np.asarray(obs, np.float32)))
            obs, reward, terminated, truncated, _ = env.step(int(action.reshape(())) if discrete else action.reshape(-1))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return {"eval_mean": float(np.mean(returns)), "eval_std": float(np.std(returns)), "eval_returns": returns}


# -- Stable-Baselines3 and SBX: the same SB3 host loop, PyTorch or JAX networks ---------------------------------------
def make_timer_callback(learning_starts: int):
    from stable_baselines3.common.callbacks import BaseCallback

    marks = {"warmup_half": learning_starts // 2, "warmup_end": learning_starts, "learn_start": learning_starts + 2}

    class Timer(BaseCallback):
        """Timestamps at given num_timesteps (on_step runs right after each env step) and at the end."""

        def __init__(self):
            super().__init__()
            self.t: dict[str, float] = {}

        def _on_step(self) -> bool:
            for name, step in marks.items():
                if self.num_timesteps == step:
                    self.t[name] = time.perf_counter()
            return True

        def _on_training_end(self) -> None:
            self.t["end"] = time.perf_counter()

    return Timer()


def with_rates(cls, rates: list[float]):
    """An SB3 algorithm class whose optimizers get one learning rate each, in the order its ``train`` passes them to
    ``_update_learning_rate`` (DDPG/TD3: actor, critic; SAC: actor, critic, entropy coefficient); SB3 itself has one
    learning rate per algorithm."""

    class Rates(cls):
        def _update_learning_rate(self, optimizers):
            self.logger.record("train/learning_rate", rates[0])  # as SB3's own method does
            for optimizer, lr in zip(optimizers, rates, strict=True):
                for group in optimizer.param_groups:
                    group["lr"] = lr

    Rates.__name__ = cls.__name__
    return Rates


def run_sb3_like(peer: str, algo: str, hp: dict, seed: int) -> dict:
    import gymnasium as gym

    if peer == "sb3":
        import stable_baselines3 as lib
        import torch
        from stable_baselines3 import DDPG, DQN, SAC, TD3

        if os.environ.get("BENCH_TORCH_THREADS"):  # compare.py --torch-threads; default: PyTorch's own choice
            torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))
    else:
        import sbx as lib
        from sbx import DDPG, DQN, SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    t_import = time.perf_counter()
    steps, ls = hp["total_steps"], hp["learning_starts"]
    common = dict(buffer_size=hp["buffer_size"], batch_size=hp["batch_size"], gamma=hp["gamma"], learning_starts=ls,
                  train_freq=1, gradient_steps=1, seed=seed, verbose=0)
    env = gym.make(hp["env"])
    if algo == "ddpg":
        n = env.action_space.shape[0]
        noise = hp["noise"]
        action_noise = OrnsteinUhlenbeckActionNoise(mean=np.full(n, noise["mu"]), sigma=np.full(n, noise["sigma"]),
                                                    theta=noise["theta"], dt=noise["dt"])
        kwargs = dict(common, tau=hp["tau"], action_noise=action_noise,
                      policy_kwargs=dict(net_arch=list(hp["hidden_sizes"])))
        if peer == "sbx":  # SBX DDPG has separate actor (learning_rate) and critic (qf_learning_rate) rates
            model = DDPG("MlpPolicy", env, learning_rate=hp["actor_lr"], qf_learning_rate=hp["critic_lr"], **kwargs)
        else:  # SB3 DDPG has one learning rate for both optimizers: a subclass sets each its own
            model = with_rates(DDPG, [hp["actor_lr"], hp["critic_lr"]])("MlpPolicy", env, learning_rate=hp["actor_lr"],
                                                                         **kwargs)
        exploration = "ou"
    elif algo in ("td3", "sac"):
        # SB3/SBX add action noise and target-policy noise in the policy's [-1, 1] action space, as offpolicy does
        kwargs = dict(common, tau=hp["tau"], policy_kwargs=dict(net_arch=list(hp["hidden_sizes"])))
        if algo == "td3":
            if hp["noise"]["kind"] != "gaussian":
                raise ValueError(f"the peers' TD3 runner maps Gaussian exploration noise only, not {hp['noise']['kind']}")
            n = env.action_space.shape[0]
            kwargs.update(policy_delay=hp["policy_delay"], target_policy_noise=hp["target_noise"],
                          target_noise_clip=hp["target_noise_clip"],
                          action_noise=NormalActionNoise(mean=np.zeros(n), sigma=np.full(n, hp["noise"]["sigma"])))
            rates, cls, exploration = [hp["actor_lr"], hp["critic_lr"]], TD3, "gaussian"
        else:
            auto = hp["ent_coef"] == "auto"
            kwargs.update(ent_coef=f"auto_{hp['init_ent_coef']}" if auto else float(hp["ent_coef"]),
                          target_entropy=hp["target_entropy"])
            rates, cls, exploration = [hp["actor_lr"], hp["critic_lr"]] + ([hp["alpha_lr"]] if auto else []), SAC, \
                "stochastic policy"
        if peer == "sbx":  # separate actor (learning_rate) and critic (qf_learning_rate) rates
            model = cls("MlpPolicy", env, learning_rate=rates[0], qf_learning_rate=rates[1], **kwargs)
        else:
            model = (cls if len(set(rates)) == 1 else with_rates(cls, rates))("MlpPolicy", env,
                                                                              learning_rate=rates[0], **kwargs)
    else:
        eps = hp["epsilon"]
        # SB3's epsilon is linear in num_timesteps from step 0; end it where offpolicy's does (warm-up + decay steps)
        fraction = min(1.0, (hp["warmup_steps"] + eps["decay_steps"]) / steps)
        kwargs = dict(common, learning_rate=hp["lr"], tau=1.0, target_update_interval=hp["target_update"],
                      exploration_fraction=fraction, exploration_initial_eps=eps["start"],
                      exploration_final_eps=eps["end"], policy_kwargs=dict(net_arch=list(hp["hidden_sizes"])))
        if peer == "sb3":
            kwargs["max_grad_norm"] = math.inf  # offpolicy's preset does not clip; SB3's default is 10
        model = DQN("MlpPolicy", env, **kwargs)
        exploration = "epsilon-greedy"
    timer = make_timer_callback(ls)
    t_setup = time.perf_counter()
    model.learn(total_timesteps=steps, callback=timer)
    t = timer.t

    warm_rate = (ls - ls // 2) / (t["warmup_end"] - t["warmup_half"]) if "warmup_half" in t else math.nan
    learn_steps = steps - ls - 2
    learn_time = t["end"] - t["learn_start"]

    def policy(obs):
        return model.predict(obs, deterministic=True)[0]

    result = {
        "version": lib.__version__, "exploration": exploration, "env_impl": "gymnasium", "loop": "host",
        "learn_steps": learn_steps, "learn_time_s": learn_time, "learn_steps_per_s": learn_steps / learn_time,
        "warmup_steps_per_s": warm_rate, "import_s": t_import - T0, "setup_s": t_setup - t_import,
        "first_update_s": t["learn_start"] - t["warmup_end"], "train_end": t["end"],
    }
    result.update(evaluate(hp["env"], policy, hp["eval_seeds"], algo == "dqn"))
    return result


# -- rejax: fully jitted training over a gymnax env -------------------------------------------------------------------
class TerminatedOnly:
    """gymnax >= 1.0 steps return (obs, state, reward, terminated, truncated, info); rejax 0.1.3 expects the older
    (obs, state, reward, done, info). Give it ``terminated`` as ``done`` -- gymnax still auto-resets on truncation --
    so time-limit truncation is bootstrapped, as in offpolicy and SB3 (whose replay buffer handles time-outs)."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        if name == "_env":  # not set yet (copy.deepcopy builds the object without __init__)
            raise AttributeError(name)
        return getattr(self._env, name)

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        return obs, state, reward, terminated, {**info, "truncated": truncated}

    def reset(self, key, params=None):
        return self._env.reset(key, params)


def run_rejax(algo: str, hp: dict, seed: int) -> dict:
    import gymnax
    import jax
    import jax.numpy as jnp
    import rejax
    from flax import linen as nn
    from rejax.networks import DeterministicPolicy, DiscreteQNetwork, EpsilonGreedyPolicy, QNetwork

    t_import = time.perf_counter()
    steps, ls = hp["total_steps"], hp["learning_starts"]
    env, env_params = gymnax.make(hp["env"])
    env = TerminatedOnly(env)
    hidden = tuple(hp["hidden_sizes"])
    # rejax trains once global_step > fill_buffer (counted before the step): fill_buffer = ls - 1 makes the first
    # ls steps uniform-random warm-up without updates and every later step an update (offpolicy: ls random steps,
    # first update at step ls)
    common = dict(env=env, env_params=env_params, buffer_size=hp["buffer_size"], batch_size=hp["batch_size"],
                  gamma=hp["gamma"], fill_buffer=ls - 1, num_envs=1, skip_initial_evaluation=True)

    if algo in ("ddpg", "td3", "sac"):
        low, high = env.action_space(env_params).low, env.action_space(env_params).high
        scale = float(np.max((np.asarray(high) - np.asarray(low)) / 2))  # rejax acts in env units, offpolicy in [-1, 1]
        action_dim = int(np.prod(env.action_space(env_params).shape))
    if algo == "ddpg":
        noise = hp["noise"]
        # TD3 with DDPG's settings: one actor step per critic step, no target-policy smoothing, polyak = 1 - tau.
        # It keeps two critics (rejax unpacks exactly two Q-values), one learning rate, Gaussian exploration noise in
        # env units (here: the stationary std of offpolicy's OU noise, which acts in [-1, 1], times the action scale)
        config = dict(common, learning_rate=hp["critic_lr"], policy_delay=1, target_noise=0.0, target_noise_clip=0.0,
                      exploration_noise=ou_stationary_std(noise) * scale, polyak=1.0 - hp["tau"], target_update_freq=1)
        cls = rejax.TD3
        exploration = "gaussian"
    elif algo == "td3":
        if hp["actor_lr"] != hp["critic_lr"] or hp["noise"]["kind"] != "gaussian":
            raise ValueError("rejax's TD3 has one learning rate and Gaussian exploration noise; the preset differs")
        # the noises in env units: offpolicy's act in [-1, 1]; target_update_freq 1 = every actor step (rejax
        # updates the targets in its policy step, every policy_delay env steps, as TD3 does)
        config = dict(common, learning_rate=hp["critic_lr"], policy_delay=hp["policy_delay"],
                      target_noise=hp["target_noise"] * scale, target_noise_clip=hp["target_noise_clip"] * scale,
                      exploration_noise=hp["noise"]["sigma"] * scale, polyak=1.0 - hp["tau"], target_update_freq=1)
        cls = rejax.TD3
        exploration = "gaussian"
    elif algo == "sac":
        if len({hp["actor_lr"], hp["critic_lr"], hp["alpha_lr"]}) != 1 or hp["ent_coef"] != "auto" \
                or hp["init_ent_coef"] != 1.0 or hp["target_entropy"] != "auto":
            raise ValueError("rejax's SAC has one learning rate and a learned temperature starting at 1 with target "
                             "entropy -|A|; the preset differs")
        # its policy: rejax's SquashedGaussianPolicy (log-std clipped to [-10, 2]) on hidden_layer_sizes, ReLU
        config = dict(common, learning_rate=hp["actor_lr"], polyak=1.0 - hp["tau"], target_update_freq=1,
                      hidden_layer_sizes=hidden, agent_kwargs={"activation": "relu"})
        cls = rejax.SAC
        exploration = "stochastic policy"
    else:
        eps = hp["epsilon"]
        decay_end = hp["warmup_steps"] + eps["decay_steps"]  # rejax's epsilon is linear in global_step from 0
        # polyak = 0: a hard copy every target_update_freq env steps
        config = dict(common, learning_rate=hp["lr"], target_update_freq=hp["target_update"], polyak=0.0,
                      eps_start=eps["start"], eps_end=eps["end"], ddqn=False)
        cls = rejax.DQN
        exploration = "epsilon-greedy"
        n_actions = env.action_space(env_params).n

    def networks(algo_obj):
        if algo in ("ddpg", "td3"):  # rejax's default TD3 networks are 64-64 swish
            return algo_obj.replace(
                actor=DeterministicPolicy(action_dim, (low, high), hidden_layer_sizes=hidden, activation=nn.relu),
                critic=QNetwork(hidden_layer_sizes=hidden, activation=nn.relu))
        if algo == "dqn":
            return algo_obj.replace(agent=EpsilonGreedyPolicy(DiscreteQNetwork)(
                hidden_layer_sizes=hidden, action_dim=n_actions, activation=nn.relu))
        return algo_obj  # SAC: built from hidden_layer_sizes and agent_kwargs

    def make(total: int):
        extra = {"exploration_fraction": decay_end / total} if algo == "dqn" else {}
        algo_obj = cls.create(**config, total_timesteps=total, eval_freq=total, **extra)
        # no evaluation inside the timed jitted training: a no-op callback (evaluation runs afterwards, on Gymnasium)
        return networks(algo_obj).replace(eval_callback=lambda a, ts, rng: jnp.zeros(()))

    warm_algo, learn_algo = make(ls), make(steps - ls)
    ts = warm_algo.init_state(jax.random.PRNGKey(seed))
    t_setup = time.perf_counter()

    warm_fn = jax.jit(lambda s: warm_algo.train(train_state=s)[0]).lower(ts).compile()
    t_c1 = time.perf_counter()
    ts = jax.block_until_ready(warm_fn(ts))
    t_r1 = time.perf_counter()
    learn_fn = jax.jit(lambda s: learn_algo.train(train_state=s)[0]).lower(ts).compile()
    t_c2 = time.perf_counter()
    ts = jax.block_until_ready(learn_fn(ts))
    t_end = time.perf_counter()
    global_step = int(np.asarray(ts.global_step))
    assert global_step == steps, (global_step, steps)

    if algo in ("ddpg", "td3"):
        actor_params = ts.actor_ts.params
        act = jax.jit(lambda obs: learn_algo.actor.apply(actor_params, obs[None])[0])
    elif algo == "sac":  # deterministic: the squashed mean, in env units
        actor_params = ts.actor_ts.params

        def squashed_mean(module, obs):
            return module.action_loc + jnp.tanh(module._action_dist(obs).loc) * module.action_scale

        act = jax.jit(lambda obs: learn_algo.actor.apply(actor_params, obs[None], method=squashed_mean)[0])
    else:
        q_params = ts.q_ts.params
        act = jax.jit(lambda obs: jnp.argmax(learn_algo.agent.apply(q_params, obs[None])[0]))
    learn_steps, learn_time = steps - ls, t_end - t_c2
    result = {
        "version": getattr(rejax, "__version__", None) or _dist_version("rejax"), "exploration": exploration,
        "env_impl": "gymnax", "loop": "compiled", "learn_steps": learn_steps, "learn_time_s": learn_time,
        "learn_steps_per_s": learn_steps / learn_time, "warmup_steps_per_s": ls / (t_r1 - t_c1),
        "import_s": t_import - T0, "setup_s": t_setup - t_import, "compile_s": (t_c1 - t_setup) + (t_c2 - t_r1),
        "train_end": t_end,
    }
    result.update(evaluate(hp["env"], lambda obs: np.asarray(act(jnp.asarray(obs))), hp["eval_seeds"], algo == "dqn"))
    return result


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", choices=PEERS, required=True)
    parser.add_argument("--algo", required=True, help="the benchmark's name (compare.py's ALGOS; the algorithm is "
                        "hp['algo'])")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--hp", required=True, help="hyperparameters: a JSON string or a path to a JSON file")
    args = parser.parse_args()
    hp = json.loads(Path(args.hp).read_text() if not args.hp.lstrip().startswith("{") else args.hp)

    algo = hp["algo"]
    if args.peer == "rejax":
        result = run_rejax(algo, hp, args.seed)
    else:
        result = run_sb3_like(args.peer, algo, hp, args.seed)
    steps, ls = hp["total_steps"], hp["learning_starts"]
    train_end = result.pop("train_end")
    steady = ls / result["warmup_steps_per_s"] + (steps - ls) / result["learn_steps_per_s"]
    row = {
        "system": args.peer, "peer": args.peer, "algo": args.algo, "env": hp["env"], "seed": args.seed,
        "steps": steps, "learning_starts": ls, "status": "ok", **result,
        "wall_time_s": train_end - T0, "startup_s": train_end - T0 - steady,
        "threads": thread_settings(), "python": platform.python_version(),
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
