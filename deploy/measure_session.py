"""Measure what one Lean session costs on a running Jupyter server with jupyter-lean.

Run it inside a single-user pod (or next to any server) to size memory requests and limits:

    python measure_session.py --url http://127.0.0.1:8888/user/alice/ --token "$TOKEN" \\
        --project default --file Lecture1.lean

It creates a session, opens the file (or a small ``prelude`` document) as a virtual document in
the project, waits until Lean has elaborated it, waits for the server's own measurement of the
session (``memory``: resident memory of the session's whole Lean process tree plus its sandbox's
memory-backed folders, the figure ``memory_limit`` is compared with), prints one JSON line and
deletes the session. Only the Python standard library and Tornado (a jupyter_server dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

PRELUDE_DOCUMENT = (
    # Lean's own prelude only (no Init), so that any Lean 4 can elaborate it.
    "prelude\n"
    "universe u\n"
    "inductive N where\n  | z : N\n  | s (n : N) : N\n"
    "inductive Same {α : Sort u} (a : α) : α → Prop where\n  | refl : Same a a\n"
    "noncomputable def N.add (m n : N) : N := N.rec (motive := fun _ => N) m (fun _ r => .s r) n\n"
    "theorem N.add_z (m : N) : Same (N.add m .z) m := .refl\n"
    "theorem N.one_add_one : Same (N.add (.s .z) (.s .z)) (.s (.s .z)) := .refl\n"
)


class Server:
    """REST and WebSocket access to one Jupyter server with a token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.http = AsyncHTTPClient()

    async def call(self, path: str, method: str = "GET", body: Any = None) -> Any:
        response = await self.http.fetch(
            self.base_url + path,
            method=method,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"token {self.token}"},
            request_timeout=60,
        )
        return json.loads(response.body) if response.body else None

    async def lsp(self, session_id: str) -> WebSocketClientConnection:
        url = self.base_url.replace("http", "ws", 1) + f"lean/sessions/{session_id}/lsp"
        request = HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        return await websocket_connect(request, max_message_size=64 << 20)


async def _request(
    ws: WebSocketClientConnection,
    request_id: int,
    method: str,
    params: Any,
    timeout: float,
    seen: list[dict[str, Any]],
) -> dict[str, Any]:
    """Send a request and return its response; notifications received meanwhile go to
    ``seen``."""
    await ws.write_message(
        json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
    )
    deadline = time.monotonic() + timeout
    while True:
        frame = await asyncio.wait_for(ws.read_message(), max(0.01, deadline - time.monotonic()))
        if frame is None:
            raise ConnectionError(f"the session's socket closed: {ws.close_reason}")
        message = json.loads(frame)
        if "id" not in message:
            seen.append(message)
        if message.get("id") == request_id and "method" not in message:
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return message


async def _settled_usage(server: Server, session_id: str, wait: float) -> dict[str, Any]:
    """The session once the server has measured it at least twice after elaboration (it measures
    every usage_interval seconds); the largest memory reading seen in ``wait`` seconds."""
    deadline = time.monotonic() + wait
    best: dict[str, Any] = {}
    readings = 0
    last_cpu = None
    while time.monotonic() < deadline:
        session = await server.call(f"lean/sessions/{session_id}")
        if session.get("memory"):
            if session.get("cpu_seconds") != last_cpu:
                readings += 1
                last_cpu = session.get("cpu_seconds")
            if session["memory"] >= best.get("memory", 0):
                best = session
        if readings >= 2:
            break
        await asyncio.sleep(0.5)  # the server measures on its own schedule; poll it
    if not best:
        raise TimeoutError("the server reported no memory for the session (usage_interval 0?)")
    return best


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = Server(args.url, args.token)
    text = Path(args.file).read_text() if args.file else PRELUDE_DOCUMENT
    projects = {p["name"]: p["path"] for p in await server.call("lean/projects")}
    if args.project not in projects:
        raise SystemExit(f"no project {args.project!r}; the server has {sorted(projects)}")
    name = Path(args.file).name if args.file else "Measure.lean"
    uri = "file://" + quote(f"{projects[args.project]}/.jupyter-lean/measure-{name}")
    seen: list[dict[str, Any]] = []
    started = time.monotonic()
    session = await server.call("lean/sessions", "POST", {"project": args.project})
    try:
        ws = await server.lsp(session["id"])
        try:
            await _request(ws, 1, "initialize", {"processId": None, "capabilities": {}}, 120, seen)
            await ws.write_message(
                json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            )
            await ws.write_message(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didOpen",
                        "params": {
                            "textDocument": {
                                "uri": uri,
                                "languageId": "lean4",
                                "version": 1,
                                "text": text,
                            }
                        },
                    }
                )
            )
            await _request(
                ws,
                2,
                "textDocument/waitForDiagnostics",
                {"uri": uri, "version": 1},
                args.timeout,
                seen,
            )
            elaborated = time.monotonic() - started
            usage = await _settled_usage(server, session["id"], args.wait)
        finally:
            ws.close()
    finally:
        await server.call(f"lean/sessions/{session['id']}", "DELETE")
    return {
        "project": args.project,
        "document": args.file or "(built-in prelude document)",
        "elaborated_seconds": round(elaborated, 2),
        "session_memory_mib": round(usage["memory"] / 2**20, 1),
        "session_cpu_seconds": usage.get("cpu_seconds"),
        "errors": _errors(seen, uri),
    }


def _errors(seen: list[dict[str, Any]], uri: str) -> list[str]:
    """Lean's error messages in the last diagnostics of the document (severity 1)."""
    published = [
        m["params"]
        for m in seen
        if m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("uri") == uri
    ]
    if not published:
        return []
    return [d["message"] for d in published[-1]["diagnostics"] if d.get("severity") == 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument("--token", required=True, help="a token of the server's user")
    parser.add_argument("--project", default="default", help="a name from GET /lean/projects")
    parser.add_argument("--file", help="a .lean file to open (default: a small prelude document)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds Lean may take to elaborate the file"
    )
    parser.add_argument(
        "--wait", type=float, default=30, help="seconds to wait for the server's measurements"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
