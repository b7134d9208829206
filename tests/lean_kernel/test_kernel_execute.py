"""Executing cells through jupyter_client: one document, re-runs, messages, goals, completion,
inspection, magics. One kernel for the module; every test starts from an empty document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import JupyterDirs, KernelHarness, start_kernel
from support import LeanServerUnderTest


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared kernel's working folder: its default project."""
    return tmp_path_factory.mktemp("execute")


@pytest.fixture(scope="module")
def shared_kernel(jupyter_dirs: JupyterDirs, kernel_dir: Path) -> Iterator[KernelHarness]:
    harness = start_kernel(jupyter_dirs, kernel_dir)
    yield harness
    harness.shutdown()


@pytest.fixture
def kernel(shared_kernel: KernelHarness) -> KernelHarness:
    shared_kernel.fresh_document()
    return shared_kernel


def test_hello_world_and_information(kernel: KernelHarness) -> None:
    result = kernel.ok('#eval IO.println "hi"\ndef n : Nat := 5\n#check n\n#eval n + 1')
    assert result.stdout == "hi\nn : Nat\n6\n"
    assert result.stderr == ""


def test_errors_fail_the_cell_with_one_error_output(kernel: KernelHarness) -> None:
    result = kernel.execute('def good : Nat := 1\ndef bad : Nat := "s"\n#eval nope')
    assert result.status == "error"
    assert result.content["ename"] == "LeanError"
    assert len(result.errors) == 1
    traceback = result.error_text
    assert "2:17:" in traceback and "type mismatch" in traceback.lower().lower()
    assert "3:6:" in traceback and "unknown identifier 'nope'" in traceback


def test_warnings_are_stderr_and_sorry_shows_its_goal(kernel: KernelHarness) -> None:
    result = kernel.ok("theorem later (n : Nat) : n + 0 = n := by\n  sorry")
    assert re.search(r"^1:8: warning: declaration uses .sorry.", result.stderr, re.M)
    (goal,) = result.of_type("display_data")
    assert goal["data"]["text/plain"] == "Goal at sorry (2:2):\nn : Nat\n⊢ n + 0 = n"
    assert "```lean\nn : Nat\n⊢ n + 0 = n\n```" in goal["data"]["text/markdown"]


def test_unsolved_goals_are_shown_as_goals(kernel: KernelHarness) -> None:
    result = kernel.execute(
        "theorem both (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  exact hp"
    )
    assert result.status == "error"
    (goals,) = result.of_type("display_data")
    assert "case right" in goals["data"]["text/plain"]
    assert "⊢ q" in goals["data"]["text/markdown"]
    assert "unsolved goals" in result.error_text


def test_goals_after_each_tactic_line(kernel: KernelHarness) -> None:
    code = (
        "%goals\ntheorem swap (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n"
        "  constructor\n  exact hp\n  exact hq"
    )
    result = kernel.ok(code)
    (table,) = result.of_type("display_data")
    plain = table["data"]["text/plain"]
    assert "3: constructor" in plain and "case left" in plain
    assert "5: exact hq" in plain and "no goals" in plain


def test_rerunning_a_cell_replaces_it_in_place(kernel: KernelHarness) -> None:
    kernel.ok("def v : Nat := 1", cell_id="A")
    assert kernel.ok("#eval v", cell_id="B").stdout == "1\n"
    # Re-run A with new text: no "already declared", and B sees the new value.
    kernel.ok("def v : Nat := 2", cell_id="A")
    assert kernel.ok("#eval v", cell_id="B").stdout == "2\n"
    assert kernel.document() == "def v : Nat := 2\n#eval v\n"
    # An unchanged re-run shows the same messages again.
    assert kernel.ok("#eval v", cell_id="B").stdout == "2\n"


def test_without_cell_ids_every_execution_is_a_new_cell(kernel: KernelHarness) -> None:
    kernel.ok("def once : Nat := 1")
    again = kernel.execute("def once : Nat := 1")
    assert again.status == "error"
    assert "already been declared" in again.error_text


def test_cells_keep_the_order_of_first_execution(kernel: KernelHarness) -> None:
    # Notebook order B, A; executed A first: A's definition comes first in the document.
    kernel.ok("def first : Nat := 1", cell_id="A")
    assert kernel.ok("#eval first", cell_id="B").stdout == "1\n"
    kernel.ok("def first : Nat := 10", cell_id="A")
    assert kernel.document() == "def first : Nat := 10\n#eval first\n"


def test_deleted_cells_leave_the_document(kernel: KernelHarness) -> None:
    kernel.ok("def gone : Nat := 1", cell_id="A")
    result = kernel.execute("#eval gone", cell_id="B", deleted=["A"])
    assert result.status == "error"
    assert "unknown identifier 'gone'" in result.error_text


def test_imports_go_to_the_header_with_cell_positions(kernel: KernelHarness) -> None:
    kernel.ok("def before : Nat := 1", cell_id="A")
    result = kernel.execute("import Lean\n#eval nope", cell_id="B")
    assert "2:6:" in result.error_text
    assert kernel.document().startswith("import Lean\ndef before")
    kernel.ok("#eval before", cell_id="B")
    assert not kernel.document().startswith("import")


def test_unicode_positions(kernel: KernelHarness) -> None:
    result = kernel.execute('#eval "𝔸𝔹" ++ nope')
    # Code points, as Lean prints columns: 𝔸 and 𝔹 are two UTF-16 units each on the wire.
    assert "1:14:" in result.error_text
    code = 'def 𝔸value : Nat := 1\n#eval "𝔹" ++ toString 𝔸va'
    reply = kernel.complete(code)
    assert "𝔸value" in reply["matches"]
    assert reply["cursor_start"] == code.rindex("𝔸va")
    assert reply["cursor_end"] == len(code)


def test_completion_of_unexecuted_code_leaves_the_document(kernel: KernelHarness) -> None:
    kernel.ok("def executedName : Nat := 1", cell_id="A")
    before = kernel.document()
    code = "def localName := 2\n#eval executedNa + localNa"
    reply = kernel.complete(code, cursor_pos=code.index(" + "))
    assert reply["matches"] == ["executedName"]
    assert reply["cursor_start"] == code.index("executedNa")
    assert kernel.complete(code)["matches"] == ["localName"]
    assert kernel.document() == before
    # In an executed cell, completion asks Lean in place.
    assert kernel.complete("def executedName : Nat := 1", cursor_pos=12)["matches"] == [
        "executedName"
    ]


def test_inspection_is_hover_as_markdown_and_text(kernel: KernelHarness) -> None:
    code = "def answer : Nat := 42\n#check answer"
    reply = kernel.inspect(code, cursor_pos=len(code))
    assert reply["found"] is True
    assert reply["data"]["text/plain"] == "answer : Nat"
    assert "```lean" in reply["data"]["text/markdown"]
    assert kernel.inspect("-- a comment", cursor_pos=6)["found"] is False


def test_is_complete(kernel: KernelHarness) -> None:
    assert kernel.request("is_complete", code="theorem t : True := by")["status"] == "incomplete"
    assert kernel.request("is_complete", code="#eval (1 + 2)")["status"] == "complete"


def test_progress_of_a_long_cell(kernel_factory: Any, standin_only: None) -> None:
    # progress_delay=0: the display appears at once, so the test needs no race with a timer.
    kernel = kernel_factory(extra_arguments=["--LeanKernel.progress_delay=0"])
    result = kernel.ok("def slow : Nat := 1\n-- standin: delay 0.3\n#eval slow")
    assert result.stdout == "1\n"
    kinds = [m["msg_type"] for m in result.outputs]
    assert kinds[0] == "display_data"
    display_id = result.outputs[0]["content"]["transient"]["display_id"]
    updates = result.of_type("update_display_data")
    assert any("line 2 of this cell" in u["data"]["text/plain"] for u in updates)
    assert all(u["transient"]["display_id"] == display_id for u in updates)
    # Removed before the results: nothing of it is left in the notebook.
    assert kinds.index("clear_output") < kinds.index("stream")


def test_lsmagic_and_unknown_magic(kernel: KernelHarness) -> None:
    listing = kernel.ok("%lsmagic").stdout
    for name in ("%timeout", "%reset", "%project", "%env", "%goals", "%document", "%lsmagic"):
        assert name in listing
    result = kernel.execute("%frobnicate")
    assert result.content["ename"] == "UsageError"
    assert kernel.execute("%timeout soon").content["ename"] == "UsageError"


def test_timeout_magic_shows_and_sets(kernel: KernelHarness) -> None:
    assert kernel.ok("%timeout").stdout == "Time limit per cell: none\n"
    assert kernel.ok("%timeout 12.5").stdout == "Time limit per cell: 12.5 s\n"
    assert kernel.ok("%timeout").stdout == "Time limit per cell: 12.5 s\n"


def test_reset_empties_the_document(kernel: KernelHarness) -> None:
    kernel.ok("def kept : Nat := 1", cell_id="A")
    result = kernel.ok("%reset\n#eval 1", cell_id="B")
    assert result.stdout == "The Lean document is empty: every cell is forgotten.\n1\n"
    assert kernel.document() == "\n#eval 1\n"  # the magic line stays, empty
    assert "unknown identifier 'kept'" in kernel.execute("#eval kept").error_text


def test_env_magic(kernel: KernelHarness, lean_server: LeanServerUnderTest) -> None:
    text = kernel.ok("%env").stdout
    assert re.search(r"^Lean server: +Lean 4 Server .* \(pid \d+\)$", text, re.M)
    assert re.search(r"^project: +default \(", text, re.M)
    assert lean_server.argv[-1] in text  # the command
    assert re.search(r"^document: +file:///.*/\.jupyter-lean/kernel-\w+\.lean", text, re.M)


def test_project_magic_switches_projects(kernel: KernelHarness, kernel_dir: Path) -> None:
    listing = kernel.ok("%project").stdout
    assert "* default:" in listing
    kernel.ok("def inOldProject : Nat := 1")
    subfolder = kernel_dir / "week2"
    subfolder.mkdir(exist_ok=True)
    switched = kernel.ok("%project week2").stdout  # relative to the notebook's folder
    assert str(subfolder) in switched
    assert kernel.document() == "(the document is empty)\n"
    assert str(subfolder) in kernel.ok("%env").stdout
    assert kernel.ok("#eval 2 + 2").stdout == "4\n"
    assert kernel.execute("%project no-such-project").content["ename"] == "UsageError"
    assert "default" in kernel.ok("%project default").stdout


def test_history(kernel: KernelHarness) -> None:
    kernel.ok("#eval 40 + 2")
    reply = kernel.request("history", hist_access_type="tail", n=1, output=False, raw=True)
    assert reply["history"][-1][2] == "#eval 40 + 2"
    found = kernel.request(
        "history", hist_access_type="search", pattern="#eval 40*", output=False, raw=True
    )
    assert found["history"]


def test_kernel_info(kernel: KernelHarness) -> None:
    info = kernel.request("kernel_info")
    assert info["language_info"] == {
        "name": "lean4",
        "version": "4",
        "mimetype": "text/x-lean4",
        "file_extension": ".lean",
        "pygments_lexer": "lean4",
        "codemirror_mode": "lean4",
    }
    assert "debugger" not in info.get("supported_features", [])
