#!/usr/bin/env python3
"""Relay benchmark: this project's /lean/lsp against a reference bridge, in one run.

    python bench/relay_bench.py [--quick] [--json FILE] [--shared DIR] [--check]

Measures, on this machine and in this run, with the same client (bench/ws_rtt.py, run as a
subprocess) and the same LSP peer (bench/echo_lsp.py):

  * sequential round trip p50/p99 and pipelined messages/s of
      - stdio straight to echo_lsp.py (the floor of the client and the peer),
      - bench/ref_bridge.py (the thinnest Tornado WebSocket <-> stdio bridge: the reference),
      - this project's WS /lean/lsp, with sandbox = "none" and with the default sandbox,
      - jupyter-lsp's /lsp/ws/echo;
  * create-to-initialized of a new session (WS /lean/lsp?project=default opened, `initialize`
    sent, until its result arrives), cold (warm_pool_size = 0) and from the warm pool
    (warm_pool_size = 2), with tests/lean_standin.py as the Lean server;

and prints two Markdown tables and the targets with PASS/FAIL. Every server is a real process
started and stopped here (its own process group; a leftover check closes the run).

Environment: N_SEQ (default 2000), N_PIPE (20000), PAYLOAD (100 bytes) are passed to ws_rtt.py;
JLSP_N_SEQ (default min(N_SEQ, 200)) is jupyter-lsp's sequential count: each of its round trips
costs about 100 ms. --shared DIR takes the three tools from another folder instead (to compare
with an outside copy of them). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # bench/ is not a package: imported from its own folder
    REPO,
    RUN_MARKER_VAR,
    Child,
    fmt_ms,
    fmt_rate,
    free_port,
    http,
    http_answers,
    kill_pids,
    leftovers,
    markdown_table,
    percentile_ms,
    pids,
    run_captured,
    wait_until,
)

from jupyter_server_ext.session.process import descendants, process_table

PYTHON = sys.executable
STANDIN = REPO / "tests" / "lean_standin.py"
SESSION_NOTIFICATION = "$/jupyterLean/session"
WARM_POOL_SIZE = 2
SERVER_READY_DEADLINE_S = 90.0
POOL_READY_DEADLINE_S = 60.0

TARGET_RTT_RATIO = 1.3  # /lean/lsp round trip p50 at most this times ref_bridge's
TARGET_THROUGHPUT_RATIO = 0.8  # /lean/lsp pipelined msgs/s at least this times ref_bridge's
TARGET_COLD_MS = 50.0  # create-to-initialized p50, warm_pool_size = 0
TARGET_WARM_MS = 5.0  # create-to-initialized p50, from the warm pool


def log(message: str) -> None:
    print(f"[relay_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- locating the tools -----------------------------------------------------------------------

BENCH_TOOLS = ("echo_lsp.py", "ws_rtt.py", "ref_bridge.py")


def tools_dir(option: str | None) -> Path:
    """The folder with echo_lsp.py, ws_rtt.py and ref_bridge.py: this one (bench/), or --shared
    DIR, which may also name the folder above a `bench` folder holding them."""
    base = Path(option).expanduser() if option else Path(__file__).resolve().parent
    for candidate in (base, base / "bench"):
        if all((candidate / f).is_file() for f in BENCH_TOOLS):
            return candidate.resolve()
    sys.exit(f"relay_bench: {', '.join(BENCH_TOOLS)} not found in {base}")


# -- results -----------------------------------------------------------------------------------


@dataclass
class RelayRow:
    key: str
    label: str
    n_seq: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def median(self, metric: str) -> float | None:
        values = [run[metric] for run in self.runs if metric in run]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "n_seq": self.n_seq,
            "rtt_p50_ms": self.median("rtt_p50_ms"),
            "rtt_p99_ms": self.median("rtt_p99_ms"),
            "pipelined_msgs_per_s": self.median("pipelined_msgs_per_s"),
            "runs": self.runs,
            "error": self.error,
        }


@dataclass
class CreateRow:
    key: str
    label: str
    warm: bool
    sandbox: str
    floor: bool = False  # the Lean command spawned directly: a reference, not a target
    samples_ms: list[float] = field(default_factory=list)
    open_ms: list[float] = field(default_factory=list)
    error: str | None = None

    def p50_p99(self, samples: list[float]) -> tuple[float | None, float | None]:
        return percentile_ms(samples) if samples else (None, None)

    def to_json(self) -> dict[str, Any]:
        p50, p99 = self.p50_p99(self.samples_ms)
        open_p50, _ = self.p50_p99(self.open_ms)
        return {
            "key": self.key,
            "label": self.label,
            "warm": self.warm,
            "sandbox": self.sandbox,
            "floor": self.floor,
            "n": len(self.samples_ms),
            "p50_ms": p50,
            "p99_ms": p99,
            "ws_open_p50_ms": open_p50,
            "samples_ms": self.samples_ms,
            "ws_open_ms": self.open_ms,
            "error": self.error,
        }


# -- servers -----------------------------------------------------------------------------------


class JupyterServer:
    """`python -m jupyter_server` on 127.0.0.1:<free port> with a token, its own config, runtime
    and root folders under ``workdir``, this extension and jupyter-lsp (spec "echo") enabled."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        lean_argv: list[str],
        echo_lsp: Path,
        sandbox: str | None,
        warm_pool_size: int,
        env: dict[str, str],
    ) -> None:
        self.name = name
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        config_dir, runtime_dir, root_dir = (workdir / d for d in ("config", "runtime", "root"))
        for folder in (config_dir, runtime_dir, root_dir):
            folder.mkdir(parents=True)
        manager: dict[str, Any] = {
            "warm_pool_size": warm_pool_size,
            # The pipelined phase sends 20,000 requests at once: measured is the relay, not the
            # per-session rate limit (which would answer most of them with -32003 at once).
            "rate_limit": 0,
            "workspace_root": str(workdir / "workspaces"),
        }
        if sandbox is not None:
            manager["sandbox"] = sandbox
        lines = [
            "# written by bench/relay_bench.py",
            f"c.ServerApp.ip = {'127.0.0.1'!r}",
            f"c.ServerApp.port = {self.port!r}",
            "c.ServerApp.port_retries = 0",
            "c.ServerApp.open_browser = False",
            f"c.ServerApp.allow_root = {os.geteuid() == 0!r}",
            f"c.ServerApp.root_dir = {str(root_dir)!r}",
            f"c.IdentityProvider.token = {self.token!r}",
            "c.ServerApp.jpserver_extensions = {'jupyter_server_ext': True, 'jupyter_lsp': True}",
            *(f"c.LeanSessionManager.{k} = {v!r}" for k, v in manager.items()),
            "c.LanguageServerManager.autodetect = False",
            "c.LanguageServerManager.language_servers = {'echo': {"
            f"'argv': [{PYTHON!r}, {str(echo_lsp)!r}], 'languages': ['lean4'], "
            "'version': 2, 'display_name': 'echo'}}",
        ]
        (config_dir / "jupyter_server_config.py").write_text("\n".join(lines) + "\n")
        child_env = dict(env)
        child_env.update(
            {
                "JUPYTER_CONFIG_DIR": str(config_dir),
                "JUPYTER_RUNTIME_DIR": str(runtime_dir),
                "JUPYTER_LEAN_COMMAND": shlex.join(lean_argv),
            }
        )
        log(
            f"starting jupyter server {name!r} on port {self.port} "
            f"(sandbox={sandbox or 'default'}, warm_pool_size={warm_pool_size}, "
            f"JUPYTER_LEAN_COMMAND={child_env['JUPYTER_LEAN_COMMAND']})"
        )
        started = time.monotonic()
        self.child = Child(
            f"jupyter server {name}",
            [PYTHON, "-m", "jupyter_server"],
            env=child_env,
            cwd=root_dir,
            log_path=workdir / "server.log",
            stop_signal=signal.SIGTERM,
            grace=20.0,
        )
        self.health: dict[str, Any] = wait_until(
            f"jupyter server {name}",
            self._health,
            deadline_s=SERVER_READY_DEADLINE_S,
            alive=lambda: self.child.alive,
            interval_s=0.05,
            on_fail=self.child.log_tail,
        )
        self.startup_s = time.monotonic() - started
        self._lean_cpu_ticks = -1
        log(f"  ready after {self.startup_s:.1f} s; /lean/health: {json.dumps(self.health)}")

    def _health(self) -> dict[str, Any] | None:
        status, body = http("GET", f"{self.base}/lean/health", token=self.token, timeout=5)
        return json.loads(body) if status == 200 else None

    @property
    def sandbox_in_force(self) -> str:
        return str(self.health.get("sandbox"))

    def lean_lsp_url(self) -> str:
        return f"{self.ws_base}/lean/lsp?project=default&token={self.token}"

    def jupyter_lsp_url(self) -> str:
        return f"{self.ws_base}/lsp/ws/echo?token={self.token}"

    def sessions(self) -> list[dict[str, Any]]:
        status, body = http("GET", f"{self.base}/lean/sessions", token=self.token)
        if status != 200:
            raise RuntimeError(f"GET /lean/sessions: {status} {body[:300]!r}")
        return list(json.loads(body))

    def delete_session(self, session_id: str) -> int:
        status, _ = http(
            "DELETE", f"{self.base}/lean/sessions/{session_id}", token=self.token, timeout=30
        )
        return status

    def delete_all_sessions(self) -> None:
        for session in self.sessions():
            status = self.delete_session(session["id"])
            if status != 204:
                log(f"  DELETE /lean/sessions/{session['id']} answered {status}")

    def metrics(self) -> dict[str, float]:
        status, body = http("GET", f"{self.base}/metrics", token=self.token)
        if status != 200:
            raise RuntimeError(f"GET /metrics: {status}")
        values: dict[str, float] = {}
        for line in body.decode().splitlines():
            match = re.match(r"^(jupyter_lean_[a-z_]+(?:\{[^}]*\})?) ([0-9.eE+-]+)$", line)
            if match:
                values[match.group(1)] = float(match.group(2))
        return values

    def warm_pool_ready(self) -> bool:
        """The pool holds warm_pool_size sessions, every Lean server started so far has
        answered its initialize (the refill, which works one server at a time, is done), and
        the Lean servers have gone idle: no CPU used by any process below the Jupyter server
        since the previous poll. The stand-in answers initialize before it loads its main loop
        (as Lean's watchdog does), and a warm session is one whose server is waiting, not one
        still loading on the same two cores as the server being measured."""
        m = self.metrics()
        warm = m.get('jupyter_lean_sessions{state="warm"}', 0)
        started = m.get("jupyter_lean_sessions_started_total", 0)
        ready = m.get("jupyter_lean_spawn_ready_seconds_count", 0)
        table = process_table()
        ticks = sum(table[pid].cpu_ticks for pid in descendants(self.child.proc.pid, table))
        idle, self._lean_cpu_ticks = ticks == self._lean_cpu_ticks, ticks
        return warm >= WARM_POOL_SIZE and started == ready and idle

    def stop(self) -> None:
        code = self.child.stop()
        log(f"stopped jupyter server {self.name!r} (exit code {code})")


class RefBridge:
    def __init__(self, workdir: Path, ref_bridge: Path, echo_lsp: Path, env: dict[str, str]):
        self.port = free_port()
        workdir.mkdir(parents=True)
        log(f"starting ref_bridge.py on port {self.port}")
        self.child = Child(
            "ref_bridge",
            [PYTHON, str(ref_bridge), str(self.port), PYTHON, str(echo_lsp)],
            env=env,
            log_path=workdir / "ref_bridge.log",
            grace=5.0,
        )
        # Any HTTP answer (404 on /) means Tornado is listening.
        wait_until(
            "ref_bridge.py",
            lambda: http_answers(f"http://127.0.0.1:{self.port}/"),
            deadline_s=30,
            alive=lambda: self.child.alive,
            on_fail=self.child.log_tail,
        )

    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        self.child.stop()


# -- measurements ------------------------------------------------------------------------------


def ws_rtt(
    ws_rtt_py: Path,
    args: list[str],
    *,
    n_seq: int,
    n_pipe: int,
    env: dict[str, str],
    timeout: float,
) -> dict[str, Any]:
    """One run of ws_rtt.py; its JSON line, or {"error": ...}."""
    run_env = dict(env, N_SEQ=str(n_seq), N_PIPE=str(n_pipe))
    started = time.monotonic()
    code, out, err = run_captured([PYTHON, str(ws_rtt_py), *args], env=run_env, timeout=timeout)
    elapsed = time.monotonic() - started
    if code is None:
        return {
            "error": f"ws_rtt.py timed out after {timeout:.0f} s (killed); stderr tail: "
            f"{err.strip()[-800:]}"
        }
    for line in reversed(out.strip().splitlines()):
        with contextlib.suppress(ValueError):
            result = json.loads(line)
            if isinstance(result, dict) and "rtt_p50_ms" in result:
                result["elapsed_s"] = round(elapsed, 2)
                return result
    return {"error": f"ws_rtt.py exited {code} without a result; stderr tail: {err.strip()[-800:]}"}


def measure_relay(
    row: RelayRow,
    ws_rtt_py: Path,
    args: list[str],
    *,
    n_pipe: int,
    env: dict[str, str],
    timeout: float,
    after: Any = None,
) -> None:
    if row.error:
        return
    log(f"measuring {row.label} (N_SEQ={row.n_seq}, N_PIPE={n_pipe})")
    result = ws_rtt(ws_rtt_py, args, n_seq=row.n_seq, n_pipe=n_pipe, env=env, timeout=timeout)
    if after is not None:
        after()
    if "error" in result:
        row.error = result["error"]
        log(f"  ERROR: {row.error}")
        return
    row.runs.append(result)
    log(
        f"  p50 {result['rtt_p50_ms']} ms, p99 {result['rtt_p99_ms']} ms, "
        f"{result['pipelined_msgs_per_s']} msgs/s ({result['elapsed_s']} s)"
    )


async def _create_once(server: JupyterServer, timeout: float) -> tuple[float, float]:
    """Open WS /lean/lsp?project=default, send initialize at once, wait for its result.
    Returns (ms until the WebSocket was open, ms until the initialize result); the session is
    deleted afterwards."""
    from websockets.asyncio.client import connect

    url = f"{server.ws_base}/lean/lsp?project=default"
    headers = {"Authorization": f"token {server.token}"}
    initialize = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": {}},
        }
    )
    session_id = None
    t0 = time.perf_counter()
    ws = await asyncio.wait_for(
        connect(url, additional_headers=headers, max_size=2**26, compression=None), timeout
    )
    try:
        t_open = time.perf_counter()
        await ws.send(initialize)
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if message.get("method") == SESSION_NOTIFICATION:
                session_id = message["params"]["id"]
            elif message.get("id") == 1 and "method" not in message:
                break
        t_done = time.perf_counter()
        # What a client does next (the stand-in, like Lean, insists on it before anything else).
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    finally:
        await ws.close()
        if session_id is not None:
            status = await asyncio.to_thread(server.delete_session, session_id)
            if status != 204:
                raise RuntimeError(f"DELETE /lean/sessions/{session_id} answered {status}")
    if session_id is None:
        raise RuntimeError(f"no {SESSION_NOTIFICATION} frame before the initialize result")
    if "result" not in message:
        raise RuntimeError(f"initialize failed: {json.dumps(message)[:300]}")
    return (t_open - t0) * 1000, (t_done - t0) * 1000


async def _spawn_once(argv: list[str], timeout: float) -> float:
    """Spawn the Lean command directly (no server), send initialize on its stdin, and return the
    ms until the result is read from its stdout; then end it with initialized/shutdown/exit."""

    def frame(message: dict[str, Any]) -> bytes:
        body = json.dumps(message).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    async def read(stdout: asyncio.StreamReader) -> dict[str, Any]:
        length = None
        while True:
            line = (await stdout.readline()).strip()
            if not line:
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("the Lean command closed its stdout before answering initialize")
        return dict(json.loads(await stdout.readexactly(length)))

    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"processId": None, "rootUri": None, "capabilities": {}},
                }
            )
        )
        while True:
            message = await asyncio.wait_for(read(proc.stdout), timeout)
            if message.get("id") == 1 and "method" not in message:
                break
        elapsed = (time.perf_counter() - t0) * 1000
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit", "params": {}}))
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 10)
        return elapsed
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


def measure_spawn_floor(
    row: CreateRow, argv: list[str], *, samples: int, warmup: int, timeout: float
) -> None:
    log(f"measuring {row.label}: {warmup} warm-up + {samples} samples")

    async def run() -> None:
        for i in range(warmup + samples):
            elapsed = await _spawn_once(argv, timeout)
            if i >= warmup:
                row.samples_ms.append(elapsed)

    try:
        asyncio.run(run())
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"
        log(f"  ERROR after {len(row.samples_ms)} samples: {row.error}")
        return
    p50, p99 = percentile_ms(row.samples_ms)
    log(f"  p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def measure_create(
    row: CreateRow, server: JupyterServer, *, samples: int, warmup: int, timeout: float
) -> None:
    log(f"measuring {row.label}: {warmup} warm-up + {samples} samples")

    async def run() -> None:
        for i in range(warmup + samples):
            if row.warm:
                await asyncio.to_thread(
                    wait_until,
                    "warm pool refill",
                    server.warm_pool_ready,
                    deadline_s=POOL_READY_DEADLINE_S,
                    alive=lambda: server.child.alive,
                    interval_s=0.01,
                    on_fail=server.child.log_tail,
                )
            open_ms, total_ms = await _create_once(server, timeout)
            if i >= warmup:
                row.open_ms.append(open_ms)
                row.samples_ms.append(total_ms)

    try:
        asyncio.run(run())
    except Exception as exc:  # report the row, go on with the others
        row.error = f"{type(exc).__name__}: {exc}"
        log(f"  ERROR after {len(row.samples_ms)} samples: {row.error}")
        with contextlib.suppress(Exception):
            server.delete_all_sessions()
        return
    p50, p99 = percentile_ms(row.samples_ms)
    log(f"  p50 {p50:.2f} ms, p99 {p99:.2f} ms (WS open p50 {percentile_ms(row.open_ms)[0]:.2f})")


# -- report ------------------------------------------------------------------------------------


def relay_table(rows: list[RelayRow], ref: RelayRow) -> str:
    ref_p50, ref_rate = ref.median("rtt_p50_ms"), ref.median("pipelined_msgs_per_s")
    body = []
    for row in rows:
        if row.error and not row.runs:
            body.append([row.label, "error", "error", "error", row.error.splitlines()[0][:120]])
            continue
        p50, p99, rate = (
            row.median(m) for m in ("rtt_p50_ms", "rtt_p99_ms", "pipelined_msgs_per_s")
        )
        if row is ref:
            ratio = "1 (reference)"
        elif ref_p50 and ref_rate and p50 is not None and rate is not None:
            ratio = f"RTT {p50 / ref_p50:.2f}x, msgs/s {rate / ref_rate:.2f}x"
        else:
            ratio = "-"
        label = row.label + (f" (N_SEQ={row.n_seq})" if row.key == "jupyter-lsp" else "")
        body.append([label, fmt_ms(p50), fmt_ms(p99), fmt_rate(rate), ratio])
    return markdown_table(
        ["path", "RTT p50 ms", "RTT p99 ms", "pipelined msgs/s", "ratio vs ref_bridge"], body
    )


def create_table(rows: list[CreateRow]) -> str:
    body = []
    for row in rows:
        p50, p99 = row.p50_p99(row.samples_ms)
        open_p50, _ = row.p50_p99(row.open_ms)
        if row.error and not row.samples_ms:
            body.append([row.label, "0", "error", "error", row.error.splitlines()[0][:120]])
            continue
        body.append(
            [row.label, str(len(row.samples_ms)), fmt_ms(p50), fmt_ms(p99), fmt_ms(open_p50)]
        )
    return markdown_table(
        ["new session", "N", "create-to-initialized p50 ms", "p99 ms", "WS open p50 ms"], body
    )


def targets(relay: list[RelayRow], ref: RelayRow, create: list[CreateRow]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    ref_p50, ref_rate = ref.median("rtt_p50_ms"), ref.median("pipelined_msgs_per_s")
    for row in relay:
        if not row.key.startswith("lean-"):
            continue
        p50, rate = row.median("rtt_p50_ms"), row.median("pipelined_msgs_per_s")
        if p50 is None or not ref_p50:
            checks.append(
                {
                    "what": f"{row.label}: RTT p50 <= {TARGET_RTT_RATIO}x ref_bridge",
                    "value": None,
                    "pass": False,
                }
            )
        else:
            checks.append(
                {
                    "what": f"{row.label}: RTT p50 <= {TARGET_RTT_RATIO}x ref_bridge",
                    "value": f"{p50 / ref_p50:.2f}x ({fmt_ms(p50)} vs {fmt_ms(ref_p50)} ms)",
                    "pass": p50 <= TARGET_RTT_RATIO * ref_p50,
                }
            )
        if rate is None or not ref_rate:
            checks.append(
                {
                    "what": f"{row.label}: msgs/s >= {TARGET_THROUGHPUT_RATIO}x ref_bridge",
                    "value": None,
                    "pass": False,
                }
            )
        else:
            checks.append(
                {
                    "what": f"{row.label}: msgs/s >= {TARGET_THROUGHPUT_RATIO}x ref_bridge",
                    "value": f"{rate / ref_rate:.2f}x ({fmt_rate(rate)} vs {fmt_rate(ref_rate)})",
                    "pass": rate >= TARGET_THROUGHPUT_RATIO * ref_rate,
                }
            )
    for row in create:
        if row.floor:
            continue
        limit = TARGET_WARM_MS if row.warm else TARGET_COLD_MS
        p50, _ = row.p50_p99(row.samples_ms)
        checks.append(
            {
                "what": f"create-to-initialized p50 < {limit:g} ms, {row.label}",
                "value": None if p50 is None else f"{fmt_ms(p50)} ms",
                "pass": p50 is not None and p50 < limit,
            }
        )
    return checks


def source_version() -> str:
    """The commit benchmarked, "+ local changes" when the working tree differs from it."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        dirty = (
            subprocess.run(
                ["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--"],
                capture_output=True,
                timeout=10,
                check=False,
            ).returncode
            != 0
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    return f"commit {head.stdout.strip()}" + (" + local changes" if dirty else "")


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shared",
        metavar="DIR",
        help="take echo_lsp.py, ws_rtt.py and ref_bridge.py from DIR "
        "(default: the repository's own, in bench/)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts (N_SEQ=300, N_PIPE=3000, JLSP_N_SEQ=50, 1 round, "
        "10 create samples): a smoke run, numbers noisier",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every result to FILE")
    parser.add_argument(
        "--rounds",
        type=int,
        help="relay measurements per path, interleaved; medians are reported (default 3, quick 1)",
    )
    parser.add_argument(
        "--samples", type=int, help="create-to-initialized samples per row (default 50, quick 10)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds one ws_rtt.py run or one session creation may take",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["relay", "jupyter-lsp", "bwrap", "create"],
        help="leave out a part (repeatable)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a target is missed (default: only errors fail)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    run_started = time.monotonic()
    load_before = os.getloadavg()
    bench_dir = tools_dir(args.shared)
    tools_note = "the repository's bench/" if args.shared is None else "--shared folder"
    echo_lsp, ws_rtt_py, ref_bridge = (
        bench_dir / f for f in ("echo_lsp.py", "ws_rtt.py", "ref_bridge.py")
    )
    n_seq = int(os.environ.get("N_SEQ", 300 if args.quick else 2000))
    n_pipe = int(os.environ.get("N_PIPE", 3000 if args.quick else 20000))
    jlsp_n_seq = int(os.environ.get("JLSP_N_SEQ", min(n_seq, 50 if args.quick else 200)))
    rounds = args.rounds or (1 if args.quick else 3)
    samples = args.samples or (10 if args.quick else 50)
    warmup = 2
    payload = os.environ.get("PAYLOAD", "100")

    if STANDIN.is_file():
        standin_argv, standin_note = [PYTHON, str(STANDIN)], "tests/lean_standin.py"
    else:
        standin_argv = [PYTHON, str(echo_lsp)]
        standin_note = "echo_lsp.py (tests/lean_standin.py is missing)"
        log(f"WARNING: {STANDIN} not found: create-to-initialized uses echo_lsp.py instead")

    marker = secrets.token_hex(8)
    env = dict(os.environ)
    env[RUN_MARKER_VAR] = marker
    env["PAYLOAD"] = payload
    env.pop("JUPYTER_LEAN_COMMAND", None)
    before = pids()
    workdir = Path(tempfile.mkdtemp(prefix="jupyter-lean-relay-bench-"))
    log(f"client, peer and reference bridge from {bench_dir}; work folder: {workdir}")

    stdio = RelayRow("stdio", "stdio direct to echo_lsp.py", n_seq)
    ref = RelayRow("ref", "ref_bridge.py (Tornado WS -> stdio)", n_seq)
    lean_none = RelayRow("lean-none", 'this project /lean/lsp, sandbox "none"', n_seq)
    lean_default = RelayRow("lean-default", "this project /lean/lsp, default sandbox", n_seq)
    jlsp = RelayRow("jupyter-lsp", "jupyter-lsp /lsp/ws/echo", jlsp_n_seq)
    relay_rows = [stdio, ref, lean_none]
    if "bwrap" not in args.skip:
        relay_rows.append(lean_default)
    if "jupyter-lsp" not in args.skip:
        relay_rows.append(jlsp)
    if "relay" in args.skip:
        relay_rows = []
    create_rows: list[CreateRow] = []
    servers: list[Any] = []
    failure = False
    fatal: str | None = None
    interrupted = False

    def on_sigterm(signum: int, frame: Any) -> None:
        raise SystemExit(f"relay_bench: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        # 1. Relay: ref_bridge and both /lean/lsp servers stay up together (idle costs nothing),
        # and the rounds interleave the paths, so drift hits them all alike.
        if relay_rows:  # --skip relay leaves them all out
            ref_server = RefBridge(workdir / "ref_bridge", ref_bridge, echo_lsp, env)
            servers.append(ref_server)
            relay_none = JupyterServer(
                "relay-none",
                workdir / "relay-none",
                lean_argv=[PYTHON, str(echo_lsp)],
                echo_lsp=echo_lsp,
                sandbox="none",
                warm_pool_size=0,
                env=env,
            )
            servers.append(relay_none)
            relay_default = None
            if lean_default in relay_rows:
                relay_default = JupyterServer(
                    "relay-default",
                    workdir / "relay-default",
                    lean_argv=[PYTHON, str(echo_lsp)],
                    echo_lsp=echo_lsp,
                    sandbox=None,
                    warm_pool_size=0,
                    env=env,
                )
                servers.append(relay_default)
                lean_default.label = (
                    f"this project /lean/lsp, default sandbox "
                    f"(auto: {relay_default.sandbox_in_force})"
                )
            for number in range(1, rounds + 1):
                log(f"relay round {number}/{rounds}")
                measure_relay(
                    stdio,
                    ws_rtt_py,
                    ["stdio", PYTHON, str(echo_lsp)],
                    n_pipe=n_pipe,
                    env=env,
                    timeout=args.timeout,
                )
                measure_relay(
                    ref,
                    ws_rtt_py,
                    ["ws", ref_server.url()],
                    n_pipe=n_pipe,
                    env=env,
                    timeout=args.timeout,
                )
                measure_relay(
                    lean_none,
                    ws_rtt_py,
                    ["ws", relay_none.lean_lsp_url()],
                    n_pipe=n_pipe,
                    env=env,
                    timeout=args.timeout,
                    after=relay_none.delete_all_sessions,
                )
                if relay_default is not None:
                    measure_relay(
                        lean_default,
                        ws_rtt_py,
                        ["ws", relay_default.lean_lsp_url()],
                        n_pipe=n_pipe,
                        env=env,
                        timeout=args.timeout,
                        after=relay_default.delete_all_sessions,
                    )
            if jlsp in relay_rows:
                measure_relay(
                    jlsp,
                    ws_rtt_py,
                    ["ws", relay_none.jupyter_lsp_url()],
                    n_pipe=n_pipe,
                    env=env,
                    timeout=args.timeout,
                )
            for server in reversed(servers):
                server.stop()
            servers.clear()

        # 2. Create-to-initialized, one server per (sandbox, pool) with the stand-in as Lean.
        if "create" not in args.skip:
            floor = CreateRow(
                "floor",
                f"reference: {standin_note.split()[0]} spawned directly "
                "(stdio, no server, no sandbox)",
                warm=False,
                sandbox="none",
                floor=True,
            )
            create_rows.append(floor)
            measure_spawn_floor(
                floor, standin_argv, samples=samples, warmup=warmup, timeout=min(args.timeout, 60.0)
            )
            sandboxes: list[str | None] = ["none"] + ([] if "bwrap" in args.skip else [None])
            for sandbox in sandboxes:
                for warm in (False, True):
                    name = f"create-{'warm' if warm else 'cold'}-{sandbox or 'default'}"
                    server = JupyterServer(
                        name,
                        workdir / name,
                        lean_argv=standin_argv,
                        echo_lsp=echo_lsp,
                        sandbox=sandbox,
                        warm_pool_size=WARM_POOL_SIZE if warm else 0,
                        env=env,
                    )
                    servers.append(server)
                    sandbox_label = (
                        'sandbox "none"'
                        if sandbox
                        else f"default sandbox (auto: {server.sandbox_in_force})"
                    )
                    label = (
                        f"warm pool (warm_pool_size={WARM_POOL_SIZE}), {sandbox_label}"
                        if warm
                        else f"cold (warm_pool_size=0), {sandbox_label}"
                    )
                    row = CreateRow(name, label, warm, server.sandbox_in_force)
                    create_rows.append(row)
                    measure_create(
                        row, server, samples=samples, warmup=warmup, timeout=min(args.timeout, 60.0)
                    )
                    server.stop()
                    servers.remove(server)
    except Exception as exc:
        failure = True
        fatal = f"{type(exc).__name__}: {exc}"
        log(f"FAILED: {fatal}")
    except BaseException:  # SIGTERM, Ctrl-C: stop everything, leave no folder behind
        interrupted = True
        raise
    finally:
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
        # Lean servers live in process groups of their own: look for anything of this run left.
        time.sleep(0.2)
        left = leftovers(marker, before, needles=[str(workdir)])
        if left:
            log("LEFTOVER processes (killed now):\n  " + "\n  ".join(left))
            kill_pids(left)
            failure = True
        if interrupted and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - run_started
    load_after = os.getloadavg()
    check_rows = targets([r for r in relay_rows if r.key.startswith("lean-")], ref, create_rows)
    try:
        jlsp_version = metadata.version("jupyter-lsp")
    except metadata.PackageNotFoundError:
        jlsp_version = "not installed"

    out: list[str] = []
    out.append(f"## Relay benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {platform.node()})")
    out.append("")
    out.append(
        f"jupyter-lean {source_version()}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"jupyter_server {metadata.version('jupyter_server')}, "
        f"jupyter-lsp {jlsp_version}, tornado {metadata.version('tornado')}, "
        f"websockets {metadata.version('websockets')}. Client: ws_rtt.py with "
        f"N_SEQ={n_seq}, N_PIPE={n_pipe}, PAYLOAD={payload}; median of {rounds} "
        f"interleaved round(s) per path"
        + (f" (jupyter-lsp: 1 run, N_SEQ={jlsp_n_seq})" if jlsp in relay_rows else "")
        + f". Peer: echo_lsp.py. Tools (client, peer, ref_bridge): {tools_note}. "
        "Load average (1 min) "
        f"{load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end."
    )
    out.append("")
    if relay_rows:
        out.append(relay_table(relay_rows, ref))
        out.append("")
    if create_rows:
        out.append(
            f"Create-to-initialized: WS /lean/lsp?project=default opened, `initialize` "
            f"sent, until its result arrives; Lean = {standin_note}; {warmup} warm-up "
            f"creations not counted; each session deleted after its sample."
        )
        out.append("")
        out.append(create_table(create_rows))
    out.append("")
    out.append("Targets:")
    out.append("")
    for check in check_rows:
        verdict = "PASS" if check["pass"] else "FAIL"
        out.append(f"- {verdict}: {check['what']}: {check['value'] or 'no measurement'}")
    errors = [(r.label, r.error) for r in [*relay_rows, *create_rows] if r.error]
    if fatal:
        errors.insert(0, ("run aborted", fatal.splitlines()[0]))
    if errors:
        out.append("")
        out.append("Errors:")
        out.append("")
        for label, error in errors:
            out.append(f"- {label}: {error}")
    out.append("")
    out.append(
        f"Run took {elapsed:.0f} s; leftover processes: {'none' if not left else len(left)}."
    )
    print("\n".join(out), flush=True)

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "host": platform.node(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "n_seq": n_seq,
                    "n_pipe": n_pipe,
                    "jlsp_n_seq": jlsp_n_seq,
                    "payload": payload,
                    "rounds": rounds,
                    "create_samples": samples,
                    "create_warmup": warmup,
                    "lean_standin": standin_note,
                    "elapsed_s": round(elapsed, 1),
                    "loadavg_start": load_before,
                    "loadavg_end": load_after,
                    "relay": [r.to_json() for r in relay_rows],
                    "create": [r.to_json() for r in create_rows],
                    "targets": check_rows,
                    "leftovers": left,
                },
                indent=2,
            )
            + "\n"
        )
        log(f"results written to {args.json}")

    failure = failure or bool(errors)
    if failure or args.keep:
        log(f"work folder kept (server logs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure:
        return 2
    if args.check and not all(c["pass"] for c in check_rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
