"""`%env`: which Lean, which project, which limits: what a teacher checks first when a notebook
behaves differently on another machine."""

from __future__ import annotations

from jupyter_server_ext.session import find_tool, has_lakefile


def _size(value: int) -> str:
    return f"{value / (1 << 30):g} GiB" if value else "none"


def describe(
    *,
    lean_version: str | None,
    server: str,
    project: str,
    project_dir: str,
    command: str,
    sandbox: str,
    memory_limit: int,
    cpu_time_limit: int,
    cell_timeout: float,
    document: str,
) -> str:
    """The table %env shows."""
    if lean_version is None:
        missing = find_tool("lean") is None
        lean_version = (
            "no `lean` on PATH or in ~/.elan/bin" if missing else "`lean --version` failed"
        )
    rows = [
        ("Lean", lean_version),
        ("Lean server", server),
        (
            "project",
            f"{project} ({project_dir})"
            + (", a Lake package" if has_lakefile(project_dir) else ""),
        ),
        ("command", command),
        ("sandbox", sandbox),
        (
            "limits",
            f"memory {_size(memory_limit)}, CPU time "
            + (f"{cpu_time_limit} s" if cpu_time_limit else "none"),
        ),
        ("time limit per cell", f"{cell_timeout:g} s" if cell_timeout else "none"),
        ("document", document),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in rows)
