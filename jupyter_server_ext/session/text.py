"""LSP positions (UTF-16 code units) on Python strings, and applying didChange edits.

The functions on whole texts are linear in the text (the kernel's documents are small); the
session's document mirror (documents.py) keeps its text in chunks and uses only the chunk-level
functions here, which work at C speed.
"""

from __future__ import annotations

from typing import Any

_LOW_SURROGATES = range(0xDC00, 0xE000)


def utf16_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) >> 1


def utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def utf16_index(text: str, units: int) -> int | None:
    """Python index in ``text`` of the UTF-16 offset ``units``; None when ``units`` is past the
    end of the text or falls between the two halves of a surrogate pair."""
    if text.isascii():
        return units if units <= len(text) else None
    encoded = text.encode("utf-16-le")
    if units * 2 > len(encoded):
        return None
    if (
        units * 2 < len(encoded)
        and int.from_bytes(encoded[units * 2 : units * 2 + 2], "little") in _LOW_SURROGATES
    ):
        return None
    return len(encoded[: units * 2].decode("utf-16-le"))


def nth_newline(text: str, count: int) -> int:
    """Index of the ``count``-th (1-based) newline of ``text``, which has at least that many."""
    pieces = text.split("\n", count)
    return sum(map(len, pieces[:count])) + count - 1


def line_start(text: str, line: int) -> int:
    """Index of the first character of ``line`` (0-based); the text's length past the last line."""
    index = 0
    for _ in range(line):
        found = text.find("\n", index)
        if found < 0:
            return len(text)
        index = found + 1
    return index


def utf16_column_to_index(line_text: str, character: int) -> int:
    """Python index in ``line_text`` of a UTF-16 column, clamped to the line."""
    units = 0
    for index, char in enumerate(line_text):
        if units >= character:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(line_text)


def position_to_index(text: str, line: int, character: int) -> int:
    start = line_start(text, line)
    end = text.find("\n", start)
    line_text = text[start:] if end < 0 else text[start:end]
    return start + utf16_column_to_index(line_text, character)


def index_to_position(text: str, index: int) -> tuple[int, int]:
    """(line, UTF-16 character) of a Python index."""
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    return line, utf16_length(text[start:index])


def end_position(text: str) -> tuple[int, int]:
    return index_to_position(text, len(text))


def apply_content_change(text: str, change: dict[str, Any]) -> str:
    """Apply one ``contentChanges`` entry: a full replacement ``{text}`` or a range edit."""
    new_text = change.get("text", "")
    if not isinstance(new_text, str):
        raise ValueError("contentChanges[].text must be a string")
    edit_range = change.get("range")
    if edit_range is None:
        return new_text
    start = edit_range["start"]
    end = edit_range["end"]
    start_index = position_to_index(text, int(start["line"]), int(start["character"]))
    end_index = position_to_index(text, int(end["line"]), int(end["character"]))
    if end_index < start_index:
        raise ValueError("range end before range start")
    return text[:start_index] + new_text + text[end_index:]
