"""Security of the relay's edges: refused upgrades create nothing, URIs Lean would read
differently are refused, secrets stay out of the log."""

from __future__ import annotations

import json
import logging
import os
import signal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from support import connect, connect_status, ws_url
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from jupyter_server_ext.session.uris import UriOutsideProject, confined_path

Fetch = Any
REFUSED_REQUESTS = 6  # more than max_sessions_per_user (4)


async def _sessions(jp_fetch: Fetch) -> list[dict[str, Any]]:
    return json.loads((await jp_fetch("lean", "sessions")).body)


async def _login_cookie(jp_fetch: Fetch) -> dict[str, str]:
    """The browser's credentials: the login cookie set for a token-authenticated request (a
    token is never cross-site, jupyter_server skips origin checks for it)."""
    response = await jp_fetch("lean", "health")
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        cookie.load(header)
    assert cookie, "no login cookie was set"
    return {"Cookie": "; ".join(f"{name}={morsel.coded_value}" for name, morsel in cookie.items())}


async def _raw_get(url: str, headers: dict[str, str]) -> int:
    request = HTTPRequest(url, headers=headers, connect_timeout=10, request_timeout=10)
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as exc:
        return exc.code
    return response.code


@pytest.mark.usefixtures("lean_server")
async def test_refused_upgrades_create_no_session(
    http_server_client: Any,
    jp_fetch: Fetch,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
) -> None:
    """A cross-site page holding the user's cookie gets its WebSocket refused (403) and its plain
    GET refused (400); neither may spawn Lean, or a few of them lock the owner out (429)."""
    url = ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default")
    http_url = url.replace("ws://", "http://", 1)
    cookie = await _login_cookie(jp_fetch)
    foreign = {**cookie, "Origin": "http://evil.example"}
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    for _ in range(REFUSED_REQUESTS):
        assert await connect_status(url, foreign) == 403
        assert await _raw_get(http_url, cookie) == 400
        # An upgrade without a key, or of a version Tornado does not speak.
        assert await _raw_get(http_url, {**cookie, **upgrade}) == 400
        assert (
            await _raw_get(
                http_url,
                {
                    **cookie,
                    **upgrade,
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "8",
                },
            )
            == 426
        )
    assert await _sessions(jp_fetch) == []
    # The same cookie from the server's own origin is a normal client.
    own_origin = {**cookie, "Origin": f"http://127.0.0.1:{jp_http_port}"}
    socket = await connect(url, own_origin)
    first = await socket.recv()
    assert first is not None and first["method"] == "$/jupyterLean/session"
    assert [s["id"] for s in await _sessions(jp_fetch)] == [first["params"]["id"]]
    socket.close()


@pytest.mark.usefixtures("lean_server")
async def test_tokens_in_urls_stay_out_of_warnings(
    http_server_client: Any,
    jp_fetch: Fetch,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Browsers' WebSockets authenticate with `?token=`: a 400 or 404 on a Lean route must not
    write the token into the server's log."""
    token = jp_auth_header["Authorization"].split()[-1]
    caplog.set_level(logging.DEBUG)
    for path in ("/lean/sessions/nosuchsession/lsp", "/lean/lsp"):
        url = ws_url(jp_http_port, jp_base_url, path, token=token, project="nope")
        status = await connect_status(url)
        assert status in (101, 400, 404)
        assert await _raw_get(url.replace("ws://", "http://", 1), {}) == 400
    for path in ("/lean/sessions/nosuchsession", "/lean/sessions"):
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}{path}?token={token}"
        method = "POST" if path == "/lean/sessions" else "GET"
        request = HTTPRequest(url, method=method, body="[" if method == "POST" else None)
        with pytest.raises(HTTPClientError) as refused:
            await AsyncHTTPClient().fetch(request)
        assert refused.value.code in (400, 404)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "nosuchsession" in logged  # the refusals were logged...
    assert token not in logged  # ...without the token


# -- URIs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix",
    [
        "sub?/../../etc/passwd",
        "sub#/../../etc/passwd",
        "A.lean?x=1",
        "A.lean#frag",
        "A.lean?",
    ],
)
def test_uris_with_a_query_or_fragment_are_refused(tmp_path: Path, suffix: str) -> None:
    """Lean reads `?` and `#` in a file URI as part of the path; a parser that stops there
    would check a different file than the one Lean opens."""
    project = tmp_path / "proj"
    project.mkdir()
    with pytest.raises(UriOutsideProject):
        confined_path(f"{project.as_uri()}/{suffix}", [str(project)])


def test_a_sibling_folder_sharing_the_projects_name_is_outside(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    sibling = tmp_path / "proj-other"
    project.mkdir()
    sibling.mkdir()
    inside = project / "x.lean"
    assert confined_path(inside.as_uri(), [str(project)]) == str(inside)
    # Percent-encoded `?` is an ordinary file-name character for both sides.
    assert confined_path(project.as_uri() + "/a%3Fb.lean", [str(project)]) == str(
        project / "a?b.lean"
    )
    for outside in (sibling / "x.lean", sibling):
        with pytest.raises(UriOutsideProject):
            confined_path(outside.as_uri(), [str(project)])


@pytest.mark.usefixtures("lean_server")
async def test_a_query_in_a_document_uri_never_reaches_lean(
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
) -> None:
    socket = await connect(
        ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default"), jp_auth_header
    )
    assert await socket.recv() is not None
    await socket.initialize()
    (jp_root_dir / "sub?").mkdir()
    uri = jp_root_dir.as_uri() + "/sub?/../../../etc/passwd"
    response = await socket.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
    )
    assert response["error"]["code"] == -32602
    assert "query or fragment" in response["error"]["message"]
    await socket.open_document(uri, "-- x\n")
    refused = await socket.wait_notification("window/showMessage")
    assert "query or fragment" in refused["params"]["message"]
    socket.close()


# -- documents: what one client can make the server hold and compute ------------------------

PRELUDE_DOC = "prelude\ninductive N | z | s (n : N)\n#check N.z\n"  # `#check N.z` is line 2


def _edit(line: int, start: int, end: int, text: str) -> dict[str, Any]:
    return {
        "range": {
            "start": {"line": line, "character": start},
            "end": {"line": line, "character": end},
        },
        "text": text,
    }


async def _lean_socket(port: int, base_url: str, headers: dict[str, str]) -> Any:
    socket = await connect(ws_url(port, base_url, "/lean/lsp", project="default"), headers)
    first = await socket.recv()
    assert first is not None
    socket.session_id = first["params"]["id"]
    await socket.initialize()
    return socket


async def _checked(socket: Any, uri: str, version: int) -> list[str]:
    return [d["message"].strip() for d in await socket.diagnostics_for(uri, version, 60)]


async def test_a_refused_didchange_changes_nothing(
    real_lean: Any,
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
) -> None:
    """More edits in one message than max_edits_per_message (default 1000), an edit whose range
    ends before it starts, a document grown past max_document_size (default 4 MiB): each is
    refused with a message, and neither the session's copy nor Lean's changes."""
    socket = await _lean_socket(jp_http_port, jp_base_url, jp_auth_header)
    uri = (jp_root_dir / "Capped.lean").as_uri()
    await socket.open_document(uri, PRELUDE_DOC)
    assert await _checked(socket, uri, 1) == ["N.z : N"]
    z_to_s = _edit(2, 9, 10, "s")
    refused = [
        ([z_to_s] + [_edit(0, 0, 0, "")] * 1000, "1001 edits in one message"),
        ([z_to_s, _edit(2, 5, 2, "")], "range end before range start"),
        ([z_to_s, _edit(1, 0, 0, "-- " + "x" * (4 << 20) + "\n")], "bytes per document"),
    ]
    for version, (changes, reason) in enumerate(refused, start=2):
        await socket.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )
        message = await socket.wait_notification("window/showMessage", timeout=30)
        assert reason in message["params"]["message"] and message["params"]["type"] == 1
    # The next accepted edit applies to the text as it was: `N.z`, never `N.s`.
    await socket.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 5}, "contentChanges": [_edit(2, 10, 10, " ")]},
    )
    assert await _checked(socket, uri, 5) == ["N.z : N"]
    socket.close()


async def test_edits_lean_could_place_differently_are_sent_where_the_session_placed_them(
    real_lean: Any,
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
) -> None:
    """Past the end of a line or of the text, inside a surrogate pair: the session applies the
    edit its way (clamping) and Lean gets exact positions, so both hold the same text."""
    socket = await _lean_socket(jp_http_port, jp_base_url, jp_auth_header)
    uri = (jp_root_dir / "Clamped.lean").as_uri()
    await socket.open_document(uri, "prelude\n-- 😀\ninductive N | z | s (n : N)\n")
    edits = [
        _edit(1, 4, 4, "!"),  # inside the pair of 😀 (UTF-16 columns 3-4): after it
        _edit(2, 99, 99, "\n#check N.z"),  # past the end of the line: at its end
        {
            "range": {"start": {"line": 9, "character": 0}, "end": {"line": 9, "character": 0}},
            "text": "\n#check @N.s",
        },  # past the end of the text: at its end
    ]
    for version, edit in enumerate(edits, start=2):
        await socket.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [edit]},
        )
    assert await _checked(socket, uri, 4) == ["N.z : N", "N.s : N → N"]
    socket.close()


@pytest.mark.parametrize(
    "lean_config", [{"max_user_document_bytes": 1 << 20, "max_open_documents": 3}]
)
async def test_closed_documents_and_exited_sessions_stop_counting(
    lean_server: Any,
    http_server_client: Any,
    jp_fetch: Fetch,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
    jp_serverapp: Any,
) -> None:
    """Documents count toward their owner's bytes (max_user_document_bytes, here 1 MiB) while
    open; a closed document and every document of an exited session are freed."""
    manager = jp_serverapp.web_app.settings["lean_session_manager"]
    big = "-- " + "x" * (600 << 10) + "\n"
    first = await _lean_socket(jp_http_port, jp_base_url, jp_auth_header)
    uris = [(jp_root_dir / f"Big{n}.lean").as_uri() for n in range(4)]
    await first.open_document(uris[0], big)
    await _checked(first, uris[0], 1)
    await first.open_document(uris[1], big)
    refused = await first.wait_notification("window/showMessage")
    assert "for all documents of one user" in refused["params"]["message"]
    await first.notify("textDocument/didClose", {"textDocument": {"uri": uris[0]}})
    await first.open_document(uris[1], big)
    await _checked(first, uris[1], 1)
    session = manager.sessions[first.session_id]
    assert session.documents[uris[0]].text is None  # closed: only its version numbering stays

    # max_open_documents: 3 open at once in one session.
    small = [(jp_root_dir / f"Small{n}.lean").as_uri() for n in range(3)]
    await first.open_document(small[0], "-- a\n")
    await first.open_document(small[1], "-- b\n")
    await _checked(first, small[1], 1)
    await first.open_document(small[2], "-- c\n")
    refused = await first.wait_notification("window/showMessage")
    assert "3 open documents" in refused["params"]["message"]

    # A crashed session frees everything but what its JSON shows.
    pid = session.pid
    os.kill(pid, signal.SIGKILL)
    await first.wait_closed(30)
    listed = json.loads((await jp_fetch("lean", "sessions", first.session_id)).body)
    assert listed["state"] == "exited" and listed["exit_code"] is not None
    assert session.documents == {}
    second = await _lean_socket(jp_http_port, jp_base_url, jp_auth_header)
    await second.open_document(uris[2], big)
    assert await _checked(second, uris[2], 1) is not None
    second.close()


# -- frames of many tiny values ------------------------------------------------------------


def test_a_frame_of_many_tiny_arrays_is_refused_before_it_is_built() -> None:
    """Building and checking millions of `[]` held the event loop for seconds; such a frame is
    refused from a count of its brackets alone."""
    from jupyter_server_ext.session.guard import MAX_CONTAINERS, parse_client_frame

    frame = "[" + "[]," * (MAX_CONTAINERS * 10) + "[]]"
    message, error = parse_client_frame(frame)
    assert message is None and error is not None
    assert error["error"]["code"] == -32600 and "arrays and objects" in error["error"]["message"]


def test_messages_with_many_brackets_in_their_text_or_many_edits_pass() -> None:
    from jupyter_server_ext.session.guard import MAX_CONTAINERS, parse_client_frame

    edit = {
        "range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 2}},
        "text": "a",
    }
    many_edits = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": "file:///p/a.lean", "version": 2},
                "contentChanges": [edit] * 1000,
            },
        }
    )
    source = "theorem t : [a] = {b} := ⟨(c), [d]⟩\n" * MAX_CONTAINERS
    big_text = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": "file:///p/a.lean",
                    "languageId": "lean4",
                    "version": 1,
                    "text": source,
                }
            },
        }
    )
    for frame in (many_edits, big_text):
        message, error = parse_client_frame(frame)
        assert error is None and message is not None
