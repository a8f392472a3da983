"""Settings shared by the sweep tests (conftest.py's `local_sweep`, test_sweep.py, test_sweep_ray.py)."""

import contextlib

from offpolicy.run.processes import environ  # the workers' own set-and-restore of variables

# DQN on CartPole-v1 at a tiny budget: 300 steps, an evaluation every 100, a training checkpoint every 100; no
# learning_curve.png per trial (the report draws its own figures from the CSV files).
TINY = ["total_steps=300", "warmup_steps=100", "learning_starts=64", "batch_size=32", "hidden_sizes=[32,32]",
        "eval_every=100", "eval_episodes=2", "checkpoint_every=100", "plot=false"]
SWEEP_2X2 = ["noisy-dqn-cartpole", "--grid", "lr=1e-3,3e-4", "--set", *TINY, "--no-progress"]


@contextlib.contextmanager
def reuse_compile_cache(sweep_dir):
    """Let the trials started in this block (spawned workers, a local Ray instance: they inherit the environment)
    use ``sweep_dir``'s JAX compilation cache, which a sweep of the same tiny config filled: saves the tests ~8 s of
    CPU per trial. The sweeps leave a JAX_COMPILATION_CACHE_DIR set by the user alone."""
    names = {"JAX_COMPILATION_CACHE_DIR": str(sweep_dir / ".jax-cache"), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}
    with environ(names):
        yield
