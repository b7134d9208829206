#!/usr/bin/env python3
"""Load benchmark: many concurrent Lean sessions through one real `jupyter server`.

    python bench/load_bench.py [--sessions 200] [--requests 1000] [--window 8] [--sandbox none]
                               [--json FILE] [--keep]

Every Lean server is the scripted stand-in ``tests/lean_standin.py`` (about 15 MB of Python
each), so what is measured is this project's part: the Jupyter server process, its relay and
its session manager. Two `python -m jupyter_server` processes on 127.0.0.1 are started, each with
its own config file (max_sessions and max_sessions_per_user raised to the session count):

1. Load (idle culling off). One warm-up session is created and deleted (one-time imports), then
   the server's RSS is read from /proc/<pid>/status. N clients each open WS /lean/lsp, initialize,
   open a small document and wait for its diagnostics: the RSS again, and the difference divided
   by N is the memory one idle session costs the Jupyter server (target: under 1 MB). Then every
   client sends R `textDocument/hover` requests, W in flight at a time, all clients at once, and
   checks that each answer is the right one and that answers come back in request order:
   lost and reordered answers (target: zero), round trip p50/p99/max, requests/s. Then the
   server's RSS after the load, and the server is stopped with SIGTERM with all N sessions live:
   the time until the server and every Lean process are gone.
2. Culling (idle_timeout 2 s, cull_interval 0.5 s). N clients connect as above and keep their
   sessions busy (one request every 0.5 s) until all N are ready; then all fall silent at once.
   Measured: from that moment until every client was closed with 4410, until GET /lean/sessions
   is empty, and until every Lean process is reaped.

The Markdown report goes to stdout, progress to stderr. The machine's load matters: clients,
server and N Lean processes share the same cores, so round trips are those of a saturated
machine. Sandbox: "none" by default (one bubblewrap process per session would measure bwrap, not
the relay); `--sandbox auto` runs with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (
    REPO,
    RUN_MARKER_VAR,
    Child,
    free_port,
    http,
    kill_pids,
    leftovers,
    markdown_table,
    pids,
    wait_until,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from jupyter_server_ext.session.process import descendants, proc_stat

PYTHON = sys.executable
STANDIN = REPO / "tests" / "lean_standin.py"
DOCUMENT = "def answer := 42\n#eval answer\n"
HOVER_POSITION = {"line": 1, "character": 7}  # on `answer` in `#eval answer`
IDLE_TIMEOUT_S = 2.0
CULL_INTERVAL_S = 0.5
KEEPALIVE_S = 0.5
OPEN_CONCURRENCY = 16  # sessions being set up at once (each starts a Python stand-in)
SERVER_READY_S = 90.0
STEP_TIMEOUT_S = 120.0


def log(message: str) -> None:
    print(f"[load_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the server ----------------------------------------------------------------------------


class Server:
    """`python -m jupyter_server` with this extension, a token and its own config file."""

    def __init__(
        self, name: str, workdir: Path, *, marker: str, sandbox: str, traits: dict[str, Any]
    ) -> None:
        self.name = name
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        config_dir, runtime_dir, self.root = (workdir / d for d in ("config", "runtime", "root"))
        for folder in (config_dir, runtime_dir, self.root):
            folder.mkdir(parents=True)
        manager = {"sandbox": sandbox, "workspace_root": str(workdir / "workspaces"), **traits}
        lines = [
            f"c.ServerApp.ip = {'127.0.0.1'!r}",
            f"c.ServerApp.port = {self.port!r}",
            "c.ServerApp.port_retries = 0",
            "c.ServerApp.open_browser = False",
            f"c.ServerApp.allow_root = {os.geteuid() == 0!r}",
            f"c.ServerApp.root_dir = {str(self.root)!r}",
            f"c.IdentityProvider.token = {self.token!r}",
            "c.ServerApp.jpserver_extensions = {'jupyter_server_ext': True}",
            *(f"c.LeanSessionManager.{key} = {value!r}" for key, value in manager.items()),
        ]
        (config_dir / "jupyter_server_config.py").write_text("\n".join(lines) + "\n")
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(config_dir),
            JUPYTER_RUNTIME_DIR=str(runtime_dir),
            **{RUN_MARKER_VAR: marker},
            JUPYTER_LEAN_COMMAND=shlex.join([PYTHON, str(STANDIN), "-Dserver.reportDelayMs=10"]),
        )
        log(f"starting jupyter server {name!r} on port {self.port} ({manager})")
        self.child = Child(
            f"jupyter server {name}",
            [PYTHON, "-m", "jupyter_server"],
            env=env,
            cwd=self.root,
            log_path=workdir / "server.log",
            grace=30.0,
        )
        wait_until(
            f"jupyter server {name}",
            self._healthy,
            deadline_s=SERVER_READY_S,
            alive=lambda: self.child.alive,
            on_fail=self.child.log_tail,
        )

    def _healthy(self) -> bool:
        status, _ = http("GET", f"{self.base}/lean/health", token=self.token, timeout=5)
        return status == 200

    @property
    def pid(self) -> int:
        return self.child.proc.pid

    def ws_url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"ws://127.0.0.1:{self.port}{path}{separator}token={self.token}"

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(") ", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sessions(self) -> list[dict[str, Any]]:
        status, body = http("GET", f"{self.base}/lean/sessions", token=self.token, timeout=30)
        if status != 200:
            raise RuntimeError(f"GET /lean/sessions: {status}")
        return list(json.loads(body))

    def delete(self, session_id: str) -> None:
        http("DELETE", f"{self.base}/lean/sessions/{session_id}", token=self.token, timeout=30)

    def lean_pids(self) -> set[int]:
        return descendants(self.pid)


def alive(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat.state != "Z"


# -- one client ----------------------------------------------------------------------------


@dataclass
class Result:
    latencies_s: list[float] = field(default_factory=list)
    answered: int = 0
    lost: int = 0
    reordered: int = 0
    wrong: int = 0
    errors: list[str] = field(default_factory=list)


class Client:
    """One WebSocket client on its own session."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.ws: ClientConnection | None = None
        self.session_id = ""
        self.uri = ""
        self.next_id = 0
        self.expected_hover: Any = None
        self.close_code: int | None = None
        self.closed_at: float | None = None

    async def open(self, index: int) -> None:
        self.ws = await connect(
            self.server.ws_url("/lean/lsp?project=default"),
            max_size=None,
            compression=None,
            ping_interval=None,
            open_timeout=60,
        )
        # The default Nagle delay would put up to 40 ms into pipelined round trips.
        sock = self.ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = json.loads(await self.ws.recv())
        self.session_id = first["params"]["id"]
        await self.call("initialize", {"processId": None, "capabilities": {}})
        await self.notify("initialized", {})
        self.uri = (self.server.root / f"Load{index}.lean").as_uri()
        await self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": self.uri,
                    "languageId": "lean4",
                    "version": 1,
                    "text": DOCUMENT,
                }
            },
        )
        await self.call("textDocument/waitForDiagnostics", {"uri": self.uri, "version": 1})
        self.expected_hover = await self.call("textDocument/hover", self.hover_params())

    def hover_params(self) -> dict[str, Any]:
        return {"textDocument": {"uri": self.uri}, "position": HOVER_POSITION}

    async def notify(self, method: str, params: Any) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}))

    async def send_request(self, method: str, params: Any) -> int:
        assert self.ws is not None
        self.next_id += 1
        await self.ws.send(
            json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        )
        return self.next_id

    async def receive_response(self) -> dict[str, Any]:
        """The next response; Lean's own requests to the client are answered on the way."""
        assert self.ws is not None
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), STEP_TIMEOUT_S))
            if "method" not in message:
                return dict(message)
            if "id" in message:  # client/registerCapability and the like
                await self.ws.send(
                    json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None})
                )

    async def call(self, method: str, params: Any) -> Any:
        request_id = await self.send_request(method, params)
        while True:
            response = await self.receive_response()
            if response.get("id") == request_id:
                if "error" in response:
                    raise RuntimeError(f"{method}: {response['error']}")
                return response.get("result")

    async def load(self, requests: int, window: int, start: asyncio.Event) -> Result:
        """``requests`` hovers, ``window`` in flight; answers must come back in order."""
        result = Result()
        await start.wait()
        sent_at: dict[int, float] = {}
        in_order: list[int] = []
        params = self.hover_params()
        try:
            for _ in range(min(window, requests)):
                request_id = await self.send_request("textDocument/hover", params)
                sent_at[request_id] = time.perf_counter()
                in_order.append(request_id)
            while in_order:
                response = await self.receive_response()
                now = time.perf_counter()
                answer_id = response.get("id")
                if answer_id not in sent_at:
                    result.errors.append(f"unexpected response {str(response)[:200]}")
                    continue
                if answer_id != in_order[0]:
                    result.reordered += 1
                in_order.remove(answer_id)
                result.latencies_s.append(now - sent_at.pop(answer_id))
                result.answered += 1
                if response.get("result") != self.expected_hover:
                    result.wrong += 1
                if len(in_order) < window and result.answered + len(in_order) < requests:
                    request_id = await self.send_request("textDocument/hover", params)
                    sent_at[request_id] = time.perf_counter()
                    in_order.append(request_id)
        except (asyncio.TimeoutError, ConnectionClosed) as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
        result.lost = requests - result.answered
        return result

    async def keep_alive_until(self, everyone_ready: asyncio.Event) -> float:
        """Ping until ``everyone_ready``; returns the time of the last answer."""
        last = time.monotonic()
        while not everyone_ready.is_set():
            await self.call("textDocument/hover", self.hover_params())
            last = time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(everyone_ready.wait(), KEEPALIVE_S)
        return last

    async def wait_closed(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.ws.recv()
        self.closed_at = time.monotonic()
        self.close_code = self.ws.close_code

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)


async def open_clients(server: Server, count: int) -> list[Client]:
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)
    clients = [Client(server) for _ in range(count)]

    async def open_one(index: int, client: Client) -> None:
        async with limit:
            await asyncio.wait_for(client.open(index), STEP_TIMEOUT_S)

    started = time.monotonic()
    await asyncio.gather(*(open_one(i, c) for i, c in enumerate(clients)))
    log(f"  {count} sessions open and initialized in {time.monotonic() - started:.1f} s")
    return clients


# -- the phases ----------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


async def warm_up(server: Server) -> None:
    client = Client(server)
    await client.open(-1)
    await client.close()
    server.delete(client.session_id)


async def load_phase(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    await warm_up(server)
    rss_before = server.rss_kib()
    clients = await open_clients(server, args.sessions)
    rss_idle = server.rss_kib()
    log(
        f"  RSS {rss_before / 1024:.1f} MiB before, {rss_idle / 1024:.1f} MiB with "
        f"{args.sessions} idle sessions"
    )
    start = asyncio.Event()
    runs = [asyncio.create_task(c.load(args.requests, args.window, start)) for c in clients]
    began, cpu_began = time.perf_counter(), server.cpu_s()
    start.set()
    results: list[Result] = await asyncio.gather(*runs)
    wall = time.perf_counter() - began
    server_cpu = server.cpu_s() - cpu_began
    rss_after = server.rss_kib()
    latencies = [s for r in results for s in r.latencies_s]
    lean_pids = server.lean_pids()
    log(
        f"  load done in {wall:.1f} s; stopping the server with {len(lean_pids)} Lean "
        "processes running"
    )
    stop_s, stop_left = stop_and_time(server, lean_pids)
    for client in clients:
        await client.close()
    errors = [e for r in results for e in r.errors]
    return {
        "sessions": args.sessions,
        "requests_per_session": args.requests,
        "window": args.window,
        "wall_s": wall,
        "answered": sum(r.answered for r in results),
        "lost": sum(r.lost for r in results),
        "reordered": sum(r.reordered for r in results),
        "wrong": sum(r.wrong for r in results),
        "errors": errors[:10],
        "requests_per_s": sum(r.answered for r in results) / wall,
        "server_cpu_share": server_cpu / wall,
        "server_cpu_us_per_request": server_cpu / max(1, sum(r.answered for r in results)) * 1e6,
        "rtt_p50_ms": percentile(latencies, 0.5) * 1000,
        "rtt_p99_ms": percentile(latencies, 0.99) * 1000,
        "rtt_max_ms": max(latencies, default=0.0) * 1000,
        "rss_before_kib": rss_before,
        "rss_idle_kib": rss_idle,
        "rss_after_load_kib": rss_after,
        "rss_per_idle_session_kib": (rss_idle - rss_before) / args.sessions,
        "sigterm_to_all_gone_s": stop_s,
        "processes_left_after_stop": stop_left,
    }


def stop_and_time(server: Server, lean_pids: set[int]) -> tuple[float, int]:
    """SIGTERM the server; seconds until it and every Lean process are gone."""
    started = time.monotonic()
    server.child.proc.send_signal(signal.SIGTERM)
    deadline = started + 60
    while (server.child.alive or any(map(alive, lean_pids))) and time.monotonic() < deadline:
        time.sleep(0.02)  # another process's state: nothing to await
    elapsed = time.monotonic() - started
    left = sum(map(alive, lean_pids))
    server.child.stop()
    return elapsed, left


async def cull_phase(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    everyone_ready = asyncio.Event()
    all_open = asyncio.Event()
    clients = [Client(server) for _ in range(args.sessions)]
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)
    opened = 0

    async def session(index: int, client: Client) -> float:
        nonlocal opened
        async with limit:
            await asyncio.wait_for(client.open(index), STEP_TIMEOUT_S)
        opened += 1
        if opened == len(clients):
            all_open.set()
        return await client.keep_alive_until(everyone_ready)

    keepers = [asyncio.create_task(session(i, c)) for i, c in enumerate(clients)]
    waiting = asyncio.create_task(all_open.wait())
    await asyncio.wait([waiting, *keepers], return_when=asyncio.FIRST_COMPLETED)
    if not all_open.is_set():  # a keeper ended early: it failed to open
        waiting.cancel()
        failed = next(k for k in keepers if k.done())
        raise RuntimeError(f"a session failed to open: {failed.exception()!r}")
    lean_pids = server.lean_pids()
    everyone_ready.set()
    last_activity = max(await asyncio.gather(*keepers))
    log(f"  {args.sessions} sessions busy; silent from now on")
    await asyncio.wait_for(asyncio.gather(*(c.wait_closed() for c in clients)), 60)
    all_closed = max(c.closed_at or 0.0 for c in clients) - last_activity
    codes = sorted({c.close_code for c in clients}, key=str)
    while server.sessions() and time.monotonic() - last_activity < 60:
        await asyncio.sleep(0.05)  # the server's list: nothing announces it
    listed_empty = time.monotonic() - last_activity
    while any(map(alive, lean_pids)) and time.monotonic() - last_activity < 60:
        await asyncio.sleep(0.02)
    reaped = time.monotonic() - last_activity
    left = sum(map(alive, lean_pids))
    server.child.stop()
    return {
        "sessions": args.sessions,
        "idle_timeout_s": IDLE_TIMEOUT_S,
        "cull_interval_s": CULL_INTERVAL_S,
        "all_clients_closed_s": all_closed,
        "close_codes": codes,
        "sessions_list_empty_s": listed_empty,
        "all_lean_reaped_s": reaped,
        "processes_left": left,
    }


# -- report --------------------------------------------------------------------------------


def report(load: dict[str, Any], cull: dict[str, Any], sandbox: str) -> str:
    mib = 1024
    rows = [
        ["sessions (concurrent, stand-in Lean, sandbox)", f"{load['sessions']} ({sandbox})"],
        [
            "requests per session (in flight at once)",
            f"{load['requests_per_session']:,} ({load['window']})",
        ],
        [
            "answers received / lost / reordered / wrong",
            f"{load['answered']:,} / {load['lost']} / {load['reordered']} / {load['wrong']}",
        ],
        ["throughput, all sessions", f"{load['requests_per_s']:,.0f} requests/s"],
        [
            "Jupyter server CPU during the load (share of one core; per request)",
            f"{load['server_cpu_share']:.0%}; {load['server_cpu_us_per_request']:.0f} µs",
        ],
        [
            "round trip p50 / p99 / max",
            f"{load['rtt_p50_ms']:.1f} / {load['rtt_p99_ms']:.1f} / {load['rtt_max_ms']:.1f} ms",
        ],
        [
            "server RSS: before / N idle sessions / after the load",
            f"{load['rss_before_kib'] / mib:.1f} / {load['rss_idle_kib'] / mib:.1f} / "
            f"{load['rss_after_load_kib'] / mib:.1f} MiB",
        ],
        ["server RSS per idle session", f"{load['rss_per_idle_session_kib']:.0f} KiB"],
        [
            "SIGTERM with all sessions live -> server and every Lean gone",
            f"{load['sigterm_to_all_gone_s']:.2f} s ({load['processes_left_after_stop']} left)",
        ],
        [
            f"cull {cull['sessions']} idle sessions (idle_timeout {cull['idle_timeout_s']:g} s, "
            f"cull_interval {cull['cull_interval_s']:g} s): last activity -> all clients closed",
            f"{cull['all_clients_closed_s']:.2f} s (close codes {cull['close_codes']})",
        ],
        [
            "... -> GET /lean/sessions empty / every Lean reaped",
            f"{cull['sessions_list_empty_s']:.2f} s / {cull['all_lean_reaped_s']:.2f} s "
            f"({cull['processes_left']} left)",
        ],
    ]
    checks = [
        (
            "zero lost or reordered answers",
            load["lost"] == 0 and load["reordered"] == 0 and load["wrong"] == 0,
        ),
        ("server RSS per idle session < 1 MiB", load["rss_per_idle_session_kib"] < 1024),
        (
            "every Lean process gone after SIGTERM within 5 s",
            load["sigterm_to_all_gone_s"] < 5 and load["processes_left_after_stop"] == 0,
        ),
        ("every culled client closed with 4410", cull["close_codes"] == [4410]),
    ]
    lines = [markdown_table(["measure", "value"], rows, align=["l", "r"]), ""]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {what}" for what, ok in checks]
    if load["errors"]:
        lines += ["", "client errors (first 10):", *(f"  - {e}" for e in load["errors"])]
    return "\n".join(lines)


async def run(
    args: argparse.Namespace, workdir: Path, marker: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    # rate_limit 0: the bench sends requests as fast as the relay takes them, which is what it
    # measures; the per-session limit would answer most of them with -32003 at once.
    limits = {
        "max_sessions": args.sessions + 8,
        "max_sessions_per_user": args.sessions + 8,
        "rate_limit": 0,
    }
    log(f"phase 1: load, {args.sessions} sessions x {args.requests} requests")
    server = Server(
        "load",
        workdir / "load",
        marker=marker,
        sandbox=args.sandbox,
        traits={**limits, "idle_timeout": 0.0},
    )
    try:
        load = await load_phase(server, args)
    finally:
        server.child.stop()
    log(f"phase 2: culling {args.sessions} idle sessions")
    server = Server(
        "cull",
        workdir / "cull",
        marker=marker,
        sandbox=args.sandbox,
        traits={**limits, "idle_timeout": IDLE_TIMEOUT_S, "cull_interval": CULL_INTERVAL_S},
    )
    try:
        cull = await cull_phase(server, args)
    finally:
        server.child.stop()
    return load, cull


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000, help="requests per session")
    parser.add_argument(
        "--window",
        type=int,
        default=8,
        help="requests in flight per session (1 = strictly sequential)",
    )
    parser.add_argument("--sandbox", default="none", choices=["none", "auto", "bwrap"])
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    marker = secrets.token_hex(8)
    before = pids()
    workdir = Path(tempfile.mkdtemp(prefix="jupyter-lean-load-"))
    failed = False
    try:
        load, cull = asyncio.run(run(args, workdir, marker))
        print(report(load, cull, args.sandbox))
        if args.json:
            Path(args.json).write_text(json.dumps({"load": load, "cull": cull}, indent=2))
    except Exception as exc:
        failed = True
        log(f"FAILED: {exc!r}; server logs under {workdir}")
        raise
    finally:
        left = leftovers(marker, before, [str(workdir)])
        if left:
            log(f"killing {len(left)} leftover processes: {left[:5]}")
            kill_pids(left)
        if not args.keep and not failed:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
