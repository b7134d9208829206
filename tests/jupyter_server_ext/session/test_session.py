"""Session and manager behaviour that needs no Jupyter server: ids, detaching, warm pool."""

from __future__ import annotations

import asyncio
import os
import select
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_server_ext.session import (
    InProcessClient,
    LeanSessionManager,
    SessionClosed,
    SessionState,
    flow,
)
from jupyter_server_ext.session import session as session_module
from jupyter_server_ext.session.closecodes import CLOSE_REPLACED

PEER = Path(__file__).parents[2] / "scripted_peer.py"


@pytest.fixture
def manager(tmp_path: Path, jp_asyncio_loop: asyncio.AbstractEventLoop) -> Any:
    managers: list[LeanSessionManager] = []

    def make(**traits: Any) -> LeanSessionManager:
        traits.setdefault("lean_command", [sys.executable, str(PEER)])
        created = LeanSessionManager(
            sandbox="none", root_dir=str(tmp_path), workspace_root=str(tmp_path / "ws"), **traits
        )
        managers.append(created)
        return created

    yield make
    for created in managers:
        jp_asyncio_loop.run_until_complete(created.shutdown())


async def _initialized(client: InProcessClient) -> Any:
    result = await client.request("initialize", {"capabilities": {}}, timeout=10)
    client.notify("initialized", {})
    return result


class RecordingClient:
    """A client that answers nothing: Lean's requests to it stay pending until it detaches."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.got_request = asyncio.Event()

    def deliver(self, message: dict[str, Any], raw: str | None = None) -> None:
        self.messages.append(message)
        if "method" in message and "id" in message:
            self.got_request.set()

    def close_session(self, code: int, reason: str) -> None:
        pass


async def test_lean_requests_are_answered_when_the_client_leaves_and_while_none_is_attached(
    manager: Any,
) -> None:
    session = await manager().create("alice")
    await session.warm_up()
    recorder = RecordingClient()
    session.attach(recorder)
    session.receive(recorder, {"jsonrpc": "2.0", "method": "test/ask", "params": {"chain": True}})
    await asyncio.wait_for(recorder.got_request.wait(), 10)
    # Leaving with Lean's request unanswered: the session answers it (null) for the client, and
    # Lean's next request, sent while nobody is attached, is answered by the session too.
    session.detach(recorder)
    assert await session.request("test/answers", {}) == [None]
    assert await session.request("test/answers", {}) == [None, None]


async def test_a_detached_clients_pending_request_does_not_reach_the_next_client(
    manager: Any,
) -> None:
    session = await manager().create("alice")
    old = InProcessClient(session)
    await _initialized(old)
    _, held = old.start_request("test/hold", {"from": "old"})
    new = InProcessClient(session)  # replaces `old` (4409)
    with pytest.raises(SessionClosed, match="replaced"):
        await held
    assert old.closed is not None and old.closed.code == CLOSE_REPLACED
    # The new client reuses id 1..n; the old request with the same id is still pending in Lean.
    echo = await new.request("test/echo", {"n": 1}, timeout=10)
    assert echo == {"echo": {"n": 1}}
    new.notify("test/release", {})
    received = await new.request("test/received", {}, timeout=10)
    assert "$/cancelRequest" in received, "the replaced client's request is cancelled in Lean"


async def test_repeated_initialize_is_answered_from_cache(manager: Any) -> None:
    session = await manager().create("alice")
    first = InProcessClient(session)
    result = await _initialized(first)
    first.detach()
    again = InProcessClient(session)
    assert await _initialized(again) == result
    received = await again.request("test/received", {}, timeout=10)
    assert received.count("initialize") == 1 and received.count("initialized") == 1


async def test_warm_pool_hands_out_an_initialized_server(manager: Any) -> None:
    pool = manager(warm_pool_size=1)
    pool.start()
    await pool.wait_for_warm_pool()
    assert pool.session_states() == ["warm"]
    session = await pool.create("alice")
    assert session.state is SessionState.READY, "a warm session is ready at once"
    client = InProcessClient(session)
    result = await _initialized(client)
    assert result["serverInfo"] == {"name": "peer"}
    await pool.wait_for_warm_pool()
    assert sorted(pool.session_states()) == ["ready", "warm"], "the pool refills"
    received = await client.request("test/received", {}, timeout=10)
    assert received[:2] == ["initialize", "initialized"] and received.count("initialize") == 1


async def test_unexpected_exit_is_noticed_with_code(manager: Any, tmp_path: Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text("import sys\nsys.stderr.write('boom: cannot start\\n')\nsys.exit(7)\n")
    session = await manager(lean_command=[sys.executable, str(script)]).create("alice")
    client = InProcessClient(session)
    with pytest.raises(Exception, match="code 7"):
        await client.request("initialize", {}, timeout=10)
    assert session.state is SessionState.EXITED and session.exit_code == 7
    assert "boom: cannot start" in (session.exit_reason or "")


async def test_shutdown_stops_every_process(manager: Any) -> None:
    owner = manager()
    sessions = [await owner.create(f"user{i}") for i in range(3)]
    pids = [s.pid for s in sessions]
    await owner.shutdown()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


async def test_stop_also_ends_workers_in_process_groups_of_their_own(
    manager: Any, tmp_path: Path
) -> None:
    # Like Lean's watchdog: a worker that setsid()s into its own group, inherits stderr (not
    # stdout) and ignores stdin EOF.
    script = tmp_path / "watchdog.py"
    pid_file = tmp_path / "worker.pid"
    script.write_text(
        "import os, subprocess, sys\n"
        "loop = 'import time\\nwhile True: time.sleep(1)'\n"
        "worker = subprocess.Popen([sys.executable, '-c', loop],"
        " start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)\n"
        f"open({str(pid_file)!r}, 'w').write(str(worker.pid))\n"
        f"exec(open({str(PEER)!r}).read())\n"
    )
    session = await manager(lean_command=[sys.executable, str(script)]).create("alice")
    client = InProcessClient(session)
    await _initialized(client)  # the peer answers once the worker is running
    worker = int(pid_file.read_text())
    assert os.getpgid(worker) == worker != session.pid
    worker_exit = os.pidfd_open(worker)  # readable once the worker has exited
    try:
        await session.stop("deleted")
        exited, _, _ = select.select([worker_exit], [], [], 5)
    finally:
        os.close(worker_exit)
    assert exited, "the worker outlived its Lean server"


async def test_a_lean_that_stops_reading_is_ended_after_one_stall_period(
    manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flow, "STDIN_STALL_SECONDS", 0.3)
    monkeypatch.setattr(session_module, "STOP_GRACE_SECONDS", 0.2)  # the peer ignores EOF
    checks: list[int] = []
    check_stall = flow.InputFlow._check_stall

    def counted(self: flow.InputFlow, taken_before: int) -> None:
        checks.append(taken_before)
        check_stall(self, taken_before)

    monkeypatch.setattr(flow.InputFlow, "_check_stall", counted)
    session = await manager().create("alice")
    await session.warm_up()
    client = InProcessClient(session)
    exited = asyncio.Event()
    client.on_notification(
        lambda method, params: exited.set() if method == "$/jupyterLean/exited" else None
    )
    assert await client.request("test/stop-reading", {}, timeout=10) == {}
    # More than a pipe holds (64 KiB on Linux): the rest waits in the session.
    client.notify("$/test/big", {"data": "z" * (1 << 20)})
    await asyncio.wait_for(exited.wait(), 10)
    assert session.state is SessionState.EXITED
    assert "Lean stopped reading its input" in (session.exit_reason or "")
    # Lean took nothing after the pipe filled: the first check already gives up.
    assert len(checks) == 1
