"""Lean's lexical structure as the kernel sees it: is_complete, identifiers, sorry, magics."""

from __future__ import annotations

import pytest

from lean_kernel.magics import UsageError, parse_switch, parse_timeout, split_magics
from lean_kernel.syntax import (
    completeness,
    header_line_numbers,
    identifier_at,
    identifier_start,
    scan,
    sorry_offsets,
)


@pytest.mark.parametrize(
    "code",
    [
        "#eval 1 + 1",
        "def f (n : Nat) : Nat := n + 1",
        "theorem t : 1 + 1 = 2 := by\n  decide\n",
        "/- nested /- comments -/ closed -/\n#check Nat",
        '#eval "a ( string with [ brackets"',
        "#eval 'a'",
        "#eval '('",
        "def f' := 1\n#eval f'",
        "-- a comment with an open (\n#check Nat",
        'def s := r#"raw " ( string"#',
        "#eval [1, 2].map (· + 1)",
        "example : ∃ n : Nat, n = 1 := ⟨1, rfl⟩",
        "",
    ],
)
def test_complete(code: str) -> None:
    assert completeness(code) == ("complete", "")


@pytest.mark.parametrize(
    ("code", "indent"),
    [
        ("def f (n : Nat) : Nat :=", "  "),
        ("theorem t : True := by", "  "),
        ("theorem t : True := by\n  constructor", "  "),
        ("/- open /- nested -/ comment", "  "),
        ("#eval (1 +", "  "),
        ("#check ⟨1,", "  "),
        ('#eval "open string', "  "),
        ("example : True := by\n  exact (", "    "),
        ("def f : Nat → Nat\n  | 0 => 1\n  | n + 1 =>", "    "),
    ],
)
def test_incomplete(code: str, indent: str) -> None:
    assert completeness(code) == ("incomplete", indent)


@pytest.mark.parametrize("code", ["#eval 1 + 1)", "#check (Nat]", "#eval ⟨1, 2)"])
def test_invalid(code: str) -> None:
    assert completeness(code)[0] == "invalid"


def test_scan_classifies_comments_and_strings() -> None:
    code = 'a -- c\n/- b /- c -/ d -/ "s\\"t" \'x\' r"y"'
    kinds = scan(code).kinds
    assert [code[i] for i in range(len(code)) if kinds[i] == 0].count("a") == 1
    assert not scan(code).open_comment
    assert scan("/- /- -/").open_comment


def test_header_lines() -> None:
    code = "import A\n  import B -- hi\n/- import C\n-/\n#check 1\nimport D\nimportant := 1"
    assert header_line_numbers(code) == [0, 1, 5]
    assert header_line_numbers("import A /- starts a comment\n-/") == []
    assert header_line_numbers("module\nprelude\npublic meta import X") == [0, 1, 2]


def test_identifiers_and_sorry() -> None:
    code = "#eval Nat.su"
    assert identifier_start(code, len(code)) == code.index("su")
    assert identifier_at(code, len(code)) == (6, len(code))
    assert identifier_at("#check x₁ + 1", 9) == (7, 9)
    assert identifier_at("(1 + 2)", 3) is None
    code = "theorem t : p := by\n  sorry -- not this sorry\n  exact sorry_lemma\n  admit"
    assert sorry_offsets(code) == [code.index("sorry"), code.index("admit")]


def test_magics_are_the_leading_percent_lines() -> None:
    calls, code = split_magics("-- intro\n%timeout 5\n%goals\n#eval 7 % 2\n%not a magic")
    assert [(c.name, c.argument, c.line) for c in calls] == [("timeout", "5", 1), ("goals", "", 2)]
    assert code == "-- intro\n\n\n#eval 7 % 2\n%not a magic"
    assert parse_timeout("2.5") == 2.5
    assert parse_timeout("off") == 0
    assert parse_switch("goals", "on") is True
    with pytest.raises(UsageError):
        parse_timeout("soon")
    with pytest.raises(UsageError):
        parse_switch("goals", "maybe")
