"""UTF-16 positions and didChange edits, as Lean applies them."""

from __future__ import annotations

import pytest

from jupyter_server_ext.session.text import (
    apply_content_change,
    end_position,
    index_to_position,
    position_to_index,
)


def _edit(sl: int, sc: int, el: int, ec: int, text: str) -> dict[str, object]:
    return {
        "range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
        "text": text,
    }


def test_astral_characters_count_two_utf16_units() -> None:
    text = "def 𝔽x := 1\n"
    # "def " = 4 units, 𝔽 = 2 units, so x sits at UTF-16 column 6 but Python index 5.
    assert position_to_index(text, 0, 6) == text.index("x")
    assert index_to_position(text, text.index("x")) == (0, 6)


def test_range_edit_after_astral_character() -> None:
    text = "theorem t : 𝔽 = 𝔽 := rfl\n#eval 1"
    # "theorem t : " is 12 units, each 𝔽 two: the second 𝔽 spans columns 17-19.
    edited = apply_content_change(text, _edit(0, 17, 0, 19, "α"))
    assert edited == "theorem t : 𝔽 = α := rfl\n#eval 1"


def test_multi_line_edit_and_insert_at_end() -> None:
    text = "a\nb\nc"
    assert apply_content_change(text, _edit(0, 1, 2, 0, "-")) == "a-c"
    assert apply_content_change(text, _edit(*end_position(text), *end_position(text), "\nd")) == (
        "a\nb\nc\nd"
    )


def test_full_replacement() -> None:
    assert apply_content_change("old", {"text": "new"}) == "new"


def test_positions_past_the_line_clamp_like_lean() -> None:
    assert apply_content_change("ab\ncd", _edit(0, 99, 0, 99, "!")) == "ab!\ncd"


@pytest.mark.parametrize(
    "change",
    [
        {"range": {"start": {"line": 0}}, "text": "x"},
        {"text": 5},
        _edit(1, 0, 0, 0, "x"),
    ],
)
def test_malformed_edits_raise(change: dict[str, object]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        apply_content_change("ab\ncd", change)
