"""A real `jupyter server` subprocess: extension enabled by installation, metrics, activity,
and no Lean process left behind when the server stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import (
    LeanServerUnderTest,
    connect,
    free_port,
    process_alive,
    wait_until_listening,
    ws_url,
)
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_server_ext.session.process import descendants, proc_stat

TOKEN = "test-token-0123456789"


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    root: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def fetch(self, path: str, method: str = "GET", body: str | None = None) -> Any:
        response = await AsyncHTTPClient().fetch(
            self.url(path),
            method=method,
            body=body,
            headers={"Authorization": f"token {TOKEN}"},
            request_timeout=20,
        )
        return json.loads(response.body) if response.body else None


@pytest.fixture
def server(tmp_path: Path, lean_server: LeanServerUnderTest) -> Iterator[RunningServer]:
    root = tmp_path / "root"
    root.mkdir()
    env = dict(
        os.environ,
        JUPYTER_LEAN_COMMAND=" ".join(lean_server.argv),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    port = free_port()
    # No --ServerApp.jpserver_extensions: the extension must be enabled by installation alone.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    running = RunningServer(process, port, root)
    try:
        wait_until_listening(process, port, 30)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def _group_alive(pgid: int) -> bool:
    """Does any process of the group still run? (Zombies awaiting their reaper do not.)"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    members = [
        pid
        for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if (stat := proc_stat(pid)) is not None and stat.group == pgid and stat.state != "Z"
    ]
    return bool(members)


async def test_sigterm_leaves_no_lean_process_group_within_5_s(server: RunningServer) -> None:
    detached = await server.fetch("/lean/sessions", "POST", "{}")
    attached_socket = await connect(
        ws_url(server.port, "/", "/lean/lsp", project="default", token=TOKEN)
    )
    first = await attached_socket.recv()
    assert first is not None
    await attached_socket.initialize()
    # A Lean that reads nothing any more: `shutdown` goes unanswered, EOF is not noticed.
    hung_socket = await connect(
        ws_url(server.port, "/", "/lean/lsp", project="default", token=TOKEN)
    )
    assert await hung_socket.recv() is not None
    await hung_socket.initialize()
    await hung_socket.open_document((server.root / "Hung.lean").as_uri(), "-- standin: hang\n")
    sessions = await server.fetch("/lean/sessions")
    pids = [s["pid"] for s in sessions]
    assert len(pids) == 3 and detached["id"] in {s["id"] for s in sessions}
    assert all(process_alive(pid) for pid in pids)
    # Every process the server started (Lean servers, their sandboxes and children) and their
    # process groups (each Lean server leads its own).
    lean_processes = descendants(server.process.pid)
    groups = {stat.group for pid in lean_processes if (stat := proc_stat(pid)) is not None}
    groups.discard(server.process.pid)
    assert set(pids) <= groups, "each Lean server leads its own process group"

    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    while any(map(_group_alive, groups)) and time.monotonic() - started < 5.0:
        time.sleep(0.05)  # polling the process table: no event to await in another process
    elapsed = time.monotonic() - started
    assert [g for g in groups if _group_alive(g)] == [], f"groups alive after {elapsed:.1f} s"
    assert [pid for pid in lean_processes if process_alive(pid)] == []
    assert server.process.wait(timeout=15) is not None
    assert (await attached_socket.wait_closed())[0] is not None


async def test_metrics_and_last_activity(server: RunningServer) -> None:
    before = (await server.fetch("/api/status"))["last_activity"]
    socket = await connect(ws_url(server.port, "/", "/lean/lsp", project="default", token=TOKEN))
    await socket.recv()
    await socket.initialize()
    await socket.request("$/lean/unknownRequestForTest", {})
    status = await server.fetch("/api/status")
    assert status["last_activity"] > before

    response = await AsyncHTTPClient().fetch(
        server.url("/metrics"), headers={"Authorization": f"token {TOKEN}"}
    )
    text = response.body.decode()
    assert 'jupyter_lean_sessions{state="ready"} 1.0' in text
    assert "jupyter_lean_sessions_started_total 1.0" in text
    assert 'jupyter_lean_messages_total{direction="client_to_lean"}' in text
    assert "jupyter_lean_spawn_ready_seconds_count 1.0" in text
    socket.close()


async def test_health_through_installed_extension(server: RunningServer) -> None:
    health = await server.fetch("/lean/health")
    assert health["lean"]["found"] is True
    with pytest.raises(HTTPClientError) as error:
        await AsyncHTTPClient().fetch(server.url("/lean/health"))
    assert error.value.code == 403
