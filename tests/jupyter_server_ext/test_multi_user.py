"""Several identities on one server: each sees only their own sessions; the authorizer rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from identities import multi_user_config
from support import connect, connect_status, ws_url
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

Fetch = Any


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config["ServerApp"].update(multi_user_config())
    return jp_server_config


def _as(user: str) -> dict[str, str]:
    return {"X-Test-User": user, "Authorization": ""}


async def _status(
    jp_fetch: Fetch, *path: str, user: str, method: str = "GET", body: str | None = None
) -> tuple[int, Any]:
    try:
        response = await jp_fetch(*path, method=method, body=body, headers=_as(user))
    except HTTPClientError as exc:
        return exc.code, None
    return response.code, json.loads(response.body) if response.body else None


async def test_users_see_only_their_own_sessions(jp_fetch: Fetch) -> None:
    status, alice_session = await _status(
        jp_fetch, "lean", "sessions", user="alice", method="POST", body="{}"
    )
    assert status == 201 and alice_session["owner"] == "alice"
    session_id = alice_session["id"]

    assert (await _status(jp_fetch, "lean", "sessions", user="bob"))[1] == []
    assert (await _status(jp_fetch, "lean", "sessions", session_id, user="bob"))[0] == 404
    assert (await _status(jp_fetch, "lean", "sessions", session_id, user="bob", method="DELETE"))[
        0
    ] == 404
    assert (await _status(jp_fetch, "lean", "sessions", session_id, user="alice"))[0] == 200


async def test_other_users_session_socket_is_4404(
    jp_fetch: Fetch, jp_http_port: int, jp_base_url: str
) -> None:
    _, alice_session = await _status(
        jp_fetch, "lean", "sessions", user="alice", method="POST", body="{}"
    )
    path = f"/lean/sessions/{alice_session['id']}/lsp"
    bob = await connect(ws_url(jp_http_port, jp_base_url, path, test_user="bob"))
    assert (await bob.wait_closed())[0] == 4404
    alice = await connect(ws_url(jp_http_port, jp_base_url, path, test_user="alice"))
    assert "capabilities" in (await alice.initialize())["result"]
    alice.close()


async def test_limits_are_per_user(jp_fetch: Fetch) -> None:
    for _ in range(4):
        assert (
            await _status(jp_fetch, "lean", "sessions", user="carol", method="POST", body="{}")
        )[0] == 201
    assert (await _status(jp_fetch, "lean", "sessions", user="carol", method="POST", body="{}"))[
        0
    ] == 429
    assert (await _status(jp_fetch, "lean", "sessions", user="dave", method="POST", body="{}"))[
        0
    ] == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ("lean", "health")),
        ("GET", ("lean", "projects")),
        ("GET", ("lean", "sessions")),
        ("POST", ("lean", "sessions")),
        ("GET", ("lean", "sessions", "x")),
        ("DELETE", ("lean", "sessions", "x")),
    ],
)
async def test_authorizer_denial_is_403(
    jp_fetch: Fetch, method: str, path: tuple[str, ...]
) -> None:
    body = "{}" if method == "POST" else None
    assert (await _status(jp_fetch, *path, user="nolean-eve", method=method, body=body))[0] == 403


async def test_authorizer_denial_on_websocket_is_403_before_upgrade(
    jp_http_port: int, jp_base_url: str, jp_fetch: Fetch
) -> None:
    for path in ("/lean/lsp", "/lean/sessions/x/lsp"):
        url = ws_url(jp_http_port, jp_base_url, path, project="default", test_user="nolean-eve")
        assert await connect_status(url) == 403
    assert (await _status(jp_fetch, "lean", "sessions", user="nolean-eve"))[0] == 403
