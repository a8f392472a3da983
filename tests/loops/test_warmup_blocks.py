"""The host loop's warm-up in blocks (``HostLoop.block_warmup``): the actions of 256 steps drawn in one call and the
steps stored in one call when the carry is read give the same numbers as one jitted call per step."""

from __future__ import annotations

import numpy as np
import pytest
from run_files import resumed_equals_uninterrupted
from test_loops import _arrays
from tiny_runs import TINY

from offpolicy.config import make_config
from offpolicy.loops.host import HostLoop
from offpolicy.run.trainer import Trainer

# A warm-up longer than two blocks, with an evaluation (which reads the carry) in the middle of a block; the runs stop
# at step 596, inside it (what follows the warm-up is one call per step either way, and is the rest of the suite's).
WARM = {"warmup_steps": 600, "learning_starts": 600, "total_steps": 800, "eval_every": 400, "video": False}
STEPS = 596  # a multiple of every case's n_envs
# Per case: preset, overrides, seeds, and the vector steps of each block store. A block holds 256 actions; the next
# block is drawn (and what waits stored) when one is used up; the evaluation at step 400 stores what waits mid-block,
# and reading the carry at the end stores the rest. With one env: 256 | 144 (eval) | 112 (block 2 used up) | 84.
CASES = {
    "ddpg": ("ddpg-pendulum", {}, None, [256, 144, 112, 84]),
    "dqn-2-envs": ("noisy-dqn-cartpole", {"n_envs": 2}, None, [200, 56, 42]),
    "ddpg-2-seeds": ("ddpg-pendulum", {}, [0, 1], [256, 144, 112, 84]),
    "rainbow-4-envs": ("rainbow-cartpole", {"n_envs": 4}, None, [100, 49]),
}


def _train(preset, overrides, seeds, blocks, monkeypatch):
    monkeypatch.setattr(HostLoop, "block_warmup", blocks)
    trainer = Trainer(make_config(preset, {**TINY, **WARM, **overrides}), seeds=seeds, progress=False)
    stored = []  # the step count of each block store
    store_block = trainer.loop.fns.store_block
    monkeypatch.setattr(trainer.loop.fns, "store_block", lambda c, p, n: stored.append(int(n)) or store_block(c, p, n))
    trainer.learn(STEPS)
    carry = _arrays(trainer.loop.carry)  # stores what waits
    return trainer, carry, stored


@pytest.mark.filterwarnings("ignore:total_steps=800 / n_envs")  # no CartPole episode needs to end here
@pytest.mark.parametrize("case", CASES)
def test_a_warm_up_in_blocks_equals_one_call_per_step(case, monkeypatch):
    preset, overrides, seeds, want_stored = CASES[case]
    blocks, blocks_carry, stored = _train(preset, overrides, seeds, True, monkeypatch)
    steps, steps_carry, per_step_stored = _train(preset, overrides, seeds, False, monkeypatch)
    assert stored == want_stored and sum(stored) == STEPS // overrides.get("n_envs", 1)  # every step, in blocks
    assert per_step_stored == []
    for x, y in zip(blocks_carry, steps_carry, strict=True):
        np.testing.assert_array_equal(x, y)  # buffer, agent state (per-episode noise too), key, counters
    assert [r.eval_history for r in blocks.runs] == [r.eval_history for r in steps.runs]
    assert [s.episode for s in blocks.loop.states] == [s.episode for s in steps.loop.states]


def test_a_run_checkpointed_and_resumed_in_the_warm_up_equals_an_uninterrupted_one(tmp_path):
    # checkpoint at step 200 (an episode end of Pendulum), killed at 350, both inside a 400-step warm-up
    resumed_equals_uninterrupted("ddpg-pendulum", tmp_path, part_steps=350, warmup_steps=400, learning_starts=400)
