"""The Ray backend on a local Ray instance (2 CPUs): the same trials as the local backend, bit-identical results,
written into the same sweep layout (plus Ray Tune's own result store under SWEEP_DIR/ray/)."""

import json

import pytest
from run_files import assert_same_run
from sweep_setup import SWEEP_2X2, reuse_compile_cache

from offpolicy.cli import main

pytest.importorskip("ray.tune", reason='the ray backend needs pip install "offpolicy[ray]"')


def test_ray_backend_runs_the_same_trials_as_the_local_backend(local_sweep, tmp_path):
    path = tmp_path / "ray-sweep"
    with reuse_compile_cache(local_sweep):
        assert main(["sweep", *SWEEP_2X2, "--seeds", "1", "--backend", "ray", "--workers", "2",
                     "--sweep-dir", str(path)]) == 0
    status = json.loads((path / "status.json").read_text())
    assert status["counts"]["done"] == 2
    for trial in ("lr=0.001/s0", "lr=0.0003/s0"):
        assert_same_run(path / "trials" / trial, local_sweep / "trials" / trial)
    tune_runs = list((path / "ray").glob("tune-*"))
    assert len(tune_runs) == 1 and (tune_runs[0] / "tuner.pkl").is_file()  # Tune's own result store
    assert json.loads((path / "provenance.json").read_text())[0]["backend"] == "ray"
    assert "| 1 | `lr=" in (path / "report.md").read_text()
