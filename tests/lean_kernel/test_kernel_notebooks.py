"""The example notebooks run with nbclient, and papermill runs a notebook, with the `lean4` kernel.

Against the stand-in (the default) this proves the kernel runs every notebook without a kernel
failure; Lean's verdicts are the stand-in's, so Lean errors are allowed and only their kind is
checked. Against a real Lean (`pytest -m lean`) the notebooks must run as written: only cells
tagged `raises-exception` may fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from kernel_harness import JupyterDirs
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from support import LeanServerUnderTest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture
def jupyter_env(jupyter_dirs: JupyterDirs, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """nbclient and papermill find kernels through the Jupyter paths of this process."""
    for name, value in jupyter_dirs.env().items():
        monkeypatch.setenv(name, value)
    yield


def test_there_are_example_notebooks() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert len(names) >= 4
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "lean4"
        for cell in notebook.cells:
            if cell.cell_type == "code":  # committed without outputs
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
@pytest.mark.usefixtures("jupyter_env")
def test_notebook_runs(path: Path, lean_server: LeanServerUnderTest, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=90, kernel_name="lean4",
        allow_errors=lean_server.is_standin,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on an untagged failing cell (real Lean)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, cell.source
        for output in cell.outputs:
            if output.output_type == "error":
                # Lean's own verdict, never a kernel failure (crash, timeout, Lean missing...).
                assert output.ename == "LeanError", (cell.source, output.ename, output.evalue)
        if cell.source.startswith("%"):
            assert not any(o.output_type == "error" for o in cell.outputs), cell.source
    if path.name.startswith("01"):
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert first.outputs[0].text == "2\n"


@pytest.mark.usefixtures("jupyter_env")
def test_papermill_runs_a_notebook_and_stops_at_a_lean_error(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    notebook = new_notebook(
        cells=[new_code_cell("#eval 20 + 22"), new_code_cell('def broken : Nat := "no"'),
               new_code_cell("#eval 1")],
        metadata={"kernelspec": {"name": "lean4", "display_name": "Lean 4", "language": "lean4"}},
    )
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(source), str(output), kernel_name="lean4",
                                   cwd=str(tmp_path), progress_bar=False)
    assert failure.value.ename == "LeanError"
    executed = {cell.source: cell for cell in nbformat.read(output, as_version=4).cells}
    assert executed["#eval 20 + 22"].outputs[0].text == "42\n"
    assert executed['def broken : Nat := "no"'].outputs[0].ename == "LeanError"
    assert executed["#eval 1"].execution_count is None  # papermill stopped at the error
