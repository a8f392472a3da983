"""Evaluation seeds: training, each periodic evaluation and the final evaluation use disjoint episode seeds, drawn
reproducibly from the master seed (so checkpoints/best is never picked on the episodes it is reported on)."""

import json

from offpolicy.config import make_config
from offpolicy.policy import Policy
from offpolicy.run.trainer import Trainer


def seeds_used(tmp_path, name):
    """Every reset seed of one short run (no learning: warm-up only), by env: training and evaluation."""
    config = make_config("ddpg-pendulum", {"total_steps": 600, "warmup_steps": 600, "learning_starts": 1000,
                                           "eval_every": 200, "eval_episodes": 3, "video": False, "plot": False})
    trainer = Trainer(config, run_dir=tmp_path / name, progress=False)
    used = {"train": [], "eval": []}
    for key, env in (("train", trainer.envs[0]), ("eval", trainer.runs[0].evaluator.env)):
        def spy(original=env.reset, key=key, **kwargs):
            used[key].append(kwargs["seed"])
            return original(**kwargs)
        env.reset = spy
    trainer.learn(600)
    trainer.finish()
    trainer.close()
    return used


def test_training_periodic_and_final_evaluations_use_disjoint_fresh_seeds(tmp_path):
    used = seeds_used(tmp_path, "a")
    train, periodic, final = used["train"], used["eval"][:9], used["eval"][9:]
    assert len(train) == 4 and len(final) == 3  # 600 steps = 3 Pendulum episodes (+ the 4th's reset); 3 evaluations
    assert len(set(periodic)) == 9  # each periodic evaluation draws fresh seeds
    assert not set(train) & set(periodic) and not set(train) & set(final) and not set(periodic) & set(final)
    run = tmp_path / "a"
    assert json.loads((run / "eval.json").read_text())["seeds"] == final  # eval.json: the final seeds
    # reproducible from the master seed, and a loaded policy's evaluation is eval.json's (the same final seeds)
    assert seeds_used(tmp_path, "b") == used
    result = Policy.load(run / "checkpoints" / "final").evaluate(3)
    assert result == {k: v for k, v in json.loads((run / "eval.json").read_text()).items()
                      if k not in ("step", "checkpoint")}
