"""The session layer on the real Lean (the real tier), with the product's default settings: Lean
found through elan's proxy, sandbox "auto" (bwrap where it runs), the default memory and CPU
limits. Every document starts with ``prelude``: this Lean has no library."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import process_alive

from jupyter_server_ext.session import InProcessClient, LeanSessionManager
from jupyter_server_ext.session.process import descendants

pytestmark = pytest.mark.timeout(120)

DOCUMENT = """prelude
inductive N where
  | z : N
  | s : N → N
#check N.s
def two : N := N.s (N.s N.z)
"""


class Watcher:
    """An in-process client that keeps what Lean published."""

    def __init__(self, client: InProcessClient) -> None:
        self.client = client
        self.published: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()
        client.on_notification(self._keep)

    def _keep(self, method: str, params: Any) -> None:
        self.published.append((method, params))
        self._arrived.set()

    async def notification(self, method: str, predicate: Any, timeout: float = 30) -> Any:
        """The params of the first notification ``method`` matching ``predicate``."""
        return await asyncio.wait_for(self._first(method, predicate), timeout)

    async def _first(self, method: str, predicate: Any) -> Any:
        while True:
            for seen, params in self.published:
                if seen == method and predicate(params):
                    return params
            self._arrived.clear()
            await self._arrived.wait()

    def diagnostics(self, uri: str, version: int) -> list[dict[str, Any]]:
        found = [
            p["diagnostics"]
            for m, p in self.published
            if m == "textDocument/publishDiagnostics"
            and p["uri"] == uri
            and p.get("version") == version
        ]
        assert found, f"no diagnostics for {uri} at version {version}"
        return found[-1]

    async def settle(self, uri: str, version: int) -> list[dict[str, Any]]:
        await self.client.request(
            "textDocument/waitForDiagnostics", {"uri": uri, "version": version}, timeout=60
        )
        return self.diagnostics(uri, version)


@pytest.fixture
def manager(real_lean: Any, tmp_path: Path) -> LeanSessionManager:
    """Default settings; each test stops it (``async with stopping(manager)``)."""
    (tmp_path / "project").mkdir()
    return LeanSessionManager(
        root_dir=str(tmp_path / "project"), workspace_root=str(tmp_path / "workspaces")
    )


@contextlib.asynccontextmanager
async def stopping(manager: LeanSessionManager) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await manager.shutdown()


async def _open(manager: LeanSessionManager, tmp_path: Path) -> tuple[Watcher, str]:
    session = await manager.create("someone")
    watcher = Watcher(InProcessClient(session))
    result = await watcher.client.request(
        "initialize", {"processId": None, "capabilities": {}}, timeout=60
    )
    assert result["serverInfo"]["name"] == "Lean 4 Server"
    watcher.client.notify("initialized", {})
    uri = (tmp_path / "project" / "Doc.lean").as_uri()
    watcher.client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": DOCUMENT}},
    )
    return watcher, uri


def _workers(root_pid: int) -> list[int]:
    found = []
    for pid in descendants(root_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--worker" in argv:
            found.append(pid)
    return found


async def test_diagnostics_edits_and_a_clean_stop(
    manager: LeanSessionManager, tmp_path: Path
) -> None:
    async with stopping(manager):
        watcher, uri = await _open(manager, tmp_path)
        session = watcher.client.session
        first = await watcher.settle(uri, 1)
        assert [(d["severity"], d["message"]) for d in first] == [(3, "N.s : N → N")]

        watcher.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 5, "character": 15},
                            "end": {"line": 5, "character": 28},
                        },
                        "text": "N.s",
                    }
                ],
            },
        )
        second = await watcher.settle(uri, 2)
        errors = [d for d in second if d["severity"] == 1]
        assert errors and "N → N" in errors[0]["message"], second
        assert errors[0]["range"]["start"] == {"line": 5, "character": 15}

        root = session.pid
        assert root is not None
        tree = {root, *descendants(root)}
        assert _workers(root), "one file worker for the open document"
        await manager.delete(session.id, "someone")
        assert session.to_json()["state"] == "exited"
        assert session.exit_code == 0, "stopped politely: shutdown, exit, exit code 0"
        assert not [pid for pid in tree if process_alive(pid)], "a Lean process outlived it"


async def test_a_killed_worker_is_reported_by_lean_and_recovers_on_the_next_edit(
    manager: LeanSessionManager, tmp_path: Path
) -> None:
    async with stopping(manager):
        watcher, uri = await _open(manager, tmp_path)
        await watcher.settle(uri, 1)
        session = watcher.client.session
        assert session.pid is not None
        (worker,) = _workers(session.pid)
        os.kill(worker, signal.SIGKILL)
        # Lean's own report: the watchdog marks the whole document fatally failed (kind 2).
        await watcher.notification(
            "$/lean/fileProgress",
            lambda params: any(item.get("kind") == 2 for item in params["processing"]),
        )
        assert session.to_json()["state"] == "ready", "the watchdog (the session) lives on"
        # A request now waits for the worker Lean restarts on the next edit.
        _, hover = watcher.client.start_request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 8}},
        )
        watcher.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [{"text": DOCUMENT + "#check two\n"}],
            },
        )
        recovered = await watcher.settle(uri, 2)
        assert (3, "two : N") in [(d["severity"], d["message"]) for d in recovered]
        assert "N.s : N → N" in (await asyncio.wait_for(hover, 30))["contents"]["value"]
        assert _workers(session.pid) and worker not in _workers(session.pid)


async def test_a_clients_shutdown_and_exit_leave_the_session_usable(
    manager: LeanSessionManager, tmp_path: Path
) -> None:
    """The Lean server belongs to the session (resumable), not to one client: a client's
    shutdown is answered, its exit ignored, and the same Lean keeps answering."""
    async with stopping(manager):
        watcher, uri = await _open(manager, tmp_path)
        await watcher.settle(uri, 1)
        session = watcher.client.session
        pid = session.pid
        assert await watcher.client.request("shutdown", None, timeout=30) is None
        watcher.client.notify("exit", {})
        hover = await watcher.client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 8}},
            timeout=30,
        )
        assert "N.s : N → N" in hover["contents"]["value"]
        assert session.pid == pid and process_alive(pid)


async def test_usage_is_measured_and_the_default_limits_leave_lean_alone(
    manager: LeanSessionManager, tmp_path: Path
) -> None:
    """Real Lean reserves over 10 GiB of address space: the default memory_limit (8 GiB of
    resident memory for the session) must not kill it, and what it uses is reported."""
    async with stopping(manager):
        watcher, uri = await _open(manager, tmp_path)
        await watcher.settle(uri, 1)
        session = watcher.client.session
        await manager.measure_usage()
        reported = session.to_json()
        assert reported["state"] == "ready"
        # A watchdog and a worker: tens of MiB each at least, far below the limit.
        assert 30 << 20 < reported["memory"] < manager.memory_limit
        assert reported["cpu_seconds"] > 0


async def test_the_infoviews_keepalive_is_not_activity(
    manager: LeanSessionManager, tmp_path: Path
) -> None:
    """An infoview sends `$/lean/rpc/keepAlive` every 10 s by itself: a forgotten tab must not
    keep its session from idle culling. A person's request still counts."""
    async with stopping(manager):
        watcher, uri = await _open(manager, tmp_path)
        await watcher.settle(uri, 1)
        session = watcher.client.session
        connected = await watcher.client.request("$/lean/rpc/connect", {"uri": uri}, timeout=30)
        before = session.last_activity
        watcher.client.notify(
            "$/lean/rpc/keepAlive", {"uri": uri, "sessionId": connected["sessionId"]}
        )
        assert session.last_activity == before
        await watcher.client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 8}},
            timeout=30,
        )
        assert session.last_activity > before


async def test_a_warm_lean_gives_the_infoview_interactive_messages(
    manager: LeanSessionManager, tmp_path: Path
) -> None:
    """A warm-pool Lean is initialized before any client: it must be told hasWidgets as the
    infoview tells it, or the terms of every message it shows lose their information (Lean strips
    the tags of messages for a client without widgets, and the client's own initialize is
    answered from the warm one's result)."""
    manager.warm_pool_size = 1
    manager.start()
    async with stopping(manager):
        await manager.wait_for_warm_pool()
        assert manager.session_states() == ["warm"]
        watcher, uri = await _open(manager, tmp_path)
        await watcher.settle(uri, 1)
        connected = await watcher.client.request("$/lean/rpc/connect", {"uri": uri}, timeout=30)
        answer = await watcher.client.request(
            "$/lean/rpc/call",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 4, "character": 0},
                "sessionId": connected["sessionId"],
                "method": "Lean.Widget.getInteractiveDiagnostics",
                "params": {"lineRange": {"start": 4, "end": 5}},
            },
            timeout=30,
        )
        [check] = answer
        assert '"info"' in json.dumps(check["message"]), "the #check's type carries its info"
