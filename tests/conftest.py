import os
import shutil
import tempfile

import pytest

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# One JAX persistent compilation cache for the whole test run, shared by the xdist workers and every process a test
# starts (CLI subprocesses, sweep workers, notebook kernels, Ray): they inherit the environment. Most of the suite's
# time is XLA compiling the same tiny programs in different processes; with the cache each is compiled once. The
# folder is new for each run (made by the first process to load this file, the xdist controller) and removed at its
# end, so no run reads another's programs. Set before anything imports JAX (JAX reads these variables at import).
_CACHE_OWNER = "OFFPOLICY_TEST_JAX_CACHE" not in os.environ
if _CACHE_OWNER:
    os.environ["OFFPOLICY_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="offpolicy-test-jax-cache-")
os.environ.update(JAX_COMPILATION_CACHE_DIR=os.environ["OFFPOLICY_TEST_JAX_CACHE"],
                  JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")

# LLVM's optimisation level 1 instead of XLA's default 3 for the suite's programs: they compile about a third faster
# (most of the suite's time), run as fast at these network sizes, and give the same numbers bit for bit (checked on
# `offpolicy train` runs of ddpg-pendulum and noisy-dqn-cartpole: metrics.csv and evaluations.csv identical; level 0
# would change evaluations and double the learning tests' run time). A level the user set is kept.
#
# And XLA's older (elemental) CPU code emitters instead of its MLIR fusion emitters: each compile is about a third
# cheaper again (an eager op 34 -> 24 ms, the DDPG update 0.87 -> 0.65 s; the whole suite's CPU time 8-14 % less,
# docs/benchmarks.md). Unlike the level, this changes the last bits of some programs: DDPG and TD3 runs stay
# identical, SAC and DQN runs differ from the default build's (benchmarks/same_numbers.sh with and without the flag).
# No test compares with numbers made outside the suite: every comparison is between runs, processes or loops that
# all run under these flags (subprocesses, notebook kernels and Ray workers inherit them). Flags the user set are kept.
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
    _flags += " --xla_backend_optimization_level=1"
if "xla_cpu_use_fusion_emitters" not in _flags:
    _flags += " --xla_cpu_use_fusion_emitters=false"
os.environ["XLA_FLAGS"] = _flags.strip()

# Run in parallel (`-n auto`, pytest-xdist with --dist loadgroup), tests are spread one by one over the workers,
# except these, which share an expensive module or session fixture and so stay together on one worker.
SHARED_FIXTURES = {
    "test_cli.py": "cli", "test_ddpg_model.py": "ddpg-model", "test_live.py": "live", "test_resume.py": "resume",
    "test_notebooks.py": "notebooks", "test_export_cli.py": "export-cli",
    # not a fixture: its tests rerun one reference run's settings, so in file order each reuses compiled programs
    "test_loops.py": "loops", "test_rainbow_loops.py": "loops-rainbow",
    "test_no_buffer_copy.py": "step-programs",  # its two tests read the same compiled programs (functools.cache)
    # one local sweep (tests/sweep/conftest.py) serves these; test_sweep_batch.py's batched/alone sweeps too
    "test_sweep.py": "sweep", "test_sweep_ray.py": "sweep", "test_sweep_batch.py": "sweep-batch",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook, which reads the marks to group the node ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = SHARED_FIXTURES.get(item.path.name)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_unconfigure(config):
    if _CACHE_OWNER and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ["OFFPOLICY_TEST_JAX_CACHE"], ignore_errors=True)
