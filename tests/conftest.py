import os

import pytest

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# Run in parallel (`-n auto`, pytest-xdist with --dist loadgroup), tests are spread one by one over the workers,
# except these, which share an expensive module or session fixture and so stay together on one worker.
SHARED_FIXTURES = {
    "test_cli.py": "cli", "test_ddpg_model.py": "ddpg-model", "test_live.py": "live", "test_resume.py": "resume",
    "test_notebooks.py": "notebooks",
    # one local sweep (tests/sweep/conftest.py) serves these; test_sweep_batch.py's batched/alone sweeps too
    "test_sweep.py": "sweep", "test_sweep_ray.py": "sweep", "test_sweep_batch.py": "sweep-batch",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = SHARED_FIXTURES.get(item.path.name)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
