"""Security of the relay's edges: refused upgrades create nothing, URIs Lean would read
differently are refused, secrets stay out of the log."""

from __future__ import annotations

import json
import logging
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
    return {"Cookie": "; ".join(f"{name}={morsel.coded_value}"
                                for name, morsel in cookie.items())}


async def _raw_get(url: str, headers: dict[str, str]) -> int:
    request = HTTPRequest(url, headers=headers, connect_timeout=10, request_timeout=10)
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as exc:
        return exc.code
    return response.code


@pytest.mark.usefixtures("lean_server")
async def test_refused_upgrades_create_no_session(
    http_server_client: Any, jp_fetch: Fetch, jp_http_port: int, jp_base_url: str,
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
        assert await _raw_get(http_url, {**cookie, **upgrade, "Sec-WebSocket-Key":
                                         "dGhlIHNhbXBsZSBub25jZQ==",
                                         "Sec-WebSocket-Version": "8"}) == 426
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
    http_server_client: Any, jp_fetch: Fetch, jp_http_port: int, jp_base_url: str,
    jp_auth_header: dict[str, str], caplog: pytest.LogCaptureFixture,
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


@pytest.mark.parametrize("suffix", [
    "sub?/../../etc/passwd",
    "sub#/../../etc/passwd",
    "A.lean?x=1",
    "A.lean#frag",
    "A.lean?",
])
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
        project / "a?b.lean")
    for outside in (sibling / "x.lean", sibling):
        with pytest.raises(UriOutsideProject):
            confined_path(outside.as_uri(), [str(project)])


@pytest.mark.usefixtures("lean_server")
async def test_a_query_in_a_document_uri_never_reaches_lean(
    http_server_client: Any, jp_http_port: int, jp_base_url: str,
    jp_auth_header: dict[str, str], jp_root_dir: Path,
) -> None:
    socket = await connect(ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default"),
                           jp_auth_header)
    assert await socket.recv() is not None
    await socket.initialize()
    (jp_root_dir / "sub?").mkdir()
    uri = jp_root_dir.as_uri() + "/sub?/../../../etc/passwd"
    response = await socket.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    assert response["error"]["code"] == -32602
    assert "query or fragment" in response["error"]["message"]
    await socket.open_document(uri, "-- x\n")
    refused = await socket.wait_notification("window/showMessage")
    assert "query or fragment" in refused["params"]["message"]
    socket.close()
