"""The sessions console's server side, on the real Lean with the default settings: the page,
admin rights over every user's sessions (``?all=1``), and the live traffic of a session."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from admin_identities import admin_config
from support import LspSocket, connect, connect_status, process_alive, ws_url
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

Fetch = Any
pytestmark = pytest.mark.timeout(120)

DOCUMENT = """prelude
inductive N where
  | z : N
  | s : N → N
#check N.s
"""


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config["ServerApp"].update(admin_config())
    return jp_server_config


def _as(user: str) -> dict[str, str]:
    return {"X-Test-User": user, "Authorization": ""}


async def _call(
    jp_fetch: Fetch,
    *path: str,
    user: str,
    method: str = "GET",
    body: str | None = None,
    **params: str,
) -> tuple[int, Any]:
    try:
        response = await jp_fetch(*path, method=method, body=body, headers=_as(user), params=params)
    except HTTPClientError as exc:
        return exc.code, None
    text = response.body.decode()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.code, json.loads(text) if text else None
    return response.code, text


async def _session_of(jp_fetch: Fetch, user: str) -> dict[str, Any]:
    status, session = await _call(jp_fetch, "lean", "sessions", user=user, method="POST", body="{}")
    assert status == 201, session
    return session  # type: ignore[no-any-return]


async def test_admins_list_and_end_every_users_sessions(real_lean: Any, jp_fetch: Fetch) -> None:
    alice = await _session_of(jp_fetch, "alice")
    bob = await _session_of(jp_fetch, "bob")

    status, every = await _call(jp_fetch, "lean", "sessions", user="admin-ann", all="1")
    assert status == 200
    assert {(s["id"], s["owner"]) for s in every} >= {(alice["id"], "alice"), (bob["id"], "bob")}
    # Without ?all=1 an admin sees their own sessions, like everyone.
    assert (await _call(jp_fetch, "lean", "sessions", user="admin-ann"))[1] == []

    # Others: ?all=1 is refused, and another user's session is a 404 as before.
    assert (await _call(jp_fetch, "lean", "sessions", user="bob", all="1"))[0] == 403
    assert (await _call(jp_fetch, "lean", "sessions", alice["id"], user="bob"))[0] == 404
    assert (await _call(jp_fetch, "lean", "sessions", alice["id"], user="bob", all="1"))[0] == 403
    for query in ({}, {"all": "1"}):
        status, _ = await _call(
            jp_fetch, "lean", "sessions", alice["id"], user="bob", method="DELETE", **query
        )
        assert status in (403, 404)
    assert (await _call(jp_fetch, "lean", "sessions", alice["id"], user="alice"))[0] == 200

    # An admin ends alice's session only when asking with ?all=1.
    assert (
        await _call(jp_fetch, "lean", "sessions", alice["id"], user="admin-ann", method="DELETE")
    )[0] == 404
    status, seen = await _call(jp_fetch, "lean", "sessions", alice["id"], user="admin-ann", all="1")
    assert status == 200 and seen["owner"] == "alice" and seen["pid"]
    assert (
        await _call(
            jp_fetch, "lean", "sessions", alice["id"], user="admin-ann", method="DELETE", all="1"
        )
    )[0] == 204
    assert not process_alive(seen["pid"])
    assert (await _call(jp_fetch, "lean", "sessions", user="alice"))[1] == []
    assert (await _call(jp_fetch, "lean", "sessions", user="bob"))[1][0]["id"] == bob["id"]


def _config_of(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="jupyter-lean-console-config">'
        r"(.*?)</script>",
        page,
        re.S,
    )
    assert found is not None, page[:500]
    return json.loads(found[1])  # type: ignore[no-any-return]


async def test_console_page_knows_who_is_asking(real_lean: Any, jp_fetch: Fetch) -> None:
    status, page = await _call(jp_fetch, "lean", "console", user="alice")
    assert status == 200 and "<title>Lean Sessions</title>" in page
    config = _config_of(page)
    assert (config["user"], config["admin"], config["canEndAll"]) == ("alice", False, False)
    assert config["xsrfToken"]
    assert _config_of((await _call(jp_fetch, "lean", "console", user="admin-ann"))[1])["admin"]

    script = re.search(r'<script defer src="([^"]+)"', page)
    assert script is not None
    assert "lean/console/static/console.js" in script[1]
    status, code = await _call(jp_fetch, "lean", "console", "static", "console.js", user="bob")
    assert status == 200 and "jupyter-lean-console-config" in code

    # A name is text in the page's JSON island: it cannot close the script element.
    hostile = "eve</script><img src=x onerror=alert(1)>"
    status, page = await _call(jp_fetch, "lean", "console", user=hostile)
    assert status == 200 and "<img" not in page
    assert _config_of(page)["user"] == hostile


@pytest.mark.parametrize("path", [("lean", "console"), ("lean", "console", "static", "console.js")])
async def test_console_needs_authentication_and_authorization(
    real_lean: Any, jp_fetch: Fetch, path: tuple[str, ...]
) -> None:
    assert (await _call(jp_fetch, *path, user="nolean-eve"))[0] == 403
    try:
        response = await jp_fetch(*path, headers={"Authorization": ""}, follow_redirects=False)
    except HTTPClientError as exc:
        assert exc.code in (302, 403)
    else:
        raise AssertionError(f"served without authentication: {response.code}")


async def _recv_trace(socket: LspSocket, want: Any, timeout: float = 30) -> list[dict[str, Any]]:
    """Trace frames until one for which ``want`` is true (all of them, that one last)."""
    frames = []
    while True:
        frame = await socket.recv(timeout)
        assert frame is not None, f"trace closed ({socket.close_code}): {socket.close_reason}"
        frames.append(frame)
        if want(frame):
            return frames


def _message(frame: dict[str, Any]) -> dict[str, Any]:
    return frame.get("message") or {}


async def test_trace_shows_a_sessions_traffic_to_its_owner_and_admins(
    real_lean: Any, jp_fetch: Fetch, jp_http_port: int, jp_base_url: str, jp_root_dir: Path
) -> None:
    session = await _session_of(jp_fetch, "alice")
    trace_path = f"/lean/sessions/{session['id']}/trace"

    def url(user: str, **query: str) -> str:
        return ws_url(jp_http_port, jp_base_url, trace_path, test_user=user, **query)

    owner = await connect(url("alice"))
    admin = await connect(url("admin-ann", all="1"))
    for watcher in (owner, admin):
        hello = await watcher.recv()
        assert hello is not None and hello["event"] == "watching"
        assert hello["session"]["id"] == session["id"]
    # Others: 403 before the upgrade with ?all=1, else "no such session".
    assert await connect_status(url("bob", all="1")) == 403
    assert await connect_status(url("nolean-eve")) == 403
    stranger = await connect(url("bob"))
    assert (await stranger.wait_closed())[0] == 4404

    client = await connect(
        ws_url(jp_http_port, jp_base_url, f"/lean/sessions/{session['id']}/lsp", test_user="alice")
    )
    await client.initialize()
    uri = (jp_root_dir / "Traced.lean").as_uri()
    await client.open_document(uri, DOCUMENT)
    hover = await client.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 8}},
        timeout=60,
    )
    assert "N.s : N → N" in hover["result"]["contents"]["value"]

    for watcher in (owner, admin):
        frames = await _recv_trace(
            watcher,
            lambda f: (
                f.get("dir") == "out"
                and _message(f).get("id") == hover["id"]
                and "result" in _message(f)
            ),
        )
        assert frames[0]["event"] == "attached"
        sent = [(f["dir"], _message(f).get("method")) for f in frames if "dir" in f]
        assert ("in", "initialize") in sent and ("in", "textDocument/didOpen") in sent
        assert ("in", "textDocument/hover") in sent
        assert _message(frames[-1]) == hover, "the client's exact answer"
        request = next(f for f in frames if _message(f).get("method") == "textDocument/hover")
        assert request["t"] <= frames[-1]["t"] and request["seq"] < frames[-1]["seq"]

    client.close()
    assert (await _recv_trace(owner, lambda f: "event" in f))[-1]["event"] == "detached"
    await _call(jp_fetch, "lean", "sessions", session["id"], user="alice", method="DELETE")
    ended = await _recv_trace(admin, lambda f: f.get("event") == "exited")
    assert ended[-1]["reason"] == "deleted"
    for watcher in (owner, admin):
        assert (await watcher.wait_closed())[0] == 4410
