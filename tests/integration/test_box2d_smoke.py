"""rainbow-lunarlander loads with its env and values, and trains end to end through the CLI on LunarLander-v3 for a
few hundred steps (shrunk like the other contract runs: this checks the plumbing on a Box2D env, 8-dimensional
observations and 4 actions, not learning). Skipped without the extra (pip install "offpolicy[box2d]"); CI installs
it with ".[test]"."""

import json

import pytest
from tiny_runs import TINY

pytest.importorskip("Box2D", reason='LunarLander needs the extra: pip install "offpolicy[box2d]"')

from offpolicy.cli import main  # noqa: E402
from offpolicy.config import make_config  # noqa: E402


def test_rainbow_lunarlander_preset_trains_through_the_cli(tmp_path):
    cfg = make_config("rainbow-lunarlander")
    a = cfg.agent
    assert (cfg.env, cfg.total_steps, a.hidden_sizes, a.v_min, a.v_max) == ("LunarLander-v3", 200_000, (256, 256),
                                                                            -100.0, 200.0)
    assert a.double and a.dueling and a.n_step == 3 and a.prioritized and a.distributional
    run = tmp_path / "run"
    sets = [f"{k}={json.dumps(v)}" for k, v in TINY.items()]
    assert main(["train", "rainbow-lunarlander", "--no-progress", "--no-video", "--run-dir", str(run),
                 "--set", *sets]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["env"], summary["steps"], summary["updates"]) == ("LunarLander-v3", 300, 201)
