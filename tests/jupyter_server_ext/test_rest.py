"""The REST routes (README "HTTP and WebSocket API"), on a real Jupyter server and Lean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import process_alive
from tornado.httpclient import HTTPClientError

Fetch = Any


async def _json(jp_fetch: Fetch, *path: str, method: str = "GET", **kwargs: Any) -> Any:
    response = await jp_fetch(*path, method=method, **kwargs)
    return json.loads(response.body) if response.body else None


async def _status(
    jp_fetch: Fetch, *path: str, method: str = "GET", **kwargs: Any
) -> tuple[int, Any]:
    try:
        response = await jp_fetch(*path, method=method, **kwargs)
    except HTTPClientError as exc:
        body = exc.response.body if exc.response is not None else b""
        return exc.code, json.loads(body) if body else None
    return response.code, json.loads(response.body) if response.body else None


async def test_health_reports_lean_and_sandbox(jp_fetch: Fetch) -> None:
    health = await _json(jp_fetch, "lean", "health")
    assert health["status"] == "ok"
    assert health["lean"]["found"] is True
    assert health["lean"]["command"]
    assert health["sandbox"] in ("bwrap", "none")
    assert health["sessions"] == 0


async def test_projects_list_default_and_configured(jp_fetch: Fetch, jp_root_dir: Path) -> None:
    projects = await _json(jp_fetch, "lean", "projects")
    assert projects == [{"name": "default", "path": str(jp_root_dir), "lakefile": False}]


async def test_session_crud(jp_fetch: Fetch) -> None:
    status, created = await _status(jp_fetch, "lean", "sessions", method="POST", body="{}")
    assert status == 201
    assert set(created) >= {
        "id",
        "owner",
        "project",
        "state",
        "created",
        "last_activity",
        "connected",
        "exit_code",
    }
    assert created["project"] == "default" and created["connected"] is False
    assert created["state"] in ("starting", "ready") and created["exit_code"] is None
    assert created["created"].endswith("Z")
    pid = created["pid"]
    assert process_alive(pid)

    listed = await _json(jp_fetch, "lean", "sessions")
    assert [s["id"] for s in listed] == [created["id"]]
    one = await _json(jp_fetch, "lean", "sessions", created["id"])
    assert one["id"] == created["id"]

    status, _ = await _status(jp_fetch, "lean", "sessions", created["id"], method="DELETE")
    assert status == 204
    assert not process_alive(pid), "the Lean process must be gone when DELETE returns"
    assert (await _status(jp_fetch, "lean", "sessions", created["id"]))[0] == 404
    assert (await _status(jp_fetch, "lean", "sessions", created["id"], method="DELETE"))[0] == 404
    assert await _json(jp_fetch, "lean", "sessions") == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"project": "nope"}', "unknown Lean project"),
        ("not json", "JSON"),
        ("[1]", "JSON object"),
        ('{"project": 5}', "string"),
    ],
)
async def test_bad_create_requests_are_400(jp_fetch: Fetch, body: str, fragment: str) -> None:
    status, error = await _status(jp_fetch, "lean", "sessions", method="POST", body=body)
    assert status == 400
    assert fragment in error["message"]
    assert await _json(jp_fetch, "lean", "sessions") == []


async def test_unknown_session_is_404(jp_fetch: Fetch) -> None:
    assert (await _status(jp_fetch, "lean", "sessions", "doesnotexist"))[0] == 404


class TestLimits:
    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        return {"max_sessions_per_user": 2, "max_sessions": 3}

    async def test_per_user_limit_is_429(self, jp_fetch: Fetch) -> None:
        for _ in range(2):
            assert (await _status(jp_fetch, "lean", "sessions", method="POST", body="{}"))[0] == 201
        status, error = await _status(jp_fetch, "lean", "sessions", method="POST", body="{}")
        assert status == 429 and "limit" in error["message"]
        assert len(await _json(jp_fetch, "lean", "sessions")) == 2


class TestServerFull:
    @pytest.fixture
    def lean_config(self) -> dict[str, object]:
        return {"max_sessions_per_user": 5, "max_sessions": 1}

    async def test_server_limit_is_503(self, jp_fetch: Fetch) -> None:
        assert (await _status(jp_fetch, "lean", "sessions", method="POST", body="{}"))[0] == 201
        status, error = await _status(jp_fetch, "lean", "sessions", method="POST", body="{}")
        assert status == 503 and "limit" in error["message"]


class TestLeanMissing:
    @pytest.fixture
    def lean_config(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        monkeypatch.setenv("ELAN_HOME", str(tmp_path / "no-elan"))
        return {"lean_command": []}

    async def test_health_is_degraded_and_says_how_to_install(self, jp_fetch: Fetch) -> None:
        health = await _json(jp_fetch, "lean", "health")
        assert health["status"] == "degraded"
        assert health["lean"]["found"] is False
        assert "elan" in health["lean"]["message"]

    async def test_create_is_503_with_install_hint(self, jp_fetch: Fetch) -> None:
        status, error = await _status(jp_fetch, "lean", "sessions", method="POST", body="{}")
        assert status == 503
        assert "elan" in error["message"]


class TestBrokenCommand:
    @pytest.fixture
    def lean_config(self, tmp_path: Path) -> dict[str, object]:
        return {"lean_command": [str(tmp_path / "no-such-lean"), "--server"]}

    async def test_create_is_503_and_nothing_is_left(self, jp_fetch: Fetch) -> None:
        status, error = await _status(jp_fetch, "lean", "sessions", method="POST", body="{}")
        assert status == 503 and "no-such-lean" in error["message"]
        assert await _json(jp_fetch, "lean", "sessions") == []


class TestProjects:
    @pytest.fixture
    def lean_config(self, tmp_path: Path) -> dict[str, object]:
        lake = tmp_path / "lakeproj"
        lake.mkdir()
        (lake / "lakefile.toml").write_text('name = "lakeproj"\n')
        plain = tmp_path / "plain"
        plain.mkdir()
        return {"projects": {"lakeproj": str(lake), "plain": str(plain)}}

    async def test_configured_projects(self, jp_fetch: Fetch, tmp_path: Path) -> None:
        projects = await _json(jp_fetch, "lean", "projects")
        assert projects == [
            {"name": "lakeproj", "path": str(tmp_path / "lakeproj"), "lakefile": True},
            {"name": "plain", "path": str(tmp_path / "plain"), "lakefile": False},
        ]
        status, created = await _status(
            jp_fetch, "lean", "sessions", method="POST", body='{"project": "plain"}'
        )
        assert status == 201 and created["project"] == "plain"


ROUTES = [
    ("GET", ("lean", "health")),
    ("GET", ("lean", "projects")),
    ("GET", ("lean", "sessions")),
    ("POST", ("lean", "sessions")),
    ("GET", ("lean", "sessions", "x")),
    ("DELETE", ("lean", "sessions", "x")),
]


# A well-formed XSRF pair (tornado compares the cookie with the header): with it, Jupyter's XSRF
# check lets a POST or DELETE through, so only authentication can refuse the request.
XSRF = "6a757079746572206c65616e"
XSRF_HEADERS = {"Cookie": f"_xsrf={XSRF}", "X-XSRFToken": XSRF}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_token(
    jp_fetch: Fetch, method: str, path: tuple[str, ...]
) -> None:
    kwargs: dict[str, Any] = {"headers": {"Authorization": "", **XSRF_HEADERS}}
    if method == "POST":
        kwargs["body"] = "{}"
    status, error = await _status(jp_fetch, *path, method=method, **kwargs)
    assert status == 403
    assert "xsrf" not in error["message"].lower(), error  # refused by authentication
    assert await _json(jp_fetch, "lean", "sessions") == []


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_without_the_xsrf_pair_jupyter_refuses_first(jp_fetch: Fetch, method: str) -> None:
    """The control for the test above: without the pair, the 403 is the XSRF check's (which
    runs before authentication), and would hide a route that forgot to authenticate."""
    path = ("lean", "sessions") if method == "POST" else ("lean", "sessions", "x")
    body = {"body": "{}"} if method == "POST" else {}
    status, error = await _status(
        jp_fetch, *path, method=method, headers={"Authorization": ""}, **body
    )
    assert status == 403 and "_xsrf" in error["message"], error
