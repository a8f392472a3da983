"""The tiny training settings shared by the contract, loop, trainer and export tests: a few hundred steps, 16-unit
networks. Tests that train with the same settings (and the same preset and loop) build the same programs, which the
suite's compilation cache (tests/conftest.py) then compiles once for all of them; a test that needs other settings
says why."""

TINY = {"total_steps": 300, "warmup_steps": 100, "learning_starts": 100, "eval_every": 200, "eval_episodes": 2,
        "batch_size": 32, "hidden_sizes": [16, 16], "plot": False}
"""``plot: False``: no learning_curve.png (nor aggregate.png), about a second of CPU a run; the tests of the figures
and of a whole run directory set ``plot: True``."""
