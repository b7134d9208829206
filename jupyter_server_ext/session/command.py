"""Which command starts a Lean server for a project, and whether Lean is installed at all."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import LeanUnavailable

COMMAND_ENV_VAR = "JUPYTER_LEAN_COMMAND"
LAKEFILES = ("lakefile.lean", "lakefile.toml")

ELAN_INIT_URL = "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
ELAN_INSTALL = f"curl -sSfL {ELAN_INIT_URL} | sh -s -- -y --default-toolchain stable"
# How to get Lean, said wherever Lean is missing (health, sessions, the kernel, the doctor).
INSTALL_HINT = (
    f"Install Lean 4 with elan, Lean's toolchain manager: `{ELAN_INSTALL}`, then restart Jupyter "
    f"(or set {COMMAND_ENV_VAR} / c.LeanSessionManager.lean_command to the command that starts "
    "a Lean server). See https://lean-lang.org/install/."
)
NOT_FOUND = "Lean 4 was not found on PATH or in ~/.elan/bin."


def lean_not_found(tried: list[str]) -> LeanUnavailable:
    """No Lean toolchain (or configured command) could be found."""
    return LeanUnavailable(f"{NOT_FOUND} {INSTALL_HINT} Tried: {', '.join(tried)}.")


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
            raise lean_not_found(["lake (the project has a lakefile)"])
        return LeanCommand([lake, "serve", "--"], project_dir, "lake")
    lean = find_tool("lean")
    if lean is None:
        raise lean_not_found(["lean", "~/.elan/bin/lean"])
    return LeanCommand([lean, "--server"], project_dir, "lean")


def executable_exists(argv: list[str]) -> bool:
    if not argv:
        return False
    program = argv[0]
    if os.sep in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


async def lean_version(cwd: str | None = None, timeout: float = 10.0) -> str | None:
    """`lean --version` as run in ``cwd`` (elan picks the project's toolchain there); None when
    there is no Lean, or it does not say."""
    lean = find_tool("lean")
    if lean is None:
        return None
    try:
        process = await asyncio.create_subprocess_exec(
            lean,
            "--version",
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0:
        return None
    return output.decode(errors="replace").strip() or None
