"""LSP over WebSocket: relay, resume, limits on frames, close codes, URI confinement."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from support import LspSocket, connect_status, process_alive, ws_url
from tornado.httpclient import HTTPClientError

Fetch = Any


async def _new_session(open_socket: Any) -> tuple[LspSocket, str]:
    socket = await open_socket()
    first = await socket.recv()
    assert first is not None and first["method"] == "$/jupyterLean/session"
    return socket, first["params"]["id"]


async def _session_json(jp_fetch: Fetch, session_id: str) -> dict[str, Any]:
    return json.loads((await jp_fetch("lean", "sessions", session_id)).body)


def _doc_uri(root: Path, name: str = "Test.lean") -> str:
    return (root / name).as_uri()


async def test_lean_lsp_creates_a_session_and_relays_both_ways(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    socket, session_id = await _new_session(open_socket)
    assert (await _session_json(jp_fetch, session_id))["connected"] is True

    init = await socket.initialize()
    assert init["result"]["capabilities"]["textDocumentSync"]["change"] == 2
    assert init["id"] == socket.next_id, "the client's own request id comes back"

    uri = _doc_uri(jp_root_dir)
    await socket.open_document(uri, "def x := 20\n#eval x + 22\n")
    diagnostics = await socket.diagnostics_for(uri, 1)
    assert [d["message"].strip() for d in diagnostics] == ["42"]
    assert diagnostics[0]["range"]["start"]["line"] == 1


async def test_server_requests_reach_the_attached_client(open_socket: Any) -> None:
    socket, _ = await _new_session(open_socket)
    await socket.initialize()
    # Lean asks the client to register a file watcher right after `initialized`.
    request = await socket.wait_server_request("client/registerCapability")
    await socket.send({"jsonrpc": "2.0", "id": request["id"], "result": None})


async def test_attach_to_existing_session_by_id(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    created = json.loads((await jp_fetch("lean", "sessions", method="POST", body="{}")).body)
    socket = await open_socket(f"/lean/sessions/{created['id']}/lsp")
    init = await socket.initialize()
    assert "capabilities" in init["result"]
    uri = _doc_uri(jp_root_dir)
    await socket.open_document(uri, "#eval 6 * 7\n")
    assert [d["message"].strip() for d in await socket.diagnostics_for(uri, 1)] == ["42"]


async def test_unknown_session_closes_with_4404(open_socket: Any) -> None:
    socket = await open_socket("/lean/sessions/doesnotexist/lsp")
    assert (await socket.wait_closed())[0] == 4404


async def test_malformed_frames_get_errors_and_the_connection_stays(
    open_socket: Any, jp_root_dir: Path
) -> None:
    socket, _ = await _new_session(open_socket)
    await socket.initialize()
    for frame, reply_id, code in [
        ("this is not json", None, -32700),
        ('{"jsonrpc": "2.0", "id": 5}', 5, -32600),
        ('{"id": 6, "method": "textDocument/hover"}', 6, -32600),
        ("[]", None, -32600),
        (b"\xff\xfe binary garbage", None, -32700),
    ]:
        await socket.send(frame)
        reply = await socket.response(reply_id)
        assert reply["error"]["code"] == code, (frame, reply)
    uri = _doc_uri(jp_root_dir)
    await socket.open_document(uri, "#eval 1 + 1\n")
    assert [d["message"].strip() for d in await socket.diagnostics_for(uri, 1)] == ["2"]


class TestFrameLimit:
    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        return {"max_message_size": 4096}

    async def test_oversized_frame_closes_1009_and_session_survives(
        self, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
    ) -> None:
        socket, session_id = await _new_session(open_socket)
        await socket.initialize()
        pid = (await _session_json(jp_fetch, session_id))["pid"]
        await socket.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": _doc_uri(jp_root_dir),
                    "languageId": "lean4",
                    "version": 1,
                    "text": "-- " + "x" * 10000,
                }
            },
        )
        assert (await socket.wait_closed())[0] == 1009

        again = await open_socket(f"/lean/sessions/{session_id}/lsp")
        await again.initialize()
        uri = _doc_uri(jp_root_dir, "Other.lean")
        await again.open_document(uri, "#eval 2 + 3\n")
        assert [d["message"].strip() for d in await again.diagnostics_for(uri, 1)] == ["5"]
        assert (await _session_json(jp_fetch, session_id))["pid"] == pid


async def test_uris_outside_the_project_are_refused_before_lean(
    open_socket: Any, jp_root_dir: Path, tmp_path: Path
) -> None:
    socket, _ = await _new_session(open_socket)
    await socket.initialize()
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (jp_root_dir / "escape").symlink_to(outside)
    # A sibling folder whose name starts with the project's: inside by a string prefix test.
    sibling = jp_root_dir.parent / f"{jp_root_dir.name}-other"
    sibling.mkdir(exist_ok=True)
    (sibling / "x.lean").write_text("#eval 1\n")
    refused = [
        "file:///etc/passwd",
        (jp_root_dir / ".." / "x.lean").as_uri(),
        f"{jp_root_dir.as_uri()}/../../etc/passwd",
        (jp_root_dir / "escape/x.lean").as_uri(),  # a symlink leading out
        "untitled:Untitled-1",
        "file://otherhost/x.lean",
        (sibling / "x.lean").as_uri(),
        f"{jp_root_dir.as_uri()}-other/x.lean",
        # Lean reads `?` and `#` as part of the path, a URI parser as its end.
        f"{jp_root_dir.as_uri()}/ok.lean?x=1",
        f"{jp_root_dir.as_uri()}/ok.lean#top",
    ]
    for uri in refused:
        reply = await socket.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
        )
        assert reply["error"]["code"] == -32602, (uri, reply)
        assert "Refused" in reply["error"]["message"]
        await socket.open_document(uri, "#eval 1")
        refusal = await socket.wait_notification("window/showMessage")
        assert "Refused" in refusal["params"]["message"]
    # Inside the project works.
    inside = _doc_uri(jp_root_dir, "sub/ok.lean")
    await socket.open_document(inside, "#eval 3 + 4\n")
    assert [d["message"].strip() for d in await socket.diagnostics_for(inside, 1)] == ["7"]


async def test_resume_after_disconnect_keeps_lean_and_resends_diagnostics(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    socket, session_id = await _new_session(open_socket)
    first_init = await socket.initialize()
    uri = _doc_uri(jp_root_dir)
    text = "def a := 5\n#eval a * 2\n#eval b\n"
    await socket.open_document(uri, text, version=1)
    await socket.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {
                    "range": {
                        "start": {"line": 0, "character": 9},
                        "end": {"line": 0, "character": 10},
                    },
                    "text": "6",
                }
            ],
        },
    )
    before = await socket.diagnostics_for(uri, 2)
    assert sorted(d["message"].strip() for d in before) == ["12", "unknown identifier 'b'"]
    pid = (await _session_json(jp_fetch, session_id))["pid"]
    socket.close()
    await socket.wait_closed()

    detached = await _session_json(jp_fetch, session_id)
    assert detached["connected"] is False and detached["state"] == "ready"

    # A fresh client (page reload) counts versions from 1 again and resends everything.
    again = await open_socket(f"/lean/sessions/{session_id}/lsp")
    second_init = await again.initialize()
    assert second_init["result"] == first_init["result"]
    await again.open_document(uri, text.replace("5", "6"), version=1)
    resent = await again.wait_notification(
        "textDocument/publishDiagnostics", lambda m: m["params"]["uri"] == uri
    )
    assert resent["params"]["version"] == 1
    assert sorted(d["message"].strip() for d in resent["params"]["diagnostics"]) == [
        "12",
        "unknown identifier 'b'",
    ]
    # Editing continues with the client's own numbering.
    await again.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {
                    "range": {
                        "start": {"line": 2, "character": 6},
                        "end": {"line": 2, "character": 7},
                    },
                    "text": "a",
                }
            ],
        },
    )
    after = await again.diagnostics_for(uri, 2)
    assert sorted(d["message"].strip() for d in after) == ["12", "6"]
    assert (await _session_json(jp_fetch, session_id))["pid"] == pid, "Lean was not restarted"


async def test_resume_with_changed_text_reelaborates(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    socket, session_id = await _new_session(open_socket)
    await socket.initialize()
    uri = _doc_uri(jp_root_dir)
    for version in range(1, 4):
        if version == 1:
            await socket.open_document(uri, "#eval 1\n")
        else:
            await socket.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": f"#eval {version}\n"}],
                },
            )
    await socket.diagnostics_for(uri, 3)
    socket.close()
    await socket.wait_closed()
    again = await open_socket(f"/lean/sessions/{session_id}/lsp")
    await again.initialize()
    await again.open_document(uri, "#eval 100 + 1\n", version=1)
    assert [d["message"].strip() for d in await again.diagnostics_for(uri, 1)] == ["101"]


async def test_newer_client_replaces_older_with_4409(open_socket: Any) -> None:
    socket, session_id = await _new_session(open_socket)
    await socket.initialize()
    newer = await open_socket(f"/lean/sessions/{session_id}/lsp")
    assert (await socket.wait_closed())[0] == 4409
    init = await newer.initialize()
    assert "capabilities" in init["result"]


async def test_client_shutdown_and_exit_leave_the_same_lean_answering(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    """The Lean server belongs to the session, not to one client: a client's `shutdown` is
    answered and its `exit` ignored. Lean exits only some time after an `exit` reaches it, so
    the proof is a request answered afterwards, by the same process."""
    socket, session_id = await _new_session(open_socket)
    await socket.initialize()
    uri = _doc_uri(jp_root_dir)
    await socket.open_document(uri, "def answer := 42\n#eval answer\n")
    assert [d["message"].strip() for d in await socket.diagnostics_for(uri, 1)] == ["42"]
    pid = (await _session_json(jp_fetch, session_id))["pid"]
    assert (await socket.request("shutdown", None))["result"] is None
    await socket.notify("exit", {})
    hover = await socket.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 7}},
    )
    assert "result" in hover, f"Lean did not answer after the client's exit: {hover}"
    assert "answer : Nat" in hover["result"]["contents"]["value"], hover
    session = await _session_json(jp_fetch, session_id)
    assert session["state"] == "ready" and session["pid"] == pid and process_alive(pid)
    # A client that comes back later finds the same Lean too.
    socket.close()
    await socket.wait_closed()
    again = await open_socket(f"/lean/sessions/{session_id}/lsp")
    await again.initialize()
    await again.open_document(uri, "def answer := 42\n#eval answer + 1\n")
    assert [d["message"].strip() for d in await again.diagnostics_for(uri, 1)] == ["43"]
    assert (await _session_json(jp_fetch, session_id))["pid"] == pid


async def test_requests_before_initialize_are_refused(open_socket: Any) -> None:
    socket, _ = await _new_session(open_socket)
    reply = await socket.request(
        "textDocument/hover",
        {"textDocument": {"uri": "file:///x"}, "position": {"line": 0, "character": 0}},
    )
    assert reply["error"]["code"] == -32002


async def test_deleting_an_attached_session_closes_4410(open_socket: Any, jp_fetch: Fetch) -> None:
    socket, session_id = await _new_session(open_socket)
    await socket.initialize()
    await jp_fetch("lean", "sessions", session_id, method="DELETE")
    assert (await socket.wait_closed())[0] == 4410


@pytest.mark.usefixtures("standin_only")
async def test_crash_is_reported_to_client_and_in_session_json(
    open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    socket, session_id = await _new_session(open_socket)
    await socket.initialize()
    await socket.open_document(_doc_uri(jp_root_dir), "#eval 1\n-- standin: exit 3\n")
    exited = await socket.wait_notification("$/jupyterLean/exited")
    assert exited["params"]["code"] == 3
    code, reason = await socket.wait_closed()
    assert code == 4410 and "code 3" in (reason or "")
    session = await _session_json(jp_fetch, session_id)
    assert session["state"] == "exited" and session["exit_code"] == 3
    assert "Watchdog error" in session["exit_reason"]


@pytest.mark.usefixtures("standin_only")
async def test_crash_fails_pending_requests(open_socket: Any, jp_root_dir: Path) -> None:
    socket, _ = await _new_session(open_socket)
    await socket.initialize()
    uri = _doc_uri(jp_root_dir)
    await socket.open_document(uri, "#eval 1\n-- standin: delay 1\n-- standin: exit 9\n")
    reply = await socket.request("textDocument/waitForDiagnostics", {"uri": uri, "version": 1})
    assert reply["error"]["code"] == -32099
    assert "code 9" in reply["error"]["message"]


class TestCulling:
    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        return {"idle_timeout": 0.5, "cull_interval": 0.1}

    async def test_idle_attached_client_is_closed_4410_and_session_removed(
        self, open_socket: Any, jp_fetch: Fetch
    ) -> None:
        socket, session_id = await _new_session(open_socket)
        await socket.initialize()
        code, reason = await socket.wait_closed(timeout=10)
        assert code == 4410 and "idle" in (reason or "")
        with pytest.raises(HTTPClientError) as error:
            await jp_fetch("lean", "sessions", session_id)
        assert error.value.code == 404


IDLE_TIMEOUT = 1.5


class TestActivity:
    """What keeps a session from the idle culler: its client's messages, and nothing else (the
    design's rule: `idle_timeout` is "seconds without client activity"; a Lean still reporting
    on a file nobody looks at is not a user)."""

    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        return {"idle_timeout": IDLE_TIMEOUT, "cull_interval": 0.1}

    async def test_a_client_sending_requests_keeps_its_session_past_idle_timeout(
        self, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
    ) -> None:
        socket, session_id = await _new_session(open_socket)
        await socket.initialize()
        uri = _doc_uri(jp_root_dir)
        await socket.open_document(uri, "def answer := 42\n")
        await socket.diagnostics_for(uri, 1)
        pid = (await _session_json(jp_fetch, session_id))["pid"]
        loop = asyncio.get_running_loop()
        active_until = loop.time() + 3 * IDLE_TIMEOUT
        asked = 0
        while loop.time() < active_until:
            reply = await socket.request(
                "textDocument/hover",
                {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}},
            )
            assert "answer : Nat" in reply["result"]["contents"]["value"], reply
            asked += 1
            await asyncio.sleep(IDLE_TIMEOUT / 6)  # a user's pace, well within idle_timeout
        session = await _session_json(jp_fetch, session_id)
        assert session["pid"] == pid and session["connected"] is True, (asked, session)
        # The control: the same session, once its client falls silent, is culled.
        code, reason = await socket.wait_closed(timeout=IDLE_TIMEOUT + 10)
        assert code == 4410 and "idle" in (reason or "")

    @pytest.mark.usefixtures("standin_only")
    async def test_lean_reporting_alone_does_not_keep_a_session(
        self, open_socket: Any, jp_root_dir: Path
    ) -> None:
        socket, _ = await _new_session(open_socket)
        await socket.initialize()
        uri = _doc_uri(jp_root_dir)
        # Thirty steps of 0.3 s: Lean reports progress and diagnostics for about 9 s.
        steps = "".join(f"#eval {n}\n-- standin: delay 0.3\n" for n in range(30))
        loop = asyncio.get_running_loop()
        await socket.open_document(uri, steps)  # the client's last message
        last_sent = loop.time()
        reports_after_idle = 0
        evaluated: set[str] = set()
        while (message := await socket.recv(timeout=IDLE_TIMEOUT + 20)) is not None:
            if message.get("method") not in (
                "$/lean/fileProgress",
                "textDocument/publishDiagnostics",
            ):
                continue
            if loop.time() - last_sent > IDLE_TIMEOUT:
                reports_after_idle += 1
            for diagnostic in message["params"].get("diagnostics", []):
                evaluated.add(diagnostic["message"].strip())
        assert socket.close_code == 4410 and "idle" in (socket.close_reason or "")
        assert reports_after_idle >= 1, "Lean stopped reporting before idle_timeout"
        assert "29" not in evaluated, "the session lived until Lean was done reporting"


@pytest.mark.parametrize("path", ["/lean/lsp", "/lean/sessions/abc/lsp"])
async def test_websocket_without_token_is_403_before_upgrade(
    jp_http_port: int, jp_base_url: str, jp_fetch: Fetch, path: str
) -> None:
    status = await connect_status(ws_url(jp_http_port, jp_base_url, path, project="default"))
    assert status == 403
    assert json.loads((await jp_fetch("lean", "sessions")).body) == []


async def test_websocket_unknown_project_is_refused_before_upgrade(
    http_server_client: Any, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> None:
    status = await connect_status(
        ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="nope"), jp_auth_header
    )
    assert status == 400
