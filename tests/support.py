"""Test helpers: the Lean server under test and an LSP-over-WebSocket client."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[Any], port: int, deadline_s: float = 60) -> None:
    """Return once ``port`` accepts connections; RuntimeError if ``process`` exits first."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # polling a port that is not open yet; bounded by the deadline
    raise TimeoutError(f"nothing listened on port {port} within {deadline_s:g} s")


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def slowest_round_trip(ask: Callable[[], Awaitable[Any]], samples: int = 5) -> float:
    """The slowest of ``samples`` calls of ``ask`` (something answered at once): how slow this
    machine is right now, measured in the same run as the time limit that depends on it."""
    loop = asyncio.get_running_loop()
    slowest = 0.0
    for _ in range(samples):
        started = loop.time()
        await ask()
        slowest = max(slowest, loop.time() - started)
    return slowest


def time_limit(floor: float, baseline: float, factor: float = 20) -> float:
    """A time limit for a busy CI machine: ``floor`` seconds, or ``factor`` times what the
    baseline took when the machine is slower than that (load makes both slow)."""
    return max(floor, factor * baseline)


@dataclass(frozen=True)
class LeanServerUnderTest:
    kind: str  # "standin" or "real"
    argv: list[str]

    @property
    def is_standin(self) -> bool:
        return self.kind == "standin"


@dataclass
class LspSocket:
    """One WebSocket to /lean/...: one JSON-RPC message per text frame."""

    conn: WebSocketClientConnection
    notifications: list[dict[str, Any]] = field(default_factory=list)
    server_requests: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 0

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, dict):
            message = json.dumps(message)
        await self.conn.write_message(message, binary=isinstance(message, bytes))

    async def recv(self, timeout: float = 10) -> dict[str, Any] | None:
        """The next message, or None once the server closed the socket."""
        frame = await asyncio.wait_for(self.conn.read_message(), timeout)
        if frame is None:
            return None
        return json.loads(frame)

    async def notify(self, method: str, params: Any = None) -> None:
        await self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    async def request(self, method: str, params: Any = None, timeout: float = 10) -> dict[str, Any]:
        """Send a request and return its response; messages received meanwhile are kept."""
        self.next_id += 1
        request_id = self.next_id
        await self.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": method,
                "params": params if params is not None else {},
            }
        )
        return await self.response(request_id, timeout)

    async def response(self, request_id: Any, timeout: float = 10) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message is None:
                raise ConnectionError(f"socket closed ({self.close_code}): {self.close_reason}")
            if "method" not in message and message.get("id") == request_id:
                return message
            self._keep(message)

    async def wait_notification(
        self, method: str, predicate: Any = None, timeout: float = 10
    ) -> dict[str, Any]:
        """The first notification ``method`` (already received or coming) matching predicate."""
        for index, message in enumerate(self.notifications):
            if message.get("method") == method and (predicate is None or predicate(message)):
                return self.notifications.pop(index)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message is None:
                raise ConnectionError(f"socket closed ({self.close_code}): {self.close_reason}")
            if (
                message.get("method") == method
                and "id" not in message
                and (predicate is None or predicate(message))
            ):
                return message
            self._keep(message)

    async def wait_server_request(self, method: str, timeout: float = 10) -> dict[str, Any]:
        """The first request ``method`` that Lean sent to this client."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index, message in enumerate(self.server_requests):
                if message.get("method") == method:
                    return self.server_requests.pop(index)
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message is None:
                raise ConnectionError(f"socket closed ({self.close_code}): {self.close_reason}")
            self._keep(message)

    async def wait_closed(self, timeout: float = 10) -> tuple[int | None, str | None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.recv(max(0.01, deadline - loop.time())) is not None:
            pass
        return self.close_code, self.close_reason

    def _keep(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            self.server_requests.append(message)
        elif "method" in message:
            self.notifications.append(message)

    async def initialize(self) -> dict[str, Any]:
        response = await self.request("initialize", {"processId": None, "capabilities": {}})
        await self.notify("initialized", {})
        return response

    async def open_document(self, uri: str, text: str, version: int = 1) -> None:
        await self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "lean4", "version": version, "text": text}},
        )

    async def diagnostics_for(self, uri: str, version: int, timeout: float = 20) -> list[Any]:
        """The diagnostics of ``uri`` at ``version``: everything Lean sent before the
        waitForDiagnostics barrier answered (the last publishDiagnostics for that version)."""
        response = await self.request(
            "textDocument/waitForDiagnostics", {"uri": uri, "version": version}, timeout
        )
        assert "result" in response, response
        latest = None
        for message in self.notifications:
            params = message.get("params") or {}
            if (
                message.get("method") == "textDocument/publishDiagnostics"
                and params.get("uri") == uri
                and params.get("version") == version
            ):
                latest = params["diagnostics"]
        assert latest is not None, f"no diagnostics for {uri} v{version}"
        return latest

    @property
    def close_code(self) -> int | None:
        return self.conn.close_code

    @property
    def close_reason(self) -> str | None:
        return self.conn.close_reason

    def close(self) -> None:
        self.conn.close()


def ws_url(port: int, base_url: str, path: str, **query: str) -> str:
    url = f"ws://127.0.0.1:{port}{base_url.rstrip('/')}{path}"
    return url + ("?" + urlencode(query) if query else "")


async def connect(
    url: str, headers: dict[str, str] | None = None, max_message_size: int = 1 << 27
) -> LspSocket:
    request = HTTPRequest(url, headers=headers or {}, connect_timeout=10, request_timeout=10)
    conn = await websocket_connect(request, max_message_size=max_message_size)
    return LspSocket(conn)


async def connect_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status with which the upgrade is refused (101 if it is accepted)."""
    try:
        socket = await connect(url, headers)
    except HTTPClientError as exc:
        return exc.code
    socket.close()
    return 101
