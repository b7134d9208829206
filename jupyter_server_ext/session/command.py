"""Which command starts a Lean server for a project, and whether Lean is installed at all."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

COMMAND_ENV_VAR = "JUPYTER_LEAN_COMMAND"
LAKEFILES = ("lakefile.lean", "lakefile.toml")

INSTALL_HINT = (
    "Lean 4 was not found on PATH or in ~/.elan/bin. Install it with elan, Lean's toolchain "
    "manager: `curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf "
    "| sh -s -- -y --default-toolchain stable`, then restart Jupyter (or set "
    f"{COMMAND_ENV_VAR} / c.LeanSessionManager.lean_command to the command that starts a Lean "
    "server). See https://lean-lang.org/install/."
)


class LeanNotFound(Exception):
    """No Lean toolchain (or configured command) could be found."""

    def __init__(self, tried: list[str]) -> None:
        self.tried = tried
        super().__init__(f"{INSTALL_HINT} Tried: {', '.join(tried)}.")


@dataclass(frozen=True)
class LeanCommand:
    argv: list[str]
    cwd: str
    # Where the command came from: "env", "config", "lake" or "lean".
    origin: str


def has_lakefile(project_dir: str | os.PathLike[str]) -> bool:
    return any((Path(project_dir) / name).is_file() for name in LAKEFILES)


def find_tool(name: str) -> str | None:
    """A Lean tool on PATH, or in elan's default bin folder (elan edits shell profiles only)."""
    found = shutil.which(name)
    if found:
        return found
    elan_home = os.environ.get("ELAN_HOME") or os.path.expanduser("~/.elan")
    candidate = Path(elan_home) / "bin" / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def resolve_command(configured: list[str], project_dir: str) -> LeanCommand:
    """The command for ``project_dir``: env override, then configuration, then lake/lean."""
    from_env = os.environ.get(COMMAND_ENV_VAR, "").strip()
    if from_env:
        return LeanCommand(shlex.split(from_env), project_dir, "env")
    if configured:
        return LeanCommand(list(configured), project_dir, "config")
    if has_lakefile(project_dir):
        lake = find_tool("lake")
        if lake is None:
            raise LeanNotFound(["lake (the project has a lakefile)"])
        return LeanCommand([lake, "serve", "--"], project_dir, "lake")
    lean = find_tool("lean")
    if lean is None:
        raise LeanNotFound(["lean", "~/.elan/bin/lean"])
    return LeanCommand([lean, "--server"], project_dir, "lean")


def executable_exists(argv: list[str]) -> bool:
    if not argv:
        return False
    program = argv[0]
    if os.sep in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def lean_version(timeout: float = 10.0) -> str | None:
    """`lean --version` of the toolchain on PATH, or None when there is none."""
    lean = find_tool("lean")
    if lean is None:
        return None
    try:
        done = subprocess.run(
            [lean, "--version"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
