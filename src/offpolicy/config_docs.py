"""Every config key with its type, default and one-line doc, read from the dataclasses themselves.

:func:`key_rows` describes one config (a preset's values, or an algorithm's defaults); :func:`render_text` is what
``offpolicy keys [PRESET] [--algo ALGO]`` prints; :func:`render_markdown` is docs/config.md, regenerated with
``python -m offpolicy.config_docs > docs/config.md`` (a unit test checks that the file is in sync).
"""

from __future__ import annotations

import json
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from offpolicy import registry
from offpolicy.config import RunConfig, field_docs, make_config, to_dict, valid_keys

REGENERATE = "python -m offpolicy.config_docs > docs/config.md"
"""The command that writes docs/config.md."""


@dataclass(frozen=True)
class KeyRow:
    key: str
    """Full dotted key, e.g. agent.noise.sigma."""
    type: str
    """Its type as a config file writes it: int, float, list[int], one of a|b, ..."""
    default: str
    """Its value in the config described, as YAML would write it."""
    doc: str
    """The field's docstring, on one line."""


def key_rows(config: RunConfig) -> tuple[list[KeyRow], list[KeyRow]]:
    """(run keys, agent keys) of ``config``, in the dataclasses' order, each with its value in ``config``."""
    values = to_dict(config)
    agent_class = registry.get(config.algo).config_class
    run, agent = [], []
    for key in valid_keys(config.algo):
        parts = key.split(".")
        if parts[0] == "agent":
            agent.append(_row(agent_class, parts[1:], key, values["agent"]))
        else:
            run.append(_row(RunConfig, parts, key, values))
    return run, agent


def _row(cls: type, parts: list[str], key: str, values: dict[str, Any]) -> KeyRow:
    for part in parts[:-1]:  # a nested dataclass section, e.g. noise
        cls, values = typing.get_type_hints(cls)[part], values[part]
    name = parts[-1]
    return KeyRow(key, type_name(typing.get_type_hints(cls)[name]), value_text(values[name]),
                  field_docs(cls).get(name, ""))


def type_name(tp: Any) -> str:
    """A field's annotation as a config file writes its value: ``one of host|compiled``, ``list[int]``, ``str | null``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "|".join(str(choice) for choice in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if arg is type(None) else type_name(arg) for arg in typing.get_args(tp))
    if origin is tuple:
        return f"list[{type_name(typing.get_args(tp)[0])}]"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def value_text(value: Any) -> str:
    """A value as YAML (and ``--set``) would write it: true, null, [128, 128], 0.0003."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


# --------------------------------------------------------------------------------------------------------------------
# offpolicy keys


def render_text(preset: str | None = None, algo: str | None = None, width: int | None = None) -> str:
    """``offpolicy keys``: every key of a preset (or YAML file) with its values, or of ``algo``'s defaults (the default
    algorithm's when neither is given); ``algo`` with a preset replaces the preset's algorithm. Columns are aligned;
    with ``width``, docs wrap to it (otherwise one line per key, for grep)."""
    config = make_config(preset, {"algo": algo} if algo else {})
    run, agent = key_rows(config)
    entry = registry.get(config.algo)
    source = (f"preset {preset}" if preset else "") + (" with " if preset and algo else "") + \
        (f"algo {algo}" if algo else "")
    lines = [f"Config keys of {source or f'algo {config.algo}'}, with "
             + ("its values" if preset else f"the defaults of {entry.config_class.__name__}")
             + ". Set any with --set KEY=VALUE (the full key, or a unique suffix like sigma); every algorithm's keys:"
             " docs/config.md.", ""]
    if width is not None:
        lines[:1] = textwrap.wrap(lines[0], width)
    widths = [max(len(getattr(row, col)) for row in run + agent) for col in ("key", "type", "default")]
    indent = 2 + sum(widths) + 2 * len(widths)
    for title, rows in (("Run keys", run), (f"Agent keys ({entry.name}: {entry.config_class.__name__})", agent)):
        lines.append(f"{title}:")
        for row in rows:
            head = "  " + "".join(f"{text:{w}s}  " for text, w in zip((row.key, row.type, row.default), widths))
            if width is None:
                lines.append((head + row.doc).rstrip())
            elif width - indent >= 50:
                lines += textwrap.wrap(row.doc, width, initial_indent=head, subsequent_indent=" " * indent) or [head]
            else:  # a narrow terminal: the doc under its key
                lines += [head.rstrip(), *textwrap.wrap(row.doc, width, initial_indent=" " * 6,
                                                        subsequent_indent=" " * 6)]
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------------
# docs/config.md


def _cell(text: str, code: bool = False) -> str:
    text = text.replace("|", "\\|")
    return f"`{text}`" if code else text.replace("*", "\\*")


def _table(rows: list[KeyRow]) -> list[str]:
    return ["| key | type | default | doc |", "|---|---|---|---|"] + [
        f"| {_cell(r.key, True)} | {_cell(r.type, True)} | {_cell(r.default, True)} | {_cell(r.doc)} |" for r in rows]


def render_markdown() -> str:
    """docs/config.md: the run keys, then each registered algorithm's agent keys, with the dataclasses' defaults."""
    lines = [
        "# Config keys",
        "",
        f"<!-- Generated from the dataclasses by `{REGENERATE}`; do not edit by hand. -->",
        f"Generated from the dataclasses (`RunConfig` in `src/offpolicy/config.py`, the agent configs in "
        f"`src/offpolicy/hparams.py`) by `{REGENERATE}`; tests/unit/test_config_docs.py checks that it is in sync.",
        "",
        "Every key a config file or `--set KEY=VALUE` may set. `--set` takes the full key (`agent.noise.sigma`) or "
        "any unique suffix (`noise.sigma`, `sigma`); a YAML file nests agent keys under `agent:`. The defaults "
        "below are the dataclasses'; a preset sets its own: `offpolicy keys PRESET` lists every key with the "
        "preset's values. `env_kwargs.NAME=VALUE` sets one keyword argument of `gymnasium.make`.",
        "",
        "## Run keys",
        "",
    ]
    run, _ = key_rows(make_config(None, {}))
    lines += _table(run)
    for entry in registry.ALGORITHMS.values():
        _, agent = key_rows(make_config(None, {"algo": entry.name}))
        lines += ["", f"## Agent keys: {entry.name}", "",
                  f"{entry.title}: `{entry.config_class.__name__}` ({entry.docs}); default preset "
                  f"`{entry.default_preset}`.", ""]
        lines += _table(agent)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
