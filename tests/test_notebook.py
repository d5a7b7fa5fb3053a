"""The example notebook runs from top to bottom with the API as it is (no root needed)."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


def test_the_notebook_runs_and_shows_the_bug_and_the_fix(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    first = notebook.cells[1].outputs[0]["data"]["text/plain"]
    assert "lasting offset k" in first and "22" in first  # the buggy writer's 22 drops
    assert sum(1 for output in outputs if "image/png" in output.get("data", {})) >= 2
    assert (tmp_path / "buggy-timeline.png").stat().st_size > 10_000
