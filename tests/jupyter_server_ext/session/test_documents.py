"""The session's document mirror against a naive string implementation of the same rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_server_ext.session import documents
from jupyter_server_ext.session.documents import DocumentBudget, DocumentText
from jupyter_server_ext.session.text import index_to_position, line_start, position_to_index


def naive_exact(text: str, line: int, character: int) -> bool:
    """Is (line, character) exactly on a character boundary of ``text``?"""
    if line > text.count("\n"):
        return False
    start = line_start(text, line)
    end = text.find("\n", start)
    units = 0
    for char in text[start:] if end < 0 else text[start:end]:
        if units >= character:
            return units == character
        units += 2 if ord(char) > 0xFFFF else 1
    return units == character


@pytest.fixture(params=[3, 1024], ids=["tiny-chunks", "default-chunks"])
def chunk(request: pytest.FixtureRequest) -> Iterator[int]:
    """Tiny chunks make every example cross chunk boundaries (the same for every example, so
    the function scope is right)."""
    saved = documents.CHUNK
    documents.CHUNK = request.param
    yield request.param
    documents.CHUNK = saved


ALPHABET = st.sampled_from(["a", "b", "\n", "é", "😀", "\r", " "])
TEXTS = st.lists(ALPHABET, max_size=60).map("".join)
EDITS = st.lists(
    st.tuples(
        st.integers(0, 12), st.integers(0, 14), st.integers(0, 12), st.integers(0, 14), TEXTS
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS, edits=EDITS)
def test_edits_and_positions_match_a_naive_implementation(
    chunk: int, text: str, edits: list[tuple[int, int, int, int, str]]
) -> None:
    mirror = DocumentText(text)
    for start_line, start_char, end_line, end_char, new in edits:
        assert str(mirror) == text and mirror.chars == len(text)
        assert mirror.utf8_bytes == len(text.encode())
        assert mirror.line_count == text.count("\n") + 1
        start, exact_start = mirror.locate(start_line, start_char)
        end, exact_end = mirror.locate(end_line, end_char)
        assert start == position_to_index(text, start_line, start_char)
        assert end == position_to_index(text, end_line, end_char)
        assert exact_start == naive_exact(text, start_line, start_char)
        assert exact_end == naive_exact(text, end_line, end_char)
        for index in (start, end):
            # What the session sends Lean instead of an inexact position: the same place.
            assert mirror.position(index) == index_to_position(text, index)
        if end < start:
            continue
        mirror = mirror.replaced(start, end, new)
        text = text[:start] + new + text[end:]
    assert str(mirror) == text


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS, edits=EDITS)
def test_an_edit_leaves_the_previous_text_as_it_was(
    chunk: int, text: str, edits: list[tuple[int, int, int, int, str]]
) -> None:
    """A message refused halfway keeps the text it started from."""
    original = DocumentText(text)
    mirror = original
    for start_line, start_char, _, _, new in edits:
        start, _ = mirror.locate(start_line, start_char)
        mirror = mirror.replaced(start, min(mirror.chars, start + 2), new)
    assert str(original) == text


def test_many_lines_and_one_long_line() -> None:
    lines = DocumentText("\n" * 200_000 + "x")
    assert lines.locate(200_000, 1) == (200_001, True)
    assert lines.locate(200_000, 2) == (200_001, False)
    assert lines.locate(200_001, 0) == (200_001, False)
    long_line = DocumentText("😀" * 100_000)
    assert long_line.locate(0, 199_999) == (100_000, False)  # inside the last pair: after it
    assert long_line.locate(0, 200_000) == (100_000, True)
    assert long_line.position(50_000) == (0, 100_000)


def test_budget_counts_bytes_per_owner() -> None:
    budget = DocumentBudget(max_document_bytes=100, max_owner_bytes=150)
    assert budget.charge("ann", 0, 100) is None
    assert "per document" in (budget.charge("ann", 100, 101) or "")
    assert "one user" in (budget.charge("ann", 0, 60) or "")
    assert budget.charge("bob", 0, 100) is None  # another owner has a budget of their own
    assert budget.charge("ann", 0, 50) is None
    budget.release("ann", 100)
    assert budget.held == {"ann": 50, "bob": 100}
    budget.release("ann", 50)
    budget.release("bob", 100)
    assert budget.held == {}
