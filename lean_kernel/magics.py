"""Kernel magics: `%name args` lines at the top of a cell, handled by the kernel, unseen by Lean.

Only the lines before the cell's first line of Lean code are magics (a `%` further down is Lean's
modulo operator). They are replaced by empty lines in what Lean sees, so the cell's line numbers
stay those the user sees.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGICS: dict[str, tuple[str, str]] = {
    "lsmagic": ("%lsmagic", "list the magics"),
    "timeout": (
        "%timeout [SECONDS|off]",
        "show or set the time limit per cell (for this and later cells); off = none",
    ),
    "reset": ("%reset", "empty the Lean document: forget every executed cell"),
    "project": (
        "%project [NAME|PATH]",
        "show the Lean projects, or switch to one (a configured name or a folder); "
        "the document starts empty",
    ),
    "env": ("%env", "show the Lean version, project, command, sandbox and limits"),
    "goals": (
        "%goals [on|off]",
        "show the goals after every tactic line: of this cell (no argument), or of every "
        "following cell (on/off; default off)",
    ),
    "document": ("%document", "show the Lean document the cells make up, as Lean sees it"),
}


class UsageError(Exception):
    """A magic used wrongly; shown as a `UsageError` error output."""


@dataclass(frozen=True)
class MagicCall:
    name: str
    argument: str
    line: int


def split_magics(code: str) -> tuple[list[MagicCall], str]:
    """The magic lines at the top of ``code`` and the code with those lines emptied."""
    lines = code.split("\n")
    calls: list[MagicCall] = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("%"):
            name, _, argument = stripped[1:].partition(" ")
            calls.append(MagicCall(name.strip(), argument.strip(), number))
            lines[number] = ""
        elif stripped and not stripped.startswith("--"):
            break
    return calls, "\n".join(lines)


def lsmagic_text() -> str:
    width = max(len(usage) for usage, _ in MAGICS.values())
    rows = [f"  {usage:<{width}}  {text}" for usage, text in MAGICS.values()]
    return "Magics of the Lean 4 kernel (lines at the top of a cell):\n" + "\n".join(rows) + "\n"


def parse_timeout(argument: str) -> float:
    """Seconds from `%timeout`'s argument; 0 means no limit."""
    if argument.lower() in ("off", "none", "0"):
        return 0.0
    try:
        seconds = float(argument.rstrip("s"))
    except ValueError:
        raise UsageError(f"%timeout wants a number of seconds or 'off', not {argument!r}") from None
    if seconds < 0:
        raise UsageError("%timeout wants a positive number of seconds")
    return seconds


def parse_switch(name: str, argument: str) -> bool:
    value = argument.lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise UsageError(f"%{name} wants 'on' or 'off', not {argument!r}")
