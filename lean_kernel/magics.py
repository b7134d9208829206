"""Kernel magics: `%name args` lines at the top of a cell, handled by the kernel, unseen by Lean.

Only the lines before the cell's first line of Lean code are magics (a `%` further down is Lean's
modulo operator). They are replaced by empty lines in what Lean sees, so the cell's line numbers
stay those the user sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from jupyter_server_ext.session import (
    LeanSessionManager,
    LeanUnavailable,
    UnsafeProject,
    check_project_dir,
    lean_version,
)

from . import environment
from .connection import LeanConnection
from .document import NotebookDocument

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


class MagicHost(Protocol):
    """What the magics act on: the kernel."""

    cell_timeout: float
    goals_after_tactics: bool
    lean: LeanConnection
    document: NotebookDocument
    manager: LeanSessionManager
    # Where %project may go besides folders inside the default project: name -> path.
    configured_projects: dict[str, str]


async def run_magic(call: MagicCall, host: MagicHost, say: Callable[[str], None]) -> bool:
    """Run one magic, ``say`` its output; True when it asks for the goals after each tactic
    line of this cell."""
    name, argument = call.name, call.argument
    if name == "lsmagic":
        say(lsmagic_text())
    elif name == "timeout":
        if argument:
            host.cell_timeout = parse_timeout(argument)
        limit = f"{host.cell_timeout:g} s" if host.cell_timeout > 0 else "none"
        say(f"Time limit per cell: {limit}")
    elif name == "reset":
        reset(host)
        say("The Lean document is empty: every cell is forgotten.")
    elif name == "project":
        say(await switch_project(host, argument))
    elif name == "env":
        say(await describe_environment(host))
    elif name == "goals":
        if not argument:
            return True
        host.goals_after_tactics = parse_switch("goals", argument)
        say("Goals after each tactic line: " + ("on" if host.goals_after_tactics else "off"))
    elif name == "document":
        say(host.document.text or "(the document is empty)")
    else:
        raise UsageError(f"unknown magic %{name}; %lsmagic lists the magics")
    return False


def reset(host: MagicHost) -> None:
    host.lean.backoff.forget()  # the user asks for a fresh start: try Lean again at once
    edits = host.document.clear()
    if edits and host.lean.ready:
        host.lean.change(edits)


async def switch_project(host: MagicHost, argument: str) -> str:
    lean, manager = host.lean, host.manager
    projects = manager.projects
    if not argument:
        rows = [
            f"{'*' if name == lean.project else ' '} {name}: {path}"
            for name, path in sorted(projects.items())
        ]
        return "Lean projects (* = this kernel's):\n" + "\n".join(rows)
    if argument in projects:
        name = argument
    else:
        # Lean code reads its project (#eval can): a folder must be one the administrator
        # configured, or inside the kernel's default project, and hold no secrets.
        try:
            path = check_project_dir(
                argument, root_dir=manager.root_dir, configured=host.configured_projects.values()
            )
        except UnsafeProject as exc:
            names = ", ".join(sorted(host.configured_projects))
            raise UsageError(f"%project: {exc}. Configured projects: {names}") from None
        name = path
        manager.add_project(name, path)
    lean.backoff.forget()
    await lean.drop_session()
    host.document.clear()
    lean.project = name
    await lean.ensure_open(host.document.text)
    return (
        f"Lean project: {name} ({lean.project_dir}). The document is empty: run the "
        "cells you need again."
    )


async def describe_environment(host: MagicHost) -> str:
    lean, manager = host.lean, host.manager
    project_dir = lean.project_dir
    try:
        await lean.ensure_open(host.document.text)  # wait for a start in progress
    except LeanUnavailable as exc:
        server = f"not running: {exc}"
    else:
        info = lean.server_info
        server = f"{info.get('name', '?')} {info.get('version', '?')} (pid {lean.pid})"
    cells = len(host.document.cells)
    return environment.describe(
        lean_version=await lean_version(project_dir),
        server=server,
        project=lean.project,
        project_dir=project_dir,
        command=lean.describe_command(),
        sandbox=manager.sandbox_in_force(),
        memory_limit=manager.memory_limit,
        cpu_time_limit=manager.cpu_time_limit,
        cell_timeout=host.cell_timeout,
        document=f"{lean.uri} ({cells} cells, version {lean.version})",
    )
