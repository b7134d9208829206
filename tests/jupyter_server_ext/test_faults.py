"""Faults of Lean and of clients: a killed Lean, a hung Lean, a Lean that stops reading, a client
that stops reading. Each test shows what a user sees, and that nothing else is held up.

Timing knobs of the session layer (stall and backpressure thresholds) are module constants of
``jupyter_server_ext.session.flow``; tests shorten them with monkeypatch, which works because
the Jupyter server runs in the test's own process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from support import LspSocket, slowest_round_trip, time_limit

from jupyter_server_ext.session import flow

Fetch = Any
MiB = 1 << 20


async def _new_session(open_socket: Any) -> tuple[LspSocket, str]:
    socket = await open_socket()
    first = await socket.recv()
    assert first is not None and first["method"] == "$/jupyterLean/session"
    await socket.initialize()
    return socket, first["params"]["id"]


async def _session_json(jp_fetch: Fetch, session_id: str) -> dict[str, Any]:
    return json.loads((await jp_fetch("lean", "sessions", session_id)).body)


def _uri(root: Path, name: str = "Test.lean") -> str:
    return (root / name).as_uri()


def _hover(uri: str, line: int = 0, character: int = 0) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def _reaped(pid: int) -> bool:
    """No process, or not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return True


def _session_of(jp_serverapp: Any, session_id: str) -> Any:
    return jp_serverapp.web_app.settings["lean_session_manager"].sessions[session_id]


async def _until(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` (server-internal state that no event announces) with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


# -- Lean killed ---------------------------------------------------------------------------


@pytest.mark.usefixtures("standin_only")
async def test_lean_killed_mid_request_fails_requests_at_once_and_says_why(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    socket, session_id = await _new_session(open_socket)
    uri = _uri(jp_root_dir)
    # The hover waits for the command after the delay: it is pending when Lean dies.
    await socket.open_document(uri, "#eval 1\n-- standin: delay 30\n#eval 2\n")
    socket.next_id += 1
    hover_id = socket.next_id
    await socket.send(
        {
            "jsonrpc": "2.0",
            "id": hover_id,
            "method": "textDocument/hover",
            "params": _hover(uri, line=2, character=6),
        }
    )
    await socket.wait_notification(
        "$/lean/fileProgress",
        lambda m: (
            m["params"]["processing"]
            and m["params"]["processing"][0]["range"]["start"]["line"] == 1
        ),
    )
    pid = (await _session_json(jp_fetch, session_id))["pid"]
    pace = await slowest_round_trip(lambda: jp_fetch("lean", "sessions", session_id))

    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    os.kill(pid, signal.SIGKILL)
    reply = await socket.response(hover_id, timeout=30)
    # Otherwise it would wait for the 30 s delay, or request_timeout (300 s).
    waited = loop.time() - killed_at
    assert waited < time_limit(1.0, pace), f"the pending request waited {waited:.2f} s"
    assert reply["error"]["code"] == -32099 and "SIGKILL" in reply["error"]["message"]
    exited = await socket.wait_notification("$/jupyterLean/exited", timeout=5)
    assert exited["params"]["code"] == -9
    code, reason = await socket.wait_closed(timeout=5)
    assert code == 4410 and "killed by SIGKILL" in (reason or "")

    session = await _session_json(jp_fetch, session_id)
    assert session["state"] == "exited" and session["exit_code"] == -9
    assert "killed by SIGKILL" in session["exit_reason"]
    assert _reaped(pid), "the killed Lean is a zombie"


# -- Lean hung -----------------------------------------------------------------------------


class TestHungLean:
    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        return {"request_timeout": 1.0}

    @pytest.mark.usefixtures("standin_only")
    async def test_requests_to_a_hung_lean_time_out_but_barriers_do_not(
        self, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
    ) -> None:
        socket, session_id = await _new_session(open_socket)
        pace = await slowest_round_trip(lambda: jp_fetch("lean", "sessions", session_id))
        uri = _uri(jp_root_dir)
        # Requests about line 2 wait for elaboration past the hang: they stay pending even if
        # the stand-in reads them before it hangs.
        await socket.open_document(uri, "#eval 1\n-- standin: hang\n#eval 2\n")
        # waitForDiagnostics is a barrier that may legitimately take minutes: no timeout.
        socket.next_id += 1
        barrier_id = socket.next_id
        await socket.send(
            {
                "jsonrpc": "2.0",
                "id": barrier_id,
                "method": "textDocument/waitForDiagnostics",
                "params": {"uri": uri, "version": 1},
            }
        )
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        socket.next_id += 1
        hover_id = socket.next_id
        await socket.send(
            {
                "jsonrpc": "2.0",
                "id": hover_id,
                "method": "textDocument/hover",
                "params": _hover(uri, line=2),
            }
        )
        answered: list[Any] = []
        while not answered or answered[-1] != hover_id:
            message = await socket.recv(timeout=5)
            assert message is not None
            if "method" not in message:
                answered.append(message["id"])
                reply = message
        assert reply["error"]["code"] == -32098, reply
        assert "within 1 s" in reply["error"]["message"]
        # Not before request_timeout (1 s); after it, about as soon as the machine allows.
        assert 0.9 < loop.time() - sent_at < 1.0 + time_limit(1.5, pace)
        # The barrier, sent first, would have timed out first: it is still waiting.
        assert barrier_id not in answered
        # Every later request times out too, instead of queueing for ever.
        again = await socket.request("textDocument/completion", _hover(uri, line=2), timeout=5)
        assert again["error"]["code"] == -32098


STDIN_PAUSE = 256 * 1024


class TestLeanStopsReading:
    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        # The other session asks as fast as it is answered until the stuck Lean is ended: on a
        # busy machine that took 3.8 s and 1,760 hovers, past the default rate limit (1,000 at
        # once, 200 a second), whose refusal is not what this test is about.
        return {"rate_limit": 0}

    @pytest.fixture(autouse=True)
    def short_stall(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(flow, "STDIN_STALL_SECONDS", 2.0)
        monkeypatch.setattr(flow, "STDIN_PAUSE_BYTES", STDIN_PAUSE)

    @pytest.mark.usefixtures("standin_only")
    async def test_flooding_a_stuck_lean_is_bounded_and_ends_it_while_others_are_served(
        self, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path, jp_serverapp: Any
    ) -> None:
        other, _ = await _new_session(open_socket)
        other_uri = _uri(jp_root_dir, "Other.lean")
        await other.open_document(other_uri, "def x := 5\n#eval x\n")
        assert [d["message"].strip() for d in await other.diagnostics_for(other_uri, 1)] == ["5"]

        # How long a hover takes on this machine right now, with nothing else going on.
        pace = await slowest_round_trip(
            lambda: other.request("textDocument/hover", _hover(other_uri, 1, 6)), samples=10
        )

        stuck, stuck_id = await _new_session(open_socket)
        uri = _uri(jp_root_dir)
        await stuck.open_document(uri, "-- standin: hang\n")
        session = _session_of(jp_serverapp, stuck_id)
        # 20 MB of notifications Lean would ignore (an edit could reach the stand-in before it
        # hangs, and replace the document that makes it hang).
        flood = [
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "$/test/flood",
                    "params": {"n": n, "data": "z" * (100 * 1024)},
                }
            )
            for n in range(200)
        ]

        async def flood_it() -> None:
            for frame in flood:  # as fast as the socket takes them: no awaiting the server
                stuck.conn.write_message(frame)

        loop = asyncio.get_running_loop()
        started = loop.time()
        flooding = asyncio.create_task(flood_it())
        # Meanwhile: the other session answers promptly, and so does plain HTTP.
        worst = 0.0
        backlog = 0
        while session.state.value != "exited":
            asked = loop.time()
            reply = await other.request("textDocument/hover", _hover(other_uri, 1, 6))
            assert "result" in reply, reply
            assert reply["result"]["contents"]["value"].startswith("```lean\nx : Nat")
            await jp_fetch("lean", "health")
            worst = max(worst, loop.time() - asked)
            backlog = max(backlog, session.input_backlog())
            assert loop.time() - started < time_limit(20, pace), "the stuck Lean was never ended"
        await flooding
        assert worst < time_limit(0.5, pace), (
            f"the event loop stalled for {worst:.2f} s (a hover took {pace:.3f} s before)"
        )
        # Backpressure held the flood back: the server never queued more than the pause
        # threshold plus one frame for Lean, not the 20 MB sent.
        assert backlog <= STDIN_PAUSE + len(flood[0]), backlog

        code, reason = await stuck.wait_closed(timeout=10)
        assert code == 4410 and "stopped reading" in (reason or "")
        state = await _session_json(jp_fetch, stuck_id)
        assert state["state"] == "exited" and "stopped reading its input" in state["exit_reason"]
        assert _reaped(state["pid"])


# -- a client that stops reading -----------------------------------------------------------

FLOOD = 50_000  # fileProgress notifications of ~190 bytes: ~9.5 MB, more than socket buffers


CLIENT_PAUSE = 64 * 1024


class TestSlowClient:
    @pytest.fixture(autouse=True)
    def small_buffers(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(flow, "CLIENT_PAUSE_BYTES", CLIENT_PAUSE)

    @pytest.mark.usefixtures("standin_only")
    async def test_a_client_that_does_not_read_pauses_lean_and_loses_nothing(
        self, open_socket: Any, jp_root_dir: Path, jp_serverapp: Any
    ) -> None:
        socket, session_id = await _new_session(open_socket)
        session = _session_of(jp_serverapp, session_id)
        handler = session._client
        uri = _uri(jp_root_dir)
        await socket.open_document(uri, f"#eval 1\n-- standin: flood {FLOOD}\n#eval 2\n")
        # Not reading: Tornado's client stops taking frames off the socket when nobody asks.
        await _until(lambda: session.reading_paused, 30, "reading from Lean paused")
        assert handler.backlog() <= CLIENT_PAUSE + 1024, handler.backlog()

        # Reading now: every flood message arrives, and the end of processing after them all.
        flood_progress = 0
        while True:
            message = await socket.recv(timeout=30)
            assert message is not None
            if message.get("method") == "$/lean/fileProgress":
                processing = message["params"]["processing"]
                if not processing:
                    break
                if processing[0]["range"]["start"]["line"] == 1:
                    flood_progress += 1
        assert flood_progress == FLOOD, "messages were lost or reordered"
        assert sorted(d["message"].strip() for d in await socket.diagnostics_for(uri, 1)) == [
            "1",
            "2",
        ]

    @pytest.mark.usefixtures("standin_only")
    async def test_a_client_that_never_reads_is_closed_4408_and_can_resume(
        self,
        open_socket: Any,
        jp_fetch: Fetch,
        jp_root_dir: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(flow, "CLIENT_STALL_SECONDS", 1.0)
        socket, session_id = await _new_session(open_socket)
        uri = _uri(jp_root_dir)
        await socket.open_document(uri, f"#eval 1\n-- standin: flood {FLOOD}\n#eval 2\n")

        async def detached() -> bool:
            return not (await _session_json(jp_fetch, session_id))["connected"]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await detached():  # the user-visible state, polled: nothing announces it
            assert loop.time() < deadline, "the stalled client was never let go"
            await asyncio.sleep(0.1)
        code, reason = await socket.wait_closed(timeout=20)
        assert code == 4408 and "too slow" in (reason or "")

        state = await _session_json(jp_fetch, session_id)
        assert state["state"] == "ready"
        again = await open_socket(f"/lean/sessions/{session_id}/lsp")
        await again.initialize()
        await again.open_document(uri, f"#eval 1\n-- standin: flood {FLOOD}\n#eval 2\n")
        assert sorted(
            d["message"].strip() for d in await again.diagnostics_for(uri, 1, timeout=30)
        ) == ["1", "2"]
