"""The example notebooks run top to bottom in a real Jupyter kernel (nbclient) at a smoke budget, so they never rot.

Both notebooks execute at once, one kernel each: most of their time is single-threaded XLA compilation, and the CI
machine has two cores. Each kernel starts in its own temporary directory (the notebooks write ``runs/`` there).
"""

from __future__ import annotations

import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = ("ddpg_pendulum.ipynb", "noisy_dqn_cartpole.ipynb")
SMOKE_STEPS = "400"  # OFFPOLICY_NOTEBOOK_STEPS: two Pendulum episodes; half random warm-up, half learning


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """{notebook name: the executed notebook, or the exception that stopped it}."""
    results: dict[str, object] = {}

    def run(name: str) -> None:
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        cwd = tmp_path_factory.mktemp(Path(name).stem)
        client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
        try:
            client.execute()
            results[name] = nb
        except Exception as exc:  # CellExecutionError names the cell and the traceback
            results[name] = exc

    with pytest.MonkeyPatch.context() as mp:  # the kernels inherit this process's environment
        mp.setenv("OFFPOLICY_NOTEBOOK_STEPS", SMOKE_STEPS)
        mp.setenv("SDL_AUDIODRIVER", "dummy")
        mp.setenv("SDL_VIDEODRIVER", "dummy")
        mp.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend
        threads = [threading.Thread(target=run, args=(name,)) for name in NOTEBOOKS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return results


def outputs(nb, source_contains: str | None = None):
    for cell in nb.cells:
        if cell.cell_type == "code" and (source_contains is None or source_contains in cell.source):
            yield from cell.outputs


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_without_errors(executed, name):
    nb = executed[name]
    if isinstance(nb, Exception):
        pytest.fail(f"{name} failed:\n{nb}")
    assert [o for o in outputs(nb) if o.output_type == "error"] == []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)  # every cell ran
    printed = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream" and o.name == "stdout")
    assert f"{int(SMOKE_STEPS):,} training steps" in printed  # the smoke budget reached the notebook


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_live_figure_is_left_in_every_training_cell(executed, name):
    nb = executed[name]
    if isinstance(nb, Exception):
        pytest.skip("the notebook failed: see test_notebook_runs_top_to_bottom_without_errors")
    training_cells = [c for c in nb.cells if c.cell_type == "code" and "live=True" in c.source]
    assert len(training_cells) == 2  # the preset, then the tutorial preset
    for cell in training_cells:
        live = [o for o in cell.outputs if o.get("metadata", {}).get("offpolicy") == "live-plot"]
        assert len(live) == 1, "one figure, updated in place"
        assert live[0].output_type == "display_data"
        assert live[0].data["image/png"]  # the final redraw


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_video_is_shown_inline(executed, name):
    nb = executed[name]
    if isinstance(nb, Exception):
        pytest.skip("the notebook failed: see test_notebook_runs_top_to_bottom_without_errors")
    html = [o.data["text/html"] for o in outputs(nb, "show_video()") if "text/html" in o.get("data", {})]
    assert len(html) == 1
    assert "<video" in html[0] and "data:video/mp4;base64," in html[0]


def test_stored_notebooks_have_no_outputs_and_match_their_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", EXAMPLES / "make_notebooks.py")
    make_notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_notebooks)
    assert make_notebooks.main(["--check"]) == 0, "run `python examples/make_notebooks.py`"
    for name in NOTEBOOKS:
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
