"""Provenance: what ran, where and when. Library versions, the source commit, the machine, the usable CPU count, and
the timestamps, so that run directories (``summary.json``) and sweep directories (``provenance.json``,
``events.jsonl``, ``status.json``) record them alike.

One timestamp format for records, :func:`now` (ISO 8601 with the UTC offset, to the second:
``2026-11-29T23:10:00+00:00``), and one for folder names, :func:`stamp` (local time, ``20261129-231000``).
Nothing here imports JAX: versions are read from the installed packages' metadata.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from offpolicy._version import __version__

CORE_PACKAGES = ("jax", "flax", "optax", "gymnasium", "numpy")
"""Reported always (``"not installed"`` if missing): the libraries every run depends on."""
EXTRA_PACKAGES = ("jaxlib", "scipy", "gymnax", "ray")
"""Reported when installed: the compiler, the statistics, the compiled loop's envs, the Ray backend."""


def versions() -> dict[str, str]:
    """Versions of offpolicy, its core libraries and Python, then of the optional ones that are installed."""
    out = {"offpolicy": __version__}
    for name in CORE_PACKAGES:
        out[name] = _version_of(name) or "not installed"
    out["python"] = platform.python_version()
    for name in EXTRA_PACKAGES:
        version = _version_of(name)
        if version is not None:
            out[name] = version
    return out


def _version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit(start: Path | None = None) -> dict[str, Any] | None:
    """Commit of the offpolicy source tree (if it is a git checkout) and whether it had local changes."""
    folder = start or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def cpu_count() -> int:
    """CPU cores this process may run on (its affinity mask, which a container or ``taskset`` narrows), else the
    machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory(device: Any) -> int | None:
    """Bytes that new arrays on ``device`` (a JAX device) can still take: its allocator's limit less what is in use
    on an accelerator, the machine's available memory (``MemAvailable`` of /proc/meminfo) on a CPU; None if unknown."""
    try:
        stats = device.memory_stats()
    except Exception:  # backends without allocator statistics raise or return None
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, Any]:
    """OS, architecture, CPU model, cores (the machine's and the usable ones), memory, host name, load average."""
    info: dict[str, Any] = {"system": f"{platform.system()} {platform.release()}", "arch": platform.machine(),
                            "cpu": platform.processor() or "", "cores": os.cpu_count(), "usable_cores": cpu_count(),
                            "host": platform.node()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def now() -> str:
    """The current time for records: ISO 8601 in UTC with its offset, to the second (``2026-11-29T23:10:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def stamp() -> str:
    """The current local time for folder names: ``20261129-231000``."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def new_stamped_dir(root: str | Path, name: str) -> Path:
    """A fresh, not-yet-existing path ``root/{name}_{stamp}`` (``-1``, ``-2``, ... appended if taken)."""
    base = Path(root) / f"{name}_{stamp()}"
    path, i = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path
