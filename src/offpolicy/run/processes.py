"""Several seeds in several processes, so that ``offpolicy train --seeds`` uses every core.

XLA's CPU backend gains little from a second thread on these small networks, and the host loop steps its envs from
one Python thread, so one process leaves most of a multi-core machine idle. :func:`train_in_processes` splits the
seeds into contiguous chunks (:func:`split_seeds`), one per worker process; each process trains its chunk as one
multi-seed :class:`~offpolicy.run.trainer.Trainer` (agents vmapped; a chunk of one seed is a plain one-seed run),
each seed into its ``s<seed>/`` folder under the parent. This process draws one progress bar over every agent-step
and, at the end, writes the parent's ``aggregate.csv``/``aggregate.png`` and ``summary.json`` from what the workers
send back. A seed's numbers depend on the chunk it trains in only through vmap (the same within 1e-5, see
tests/loops); the same ``--workers`` on the same machine reruns bit for bit.

Also here, shared with the sweep workers (``offpolicy.sweep``): a worker's environment (one XLA thread when the
workers fill the cores), setting it around a spawn, and ending a worker whose parent died. Nothing here imports JAX
at module level: a worker sets its thread environment first.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from offpolicy import provenance
from offpolicy.errors import OffpolicyError, Terminated
from offpolicy.run.signals import signal_handlers

ENV_MODULE_VAR = "OFFPOLICY_ENV_MODULE"
"""The module the user named with ``--env-module``, passed to worker processes in their environment: they import
it before making an env (a module named in a file is never imported)."""


def worker_env(threads: int | None, compile_cache: str | None = None,
               env_module: str | None = None) -> dict[str, str]:
    """Environment for a worker process, set before JAX is imported.

    ``threads=1`` asks XLA's CPU backend for one intra-op thread (and numpy's BLAS for one), so N workers on N cores
    do not oversubscribe them; None leaves XLA's defaults. GPU memory is not preallocated, so several workers can
    share one GPU. ``compile_cache``: a folder for JAX's persistent compilation cache, so trials that compile the
    same programs (the seeds of one config) compile them once (unless JAX_COMPILATION_CACHE_DIR is set already).
    ``env_module``: the module the user named with ``--env-module``, for the workers to import."""
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
           "SDL_AUDIODRIVER": "dummy", "SDL_VIDEODRIVER": "dummy", ENV_MODULE_VAR: env_module or ""}
    if compile_cache and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        env.update(JAX_COMPILATION_CACHE_DIR=str(compile_cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    if threads is not None:
        flags = os.environ.get("XLA_FLAGS", "")
        if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
            flags = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
        env["XLA_FLAGS"] = flags
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def threads_per_worker(workers: int) -> int | None:
    """One XLA thread per worker when the workers fill the cores (the usual case), else XLA's defaults."""
    return 1 if workers >= provenance.cpu_count() else None


@contextlib.contextmanager
def environ(env: dict[str, str]):
    """Set ``env`` in this process's environment for the block (a spawned child starts with it), then restore."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def import_env_module_from_environ() -> None:
    """In a worker: import the module the user named (:data:`ENV_MODULE_VAR`), if any."""
    module = os.environ.get(ENV_MODULE_VAR)
    if module:
        from offpolicy.envs import import_env_module

        import_env_module(module)


def exit_with_parent() -> None:
    """End this worker if its parent dies (e.g. SIGKILL): an orphan would keep training, and writing, unseen."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


# --------------------------------------------------------------------------------------------------------------------
# offpolicy train --seeds, one chunk of seeds per process


def default_workers(n_seeds: int) -> int:
    """Processes for ``n_seeds`` seeds by default: one per usable CPU core, at most one per seed."""
    return max(1, min(provenance.cpu_count(), n_seeds))


def split_seeds(seeds: list[int], workers: int) -> list[list[int]]:
    """``seeds`` in ``min(workers, len(seeds))`` contiguous chunks whose sizes differ by at most one, larger first:
    ``split_seeds([0..7], 3)`` is ``[[0, 1, 2], [3, 4, 5], [6, 7]]``."""
    if workers < 1:
        raise OffpolicyError(f"--workers {workers}: give 1 or more processes.")
    n = min(workers, len(seeds))
    size, extra = divmod(len(seeds), n)
    chunks, start = [], 0
    for k in range(n):
        end = start + size + (k < extra)
        chunks.append(list(seeds[start:end]))
        start = end
    return chunks


def describe_chunks(chunks: list[list[int]]) -> str:
    """How the seeds run: ``vmapped, one process``, ``2 processes x 4 vmapped seeds``, ``2 processes, one seed
    each``, ``3 processes of 3/3/2 vmapped seeds``."""
    sizes = [len(c) for c in chunks]
    if len(chunks) == 1:
        return "vmapped, one process" if sizes[0] > 1 else "one process"
    if max(sizes) == 1:
        return f"{len(chunks)} processes, one seed each"
    if len(set(sizes)) == 1:
        return f"{len(chunks)} processes x {sizes[0]} vmapped seeds"
    return f"{len(chunks)} processes of {'/'.join(map(str, sizes))} vmapped seeds"


def train_in_processes(config: Any, parent: Path, chunks: list[list[int]], progress: bool = True,
                       video: bool | None = None, env_module: str | None = None) -> dict:
    """Train ``config`` for every seed of ``chunks``, one worker process per chunk, into ``parent/s<seed>/``; write
    ``parent``'s aggregate.csv/png and summary.json; return the summary (as a multi-seed Trainer's ``finish``).

    ``parent`` must be new or empty. Errors a user can fix (an unknown env, a memory-hungry buffer, a setting the
    loop refuses) come back as one OffpolicyError; if a worker fails while building its loop, ``parent`` is removed
    again. A worker that fails later stops the others; the seeds' folders stay as they are. Ctrl-C reaches the
    workers too (one process group): they stop, and this process says so and re-raises KeyboardInterrupt. SIGTERM
    to this process (``kill``, a scheduler's stop) is passed on to the workers, which stop as they would on their
    own SIGTERM (a one-seed worker saves ``checkpoints/interrupted``); this process says so and raises
    :class:`~offpolicy.errors.Terminated` (the CLI exits with 143). A second SIGTERM, or SIGKILL, ends this process
    at once; its workers notice within a second and end too. ``env_module``: a module the user named (imported here
    already), for the workers to import."""
    from tqdm.auto import tqdm

    from offpolicy.config import to_dict
    from offpolicy.run.trainer import check_run, seeds_summary
    from offpolicy.run.writer import check_new

    seeds = [s for chunk in chunks for s in chunk]
    check_new(parent)
    config.check()
    check_run(config, len(seeds))  # env, algorithm and the buffers' memory, for every process together
    parent.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    steps = ctx.Array("q", len(chunks), lock=False)  # each worker's env steps so far (per seed): the bar's count
    env = worker_env(threads_per_worker(len(chunks)), env_module=env_module)
    workers = []
    for k, chunk in enumerate(chunks):
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_worker_main, name=f"offpolicy-seeds {chunk[0]}-{chunk[-1]}",
                              args=(to_dict(config), [str(parent / f"s{s}") for s in chunk], chunk, video, env,
                                    send, steps, k))
        with environ(env):
            process.start()
        send.close()
        workers.append(_Worker(process, receive, chunk))
    total = config.total_steps * len(seeds)
    desc = f"{config.algo} {config.env} x{len(seeds)} seeds, {len(chunks)} processes"
    bar = tqdm(total=total, unit="agent-step", disable=not progress, dynamic_ncols=True, mininterval=0.5,
               desc=f"{desc} (starting: compiling)")
    try:
        with _sigterm_raises():
            _supervise(workers, steps, bar, desc, parent)
    except KeyboardInterrupt as exc:
        bar.close()
        terminated = isinstance(exc, Terminated)
        for worker in workers:
            worker.stop(sigterm=terminated)
        print(f"\n{'terminated (SIGTERM)' if terminated else 'interrupted'}; {_left_behind(parent, chunks)}")
        raise
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    finally:
        bar.close()
    results = [w.result for w in workers]
    return seeds_summary(config, parent, chunks, [s for r in results for s in r["summaries"]],
                         [h for r in results for h in r["histories"]], max(r["wall_time"] for r in results),
                         max(r["start_up"] for r in results))


def _sigterm_raises():
    """In the main thread: SIGTERM raises :class:`~offpolicy.errors.Terminated` in the block (then the default again,
    so a second SIGTERM ends the process at once)."""

    def handle(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated

    return signal_handlers({signal.SIGTERM: handle})


def _left_behind(parent: Path, chunks: list[list[int]]) -> str:
    """What a stopped ``train_in_processes`` leaves, for its last message."""
    if max(len(c) for c in chunks) == 1:
        return (f"each seed's folder in {parent} is a run of its own, stopped as one (`offpolicy train --resume "
                f"{parent}/s<seed>` continues it); the seeds' aggregate is not written")
    return f"the seeds' folders in {parent} are incomplete (a multi-seed run has no training checkpoints)"


class _Worker:
    def __init__(self, process, conn, chunk: list[int]):
        self.process, self.conn, self.chunk = process, conn, chunk
        self.ready = False
        self.result: dict | None = None
        self.error: str | None = None

    @property
    def seeds(self) -> str:
        return f"seed {self.chunk[0]}" if len(self.chunk) == 1 else f"seeds {self.chunk[0]}-{self.chunk[-1]}"

    def receive(self) -> None:
        """Take every message the worker has sent: ("ready", warnings), ("done", result) or ("error", text)."""
        while self.conn.poll():
            try:
                kind, payload = self.conn.recv()
            except EOFError:
                return
            if kind == "ready":
                self.ready = True
                for message in payload:
                    warnings.warn(message, stacklevel=1)
            elif kind == "done":
                self.result = payload
            else:
                self.error = payload

    def stop(self, sigterm: bool = False) -> None:
        """Let the worker finish its Ctrl-C (same process group), or the SIGTERM sent here (``sigterm``), for a
        moment, then end it."""
        if sigterm and self.process.is_alive():
            self.process.terminate()  # SIGTERM: its Trainer stops at the end of the step, as a run of its own would
        self.process.join(timeout=30 if self.process.is_alive() else 0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


def _supervise(workers: list[_Worker], steps, bar, desc: str, parent: Path) -> None:
    """Wait for every worker, keeping the bar current; raise the first worker's error as an OffpolicyError."""
    running = list(workers)
    state = "starting"
    while running:
        wait([w.process.sentinel for w in running] + [w.conn for w in running], timeout=0.5)
        done = sum(steps[k] * len(w.chunk) for k, w in enumerate(workers))
        bar.update(done - bar.n)
        now = "finishing" if done >= bar.total else "training" if done > 0 else "starting"
        if now != state:  # after the bar's 100%, each worker evaluates its final policies and plots
            bar.set_description_str(f"{desc} (final evaluations, plots)" if now == "finishing" else desc)
            state = now
        for worker in list(running):
            worker.receive()
            if worker.process.is_alive() and worker.error is None:
                continue
            worker.process.join()
            worker.receive()
            running.remove(worker)
            if worker.result is None:
                _fail(worker, workers, parent)


def _fail(worker: _Worker, workers: list[_Worker], parent: Path) -> None:
    import shutil

    for other in workers:
        if other is not worker:
            other.process.terminate()
            other.process.join()
    if worker.error is None and worker.process.exitcode in (130, 143):  # a Ctrl-C or SIGTERM reached it first
        raise Terminated if worker.process.exitcode == 143 else KeyboardInterrupt
    error = worker.error or f"its worker process exited with status {worker.process.exitcode}"
    if not worker.ready:  # it failed building its loop (a setting it refuses): leave no half-written run directory
        shutil.rmtree(parent, ignore_errors=True)
        raise OffpolicyError(error)
    raise OffpolicyError(f"{worker.seeds}: {error} The other seeds were stopped; their folders in {parent} are "
                         "incomplete (a multi-seed run has no training checkpoints).")


def _worker_main(config: dict, run_dirs: list[str], seeds: list[int], video: bool | None, env: dict[str, str],
                 conn, steps, k: int) -> None:
    """A worker process (spawned): set its thread environment, then train its seeds and send back their results."""
    os.environ.update(env)
    exit_with_parent()
    trainer = None
    interrupted = 0
    try:
        import_env_module_from_environ()
        from offpolicy.config import from_dict
        from offpolicy.run.trainer import Trainer

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if len(seeds) == 1:  # a plain one-seed run: the same program, and numbers, as `offpolicy train --seed`
                trainer = Trainer(from_dict(dict(config, seed=seeds[0])), run_dir=run_dirs[0], progress=False)
            else:
                trainer = Trainer(from_dict(config), seeds=seeds, run_dirs=run_dirs, progress=False)
        conn.send(("ready", [str(w.message) for w in caught] if k == 0 else []))
        trainer.callbacks.append(_StepCounter(steps, k))
        trainer.learn(trainer.config.total_steps)
        trainer.finish(video)
        histories = [[(step, result["mean"]) for step, result in run.eval_history] for run in trainer.runs]
        conn.send(("done", {"summaries": trainer.seed_summaries, "histories": histories, "wall_time": trainer.wall_time,
                            "start_up": trainer.loop.start_up_time}))
    except KeyboardInterrupt as exc:  # Ctrl-C reaches the whole process group, SIGTERM comes from the parent
        interrupted = 143 if isinstance(exc, Terminated) else 130
    except OffpolicyError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # noqa: BLE001 - a bug: its traceback here, one line to the parent
        traceback.print_exc()
        conn.send(("error", f"{type(exc).__name__}: {exc} (traceback above)"))
    finally:
        if trainer is not None:
            trainer.close()
        conn.close()
    if interrupted:
        sys.exit(interrupted)


class _StepCounter:
    """The worker's env steps (per seed) into its slot of the shared array the parent's bar reads."""

    def __init__(self, steps, k: int):
        self.steps, self.k = steps, k

    def on_step(self, step: int) -> None:
        self.steps[self.k] = step
