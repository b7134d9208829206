"""The session's copy of a document: text that LSP positions and edits reach in O(log n).

A session keeps the text of every open document (to replay it when a client resumes, and to
send Lean only edits it places exactly as the session does). A plain string would make every
position a scan from the top of the text and every edit a copy of all of it: one small didChange
against a document of millions of lines would then hold the event loop, for every user, for
seconds. Here the text is a treap of chunks of at most CHUNK characters, each node holding the
characters, newlines, UTF-16 units and UTF-8 bytes of its subtree, so finding a line, a column
or a character costs a descent of expected O(log n) nodes plus C-speed work on one chunk.

Nodes are never changed once built (edits copy the path they change), so a ``DocumentText`` is a
value: a message whose edits are refused halfway simply keeps the previous one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from .text import nth_newline, utf8_length, utf16_index, utf16_length

# Characters per chunk: large enough that the tree stays small (16 MiB are 16k nodes), small
# enough that the linear work inside one chunk stays in the microseconds.
CHUNK = 1024

_priorities = random.Random()


class _Node:
    __slots__ = ("bytes", "chars", "left", "lines", "own", "priority", "right", "text", "units")

    def __init__(
        self,
        text: str,
        priority: float,
        left: _Node | None,
        right: _Node | None,
        own: tuple[int, int, int] | None = None,
    ) -> None:
        self.text = text
        self.priority = priority
        self.left = left
        self.right = right
        # The chunk's own newlines, UTF-16 units and UTF-8 bytes: measured once per text.
        if own is None:
            own = (text.count("\n"), utf16_length(text), utf8_length(text))
        self.own = own
        self.chars = len(text)
        self.lines, self.units, self.bytes = own
        for child in (left, right):
            if child is not None:
                self.chars += child.chars
                self.lines += child.lines
                self.units += child.units
                self.bytes += child.bytes

    def with_children(self, left: _Node | None, right: _Node | None) -> _Node:
        return _Node(self.text, self.priority, left, right, self.own)


def _chars(node: _Node | None) -> int:
    return 0 if node is None else node.chars


def _lines(node: _Node | None) -> int:
    return 0 if node is None else node.lines


def _units(node: _Node | None) -> int:
    return 0 if node is None else node.units


def _merge(first: _Node | None, second: _Node | None) -> _Node | None:
    if first is None:
        return second
    if second is None:
        return first
    if first.priority > second.priority:
        return first.with_children(first.left, _merge(first.right, second))
    return second.with_children(_merge(first, second.left), second.right)


def _split(node: _Node | None, index: int) -> tuple[_Node | None, _Node | None]:
    """(the first ``index`` characters, the rest); a chunk the cut falls in is cut in two."""
    if node is None:
        return None, None
    before = _chars(node.left)
    if index <= before:
        left, right = _split(node.left, index)
        return left, node.with_children(right, node.right)
    own_end = before + len(node.text)
    if index >= own_end:
        left, right = _split(node.right, index - own_end)
        return node.with_children(node.left, left), right
    cut = index - before
    head = _Node(node.text[:cut], node.priority, node.left, None)
    return head, _merge(_Node(node.text[cut:], _priorities.random(), None, None), node.right)


def _chunks(text: str) -> list[str]:
    if len(text) <= CHUNK:
        return [text] if text else []
    count = -(-len(text) // CHUNK)
    size = -(-len(text) // count)
    return [text[start : start + size] for start in range(0, len(text), size)]


def _build(pieces: list[str]) -> _Node | None:
    """A treap of ``pieces`` in order, with random priorities, in linear time (the right spine
    of a Cartesian tree, built left to right)."""
    spine: list[tuple[str, float, _Node | None]] = []  # (text, priority, finished left subtree)
    for text in pieces:
        priority = _priorities.random()
        left: _Node | None = None
        while spine and spine[-1][1] < priority:
            popped_text, popped_priority, popped_left = spine.pop()
            left = _Node(popped_text, popped_priority, popped_left, left)
        spine.append((text, priority, left))
    root: _Node | None = None
    while spine:
        text, priority, left = spine.pop()
        root = _Node(text, priority, left, root)
    return root


def _first_text(node: _Node) -> str:
    while node.left is not None:
        node = node.left
    return node.text


def _last_text(node: _Node) -> str:
    while node.right is not None:
        node = node.right
    return node.text


def _replace_inside(node: _Node, start: int, end: int, new: str) -> _Node | None:
    """The fast path: [start, end) lies in one chunk and the chunk stays within CHUNK. The
    path to that chunk is copied; None when the edit does not fit that way."""
    before = _chars(node.left)
    own_end = before + len(node.text)
    if end <= before and node.left is not None and start < before:
        left = _replace_inside(node.left, start, end, new)
        return None if left is None else node.with_children(left, node.right)
    if start >= own_end and node.right is not None and end > own_end:
        right = _replace_inside(node.right, start - own_end, end - own_end, new)
        return None if right is None else node.with_children(node.left, right)
    if before <= start and end <= own_end:
        text = node.text[: start - before] + new + node.text[end - before :]
        if 0 < len(text) <= CHUNK:
            return _Node(text, node.priority, node.left, node.right)
    return None


def _walk(node: _Node | None) -> Iterator[str]:
    stack: list[_Node] = []
    while stack or node is not None:
        while node is not None:
            stack.append(node)
            node = node.left
        node = stack.pop()
        yield node.text
        node = node.right


class DocumentText:
    """An immutable text with O(log n) LSP positions and edits (see the module doc)."""

    __slots__ = ("_root",)

    def __init__(self, text: str = "", *, _root: _Node | None = None) -> None:
        self._root = _root if _root is not None or not text else _build(_chunks(text))

    # -- sizes ----------------------------------------------------------------------------

    @property
    def chars(self) -> int:
        return _chars(self._root)

    @property
    def utf8_bytes(self) -> int:
        return 0 if self._root is None else self._root.bytes

    @property
    def line_count(self) -> int:
        return _lines(self._root) + 1

    def __str__(self) -> str:
        return "".join(_walk(self._root))

    def equals(self, text: str) -> bool:
        return len(text) == self.chars and str(self) == text

    # -- positions ------------------------------------------------------------------------

    def line_start(self, line: int) -> int | None:
        """Index of the first character of ``line``; None past the last line."""
        if line == 0:
            return 0
        node = self._root
        if node is None or line > node.lines:
            return None
        index = 0
        while node is not None:
            before = _lines(node.left)
            if line <= before:
                node = node.left
                continue
            line -= before
            index += _chars(node.left)
            own = node.own[0]
            if line <= own:
                return index + nth_newline(node.text, line) + 1
            line -= own
            index += len(node.text)
            node = node.right
        raise AssertionError("line counts out of step")

    def line_end(self, line: int) -> int:
        """Index of the newline ending ``line`` (the text's length for the last line)."""
        following = self.line_start(line + 1)
        return self.chars if following is None else following - 1

    def units_before(self, index: int) -> int:
        """UTF-16 units of the first ``index`` characters."""
        node, units = self._root, 0
        while node is not None:
            before = _chars(node.left)
            if index < before:
                node = node.left
                continue
            units += _units(node.left)
            index -= before
            if index <= len(node.text):
                return units + utf16_length(node.text[:index])
            units += node.own[1]
            index -= len(node.text)
            node = node.right
        return units

    def index_at_units(self, units: int) -> int | None:
        """The index at UTF-16 offset ``units``; None past the end or inside a surrogate pair."""
        node, index = self._root, 0
        if units > _units(node):
            return None
        while node is not None:
            before = _units(node.left)
            if units < before:
                node = node.left
                continue
            units -= before
            index += _chars(node.left)
            own = node.own[1]
            if units <= own:
                found = utf16_index(node.text, units)
                return None if found is None else index + found
            units -= own
            index += len(node.text)
            node = node.right
        return index

    def lines_before(self, index: int) -> int:
        node, lines = self._root, 0
        while node is not None:
            before = _chars(node.left)
            if index < before:
                node = node.left
                continue
            lines += _lines(node.left)
            index -= before
            if index <= len(node.text):
                return lines + node.text.count("\n", 0, index)
            lines += node.own[0]
            index -= len(node.text)
            node = node.right
        return lines

    def locate(self, line: int, character: int) -> tuple[int, bool]:
        """(index, exact) of an LSP position. Not exact: past the end of its line or of the text,
        or inside a surrogate pair; the index is then where text.position_to_index clamps it
        (the end of the line or text, after the pair)."""
        start = self.line_start(line)
        if start is None:
            return self.chars, False
        end = self.line_end(line)
        first_unit = self.units_before(start)
        if character > self.units_before(end) - first_unit:
            return end, False
        found = self.index_at_units(first_unit + character)
        if found is not None:
            return found, True
        after_pair = self.index_at_units(first_unit + character + 1)
        assert after_pair is not None, "a pair ends inside its line"
        return after_pair, False

    def position(self, index: int) -> tuple[int, int]:
        """(line, UTF-16 character) of an index."""
        line = self.lines_before(index)
        start = self.line_start(line) or 0
        return line, self.units_before(index) - self.units_before(start)

    # -- edits ----------------------------------------------------------------------------

    def replaced(self, start: int, end: int, new: str) -> DocumentText:
        """The text with [start, end) replaced by ``new`` (0 <= start <= end <= chars)."""
        root = self._root
        if root is not None and len(new) <= CHUNK:
            inside = _replace_inside(root, start, end, new)
            if inside is not None:
                return DocumentText(_root=inside)
        left, rest = _split(root, start)
        _, right = _split(rest, end - start)
        # The chunks on either side of the cut are rebuilt with the new text, so that edits do
        # not leave ever smaller chunks behind.
        tail = head = ""
        if left is not None:
            tail = _last_text(left)
            left, _ = _split(left, left.chars - len(tail))
        if right is not None:
            head = _first_text(right)
            _, right = _split(right, len(head))
        middle = _build(_chunks(tail + new + head))
        return DocumentText(_root=_merge(_merge(left, middle), right))


@dataclass
class DocumentBudget:
    """Limits on what sessions keep of their clients' documents, and the bytes each owner's
    sessions keep now (shared by all sessions of one manager). 0 = no limit."""

    max_document_bytes: int = 4 << 20
    max_open_documents: int = 64
    max_owner_bytes: int = 64 << 20
    max_edits_per_message: int = 1000
    held: dict[str | None, int] = field(default_factory=dict)

    def charge(self, owner: str | None, old: int, new: int) -> str | None:
        """Account a document of ``owner`` growing from ``old`` to ``new`` UTF-8 bytes; why it
        may not (and nothing is charged), or None."""
        if self.max_document_bytes and new > self.max_document_bytes:
            return (
                f"the document would be {new} bytes; the limit is "
                f"{self.max_document_bytes} bytes per document"
            )
        total = self.held.get(owner, 0) - old + new
        if self.max_owner_bytes and new > old and total > self.max_owner_bytes:
            return (
                f"your open documents would hold {total} bytes; the limit is "
                f"{self.max_owner_bytes} bytes for all documents of one user"
            )
        self.held[owner] = total
        if total == 0:
            del self.held[owner]
        return None

    def release(self, owner: str | None, size: int) -> None:
        self.charge(owner, size, 0)
