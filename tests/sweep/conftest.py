"""Shared by the sweep tests: one tiny local 2x2 sweep (2 configs x 2 seeds), made once per test session."""

import pytest
from sweep_setup import SWEEP_2X2

from offpolicy.cli import main


@pytest.fixture(scope="session")
def local_sweep(tmp_path_factory):
    """SWEEP_2X2 with seeds 0 and 1 on the local backend, 2 worker processes. It runs without the suite's shared
    compilation cache (tests/conftest.py), so it fills its own (SWEEP_DIR/.jax-cache) as a user's sweep does."""
    path = tmp_path_factory.mktemp("sweeps") / "local"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("JAX_COMPILATION_CACHE_DIR")
        assert main(["sweep", *SWEEP_2X2, "--seeds", "2", "--workers", "2", "--sweep-dir", str(path)]) == 0
    return path
