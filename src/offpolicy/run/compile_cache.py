"""JAX's persistent compilation cache, on by default for training runs.

Most of a short run's start-up is XLA compiling the agent's programs (seconds each). With the cache, a later run
of the same preset and sizes (a rerun, the next seed, a resume) loads them from disk.

    folder:  $OFFPOLICY_COMPILE_CACHE, else $XDG_CACHE_HOME/offpolicy/jax-cache, else ~/.cache/offpolicy/jax-cache
    off:     OFFPOLICY_COMPILE_CACHE=off (or 0, false, no)
    yours:   a cache you configured for JAX (JAX_COMPILATION_CACHE_DIR, or jax.config in your code) is left alone

Every program is stored, however fast it compiled (JAX's default keeps only those over one second: a short run's
~20 small programs, 0.05-0.5 s each, would compile again every time, ~1 s of a warm start; they take ~0.6 MB for
ddpg-pendulum), and the folder is kept under 1 GiB (JAX evicts the least recently used entries). The
entries are JAX's own serialized executables, written by your own runs, which later runs execute: like a pip cache,
never fill the folder from elsewhere. Delete it to clear the cache.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "OFFPOLICY_COMPILE_CACHE"
OFF = frozenset({"0", "off", "false", "no"})
MIN_COMPILE_SECONDS = 0.0
MAX_BYTES = 1 << 30


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The folder the cache should use, or None: turned off, or JAX's own variable is set (the user's choice)."""
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    value = environ.get(ENV_VAR)
    if value is not None:
        if value.strip().lower() in OFF or not value.strip():
            return None
        return Path(value).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "offpolicy" / "jax-cache"


def enable() -> Path | None:
    """Turn the cache on for this process (see the module docstring) unless it is off or already configured.
    Returns the folder now in use, or None. Call it before the first compile: JAX reads the setting once."""
    import jax

    if jax.config.jax_compilation_cache_dir:  # configured by the user (variable or code): theirs
        return None
    path = cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.warn(f"cannot use {path} for compiled programs ({exc.strerror or exc}); compiling without a cache. "
                      f"Set {ENV_VAR} to a writable folder, or to off.", stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    if "JAX_COMPILATION_CACHE_MAX_SIZE" not in os.environ:
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return path
