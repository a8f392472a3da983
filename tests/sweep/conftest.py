"""Shared by the sweep tests: one tiny local 2x2 sweep (2 configs x 2 seeds), made once per test session."""

import pytest
from sweep_setup import SWEEP_2X2

from offpolicy.cli import main


@pytest.fixture(scope="session")
def local_sweep(tmp_path_factory):
    """SWEEP_2X2 with seeds 0 and 1 on the local backend, 2 worker processes."""
    path = tmp_path_factory.mktemp("sweeps") / "local"
    assert main(["sweep", *SWEEP_2X2, "--seeds", "2", "--workers", "2", "--sweep-dir", str(path)]) == 0
    return path
