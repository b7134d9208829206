"""The example notebooks run with nbclient, and papermill runs a notebook, with the `lean4` kernel.

Notebooks whose first code cell begins with `prelude` need no library: they run on the real Lean
with the product's default settings (the `real_lean` tier), as written (only cells tagged
`raises-exception` may fail), and must show the outputs listed in PRELUDE_OUTPUTS. They teach
the lessons of the other notebooks (evaluation, `#check`/`#print`, definitions and re-running,
errors, goals of unfinished proofs) on a Lean without its library.

The others need Lean's library. On a released toolchain (the "full" tier) they must run as
written and show LIBRARY_OUTPUTS. Against the stand-in, Lean's verdicts are the stand-in's and
most of these lessons are beyond it: that test proves only that the kernel runs every cell
without a failure of its own, and says so in its name.
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


# What the library notebooks show on a released Lean 4 (cell start, output kind, text in it):
# Lean's own output for these commands. The full tier is not installed on every machine; these
# are checked wherever it is.
LIBRARY_OUTPUTS = {
    "01-lean-basics": [
        ("#eval 1 + 1", "stdout", "2\n"),
        ('#eval "Hello, "', "stdout", '"Hello, Lean!"'),
        ("#eval [1, 2, 3]", "stdout", "[10, 20, 30]"),
        ("#eval IO.println", "stdout", "Printing from a Lean program\n"),
        ("#check 42", "stdout", "42 : Nat"),
        ("#print Nat", "stdout", "Nat.zero"),
        ('#eval 1 + "one"', "error", "HAdd"),
        ("#eval 2 + 2", "stdout", "4\n"),
        ("#eval 2 + 2", "error", "unknownName"),
    ],
    "02-definitions-and-rerunning": [
        ("#eval double 21", "stdout", "42\n"),
        ("def greet", "stdout", '"Hello, Ada!"'),
        ("structure Point", "stdout", "{ x := 11, y := 22 }"),
        ("def fib", "stdout", "[0, 1, 1, 2, 3, 5, 8, 13, 21, 34]"),
        ("namespace Geometry", "stdout", "12\n"),
        ("namespace Geometry", "stdout", "30\n"),
        ("def double (n : Nat) : Nat := n + n", "error", "already been declared"),
        ("%document", "stdout", "def double (n : Nat) : Nat := 2 * n"),
    ],
    "03-tactic-proofs": [
        ("theorem my_zero_add (n", "goals", "ih : 0 + k = k"),
        ("theorem unfinished", "error", "unsolved goals"),
        ("theorem unfinished", "goals", "⊢ q"),
        ("theorem and_swap_term", "stdout", "and_swap_term"),
    ],
    "04-mathlib-in-a-lake-project": [
        ("%project", "stdout", "default"),
    ],
}


def run_notebook(path: Path, tmp_path: Path, allow_errors: bool) -> list[Any]:
    """The notebook's code cells after nbclient ran it with the `lean4` kernel."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=90,
        kernel_name="lean4",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on an untagged failing cell (unless allowed)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        assert cell.execution_count is not None, cell.source
    return code


def test_every_library_notebook_has_its_expected_outputs() -> None:
    assert sorted(path.stem for path in LIBRARY_NOTEBOOKS) == sorted(LIBRARY_OUTPUTS)
    for path in LIBRARY_NOTEBOOKS:
        starts = [
            cell.source
            for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code"
        ]
        for start, _, _ in LIBRARY_OUTPUTS[path.stem]:
            assert sum(source.startswith(start) for source in starts) == 1, (path.stem, start)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", LIBRARY_NOTEBOOKS, ids=[path.stem for path in LIBRARY_NOTEBOOKS])
@pytest.mark.usefixtures("jupyter_env")
def test_library_notebook_runs_on_the_standin_without_a_kernel_failure(
    path: Path, lean_server: LeanServerUnderTest, tmp_path: Path
) -> None:
    if not lean_server.is_standin:
        pytest.skip("a full Lean runs these notebooks as written (the test below)")
    code = run_notebook(path, tmp_path, allow_errors=True)
    for cell in code:
        for output in cell.outputs:
            if output.output_type == "error":
                # Lean's own verdict, never a kernel failure (crash, timeout, Lean missing...).
                assert output.ename == "LeanError", (cell.source, output.ename, output.evalue)
        if cell.source.startswith("%"):
            assert not any(o.output_type == "error" for o in cell.outputs), cell.source
    if path.name.startswith("01"):
        assert code[0].outputs[0].text == "2\n"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", LIBRARY_NOTEBOOKS, ids=[path.stem for path in LIBRARY_NOTEBOOKS])
@pytest.mark.usefixtures("jupyter_env")
def test_library_notebook_shows_its_lessons_on_a_full_lean(
    path: Path, lean_server: LeanServerUnderTest, tmp_path: Path
) -> None:
    if lean_server.is_standin:
        pytest.skip(
            "needs Lean's library (a released toolchain installed with elan); the "
            "prelude notebooks teach the same lessons on the real tier"
        )
    code = run_notebook(path, tmp_path, allow_errors=False)
    for cell in code:
        failed = [o.ename for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert failed == [], cell.source
        elif path.stem.startswith("04"):  # Mathlib's cells fail outside its Lake project
            assert failed in ([], ["LeanError"]), (cell.source, failed)
        else:
            assert failed == ["LeanError"], (cell.source, failed)
    for start, kind, text in LIBRARY_OUTPUTS[path.stem]:
        (cell,) = [cell for cell in code if cell.source.startswith(start)]
        assert text in shown(cell, kind), (start, kind, cell.outputs)


@pytest.mark.usefixtures("jupyter_env")
def test_papermill_runs_a_notebook_and_stops_at_a_lean_error(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    notebook = new_notebook(
        cells=[
            new_code_cell("#eval 20 + 22"),
            new_code_cell('def broken : Nat := "no"'),
            new_code_cell("#eval 1"),
        ],
        metadata={"kernelspec": {"name": "lean4", "display_name": "Lean 4", "language": "lean4"}},
    )
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(source), str(output), kernel_name="lean4", cwd=str(tmp_path), progress_bar=False
        )
    assert failure.value.ename == "LeanError"
    executed = {cell.source: cell for cell in nbformat.read(output, as_version=4).cells}
    assert executed["#eval 20 + 22"].outputs[0].text == "42\n"
    failed = [o for o in executed['def broken : Nat := "no"'].outputs if o.output_type == "error"]
    assert [o.ename for o in failed] == ["LeanError"]
    assert executed["#eval 1"].execution_count is None  # papermill stopped at the error


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", PRELUDE_NOTEBOOKS, ids=[path.stem for path in PRELUDE_NOTEBOOKS])
def test_prelude_notebook_runs_on_real_lean(
    path: Path, real_dirs: JupyterDirs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in real_dirs.env().items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="lean4", resources={"metadata": {"path": str(tmp_path)}}
    )
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
