"""What each Rainbow part costs per learning step, A/B in one process: one jitted host-loop learner step (store,
sample, update, next action) of a preset with one part switched off at a time, timed alternately.

    python benchmarks/rainbow_parts.py [--preset rainbow-lunarlander] [--rounds 5] [--steps 200]

Prints the median ms per step over --rounds rounds of --steps steps each (variants run in alternating order within a
round), on a synthetic stream of transitions (no env: the learner step alone). Ratios are the claim.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from offpolicy.buffer import Transition
from offpolicy.config import make_config
from offpolicy.envs import make_env
from offpolicy.loops.learner import init_carry, learner_step
from offpolicy.run.trainer import agent_for_run

VARIANTS = {
    "rainbow": {},
    "no prioritized": {"prioritized": False},
    "no C51": {"distributional": False},
    "1-step": {"n_step": 1},
    "no dueling": {"dueling": False},
    "no Double": {"double": False},
    "NoisyNet-DQN": {"double": False, "dueling": False, "n_step": 1, "prioritized": False, "distributional": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="rainbow-lunarlander")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    import time

    base = make_config(args.preset)
    env, spec = make_env(base.env, base.algo)
    env.close()
    rng = np.random.default_rng(0)
    n = 300 + args.rounds * args.steps
    obs = [jnp.asarray(rng.normal(size=(1, *spec.obs_shape)), jnp.float32) for _ in range(n)]
    rewards = [jnp.asarray(rng.normal(size=1), jnp.float32) for _ in range(n)]
    ends = [jnp.asarray([rng.random() < 0.01]) for _ in range(n)]
    steps, carries = {}, {}
    for name, switches in VARIANTS.items():
        cfg = make_config(args.preset, {f"agent.{k}": v for k, v in switches.items()})
        agent = agent_for_run(cfg, spec)

        def step(carry, t, o, r, end, agent=agent, batch=cfg.agent.batch_size):
            transition = Transition(obs=o, action=(t % spec.n_actions)[None].astype(jnp.int32), reward=r,
                                    next_obs=o + 0.1, terminated=end, truncated=jnp.zeros(1, bool))
            return learner_step(agent, batch, carry, transition, o, jnp.zeros(1, bool), t, True, False)

        steps[name] = jax.jit(step, donate_argnums=0)
        carries[name] = init_carry(agent, cfg.agent.buffer_size, jax.random.key(0))
        for i in range(300):  # fill past the batch size, compile
            carries[name], action = steps[name](carries[name], jnp.int32(i), obs[i], rewards[i], ends[i])
        jax.block_until_ready(action)
    times = {name: [] for name in VARIANTS}
    for r in range(args.rounds):
        order = list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]
        for name in order:
            tic = time.perf_counter()
            for i in range(300 + r * args.steps, 300 + (r + 1) * args.steps):
                carries[name], action = steps[name](carries[name], jnp.int32(i), obs[i], rewards[i], ends[i])
            jax.block_until_ready(action)
            times[name].append((time.perf_counter() - tic) / args.steps * 1e3)
    full = float(np.median(times["rainbow"]))
    print(f"{args.preset}: learner step, median ms over {args.rounds} rounds of {args.steps} steps")
    for name, values in times.items():
        ms = float(np.median(values))
        print(f"  {name:15s} {ms:7.3f} ms  ({ms / full:.2f}x rainbow)")


if __name__ == "__main__":
    main()
