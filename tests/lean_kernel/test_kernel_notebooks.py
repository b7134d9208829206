"""The example notebooks run with nbclient, and papermill runs a notebook, with the `lean4` kernel.

Notebooks whose first code cell begins with `prelude` need no library: they run on the real Lean
with the product's default settings (the `real_lean` tier), as written (only cells tagged
`raises-exception` may fail), and must show the outputs listed in PRELUDE_OUTPUTS. The others
need Lean's library: against the stand-in this proves the kernel runs them without a kernel
failure (Lean's verdicts are the stand-in's, so Lean errors are allowed and only their kind is
checked); against a released toolchain they must run as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_harness import JupyterDirs
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from support import LeanServerUnderTest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def first_code(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return next((c.source for c in notebook.cells if c.cell_type == "code"), "")


PRELUDE_NOTEBOOKS = [p for p in NOTEBOOKS if first_code(p).startswith("prelude")]
LIBRARY_NOTEBOOKS = [p for p in NOTEBOOKS if p not in PRELUDE_NOTEBOOKS]

# What the prelude notebooks must show: (start of a cell's source, output kind, text in it).
PRELUDE_OUTPUTS = {
    "05-lean-from-nothing-with-prelude": [
        ("prelude", "stdout", "N.s (n : N) : N\n"),
        ("noncomputable def N.add", "stdout", "N.add (a b : N) : N\n"),
        ("#print N", "stdout", "constructors:\nN.z : N\nN.s : N → N\n"),
        ("inductive Same", "stdout", "two_plus_two : Same (two.add two) four\n"),
        ("theorem wrong", "error", "Type mismatch"),
        ("theorem Same.symm", "stdout", "Same a b → Same b a\n"),
        ("theorem unfinished", "goals", "a b : N\n⊢ N"),
        ("noncomputable def three", "stdout", "def three : N :=\ntwo.s\n"),
    ],
}


def shown(cell: Any, kind: str) -> str:
    """A cell's stdout, error tracebacks, or goal displays, as text."""
    texts = []
    for output in cell.outputs:
        if kind == "stdout" and output.output_type == "stream" and output.name == "stdout":
            texts.append(output.text)
        elif kind == "error" and output.output_type == "error":
            texts.append("\n".join(output.traceback))
        elif kind == "goals" and output.output_type == "display_data":
            texts.append(output.data["text/plain"])
    return "".join(texts)


@pytest.fixture
def jupyter_env(jupyter_dirs: JupyterDirs, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """nbclient and papermill find kernels through the Jupyter paths of this process."""
    for name, value in jupyter_dirs.env().items():
        monkeypatch.setenv(name, value)
    yield


def test_there_are_example_notebooks() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert len(names) >= 5
    assert [path.stem for path in PRELUDE_NOTEBOOKS] == sorted(PRELUDE_OUTPUTS)
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "lean4"
        for cell in notebook.cells:
            if cell.cell_type == "code":  # committed without outputs
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", LIBRARY_NOTEBOOKS, ids=[path.stem for path in LIBRARY_NOTEBOOKS])
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


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", PRELUDE_NOTEBOOKS, ids=[path.stem for path in PRELUDE_NOTEBOOKS])
def test_prelude_notebook_runs_on_real_lean(path: Path, real_dirs: JupyterDirs, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in real_dirs.env().items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="lean4",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on an untagged failing cell
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        assert cell.execution_count is not None, cell.source
        failed = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert [o.ename for o in failed] == ["LeanError"], cell.source
        else:
            assert failed == [], cell.source
    for start, kind, text in PRELUDE_OUTPUTS[path.stem]:
        (cell,) = [cell for cell in code if cell.source.startswith(start)]
        assert text in shown(cell, kind), (start, kind, cell.outputs)
