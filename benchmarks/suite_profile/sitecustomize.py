"""Loaded by every Python process started with this folder on PYTHONPATH (see benchmarks/suite_profile.py): once the
process imports JAX, it sums JAX's own compile-time events (tracing, lowering to MLIR, XLA backend compilation,
persistent-cache reads) per pytest test, read from PYTEST_CURRENT_TEST (set by pytest in the test process and
inherited by the processes a test starts), and writes them at exit to $OFFPOLICY_SUITE_PROFILE_DIR/<pid>.jsonl."""

import atexit
import collections
import importlib
import importlib.util
import json
import os
import sys

_secs: dict = collections.defaultdict(float)
_counts: dict = collections.defaultdict(int)
_programs: dict = collections.defaultdict(lambda: [0, 0.0])  # jitted function name -> [XLA compiles, seconds]


def _key(event):
    return os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)").rsplit(" (", 1)[0], event.rsplit("/", 1)[-1]


def _on_duration(event, secs, fun_name=None, **_):
    key = _key(event)
    _secs[key] += secs
    _counts[key] += 1
    if fun_name is not None and key[1] == "backend_compile_duration":
        _programs[fun_name][0] += 1
        _programs[fun_name][1] += secs


def _on_event(event, **_):
    _counts[_key(event)] += 1


class _RegisterWhenJaxIsImported:
    def find_spec(self, name, path=None, target=None):
        if name != "jax":
            return None
        sys.meta_path.remove(self)
        importlib.import_module("jax")
        from jax import monitoring

        monitoring.register_event_duration_secs_listener(_on_duration)
        monitoring.register_event_listener(_on_event)
        return importlib.util.find_spec("jax")


def _write():
    out = os.environ.get("OFFPOLICY_SUITE_PROFILE_DIR")
    if out and _counts:
        with open(os.path.join(out, f"{os.getpid()}.jsonl"), "w") as f:
            for test, event in sorted(_counts):
                f.write(json.dumps({"test": test, "event": event, "secs": _secs.get((test, event), 0.0),
                                    "n": _counts[(test, event)]}) + "\n")
            for fun, (n, secs) in sorted(_programs.items()):
                f.write(json.dumps({"program": fun, "secs": secs, "n": n}) + "\n")


if os.environ.get("OFFPOLICY_SUITE_PROFILE_DIR"):
    sys.meta_path.insert(0, _RegisterWhenJaxIsImported())
    atexit.register(_write)
