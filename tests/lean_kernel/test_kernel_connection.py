"""The kernel's Lean connection on its own (no Jupyter): the barrier, crashes seen only as a fatal
fileProgress, server exits, recovery and idle culling, against the Lean under test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import LeanServerUnderTest

from jupyter_server_ext.session import LeanSessionManager
from lean_kernel.connection import LeanConnection, ServerExited, WorkerCrashed
from lean_kernel.document import Edit

FATAL = 2


@pytest.fixture
def lean(
    lean_server: LeanServerUnderTest, tmp_path: Path, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> Iterator[LeanConnection]:
    manager = LeanSessionManager(
        lean_command=lean_server.argv,
        root_dir=str(tmp_path),
        workspace_root=str(tmp_path / "workspaces"),
    )
    yield LeanConnection(
        manager,
        owner="tester",
        project="default",
        document_name="doc",
        startup_timeout=30,
        log=logging.getLogger("test"),
    )
    jp_asyncio_loop.run_until_complete(manager.shutdown())


def append(connection: LeanConnection, line: int, text: str) -> int:
    return connection.change([Edit((line, 0), (line, 0), text)])


async def test_barrier_returns_the_versions_diagnostics(lean: LeanConnection) -> None:
    assert await lean.ensure_open("def a : Nat := 1\n") is True
    assert await lean.ensure_open("ignored") is False
    assert lean.uri.endswith("/.jupyter-lean/doc.lean")
    version = append(lean, 1, "#eval a + 1\n")
    diagnostics = await asyncio.wait_for(lean.barrier(version), 20)
    assert [d["message"] for d in diagnostics] == ["2"]


async def test_crash_seen_only_as_fatal_progress(lean: LeanConnection, standin_only: None) -> None:
    fatal = asyncio.Event()

    def progress(version: int, processing: list[dict[str, Any]]) -> None:
        if any(item.get("kind") == FATAL for item in processing):
            fatal.set()

    lean.progress_listener = progress
    await lean.ensure_open("def a : Nat := 1\n")
    version = append(lean, 1, "-- standin: crash\n")
    # The worker is gone before the barrier is asked for: Lean queues the request until the
    # next edit, so only the fatal progress tells.
    await asyncio.wait_for(fatal.wait(), 20)
    with pytest.raises(WorkerCrashed, match="fatal error"):
        await asyncio.wait_for(lean.barrier(version), 20)
    status = await lean.recover("def a : Nat := 1\n", [Edit((1, 0), (2, 0), "")], timeout=10)
    assert status == "Lean is ready"
    version = append(lean, 1, "#eval a\n")
    assert [d["message"] for d in await lean.barrier(version)] == ["1"]


async def test_server_exit_and_restart(lean: LeanConnection, standin_only: None) -> None:
    await lean.ensure_open("def a : Nat := 1\n")
    pid = lean.pid
    version = append(lean, 1, "-- standin: exit 3\n")
    with pytest.raises(ServerExited, match="exited with code 3"):
        await asyncio.wait_for(lean.barrier(version), 20)
    assert not lean.ready
    # The next use opens the document again in a new Lean, and says why.
    assert await lean.ensure_open("def a : Nat := 1\n") is True
    assert lean.pid != pid
    assert "Lean had stopped" in lean.notices[0]


async def test_idle_culling(lean: LeanConnection) -> None:
    await lean.ensure_open("")
    assert await lean.cull_if_idle(3600) is False
    assert await lean.cull_if_idle(0) is True
    assert not lean.alive
    assert "without use" in lean.notices[0]
