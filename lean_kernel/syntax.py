"""Just enough of Lean 4's lexical structure for a kernel: comments, strings, brackets, header
lines, identifiers and ``sorry``.

Not a parser. It answers questions such as "is this line of a cell an ``import``?", "where is the
identifier under the cursor?" and "does this code still have an open comment or bracket?" without
asking Lean, so is_complete_request and the cell -> document mapping need no round trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CODE, COMMENT, STRING = 0, 1, 2

BRACKETS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧", "⟪": "⟫", "‹": "›"}
CLOSERS = {closer: opener for opener, closer in BRACKETS.items()}

# Lines that belong to a Lean file's header: `module`/`prelude` and the imports (with the module
# system's `public`/`private`/`meta` modifiers).
_HEADER_LINE = re.compile(
    r"^(?:prelude|module|(?:(?:public|private)\s+)?(?:meta\s+)?import\s+\S.*)\s*$"
)
_SORRY = re.compile(r"(?<![\w.'!?])(?:sorry|admit)(?![\w'!?])")

# Tokens after which a line cannot end a command: the user is still typing (jupyter console).
_CONTINUATION = (
    ":=",
    "=>",
    "↦",
    "->",
    "→",
    "↔",
    "<|",
    "|>.",
    ",",
    "=",
    ":",
    "∧",
    "∨",
)
_CONTINUATION_WORDS = frozenset(
    ("by", "where", "do", "then", "else", "with", "fun", "λ", "calc", "from", "at")
)


@dataclass
class Scan:
    """Classification of every character of a piece of Lean code, plus what is left open."""

    kinds: bytearray  # CODE, COMMENT or STRING per character
    open_brackets: list[tuple[str, int]] = field(default_factory=list)
    mismatch: int | None = None  # index of the first closing bracket without its opener
    open_comment: bool = False
    open_string: bool = False

    def is_code(self, index: int) -> bool:
        return 0 <= index < len(self.kinds) and self.kinds[index] == CODE


def is_ident_char(char: str) -> bool:
    """Characters of a Lean identifier (after its first character), `.` excluded."""
    if char in "_'!?":
        return True
    if char in "λΠΣ":  # keywords, not letters, in Lean
        return False
    if char.isalnum():
        return True
    code = ord(char)
    # Subscripts (x₁, aₙ), letter-like symbols (ℕ, ℝ) and math alphanumerics (𝔽), as Lean allows.
    return (
        0x2080 <= code <= 0x209C
        or 0x1D62 <= code <= 0x1D6A
        or code == 0x2C7C
        or 0x2100 <= code <= 0x214F
        or 0x1D49C <= code <= 0x1D59F
    )


def scan(code: str) -> Scan:
    """Classify ``code`` character by character (nested block comments, escapes, raw strings)."""
    kinds = bytearray(len(code))
    result = Scan(kinds)
    stack = result.open_brackets
    i, n = 0, len(code)
    while i < n:
        char = code[i]
        end: int | None
        if char == "-" and code.startswith("--", i):
            newline = code.find("\n", i)
            end = n if newline < 0 else newline
            kinds[i:end] = bytes([COMMENT]) * (end - i)
            i = end
        elif char == "/" and code.startswith("/-", i):
            end = _block_comment_end(code, i)
            if end is None:
                end, result.open_comment = n, True
            kinds[i:end] = bytes([COMMENT]) * (end - i)
            i = end
        elif char == '"' or (char == "r" and _raw_string_start(code, i) is not None):
            end = _string_end(code, i)
            if end is None:
                end, result.open_string = n, True
            kinds[i:end] = bytes([STRING]) * (end - i)
            i = end
        elif char == "'" and (end := _char_literal_end(code, i)) is not None:
            kinds[i:end] = bytes([STRING]) * (end - i)
            i = end
        elif is_ident_char(char) or char == "«":
            i = _ident_end(code, i)
        else:
            if char in BRACKETS:
                stack.append((char, i))
            elif char in CLOSERS:
                if stack and stack[-1][0] == CLOSERS[char]:
                    stack.pop()
                elif result.mismatch is None:
                    result.mismatch = i
            i += 1
    return result


def _block_comment_end(code: str, start: int) -> int | None:
    depth, i = 0, start
    while True:
        opener = code.find("/-", i)
        closer = code.find("-/", i)
        if closer < 0:
            return None
        if 0 <= opener < closer:
            depth += 1
            i = opener + 2
            continue
        depth -= 1
        i = closer + 2
        if depth == 0:
            return i


def _raw_string_start(code: str, i: int) -> int | None:
    """Number of `#` of a raw string literal r#"..."# starting at ``i``, or None."""
    if i > 0 and is_ident_char(code[i - 1]):
        return None  # the `r` ends an identifier such as `bar"`... not a raw string
    j = i + 1
    while j < len(code) and code[j] == "#":
        j += 1
    return j - i - 1 if j < len(code) and code[j] == '"' else None


def _string_end(code: str, start: int) -> int | None:
    hashes = _raw_string_start(code, start) if code[start] == "r" else None
    if hashes is not None:
        terminator = '"' + "#" * hashes
        end = code.find(terminator, start + 2 + hashes)
        return None if end < 0 else end + len(terminator)
    i = start + 1
    while i < len(code):
        if code[i] == "\\":
            i += 2
            continue
        if code[i] == '"':
            return i + 1
        i += 1
    return None


_CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^'\\\n])'")


def _char_literal_end(code: str, start: int) -> int | None:
    if start > 0 and (is_ident_char(code[start - 1]) or code[start - 1] == "."):
        return None  # a prime in a name: x', h'
    match = _CHAR_LITERAL.match(code, start)
    return match.end() if match else None


def _ident_end(code: str, i: int) -> int:
    n = len(code)
    while i < n:
        if code[i] == "«":
            close = code.find("»", i)
            i = n if close < 0 else close + 1
        elif is_ident_char(code[i]) or (
            code[i] == "." and i + 1 < n and (is_ident_char(code[i + 1]) or code[i + 1] == "«")
        ):
            i += 1
        else:
            return i
    return i


def header_line_numbers(code: str, scanned: Scan | None = None) -> list[int]:
    """Lines of ``code`` that are header commands (`import`, `module`, `prelude`), which Lean
    accepts only at the top of a file. Only a line that starts in code and does not end inside a
    block comment or string qualifies (a trailing `--` comment is fine), so an `import` inside a
    comment stays where it is and hoisting a line never splits a comment."""
    scanned = scanned or scan(code)
    found: list[int] = []
    offset = 0
    for number, line in enumerate(code.split("\n")):
        start, end = offset, offset + len(line)
        offset = end + 1
        first = start + len(line) - len(line.lstrip())
        if first == end or not scanned.is_code(first):
            continue
        ends_in_code = (
            scanned.is_code(end)
            if end < len(code)
            else not (scanned.open_comment or scanned.open_string)
        )
        if not ends_in_code:
            continue
        code_part = "".join(
            ch for ch, kind in zip(line, scanned.kinds[start:end], strict=True) if kind == CODE
        )
        if _HEADER_LINE.match(code_part.strip()):
            found.append(number)
    return found


def sorry_offsets(code: str, scanned: Scan | None = None) -> list[int]:
    """Indices of every `sorry` (and `admit`) token outside comments and strings."""
    scanned = scanned or scan(code)
    return [m.start() for m in _SORRY.finditer(code) if scanned.is_code(m.start())]


def identifier_start(code: str, cursor: int) -> int:
    """Start of the identifier component the cursor ends (what completion replaces): `Nat.su|`
    gives the index of `s`."""
    i = cursor
    while i > 0 and is_ident_char(code[i - 1]):
        i -= 1
    return i


def identifier_at(code: str, cursor: int) -> tuple[int, int] | None:
    """(start, end) of the dotted identifier under or just before the cursor, or None."""
    if cursor < len(code) and is_ident_char(code[cursor]):
        at = cursor
    elif cursor > 0 and is_ident_char(code[cursor - 1]):
        at = cursor - 1
    else:
        return None
    start = at
    while start > 0 and (
        is_ident_char(code[start - 1])
        or (code[start - 1] == "." and start > 1 and is_ident_char(code[start - 2]))
    ):
        start -= 1
    end = _ident_end(code, start)
    return start, end


def completeness(code: str) -> tuple[str, str]:
    """is_complete_request's (status, indent) for ``code``, as a console user types it.

    "incomplete" while a comment, string or bracket is open, while the last line ends with a
    token that needs more (`:=`, `by`, `=>`, ...), or while the last line is an indented line of
    a block (a blank line ends the block, as in IPython); "invalid" for a stray closing bracket.
    """
    scanned = scan(code)
    if scanned.mismatch is not None:
        return "invalid", ""
    lines = code.split("\n")
    last = lines[-1]
    indent = last[: len(last) - len(last.lstrip())]
    if scanned.open_comment or scanned.open_string or scanned.open_brackets:
        return "incomplete", indent + "  "
    # Comments become blanks, strings a placeholder token (a string can end a command).
    stripped_code = "".join(
        ch if kind == CODE else ("_" if kind == STRING else " ")
        for ch, kind in zip(code, scanned.kinds, strict=True)
    ).rstrip()
    if not stripped_code:
        return "complete", ""
    if last.strip():
        last_line = stripped_code.rsplit("\n", 1)[-1]
        words = last_line.split()
        if last_line.endswith(_CONTINUATION) or (words and words[-1] in _CONTINUATION_WORDS):
            return "incomplete", indent + "  "
        if indent and len(lines) > 1:
            return "incomplete", indent
    return "complete", ""
