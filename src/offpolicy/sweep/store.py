"""The sweep directory: layout, trial states read from the files, the event log, status.json, locks, provenance.

::

    SWEEP_DIR/
      sweep.yaml              the spec (base config, seeds, grid, overrides) and the command that made it
      provenance.json         one entry per `offpolicy sweep` session: time, command, backend, machine, versions, commit
                              (gathered by :mod:`offpolicy.provenance`)
      events.jsonl            one JSON line per trial event (start, resume, done, failed, killed, skipped)
      status.json             counts and per-trial state, rewritten atomically by the driver
      trials/<slug>/s<seed>/  ordinary run directories (+ error.txt when the trial failed)
      report.md, report/      `offpolicy report`

A trial's state is read from its run directory, never from a database: ``summary.json`` (written last by a finished
run) means done; ``error.txt`` means failed; training checkpoints or logs without either mean interrupted; nothing
means pending. So a sweep killed at any point (driver included) resumes correctly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from offpolicy import provenance
from offpolicy.errors import OffpolicyError

EVENTS = "events.jsonl"
STATUS = "status.json"
PROVENANCE = "provenance.json"
ERROR_FILE = "error.txt"
LOCK = ".lock"

DONE, FAILED, INTERRUPTED, PENDING, RUNNING = "done", "failed", "interrupted", "pending", "running"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers see the old or the new file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def trial_state(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    if (run_dir / "summary.json").is_file():
        return DONE
    if (run_dir / ERROR_FILE).is_file():
        return FAILED
    if run_dir.is_dir() and any(run_dir.iterdir()):
        return INTERRUPTED
    return PENDING


def log_event(sweep_dir: Path, trial_id: str, event: str, **info: Any) -> None:
    """Append one line to events.jsonl (O_APPEND: lines from concurrent workers do not interleave)."""
    line = json.dumps({"time": provenance.now(), "trial": trial_id, "event": event, "pid": os.getpid(), **info}) + "\n"
    fd = os.open(Path(sweep_dir) / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_events(sweep_dir: Path) -> list[dict[str, Any]]:
    path = Path(sweep_dir) / EVENTS
    if not path.is_file():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    return events


def write_error(run_dir: Path, message: str, detail: str = "") -> None:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / ERROR_FILE, message.rstrip() + "\n" + (f"\n{detail.rstrip()}\n" if detail else ""))


def read_error(run_dir: Path) -> str:
    """First line of a failed trial's error.txt."""
    path = Path(run_dir) / ERROR_FILE
    if not path.is_file():
        return ""
    text = path.read_text().strip()
    return text.splitlines()[0] if text else ""


def last_step(run_dir: Path) -> int:
    """Environment steps a (running) trial has logged: the step of metrics.csv's last row."""
    path = Path(run_dir) / "metrics.csv"
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            lines = f.read().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        head = line.split(b",", 1)[0]
        if head.isdigit():
            return int(head)
    return 0


def write_status(sweep_dir: Path, trials: list, attempts: dict[str, int]) -> dict[str, Any]:
    """status.json: counts and per-trial state, error and attempts (``trials`` are spec Trials)."""
    sweep_dir = Path(sweep_dir)
    per_trial, counts = {}, {DONE: 0, FAILED: 0, INTERRUPTED: 0, PENDING: 0}
    for trial in trials:
        run_dir = trial.run_dir(sweep_dir)
        state = trial_state(run_dir)
        counts[state] += 1
        entry = {"state": state, "run_dir": str(run_dir.relative_to(sweep_dir)), "attempts": attempts.get(trial.id, 0)}
        if state == FAILED:
            entry["error"] = read_error(run_dir)
        per_trial[trial.id] = entry
    status = {"updated": provenance.now(), "counts": counts, "trials": per_trial}
    write_atomic(sweep_dir / STATUS, json.dumps(status, indent=2))
    return status


def attempts_from_events(sweep_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in read_events(sweep_dir):
        if event.get("event") in ("start", "resume"):
            counts[event["trial"]] = counts.get(event["trial"], 0) + 1
    return counts


class SweepLock:
    """An exclusive lock on a sweep directory (or a trial), held while it runs: a second `offpolicy sweep` on the
    same directory is refused instead of running trials twice at once."""

    def __init__(self, path: Path, what: str):
        self.path, self.what, self._fd = Path(path), what, None

    def acquire(self) -> None:
        import fcntl

        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 64).decode(errors="replace").strip()
            os.close(self._fd)
            self._fd = None
            raise OffpolicyError(f"{self.what} is being run by another process (pid {holder or '?'}); wait for it "
                                 "to end or stop it first.") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> SweepLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


# --------------------------------------------------------------------------------------------------------------------
# Provenance: what ran where (offpolicy.provenance gathers it)


def record_session(sweep_dir: Path, command: str, backend: str, workers: int, threads: int | None,
                   ray_address: str | None = None, compile_cache: bool = False, batch_seeds: bool = False) -> None:
    """Append this session (who ran what, where, with which versions) to provenance.json."""
    path = Path(sweep_dir) / PROVENANCE
    sessions = json.loads(path.read_text()) if path.is_file() else []
    sessions.append({"started": provenance.now(), "command": command, "backend": backend, "workers": workers,
                     "xla_threads_per_trial": threads, "compile_cache": compile_cache, "batch_seeds": batch_seeds,
                     "ray_address": ray_address, "machine": provenance.machine(), "versions": provenance.versions(),
                     "git": provenance.git_commit()})
    write_atomic(path, json.dumps(sessions, indent=2))


def read_sessions(sweep_dir: Path) -> list[dict[str, Any]]:
    path = Path(sweep_dir) / PROVENANCE
    return json.loads(path.read_text()) if path.is_file() else []
