"""Settings shared by the sweep tests (conftest.py's `local_sweep`, test_sweep.py, test_sweep_ray.py)."""

# DQN on CartPole-v1 at a tiny budget: 300 steps, an evaluation every 100, a training checkpoint every 100.
TINY = ["total_steps=300", "warmup_steps=100", "learning_starts=64", "batch_size=32", "hidden_sizes=[32,32]",
        "eval_every=100", "eval_episodes=2", "checkpoint_every=100"]
SWEEP_2X2 = ["noisy-dqn-cartpole", "--grid", "lr=1e-3,3e-4", "--set", *TINY, "--no-progress"]
