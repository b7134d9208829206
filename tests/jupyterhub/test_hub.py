"""Multi-user through a real JupyterHub: alice and bob each get a single-user Jupyter server with
the jupyter-lean extension, reached through the Hub's proxy with their own API tokens.

Needs ``configurable-http-proxy`` on PATH (``npm install -g configurable-http-proxy@4.6.3``);
skipped with that reason otherwise. The Hub, its proxy, the single-user servers and their Lean
servers are all ended by the module fixture's finalizer.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import LeanServerUnderTest, connect, connect_status, process_alive, ws_url
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_server_ext.session.sandbox import check_bwrap

pytestmark = [pytest.mark.hub, pytest.mark.timeout(180)]

CONFIG = Path(__file__).with_name("hub_config.py")
USERS = ("alice", "bob")  # started by the fixture; carol is started and stopped by a test
CHP = shutil.which("configurable-http-proxy")
START_DEADLINE = 90.0  # seconds for the Hub (and, separately, each server) to come up


@dataclass
class RunningHub:
    process: subprocess.Popen[bytes]
    port: int
    work: Path
    admin_token: str
    marker: str
    tokens: dict[str, str] = field(default_factory=dict)
    lean_pids: list[int] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The Hub's REST API as the test's admin service (blocking: fixtures are not async)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url(f"/hub/api{path}"),
            data=data,
            method=method,
            headers={"Authorization": f"token {self.admin_token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        log = self.work / "hub.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _poll(condition: Any, what: str, hub: RunningHub, deadline: float = START_DEADLINE) -> Any:
    """Poll ``condition`` until it returns something truthy: the Hub offers nothing to await
    (server readiness is only visible through its REST API)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if hub.process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited ({hub.process.returncode}):\n{hub.log_tail()}")
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"{what} not within {deadline} s; hub log:\n{hub.log_tail()}")


def _hub_answers(hub: RunningHub) -> bool:
    with contextlib.suppress(OSError):
        return hub.admin("GET", "/")[0] == 200
    return False


def _start_server(hub: RunningHub, user: str) -> None:
    status, body = hub.admin("POST", f"/users/{user}/server")
    assert status in (201, 202), (status, body)

    def ready() -> bool:
        _, info = hub.admin("GET", f"/users/{user}")
        server = (info.get("servers") or {}).get("", {}) if isinstance(info, dict) else {}
        return bool(server.get("ready"))

    _poll(ready, f"{user}'s server", hub)


def _new_token(hub: RunningHub, user: str) -> str:
    status, body = hub.admin(
        "POST", f"/users/{user}/tokens", {"note": "jupyter-lean hub test", "expires_in": 3600}
    )
    assert status in (200, 201), (status, body)
    return str(body["token"])


def _scoped_token(hub: RunningHub, user: str, scopes: list[str]) -> str:
    status, body = hub.admin(
        "POST",
        f"/users/{user}/tokens",
        {"note": "jupyter-lean hub test", "expires_in": 3600, "scopes": scopes},
    )
    assert status in (200, 201), (status, body)
    return str(body["token"])


def _processes_marked(marker: str) -> list[int]:
    """Processes whose environment carries the test's marker: everything the Hub started."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            if f"JLH_MARKER={marker}".encode() in environ.split(b"\0"):
                found.append(int(entry))
    return found


def _stop(hub: RunningHub) -> None:
    """Stop servers through the Hub, then the Hub (which stops its proxy); SIGKILL stragglers."""
    if hub.process.poll() is None:
        for user in (*USERS, "carol"):
            with contextlib.suppress(OSError):
                hub.admin("DELETE", f"/users/{user}/server")
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(hub.process.pid, signal.SIGKILL)
            hub.process.wait(timeout=10)
    for pid in [*_processes_marked(hub.marker), *hub.lean_pids]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, lean_server: LeanServerUnderTest
) -> Iterator[RunningHub]:
    if CHP is None:
        pytest.skip(
            "configurable-http-proxy is not installed "
            "(npm install -g configurable-http-proxy@4.6.3)"
        )
    work = tmp_path_factory.mktemp("hub")
    port, admin_token, marker = _free_port(), secrets.token_hex(16), secrets.token_hex(8)
    env = dict(
        os.environ,
        JLH_DIR=str(work),
        JLH_PORT=str(port),
        JLH_HUB_PORT=str(_free_port()),
        JLH_API_PORT=str(_free_port()),
        JLH_CHP=CHP,
        JLH_ADMIN_TOKEN=admin_token,
        JLH_PASSWORD=secrets.token_hex(8),
        JLH_LEAN_COMMAND=shlex.join(lean_server.argv),
        JLH_MARKER=marker,
    )
    env.pop("JUPYTER_LEAN_COMMAND", None)
    with open(work / "hub.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningHub(process, port, work, admin_token, marker)
    try:
        _poll(lambda: _hub_answers(running), "the Hub's API through its proxy", running)
        for user in USERS:
            _start_server(running, user)
            running.tokens[user] = _new_token(running, user)
        yield running
    finally:
        _stop(running)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


async def _fetch(
    hub: RunningHub, path: str, token: str, method: str = "GET", body: str | None = None
) -> tuple[int, Any]:
    try:
        response = await AsyncHTTPClient().fetch(
            hub.url(path),
            method=method,
            body=body,
            headers=_auth(token),
            follow_redirects=False,
            request_timeout=20,
        )
    except HTTPClientError as exc:
        return exc.code, None
    return response.code, json.loads(response.body) if response.body else None


@pytest.mark.parametrize("user", USERS)
async def test_each_user_reaches_their_own_lean_routes_through_the_hub(
    hub: RunningHub, user: str
) -> None:
    token = hub.tokens[user]
    status, health = await _fetch(hub, f"/user/{user}/lean/health", token)
    assert status == 200 and health["status"] == "ok", health
    # Single-user servers get the sandbox by default ("auto") wherever bwrap works.
    assert health["sandbox"] == ("bwrap" if check_bwrap().problem is None else "none")
    status, created = await _fetch(hub, f"/user/{user}/lean/sessions", token, "POST", "{}")
    assert status == 201 and created["owner"] == user
    hub.lean_pids.append(created["pid"])

    # LSP relayed through the proxy: a session created over the socket answers Lean requests.
    url = ws_url(hub.port, f"/user/{user}/", "/lean/lsp", project="default")
    lsp = await connect(url, _auth(token))
    try:
        first = await lsp.recv()
        assert first is not None and first["method"] == "$/jupyterLean/session"
        assert "capabilities" in (await lsp.initialize())["result"]
        uri = (hub.work / "home" / user / "Hub.lean").as_uri()
        await lsp.open_document(uri, "#eval 6 * 7\n")
        assert [d["message"].strip() for d in await lsp.diagnostics_for(uri, 1)] == ["42"]
    finally:
        lsp.close()
    status, sessions = await _fetch(hub, f"/user/{user}/lean/sessions", token)
    assert status == 200 and {s["owner"] for s in sessions} == {user}
    hub.lean_pids.extend(s["pid"] for s in sessions if s["pid"])


@pytest.mark.parametrize(("intruder", "victim"), [("alice", "bob"), ("bob", "alice")])
async def test_a_users_token_is_refused_on_another_users_server(
    hub: RunningHub, intruder: str, victim: str
) -> None:
    token = hub.tokens[intruder]
    for method, path in [("GET", "health"), ("GET", "sessions"), ("POST", "sessions")]:
        status, _ = await _fetch(
            hub, f"/user/{victim}/lean/{path}", token, method, "{}" if method == "POST" else None
        )
        assert status == 403, (method, path, status)
    url = ws_url(hub.port, f"/user/{victim}/", "/lean/lsp", project="default")
    assert await connect_status(url, _auth(token)) == 403
    # The victim's own token still works: the refusal is about who asks.
    assert (await _fetch(hub, f"/user/{victim}/lean/health", hub.tokens[victim]))[0] == 200


async def test_stopping_a_server_from_the_hub_leaves_no_lean_behind(hub: RunningHub) -> None:
    """What the Hub's "Stop My Server" does (SIGINT, then SIGTERM, then SIGKILL to the
    single-user server): its Lean servers go too, wherever the stop lands."""
    _start_server(hub, "carol")
    token = _new_token(hub, "carol")
    pids = []
    for _ in range(2):
        status, created = await _fetch(hub, "/user/carol/lean/sessions", token, "POST", "{}")
        assert status == 201
        pids.append(created["pid"])
    hub.lean_pids.extend(pids)
    assert all(process_alive(pid) for pid in pids)
    status, body = hub.admin("DELETE", "/users/carol/server")
    assert status in (202, 204), (status, body)
    _poll(
        lambda: not any(process_alive(pid) for pid in pids),
        "carol's Lean servers ending",
        hub,
        deadline=30,
    )


async def test_a_hub_admin_sees_and_ends_another_users_sessions(hub: RunningHub) -> None:
    """The console's admin view under a real Hub: a token with `admin:servers` for alice lists and
    ends alice's Lean sessions with ?all=1; alice's own token may not use ?all=1."""
    status, created = await _fetch(
        hub, "/user/alice/lean/sessions", hub.tokens["alice"], "POST", "{}"
    )
    assert status == 201
    hub.lean_pids.append(created["pid"])
    admin = _scoped_token(hub, "dana", ["access:servers!user=alice", "admin:servers!user=alice"])
    status, everyone = await _fetch(hub, "/user/alice/lean/sessions?all=1", admin)
    assert status == 200 and created["id"] in {s["id"] for s in everyone}
    assert (await _fetch(hub, "/user/alice/lean/sessions?all=1", hub.tokens["alice"]))[0] == 403
    status, _ = await _fetch(
        hub, f"/user/alice/lean/sessions/{created['id']}?all=1", admin, "DELETE"
    )
    assert status == 204
    assert not process_alive(created["pid"])
    status, _ = await _fetch(hub, f"/user/alice/lean/sessions/{created['id']}", hub.tokens["alice"])
    assert status == 404
