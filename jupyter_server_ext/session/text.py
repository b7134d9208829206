"""LSP positions (UTF-16 code units) on Python strings, and applying didChange edits."""

from __future__ import annotations

from typing import Any


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


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
