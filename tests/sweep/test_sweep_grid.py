"""Sweep specs: grid expansion, slugs, seeds, sweep files, and validation errors that name the problem before
anything is written."""

import pytest
import yaml

from offpolicy.cli import main
from offpolicy.errors import ConfigError
from offpolicy.sweep.plan import load_spec, make_spec, parse_grid, save_spec, split_values


def test_grid_expands_to_every_combination_times_every_seed():
    spec = make_spec("ddpg-pendulum", seeds=3, grid=parse_grid(["actor_lr=1e-4,3e-4", "tau=0.005,0.01"]),
                     overrides={"total_steps": 2000}, batch_seeds=False)
    trials = spec.trials()
    assert len(trials) == 2 * 2 * 3
    assert spec.grid == {"agent.actor_lr": (1e-4, 3e-4), "agent.tau": (0.005, 0.01)}
    assert [t.slug for t in trials[::3]] == ["actor_lr=0.0001,tau=0.005", "actor_lr=0.0001,tau=0.01",
                                            "actor_lr=0.0003,tau=0.005", "actor_lr=0.0003,tau=0.01"]
    assert [t.seed for t in trials[:3]] == [0, 1, 2]
    last = trials[-1]
    assert (last.config.agent.actor_lr, last.config.agent.tau, last.config.seed) == (3e-4, 0.01, 2)
    assert last.id == "actor_lr=0.0003,tau=0.01/s2"
    assert last.config.total_steps == 2000 and last.config.video is False
    assert last.config.checkpoint_every == 200  # resumable by default: ~10 training checkpoints per trial
    assert last.config.agent.critic_lr == 1e-3  # untouched preset value


def test_no_grid_is_one_config_named_after_the_preset():
    spec = make_spec("ddpg-pendulum-tutorial", seeds="0,3,7")
    assert [t.id for t in spec.trials()] == ["ddpg-pendulum-tutorial/s0", "ddpg-pendulum-tutorial/s3",
                                             "ddpg-pendulum-tutorial/s7"]
    assert spec.trials()[0].config.agent.noise.kind == "tutorial"  # the preset's own settings, seed replaced
    assert spec.trials()[0].config.seed == 0


def test_values_are_coerced_like_set_and_lists_group_with_brackets():
    assert split_values("[64,64],[128,128]") == ["[64,64]", "[128,128]"]
    spec = make_spec("noisy-dqn-cartpole", grid=parse_grid(["hidden_sizes=[64,64],[128]", "agent.lr=1e-3"]))
    assert spec.grid["agent.hidden_sizes"] == ([64, 64], [128])  # as in sweep.yaml
    assert spec.trials()[1].config.agent.hidden_sizes == (128,)
    assert [t.slug for t in spec.trials()] == ["hidden_sizes=[64,64],lr=0.001", "hidden_sizes=[128],lr=0.001"]


def test_seeds_use_the_train_grammar_and_the_command_writes_it():
    # The grammar itself is tested in test_config.py (parse_seeds); here: the sweep takes it, from the command line
    # (a string), a sweep file (a count, a string or a list) and a saved spec (a list).
    assert make_spec("ddpg-pendulum", seeds="2-4").seeds == (2, 3, 4)
    assert make_spec("ddpg-pendulum", seeds=3).seeds == (0, 1, 2)
    assert make_spec("ddpg-pendulum", seeds="0,3,7").seeds == (0, 3, 7)
    assert make_spec("ddpg-pendulum", seeds=[5, 6]).seeds == (5, 6)
    for bad, message in (("7,", "give a count"), ("0-", "give a count"), ("0,0", "repeated"), (0, "at least 1"),
                         ([-1], "from 0 to"), ("4294967296-4294967297", "from 0 to"), (True, "give a count")):
        with pytest.raises(ConfigError, match=message):
            make_spec("ddpg-pendulum", seeds=bad)
    for seeds, arg in (("4", "4"), ("7-7", "7-7"), ("3-5", "3,4,5"), ("0,3,7", "0,3,7")):
        spec = make_spec("ddpg-pendulum", seeds=seeds)
        assert spec.command().split("--seeds ")[1].split()[0] == arg
        assert make_spec("ddpg-pendulum", seeds=arg).seeds == spec.seeds  # the recorded command remakes the sweep


@pytest.mark.parametrize("grid, overrides, message", [
    (["actor_lrr=1e-4,3e-4"], {}, "unknown key 'actor_lrr'.*Did you mean 'agent.actor_lr'"),
    (["actor_lr=-1,3e-4"], {}, r"agent.actor_lr=-1.0: must be > 0"),
    (["actor_lr=fast"], {}, "expected a number"),
    (["actor_lr=1e-4,0.0001"], {}, "value 0.0001 is repeated"),
    (["actor_lr=1e-4", "agent.actor_lr=3e-4"], {}, "given twice"),
    (["tau=0.01"], {"tau": 0.02}, "both in --grid and --set"),
    (["seed=1,2"], {}, "use --seeds"),
    (["algo=dqn"], {}, "one algorithm"),
    (["batch_size=64,256"], {"buffer_size": 128}, "batch_size=256: must be <= agent.buffer_size"),
    ([], {"seed": 3}, "use --seeds"),
    ([], {"sigmaa": 0.2}, "unknown key 'sigmaa'"),
])
def test_bad_grids_are_refused(grid, overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_spec("ddpg-pendulum", seeds=2, grid=parse_grid(grid), overrides=overrides)


@pytest.mark.parametrize("item, message", [
    ("actor_lr", "expected KEY=V1,V2"), ("actor_lr=", "no empty key or value"), ("actor_lr=1e-4,,3e-4", "no empty"),
    ("=1,2", "no empty key"),
])
def test_malformed_grid_flags(item, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid([item])


def test_bad_sweep_input_on_the_command_line_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "sweeps"
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("preset: [ddpg-pendulum\n")
    for args, message in (
        (["sweep", "ddpg-pendulum", "--grid", "actor_lrr=1e-4"], "Did you mean 'agent.actor_lr'"),
        (["sweep", "ddpg-pendulm"], "Did you mean 'ddpg-pendulum'"),
        (["sweep", "ddpg-pendulum", "--seeds", "zero"], "give a count (8), a range (0-7)"),
        (["sweep", "ddpg-pendulum", "--seeds", "7,"], "give a count (8), a range (0-7)"),
        (["sweep", str(bad_yaml)], "not valid YAML (expected ',' or ']', but got '<stream end>' at line 2"),
        (["sweep", "ddpg-pendulum", "--set", "gamma=2"], "must be in [0, 1]"),
        (["sweep"], "name a preset or a sweep file"),
        (["sweep", "--resume", str(tmp_path)], "not a sweep directory"),
        (["sweep", "--resume", str(tmp_path), "--seeds", "3"], "pass only --resume SWEEP_DIR"),
        (["report", str(tmp_path)], "not a sweep directory"),
        (["compare", str(tmp_path)], "neither a sweep directory"),
    ):
        assert main([*args, "--out", str(out)] if args[0] == "sweep" and "--resume" not in args else args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("offpolicy: error: ") and message in err and "\n" not in err, err
    assert not out.exists()


def test_sweep_file_and_flags_merge(tmp_path, capsys):
    file = tmp_path / "my-sweep.yaml"
    file.write_text(yaml.safe_dump({"preset": "noisy-dqn-cartpole", "seeds": 2, "grid": {"lr": [1e-3, 5e-4]},
                                    "set": {"total_steps": 1000}}))
    assert main(["sweep", str(file), "--grid", "target_update=100,150", "--dry-run", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "8 trials, 8,000 environment steps" in out
    assert "lr=0.0005,target_update=150/s1" in out
    # the equivalent command line names the sweep as the file does (its name, not the preset's)
    assert "offpolicy sweep noisy-dqn-cartpole --seeds 2 --name my-sweep --grid agent.lr=0.001,0.0005 --grid " \
           "agent.target_update=100,150 --set total_steps=1000" in out
    assert not (tmp_path / "s").exists()
    file.write_text("preset: noisy-dqn-cartpole\nseeds: 3-4\n")  # the --seeds grammar in the file too
    assert main(["sweep", str(file), "--dry-run"]) == 0
    assert "--seeds 3,4" in capsys.readouterr().out
    assert main(["sweep", str(file), "--seeds", "0-2", "--dry-run"]) == 0  # the flag overrides the file
    out = capsys.readouterr().out
    assert "--seeds 3 " in out and "my-sweep/s2" in out
    file.write_text(yaml.safe_dump({"preset": "noisy-dqn-cartpole", "grids": {"lr": [1e-3]}}))
    assert main(["sweep", str(file), "--dry-run"]) == 2
    assert "unknown sweep key 'grids'. Did you mean 'grid'?" in capsys.readouterr().err


def test_saved_spec_round_trips(tmp_path):
    spec = make_spec("ddpg-pendulum", seeds="1,2", grid=parse_grid(["sigma=0.1,0.2"]), overrides={"total_steps": 500},
                     backend="ray", workers=3, retries=1)
    save_spec(spec, tmp_path)
    loaded = load_spec(tmp_path)
    assert [t.config for t in loaded.trials()] == [t.config for t in spec.trials()]
    assert [t.id for t in loaded.trials()] == [t.id for t in spec.trials()]
    assert (loaded.backend, loaded.workers, loaded.retries) == ("ray", 3, 1)
    assert loaded.command() == spec.command()
    assert loaded.batch_seeds and [t.config.checkpoint_every for t in loaded.trials()] == [0] * 4
    spec = make_spec("ddpg-pendulum", seeds=2, batch_seeds=False)
    save_spec(spec, tmp_path)
    loaded = load_spec(tmp_path)
    assert not loaded.batch_seeds and loaded.command().endswith("--no-batch-seeds")
    assert "--name" not in loaded.command()  # the default name, the preset's
    named = make_spec("ddpg-pendulum", seeds=2, name="+double")
    assert named.command().startswith("offpolicy sweep ddpg-pendulum --seeds 2 --name +double --set")
    data = yaml.safe_load((tmp_path / "sweep.yaml").read_text())
    del data["batch_seeds"]  # a sweep made before batching existed: not batched
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(data))
    assert not load_spec(tmp_path).batch_seeds



@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("seeds"), "no seeds; the file was edited or cut short"),
    (lambda d: d.update(seeds=5), "a value has the wrong type"),
    (lambda d: d.update(format_version=99), "sweep format version 99"),
    (lambda d: d.update(format="something"), "not an offpolicy sweep file"),
])
def test_a_damaged_saved_spec_is_refused_with_a_clear_error(tmp_path, edit, message):
    save_spec(make_spec("ddpg-pendulum", seeds=2), tmp_path)
    data = yaml.safe_load((tmp_path / "sweep.yaml").read_text())
    edit(data)
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_spec(tmp_path)
    (tmp_path / "sweep.yaml").write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match="not an offpolicy sweep file"):
        load_spec(tmp_path)

def test_batches_start_round_robin_over_configs():
    from offpolicy.sweep.plan import can_batch_seeds, plan_batches

    spec = make_spec("noisy-dqn-cartpole", seeds=3, grid=parse_grid(["lr=1e-3,3e-4"]), batch_seeds=False)
    trials = spec.trials()
    assert not can_batch_seeds(trials[0].config)  # it has training checkpoints: one trial per batch
    batches = plan_batches(trials, workers=2)
    assert [len(b) for b in batches] == [1] * 6
    assert [b[0].id for b in batches] == ["lr=0.001/s0", "lr=0.0003/s0", "lr=0.001/s1", "lr=0.0003/s1",
                                          "lr=0.001/s2", "lr=0.0003/s2"]


def test_batched_seeds_get_no_training_checkpoints_and_split_over_the_workers():
    from offpolicy.sweep.plan import can_batch_seeds, plan_batches

    spec = make_spec("noisy-dqn-cartpole", seeds=4, grid=parse_grid(["loop=host,compiled", "nonfinite=stop,skip"]),
                     overrides={"total_steps": 2000})
    assert spec.batch_seeds and "--no-batch-seeds" not in spec.command()
    every = {t.slug: t.config.checkpoint_every for t in spec.trials()}
    # the host loop cannot vmap seeds with nonfinite=skip: that config stays resumable, one trial per process
    assert every == {"loop=host,nonfinite=stop": 0, "loop=host,nonfinite=skip": 200,
                     "loop=compiled,nonfinite=stop": 0, "loop=compiled,nonfinite=skip": 0}
    trials = spec.trials()
    assert [can_batch_seeds(t.config) for t in trials[::4]] == [True, False, True, True]
    assert not can_batch_seeds(trials[0].config, enabled=False)
    sizes = {b[0].slug: [len(x) for x in plan_batches(trials, workers=8) if x[0].slug == b[0].slug]
             for b in plan_batches(trials, workers=8)}
    assert sizes == {"loop=host,nonfinite=stop": [2, 2], "loop=host,nonfinite=skip": [1, 1, 1, 1],
                     "loop=compiled,nonfinite=stop": [2, 2], "loop=compiled,nonfinite=skip": [2, 2]}
    assert [len(b) for b in plan_batches(trials, workers=8, batch_seeds=False)] == [1] * 16
    # an explicit checkpoint_every keeps every trial resumable, so unbatched
    spec = make_spec("noisy-dqn-cartpole", seeds=4, overrides={"checkpoint_every": 500})
    assert not any(can_batch_seeds(t.config) for t in spec.trials())
    # one seed: nothing to batch, the trial keeps its checkpoints
    assert make_spec("noisy-dqn-cartpole", seeds=1).trials()[0].config.checkpoint_every == 5000
    # compiled loop on an env with no gymnax version: not batchable
    spec = make_spec("noisy-dqn-cartpole", seeds=2, overrides={"loop": "compiled", "env": "CartPole-v0"})
    assert not can_batch_seeds(spec.trials()[0].config)


def test_ray_backend_without_ray_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "sweeps"
    assert main(["sweep", "ddpg-pendulum", "--backend", "ray", "--out", str(out)]) == 2
    assert 'pip install "offpolicy[ray]"' in capsys.readouterr().err
    assert not out.exists()


def test_batch_seeds_from_the_command_line_and_the_sweep_file(tmp_path, capsys):
    assert main(["sweep", "noisy-dqn-cartpole", "--seeds", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--no-batch-seeds" not in out.splitlines()[0] and "1 of 1 config train their seeds together" in out
    assert main(["sweep", "noisy-dqn-cartpole", "--seeds", "2", "--no-batch-seeds", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--set video=false checkpoint_every=5000 --no-batch-seeds" in out and "together" not in out
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump({"preset": "noisy-dqn-cartpole", "seeds": 2, "batch_seeds": False}))
    assert main(["sweep", str(file), "--dry-run"]) == 0
    assert "--no-batch-seeds" in capsys.readouterr().out
    file.write_text(yaml.safe_dump({"preset": "noisy-dqn-cartpole", "seeds": 2, "batch_seeds": "yes"}))
    assert main(["sweep", str(file), "--dry-run"]) == 2
    assert "batch_seeds: 'yes' must be true or false" in capsys.readouterr().err
