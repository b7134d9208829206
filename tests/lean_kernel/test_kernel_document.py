"""Cells -> one Lean document: order, re-runs, imports, edits and positions (UTF-16)."""

from __future__ import annotations

from jupyter_server_ext.session.text import apply_content_change
from lean_kernel.document import Edit, Located, NotebookDocument


def apply(text: str, edits: list[Edit]) -> str:
    """What Lean's copy of the document becomes after the edits (in order)."""
    for edit in edits:
        text = apply_content_change(text, edit.to_lsp())
    return text


class Mirror:
    """A document plus Lean's view of it, kept in step only through the edits."""

    def __init__(self) -> None:
        self.document = NotebookDocument()
        self.lean = ""
        self.edits: list[list[Edit]] = []

    def set(self, key: str, source: str) -> list[Edit]:
        edits = self.document.set_cell(key, source)
        self._apply(edits)
        return edits

    def remove(self, *keys: str) -> list[Edit]:
        edits = self.document.remove_cells(keys)
        self._apply(edits)
        return edits

    def _apply(self, edits: list[Edit]) -> None:
        self.edits.append(edits)
        self.lean = apply(self.lean, edits)
        assert self.lean == self.document.text


def test_cells_in_order_of_first_execution() -> None:
    doc = Mirror()
    doc.set("b", "def b := 2")
    doc.set("a", "def a := 1")
    doc.set("c", "#eval a + b")
    assert doc.lean == "def b := 2\ndef a := 1\n#eval a + b\n"
    # Re-running a cell keeps its place (no "already declared" from a second copy).
    doc.set("b", "def b := 20\n-- two lines now")
    assert doc.lean == "def b := 20\n-- two lines now\ndef a := 1\n#eval a + b\n"
    assert doc.document.start_line("a") == 2


def test_rerun_sends_only_the_cells_range() -> None:
    doc = Mirror()
    for index in range(50):
        doc.set(f"cell{index}", f"def x{index} := {index}")
    edits = doc.set("cell25", "def x25 := 2500")
    assert edits == [Edit((25, 0), (26, 0), "def x25 := 2500\n")]
    # The same re-run in a notebook ten times the size sends the same bytes.
    big = Mirror()
    for index in range(500):
        big.set(f"cell{index}", f"def x{index} := {index}")
    assert big.set("cell25", "def x25 := 2500") == edits
    # A new cell is an insertion at the end.
    assert doc.set("new", "#eval x25") == [Edit((50, 0), (50, 0), "#eval x25\n")]


def test_unchanged_rerun_sends_nothing() -> None:
    doc = Mirror()
    doc.set("a", "def a := 1")
    assert doc.set("a", "def a := 1") == []


def test_imports_are_hoisted_into_the_header() -> None:
    doc = Mirror()
    doc.set("a", "def a := 1")
    edits = doc.set("b", "import Lean\nopen Lean\n#eval a")
    assert doc.lean == "import Lean\ndef a := 1\n\nopen Lean\n#eval a\n"
    # The cell's edit comes first, then the header's (which restarts Lean's worker).
    assert edits[-1] == Edit((0, 0), (0, 0), "import Lean\n")
    # Another import from another cell; duplicates are kept once.
    doc.set("c", "import Std.Data.HashMap\nimport Lean")
    assert doc.document.header_text == "import Lean\nimport Std.Data.HashMap\n"
    # Taking the import out of cell b keeps it (cell c still has it).
    doc.set("b", "open Lean\n#eval a")
    assert doc.document.header_text == "import Std.Data.HashMap\nimport Lean\n"
    doc.remove("c")
    assert doc.document.header_text == ""
    assert doc.lean == "def a := 1\nopen Lean\n#eval a\n"


def test_header_commands_come_first_and_comments_are_not_hoisted() -> None:
    doc = Mirror()
    doc.set("a", "import A -- why\n/-\nimport NotAnImport\n-/\n#check 1")
    doc.set("b", "module\npublic import B")
    assert doc.document.header_text == "module\nimport A -- why\npublic import B\n"
    assert "import NotAnImport" in doc.lean.split("\n", 3)[3]
    doc.set("c", 'def s := "\nimport X\n"')
    assert "import X" not in doc.document.header_text


def test_messages_map_back_to_cells() -> None:
    doc = Mirror()
    doc.set("a", "def a := 1\n#eval a")
    doc.set("b", "import Lean\n#check a\n#eval b")
    text = doc.lean
    assert text.split("\n")[0] == "import Lean"
    document = doc.document
    # Line 0 is the header: it belongs to cell b's first line.
    assert document.locate(0, 3) == Located("b", 0, 3)
    assert document.locate(2, 0) == Located("a", 1, 0)
    assert document.locate(4, 1) == Located("b", 1, 1)
    assert document.locate(5, 6) == Located("b", 2, 6)
    # The end of the document (unexpected end of input) is the end of the last cell.
    assert document.locate(6, 0) == Located("b", 2, 7)
    assert document.locate(99, 0) is None


def test_utf16_positions_both_ways() -> None:
    doc = Mirror()
    doc.set("a", "def α := 1")
    source = 'def 𝔸 := "𝔹𝔹" ++ nope'
    doc.set("b", source)
    index = source.index("nope")
    # 𝔸, 𝔹 are outside the BMP: two UTF-16 code units each.
    assert doc.document.to_document("b", source, index) == (1, index + 3)
    assert doc.document.locate(1, index + 3) == Located("b", 0, index)


def test_revert_restores_previous_text_or_removes_a_new_cell() -> None:
    doc = Mirror()
    doc.set("a", "def a := 1")
    doc.set("b", "def b := 2")
    before = doc.lean
    previous = doc.document.cell("a").source  # type: ignore[union-attr]
    doc.set("a", "import Lean\ndef a := 1\n-- busy")
    doc._apply(doc.document.restore("a", previous))
    assert doc.lean == before
    doc.set("c", "def c := 3")
    doc._apply(doc.document.restore("c", None))
    assert doc.lean == before
    assert "c" not in doc.document


def test_deleted_cells_and_clear() -> None:
    doc = Mirror()
    for key in "abcde":
        doc.set(key, f"def {key} := 1\n-- {key}")
    doc.remove("b", "d")
    assert [cell.key for cell in doc.document.cells] == ["a", "c", "e"]
    assert doc.lean == "def a := 1\n-- a\ndef c := 1\n-- c\ndef e := 1\n-- e\n"
    doc._apply(doc.document.clear())
    assert doc.lean == ""
    assert doc.document.cells == []


def test_scratch_cells_leave_the_header_alone() -> None:
    doc = Mirror()
    doc.set("a", "import Lean")
    edits = doc.document.set_cell("scratch", "import Other\n#eval 1", hoist=False)
    assert all(edit.start[0] >= 1 for edit in edits)
    assert doc.document.header_text == "import Lean\n"
