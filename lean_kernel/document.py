"""Notebook cells -> one Lean document, and positions between the two.

The document is the header (every `import`/`module`/`prelude` line of every cell, hoisted because
Lean accepts them only at the top of a file) followed by the executed cells in order of first
execution. Each cell's block keeps the cell's line structure: its header lines become empty lines
and it ends with a newline, so a cell line is a document line plus a fixed offset and every block
boundary is at column 0. Edits are therefore whole-line ranges that cover only the changed cell
(and the header when it changes): what is sent to Lean does not grow with the notebook.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jupyter_server_ext.session import index_to_position, utf16_column_to_index

from .render import ERROR, CellMessage, diagnostic_start, message_from_diagnostic
from .syntax import header_line_numbers, scan

Position = tuple[int, int]  # (line, UTF-16 character), as LSP counts


@dataclass(frozen=True)
class Edit:
    """One `contentChanges` entry: replace [start, end) of the current text by ``text``."""

    start: Position
    end: Position
    text: str

    def to_lsp(self) -> dict[str, Any]:
        return {
            "range": {
                "start": {"line": self.start[0], "character": self.start[1]},
                "end": {"line": self.end[0], "character": self.end[1]},
            },
            "text": self.text,
        }


@dataclass(frozen=True)
class Cell:
    key: str
    source: str  # the code as executed (magic lines already blanked)
    body: str  # the cell's block in the document
    header: tuple[tuple[int, str], ...]  # (cell line, header command) hoisted from the cell

    @property
    def line_count(self) -> int:
        return self.body.count("\n")


def make_cell(key: str, source: str, hoist: bool = True) -> Cell:
    """The cell's block: its header lines hoisted (or, with ``hoist=False``, only emptied)."""
    lines = source.split("\n")
    hoisted = header_line_numbers(source, scan(source))
    header = tuple((number, lines[number].strip()) for number in hoisted) if hoist else ()
    for number in hoisted:
        lines[number] = ""
    body = "\n".join(lines)
    if not body.endswith("\n"):
        body += "\n"
    return Cell(key, source, body, header)


@dataclass(frozen=True)
class Located:
    """A document position inside a cell: 0-based line and character index (code points)."""

    key: str
    line: int
    column: int


def _header_order(command: str) -> int:
    # `module` and `prelude` must precede the imports.
    return 0 if command in ("module", "prelude") else 1


class NotebookDocument:
    """The cells that make up the Lean document, in order of first execution."""

    def __init__(self) -> None:
        self.cells: list[Cell] = []  # read-only outside this class
        self._header: list[tuple[str, str, int]] = []  # (command, owner key, owner line)
        self._starts: list[int] | None = None  # first document line of each cell, cached

    def _cell_starts(self) -> list[int]:
        # Every diagnostic of the document is located on every execution: keep that O(log n).
        if self._starts is None:
            line, starts = len(self._header), []
            for cell in self.cells:
                starts.append(line)
                line += cell.line_count
            self._starts = starts
        return self._starts

    # -- reading ---------------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        return any(cell.key == key for cell in self.cells)

    def cell(self, key: str) -> Cell | None:
        for cell in self.cells:
            if cell.key == key:
                return cell
        return None

    @property
    def header_text(self) -> str:
        return "".join(command + "\n" for command, _, _ in self._header)

    @property
    def text(self) -> str:
        return self.header_text + "".join(cell.body for cell in self.cells)

    def start_line(self, key: str) -> int:
        """Document line of the first line of cell ``key``."""
        line = len(self._header)
        for cell in self.cells:
            if cell.key == key:
                return line
            line += cell.line_count
        raise KeyError(key)

    @property
    def header_line_count(self) -> int:
        return len(self._header)

    @property
    def line_count(self) -> int:
        return len(self._header) + sum(cell.line_count for cell in self.cells)

    def to_document(self, key: str, source: str, index: int) -> Position:
        """The document position of character ``index`` of cell ``key`` whose code is ``source``
        (the cell's lines map one to one, so the column only changes units: UTF-16)."""
        line, character = index_to_position(source, index)
        return self.start_line(key) + line, character

    def locate(self, line: int, character: int) -> Located | None:
        """The cell (and cell position) that document position (line, UTF-16 character) lies in.

        A header line belongs to the cell it was hoisted from; its column is kept as it is (the
        hoisted command is stripped, so it may be off by the line's indentation)."""
        if line < len(self._header):
            _, owner, owner_line = self._header[line]
            cell = self.cell(owner)
            if cell is None:
                return None
            line_text = cell.source.split("\n")[owner_line]
            indent = len(line_text) - len(line_text.lstrip())
            column = utf16_column_to_index(line_text.strip(), character)
            return Located(owner, owner_line, indent + column)
        starts = self._cell_starts()
        index = bisect.bisect_right(starts, line) - 1
        if index >= 0 and line < starts[index] + self.cells[index].line_count:
            cell = self.cells[index]
            cell_line = line - starts[index]
            line_text = cell.body.split("\n")[cell_line]
            return Located(cell.key, cell_line, utf16_column_to_index(line_text, character))
        if self.cells and line == self.line_count and character == 0:
            # The end of the document ("unexpected end of input") is the end of the last cell.
            last = self.cells[-1]
            last_line = last.body.split("\n")[last.line_count - 1]
            return Located(last.key, last.line_count - 1, len(last_line))
        return None

    # -- editing ---------------------------------------------------------------------------

    def set_cell(self, key: str, source: str, hoist: bool = True) -> list[Edit]:
        """Put ``source`` as cell ``key`` (replacing it in place, or appending it) and return the
        edits that turn the previous text into the new one, in the order Lean applies them.
        ``hoist=False`` leaves the header alone (a scratch cell must not restart Lean's worker)."""
        new = make_cell(key, source, hoist)
        old_header = self.header_text
        old_header_lines = len(self._header)
        edits: list[Edit] = []
        for index, cell in enumerate(self.cells):
            if cell.key == key:
                if cell.body != new.body:
                    start = old_header_lines + sum(c.line_count for c in self.cells[:index])
                    edits.append(Edit((start, 0), (start + cell.line_count, 0), new.body))
                self.cells[index] = new
                break
        else:
            end = self.line_count
            self.cells.append(new)
            edits.append(Edit((end, 0), (end, 0), new.body))
        return edits + self._update_header(old_header, old_header_lines)

    def remove_cells(self, keys: Iterable[str]) -> list[Edit]:
        """Drop cells (deleted in the notebook, or a new cell that is reverted)."""
        wanted = set(keys)
        old_header = self.header_text
        old_header_lines = len(self._header)
        edits: list[Edit] = []
        # From the bottom up, so every edit's position is still valid when Lean applies it.
        line = self.line_count
        for index in range(len(self.cells) - 1, -1, -1):
            cell = self.cells[index]
            line -= cell.line_count
            if cell.key in wanted:
                edits.append(Edit((line, 0), (line + cell.line_count, 0), ""))
                del self.cells[index]
        return edits + self._update_header(old_header, old_header_lines)

    def restore(self, key: str, previous: str | None) -> list[Edit]:
        """Undo an execution of cell ``key``: back to its previous source, or out if it was new."""
        if previous is None:
            return self.remove_cells([key])
        return self.set_cell(key, previous)

    def clear(self) -> list[Edit]:
        end = self.line_count
        self.cells.clear()
        self._header.clear()
        self._starts = None
        return [Edit((0, 0), (end, 0), "")] if end else []

    def _update_header(self, old_text: str, old_lines: int) -> list[Edit]:
        seen: dict[str, tuple[str, str, int]] = {}
        for cell in self.cells:
            for owner_line, command in cell.header:
                seen.setdefault(command, (command, cell.key, owner_line))
        self._header = sorted(seen.values(), key=lambda entry: _header_order(entry[0]))
        self._starts = None
        new_text = self.header_text
        if new_text == old_text:
            return []
        # The header sits above every cell, so this edit comes last: the cell edits before it
        # were computed against the old header and stay valid.
        return [Edit((0, 0), (old_lines, 0), new_text)]

    def messages_of(self, key: str, diagnostics: list[dict[str, Any]]) -> list[CellMessage]:
        """The diagnostics that lie in cell ``key``, plus errors of imports hoisted from other
        cells: Lean checks nothing after a broken header, so every cell must say so."""
        document = self
        header = document.header_line_count
        first = document.start_line(key)
        cell = document.cell(key)
        # Lean sends every diagnostic of the document each time: skip most by line alone.
        last = first + (cell.line_count if cell is not None else 0)
        messages = []
        for diagnostic in diagnostics:
            start = diagnostic_start(diagnostic)
            if start is None:
                continue
            line, character = start
            if header <= line < first or line > last:
                continue
            located = document.locate(line, character)
            if located is None:
                continue
            if located.key == key:
                messages.append(message_from_diagnostic(diagnostic, located.line, located.column))
            elif line < header and diagnostic.get("severity") == ERROR:
                messages.append(
                    message_from_diagnostic(
                        diagnostic,
                        -1,
                        0,
                        place=f"imports (line {located.line + 1} of another cell)",
                    )
                )
        return messages

    def describe_line(self, key: str, line: int) -> str:
        """Where document line ``line`` is, as the user of cell ``key`` would say it."""
        if line < self.header_line_count:
            return "the imports"
        located = self.locate(line, 0)
        if located is None:
            return "the document"
        if located.key == key:
            return f"line {located.line + 1} of this cell"
        return "an earlier cell"
