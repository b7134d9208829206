"""`%env`: which Lean, which project, which limits: what a teacher checks first when a notebook
behaves differently on another machine."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from jupyter_server_ext.session.command import find_tool, has_lakefile

from .connection import LeanUnavailableError

if TYPE_CHECKING:
    from .kernel import LeanKernel


async def lean_version(cwd: str, timeout: float = 10.0) -> str:
    """`lean --version` as run in the project (elan picks the project's toolchain there)."""
    lean = find_tool("lean")
    if lean is None:
        return "no `lean` on PATH or in ~/.elan/bin"
    try:
        process = await asyncio.create_subprocess_exec(
            lean,
            "--version",
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return f"`lean --version` failed: {exc}"
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return f"`lean --version` took longer than {timeout:g} s"
    return output.decode(errors="replace").strip() or f"exit code {process.returncode}"


def _size(value: int) -> str:
    return f"{value / (1 << 30):g} GiB" if value else "none"


async def describe(kernel: LeanKernel) -> str:
    lean, manager = kernel.lean, kernel.manager
    project_dir = lean.project_dir
    try:
        await lean.ensure_open(kernel.document.text)  # wait for a start in progress
    except LeanUnavailableError as exc:
        server = f"not running: {exc}"
    else:
        info = lean.server_info
        server = f"{info.get('name', '?')} {info.get('version', '?')} (pid {lean.pid})"
    rows = [
        ("Lean", await lean_version(project_dir)),
        ("Lean server", server),
        (
            "project",
            f"{lean.project} ({project_dir})"
            + (", a Lake package" if has_lakefile(project_dir) else ""),
        ),
        ("command", lean.describe_command()),
        ("sandbox", manager.sandbox_in_force()),
        (
            "limits",
            f"memory {_size(manager.memory_limit)}, CPU time "
            + (f"{manager.cpu_time_limit} s" if manager.cpu_time_limit else "none"),
        ),
        ("time limit per cell", f"{kernel.cell_timeout:g} s" if kernel.cell_timeout else "none"),
        ("document", f"{lean.uri} ({len(kernel.document.cells)} cells, version {lean.version})"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in rows)
