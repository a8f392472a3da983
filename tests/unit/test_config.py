import pytest

from offpolicy.config import (
    DDPGConfig,
    RunConfig,
    apply_overrides,
    from_dict,
    load_preset_dict,
    make_config,
    parse_seeds,
    parse_set,
    preset_names,
    read_yaml_mapping,
    resolve_key,
    to_dict,
    yaml_value,
)
from offpolicy.errors import ConfigError


def test_presets_load_and_match_the_tutorial_budget():
    assert {"ddpg-pendulum", "ddpg-pendulum-tutorial"} <= set(preset_names())
    cfg = make_config("ddpg-pendulum")
    a = cfg.agent
    assert (cfg.env, cfg.total_steps, cfg.warmup_steps) == ("Pendulum-v1", 50_000, 10_000)
    assert (a.buffer_size, a.batch_size, a.gamma, a.tau) == (100_000, 128, 0.99, 5e-3)
    assert (a.actor_lr, a.critic_lr, a.hidden_sizes, a.final_layer_init) == (3e-4, 1e-3, (128, 128), 3e-3)
    assert (a.noise.kind, a.noise.theta, a.noise.sigma) == ("ou", 1.0, 0.1)
    tut = make_config("ddpg-pendulum-tutorial")
    assert tut.truncation_as_terminal and tut.agent.noise.kind == "tutorial"
    assert not tut.agent.noise.reset_each_episode and not cfg.truncation_as_terminal


def test_defaults_equal_the_flagship_preset():
    assert make_config(None, {}) == make_config("ddpg-pendulum")


def test_roundtrip_through_dict():
    cfg = make_config("ddpg-pendulum-tutorial", {"seed": 3})
    assert from_dict(to_dict(cfg)) == cfg


@pytest.mark.parametrize("key,full", [("actor_lr", "agent.actor_lr"), ("sigma", "agent.noise.sigma"),
                                      ("noise.kind", "agent.noise.kind"), ("seed", "seed"),
                                      ("agent.tau", "agent.tau")])
def test_resolve_key_suffixes(key, full):
    assert resolve_key(key, "ddpg") == full


def test_overrides_parse_yaml_scalars_and_scientific_notation():
    cfg = make_config("ddpg-pendulum", parse_set(["actor_lr=1e-4", "hidden_sizes=[64, 32]", "noise.kind=gaussian",
                                                  "truncation_as_terminal=true", "total_steps=2_000"]))
    assert cfg.agent.actor_lr == 1e-4 and cfg.agent.hidden_sizes == (64, 32)
    assert cfg.agent.noise.kind == "gaussian" and cfg.truncation_as_terminal and cfg.total_steps == 2000


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"actor_lrr": 1}, "Did you mean 'agent.actor_lr'"),
        ({"agent.batch_size": 0}, "agent.batch_size=0: must be >= 1"),
        ({"agent.batch_size": 256, "agent.buffer_size": 100}, "must be <= agent.buffer_size"),
        ({"learning_starts": 10}, "learning_starts=10: must be >= agent.batch_size"),
        ({"agent.gamma": 1.5}, "agent.gamma=1.5: must be in [0, 1]"),
        ({"agent.tau": 0}, "agent.tau=0.0: must be in (0, 1]"),
        ({"agent.actor_lr": "fast"}, "expected a number"),
        ({"total_steps": 1.5}, "expected an integer"),
        ({"agent.noise.kind": "pink"}, "must be one of"),
        ({"video": "maybe"}, "expected true or false"),
        ({"agent.hidden_sizes": "[0]"}, "positive ints"),
        ({"algo": "ppo"}, "unknown algorithm"),
        ({"sigma": -1}, "must be >= 0"),
        ({"agent.noise.theta": 200.0}, "theta*dt must be <= 1"),
        ({"eval_episodes": 0}, "eval_episodes=0: must be >= 1"),
        ({"env": "this:Pendulum-v1"}, "a 'module:' env id imports module 'this', and a config or checkpoint may name "
         "only a registered env id; import the module yourself (`--env-module this`"),
        ({"env_module": "os; rm"}, "env_module='os; rm': must be a module name"),
    ],
)
def test_validation_errors_name_the_problem(overrides, message):
    with pytest.raises(ConfigError, match=None) as info:
        make_config("ddpg-pendulum", overrides)
    assert message in str(info.value)


def test_unknown_yaml_key_suggests_closest(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("algo: ddpg\nagent:\n  batch_sise: 64\n")
    with pytest.raises(ConfigError, match="agent.batch_sise.*Did you mean 'batch_size'"):
        make_config(str(path))


def test_bad_yaml_and_missing_files_and_presets(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: [ddpg\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        make_config(str(bad))
    with pytest.raises(ConfigError, match="not found"):
        make_config(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="Did you mean 'ddpg-pendulum'"):
        load_preset_dict("ddpg-pendulm")
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        make_config(str(lst))


def test_yaml_is_loaded_safely(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("algo: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        make_config(str(evil))


def test_set_requires_key_value():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_set(["actor_lr"])


def test_apply_overrides_does_not_mutate_input():
    base = load_preset_dict("ddpg-pendulum")
    apply_overrides(base, {"actor_lr": 1.0})
    assert base["agent"]["actor_lr"] == 0.0003


def test_dataclasses_are_hashable_for_jit():
    hash(DDPGConfig())
    assert isinstance(RunConfig().agent, DDPGConfig)


# --------------------------------------------------------------------------------------------------------------------
# The seeds grammar (offpolicy train --seeds, offpolicy sweep --seeds, a sweep file's seeds:)


@pytest.mark.parametrize("spec, first, seeds", [
    (8, 0, list(range(8))),
    ("8", 0, list(range(8))),
    ("3", 10, [10, 11, 12]),  # a count starts at `first` (train: --seed)
    ("0-7", 5, list(range(8))),  # a range or a list ignores `first`
    (" 2 - 4 ", 0, [2, 3, 4]),
    ("7-7", 0, [7]),
    ("0,3,5", 0, [0, 3, 5]),
    ("5, 3", 0, [5, 3]),  # in the order given
    ([0, 3, 5], 0, [0, 3, 5]),
    ((9,), 0, [9]),
    ("4294967294-4294967295", 0, [4294967294, 4294967295]),
])
def test_seeds_grammar(spec, first, seeds):
    assert parse_seeds(spec, first) == seeds


@pytest.mark.parametrize("spec, first, message", [
    ("7,", 0, "give a count"),
    ("0-", 0, "give a count"),
    (",1", 0, "give a count"),
    ("0,,1", 0, "give a count"),
    ("-1", 0, "give a count"),
    ("1.5", 0, "give a count"),
    ("a", 0, "give a count"),
    ("", 0, "give a count"),
    (True, 0, "give a count"),
    (None, 0, "give a count"),
    ("5-2", 0, "the range ends before it starts"),
    (0, 0, "at least 1 seed"),
    ("0", 0, "at least 1 seed"),
    ("0,0", 0, "seed 0 is repeated"),
    ([1, 2, 1], 0, "seed 1 is repeated"),
    ([-1], 0, "from 0 to 4294967295"),
    ("4294967296-4294967296", 0, "from 0 to 4294967295"),
    ("1,4294967296", 0, "from 0 to 4294967295"),
    ("2", 2**32 - 1, "from 0 to 4294967295"),  # a count may not run past 2**32 - 1 either
    ([], 0, "non-empty list of integers"),
    (["1"], 0, "non-empty list of integers"),
    ("0-20000", 0, "at most 10,000"),
    ("9" * 5000, 0, "give a count"),  # not an int() too long to convert
])
def test_seeds_grammar_refuses_the_rest_in_one_line(spec, first, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_seeds(spec, first)
    assert str(info.value).startswith("--seeds ") and "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------------------------------
# The YAML reader


def test_read_yaml_mapping_from_text_or_file(tmp_path):
    assert read_yaml_mapping("a: 1\nb: [2, 3]\n", "text") == {"a": 1, "b": [2, 3]}
    assert read_yaml_mapping("", "text") == {}  # an empty document
    path = tmp_path / "c.yaml"
    path.write_text("algo: dqn\n")
    assert read_yaml_mapping(path) == {"algo": "dqn"}
    with pytest.raises(ConfigError, match="^a str is YAML text: expected a mapping"):
        read_yaml_mapping(str(path), "a str is YAML text")  # a str is never taken for a file name


@pytest.mark.parametrize("text, message", [
    ("algo: [ddpg\n", r"c.yaml: not valid YAML \(expected ',' or '\]', but got '<stream end>' at line 2, column 1\)\.$"),
    ("a: 1\n b: 2\n", r"c.yaml: not valid YAML \(mapping values are not allowed here at line 2, column 3\)\.$"),
    ("x: !!python/object/apply:os.system ['echo pwned']\n", "not valid YAML \\(could not determine a constructor"),
    ("- 1\n- 2\n", r"c.yaml: expected a mapping of config keys at the top level\.$"),
    ("just text\n", r"c.yaml: expected a mapping"),
])
def test_read_yaml_mapping_errors_are_one_line(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_yaml_mapping(path)
    assert "\n" not in str(info.value)


def test_read_yaml_mapping_missing_file_and_custom_message(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: cannot be read \\(No such file or directory\\)"):
        read_yaml_mapping(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="^sweep.yaml: not a sweep file.$"):
        read_yaml_mapping("[1]", "sweep.yaml", not_a_mapping="not a sweep file.")


def test_yaml_value_reads_command_line_values():
    assert yaml_value("[64, 64]") == [64, 64]
    assert yaml_value("true") is True and yaml_value("0.5") == 0.5
    assert yaml_value("[64,") == "[64,"  # not valid YAML: the text itself
    assert yaml_value("") == "" and yaml_value("  ") == "  "
    # A broken list for a tuple field is a ConfigError, not PyYAML's traceback.
    with pytest.raises(ConfigError, match="expected a list"):
        make_config("ddpg-pendulum", {"hidden_sizes": "[64,"})


def test_tensorboard_gets_every_metric_the_agent_returns(tmp_path, monkeypatch):
    """Not only the losses and q_mean: DQN's sigma_mean and epsilon too."""
    from offpolicy.run.logger import RunLogger

    logger = RunLogger(tmp_path, ("loss", "q_mean", "sigma_mean", "epsilon"))
    tags = []
    monkeypatch.setattr(logger.tb, "add_scalar", lambda tag, value, step: tags.append(tag))
    logger.episode({"step": 10, "episode": 1, "episode_return": 3.0, "episode_length": 10, "loss": 0.5, "q_mean": 1.0,
                    "sigma_mean": 0.1, "epsilon": 0.9, "steps_per_s": None, "time_s": 1.0})
    logger.close()
    assert {"agent/loss", "agent/q_mean", "agent/sigma_mean", "agent/epsilon"} <= set(tags)


def _alias_bomb(levels: int, where: str) -> str:
    """``levels`` anchors of nine aliases each (9**levels values once expanded), at the top level or under a key."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    if where == "hidden_sizes":
        return "algo: ddpg\nagent:\n  hidden_sizes:\n" + "".join(f"  - {line.split(': ', 1)[1]}\n" for line in lines)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["top", "hidden_sizes"])
@pytest.mark.parametrize("levels", [2, 9])
def test_yaml_aliases_are_refused_before_they_expand(tmp_path, where, levels):
    """Nine levels of nine aliases expand to 387M values when the config is copied (a hang, then out of memory)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(levels, where))
    with pytest.raises(ConfigError, match=r"bomb.yaml: not valid YAML \(aliases \(\*name\) are not allowed; write "
                                          r"the values out at line \d+, column \d+\)\.$"):
        make_config(str(path))
    assert yaml_value("[&x 1, *x]") == "[&x 1, *x]"  # a command-line value with an alias stays text


def test_huge_deep_or_binary_yaml_files_are_refused_at_once(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("algo: ddpg\n" + "# padding\n" * 200_000)  # 2 MB of comments: valid, but no config is that big
    with pytest.raises(ConfigError, match=r"huge.yaml: larger than 1 MiB; a config or sweep file is a few KB"):
        make_config(str(huge))
    deep = tmp_path / "deep.yaml"
    deep.write_text("env_kwargs: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"deep.yaml: not valid YAML \(nested too deeply\)"):
        make_config(str(deep))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"algo: ddpg\n\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"binary.yaml: not UTF-8 text \(byte 11\)"):
        make_config(str(binary))


@pytest.mark.parametrize(
    "preset,key,named,not_named",
    [
        ("ddpg-pendulum", "learning_rate", ["'agent.actor_lr'", "'agent.critic_lr'"], ["agent.lr'", "alpha_lr"]),
        ("sac-pendulum", "learning_rate", ["'agent.actor_lr'", "'agent.critic_lr'", "'agent.alpha_lr'"], []),
        ("noisy-dqn-cartpole", "learning_rate", ["'agent.lr'"], ["actor_lr"]),
        ("ddpg-pendulum", "n_timesteps", ["'total_steps'"], []),
        ("ddpg-pendulum", "eval_freq", ["'eval_every'"], []),
        ("noisy-dqn-cartpole", "target_update_interval", ["'agent.target_update'"], []),
        ("ddpg-pendulum", "exploration_final_eps", [], ["epsilon_end"]),  # a DQN key: never suggested for DDPG
    ],
)
def test_sb3_names_get_our_key_as_a_hint_and_are_never_accepted(preset, key, named, not_named):
    with pytest.raises(ConfigError) as info:
        make_config(preset, {key: 1})
    message = str(info.value)
    assert f"unknown key {key!r}" in message
    assert all(name in message for name in named) and not any(name in message for name in not_named), message
    assert ("SB3/rl-zoo" in message) == bool(named), message  # the hint comes from the alias table, not by spelling
