#!/usr/bin/env python3
"""Real-Lean benchmark: what the product adds to a real Lean, side by side with that Lean alone,
in one run, with the product's default settings (Lean found through elan, sandbox "auto").

    python bench/real_lean_bench.py [--samples N] [--sessions N] [--json FILE] [--check]

Needs a real `lean` (elan's proxy or a toolchain) on PATH: `python tests/real_lean.py --elan`
assembles one. Three tables:

1. Kernel time per trivial prelude cell (execute_request -> execute_reply, the cell re-run in
   place) next to Lean's own edit -> diagnostics on the same document (`lean --server` driven over
   stdio: didChange, then waitForDiagnostics). Target: kernel p50 <= Lean's p50 + 10 ms. Also,
   without a target, a cell with a type error: the kernel then asks Lean for the error's
   interactive form too (its messages output).
2. Create-to-initialized through WS /lean/lsp (a real `jupyter server`, sandbox none and default)
   next to spawning the same `lean --server` directly and initializing it. Target: at most
   1.2 x direct + 10 ms.
3. The cost of measuring memory and CPU: N sessions (default 200) whose "Lean" is a two-process
   tree (`sh` and `sleep`, so that many fit on one machine), polled every `usage_interval`
   (default 2 s); server CPU per wall second with polling and without, and the time of one pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Child, free_port, http, markdown_table, percentile_ms, wait_until
from kernel_bench import execute, kernel
from relay_bench import _create_once, _spawn_once

from jupyter_server_ext.session import LeanSessionManager, usage
from jupyter_server_ext.session.command import find_tool

PRELUDE = "prelude\ninductive N where\n  | z : N\n  | s : N → N\n"
CELL = "#check N.s"
# An error that shows terms: the kernel also asks Lean for its interactive form (messages output).
ERROR_CELL = "def bad : N := N"
KERNEL_TARGET_MS = 10.0
CREATE_RATIO, CREATE_SLACK_MS = 1.2, 10.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def _read(stdout: asyncio.StreamReader) -> dict[str, Any]:
    length = 0
    while line := (await stdout.readline()).strip():
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return dict(json.loads(await stdout.readexactly(length)))


# -- 1. kernel cell vs Lean's own edit -> diagnostics -----------------------------------------


async def lean_edit_to_diagnostics(lean: str, samples: int, workdir: Path) -> list[float]:
    """Lean alone, as the kernel drives it: one document, the last line replaced each time."""
    proc = await asyncio.create_subprocess_exec(
        lean,
        "--server",
        "-Dserver.reportDelayMs=0",
        cwd=workdir,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
        limit=1 << 24,
    )
    assert proc.stdin is not None and proc.stdout is not None
    uri = (workdir / "Bench.lean").as_uri()
    pending: dict[int, asyncio.Future[Any]] = {}

    async def pump() -> None:
        assert proc.stdout is not None
        while True:
            message = await _read(proc.stdout)
            future = pending.pop(message.get("id", -1), None) if "method" not in message else None
            if future is not None:
                future.set_result(message)

    async def request(request_id: int, method: str, params: Any) -> None:
        pending[request_id] = asyncio.get_running_loop().create_future()
        proc.stdin.write(
            _frame({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        )
        await asyncio.wait_for(pending[request_id], 60)

    reader = asyncio.create_task(pump())
    try:
        await request(0, "initialize", {"processId": None, "capabilities": {}})
        proc.stdin.write(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        proc.stdin.write(
            _frame(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": uri,
                            "languageId": "lean4",
                            "version": 1,
                            "text": PRELUDE + CELL + "\n",
                        }
                    },
                }
            )
        )
        await request(1, "textDocument/waitForDiagnostics", {"uri": uri, "version": 1})
        line = PRELUDE.count("\n")
        times = []
        for version in range(2, samples + 2):
            started = time.perf_counter()
            proc.stdin.write(
                _frame(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didChange",
                        "params": {
                            "textDocument": {"uri": uri, "version": version},
                            "contentChanges": [
                                {
                                    "range": {
                                        "start": {"line": line, "character": 0},
                                        "end": {"line": line + 1, "character": 0},
                                    },
                                    "text": CELL + "\n",
                                }
                            ],
                        },
                    }
                )
            )
            await request(
                version, "textDocument/waitForDiagnostics", {"uri": uri, "version": version}
            )
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        reader.cancel()
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


def kernel_cell_times(
    samples: int, workdir: Path, cell: str = CELL, status: str = "ok"
) -> list[float]:
    """The kernel with default settings (no JUPYTER_LEAN_COMMAND): re-running one cell."""
    with kernel(workdir, {}) as client:
        execute(client, PRELUDE, "header")
        execute(client, cell, "cell", status)
        return [execute(client, cell, "cell", status)[0] for _ in range(samples)]


# -- 2. create-to-initialized ------------------------------------------------------------------


class Server:
    """A real `jupyter server` with this extension and the default Lean (no command set)."""

    def __init__(self, workdir: Path, sandbox: str | None) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.base = f"http://127.0.0.1:{self.port}"
        root = workdir / "root"
        root.mkdir(parents=True)
        argv = [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            "--no-browser",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            f"--LeanSessionManager.workspace_root={workdir / 'workspaces'}",
        ]
        if sandbox is not None:
            argv.append(f"--LeanSessionManager.sandbox={sandbox}")
        if os.geteuid() == 0:
            argv.append("--allow-root")
        env = {k: v for k, v in os.environ.items() if k != "JUPYTER_LEAN_COMMAND"}
        env.update(
            JUPYTER_CONFIG_DIR=str(workdir / "config"), JUPYTER_RUNTIME_DIR=str(workdir / "runtime")
        )
        self.child = Child("jupyter server", argv, env=env, log_path=workdir / "server.log")
        wait_until(
            "jupyter server",
            lambda: http("GET", f"{self.base}/api/status", token=self.token)[0] == 200,
            deadline_s=60,
            alive=lambda: self.child.alive,
        )

    def delete_session(self, session_id: str) -> int:
        return http("DELETE", f"{self.base}/lean/sessions/{session_id}", token=self.token)[0]

    def stop(self) -> None:
        self.child.stop()


async def create_times(server: Server, samples: int) -> list[float]:
    await _create_once(server, 60)  # type: ignore[arg-type]  # warm-up: toolchain resolved
    return [(await _create_once(server, 60))[1] for _ in range(samples)]  # type: ignore[arg-type]


async def spawn_times(argv: list[str], samples: int) -> list[float]:
    await _spawn_once(argv, 60)
    return [await _spawn_once(argv, 60) for _ in range(samples)]


# -- 3. usage polling --------------------------------------------------------------------------


async def polling_cost(sessions: int, seconds: float, workdir: Path) -> dict[str, float]:
    """Server CPU per wall second over ``seconds`` with the usage monitor on and off, and the
    wall time of one measuring pass, for ``sessions`` idle sessions."""
    tree = ["sh", "-c", "sleep 3600 & exec cat > /dev/null"]
    results: dict[str, float] = {}
    for interval in (0.0, 2.0):
        manager = LeanSessionManager(
            lean_command=tree,
            sandbox="none",
            idle_timeout=0,
            max_sessions=sessions,
            max_sessions_per_user=sessions,
            usage_interval=interval,
            root_dir=str(workdir),
            workspace_root=str(workdir / "ws"),
        )
        try:
            for _ in range(sessions):
                await manager.create("bench")
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
            results["cpu_per_s_polling" if interval else "cpu_per_s_idle"] = cpu
            if interval:
                roots = {s.id: s.pid for s in manager.live_sessions() if s.pid}
                passes = []
                for _ in range(10):
                    started = time.perf_counter()
                    usage.measure(roots, {})  # type: ignore[arg-type]
                    passes.append((time.perf_counter() - started) * 1000)
                results["pass_ms_p50"] = percentile_ms(passes)[0]
                results["processes"] = float(
                    sum(s.usage.processes for s in manager.live_sessions())
                )
        finally:
            await manager.shutdown()
    return results


# -- report ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--poll-seconds", type=float, default=20.0)
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args(argv)
    lean = find_tool("lean")
    if lean is None:
        log("no `lean` found: run `python tests/real_lean.py --elan` first")
        return 2
    results: dict[str, Any] = {"lean": lean, "sessions": options.sessions}
    with tempfile.TemporaryDirectory(prefix="real-lean-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "config").mkdir()
        log("1. Lean alone: edit -> diagnostics")
        results["lean_edit_ms"] = asyncio.run(
            lean_edit_to_diagnostics(lean, options.samples, workdir)
        )
        log("1. the kernel, re-running a prelude cell")
        results["kernel_cell_ms"] = kernel_cell_times(options.samples, workdir)
        log("1. the kernel, re-running a cell with a type error")
        results["kernel_error_cell_ms"] = kernel_cell_times(
            options.samples, workdir, ERROR_CELL, "error"
        )
        log("2. spawning `lean --server` directly")
        results["spawn_ms"] = asyncio.run(spawn_times([lean, "--server"], options.samples))
        for sandbox in ("none", None):
            label = f"create_ms_{sandbox or 'default'}"
            log(f"2. create-to-initialized through /lean/lsp (sandbox {sandbox or 'default'})")
            server = Server(workdir / label, sandbox)
            try:
                results[label] = asyncio.run(create_times(server, options.samples))
            finally:
                server.stop()
        log(f"3. usage polling with {options.sessions} sessions")
        results["polling"] = asyncio.run(
            polling_cost(options.sessions, options.poll_seconds, workdir)
        )
        shutil.rmtree(workdir / "ws", ignore_errors=True)
    print(report(results))
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1))
    return 1 if options.check and not all(targets(results).values()) else 0


def targets(results: dict[str, Any]) -> dict[str, bool]:
    lean_p50 = percentile_ms(results["lean_edit_ms"])[0]
    spawn_p50 = percentile_ms(results["spawn_ms"])[0]
    return {
        "kernel": percentile_ms(results["kernel_cell_ms"])[0] <= lean_p50 + KERNEL_TARGET_MS,
        **{
            key: percentile_ms(results[key])[0] <= spawn_p50 * CREATE_RATIO + CREATE_SLACK_MS
            for key in ("create_ms_none", "create_ms_default")
        },
    }


def report(results: dict[str, Any]) -> str:
    def row(label: str, key: str) -> list[str]:
        p50, p99 = percentile_ms(results[key])
        return [label, f"{p50:.2f}", f"{p99:.2f}"]

    passed = targets(results)
    polling = results["polling"]
    verdict = {key: "PASS" if ok else "FAIL" for key, ok in passed.items()}
    return "\n\n".join(
        [
            "## 1. A trivial prelude cell: kernel vs Lean's own edit -> diagnostics\n\n"
            + markdown_table(
                ["what", "p50 ms", "p99 ms"],
                [
                    row(
                        "Lean alone (`lean --server -Dserver.reportDelayMs=0`, stdio)",
                        "lean_edit_ms",
                    ),
                    row("kernel: execute_request -> execute_reply", "kernel_cell_ms"),
                    row(
                        "kernel, a type error (+ interactive messages output; no target)",
                        "kernel_error_cell_ms",
                    ),
                ],
            )
            + f"\n\nTarget: kernel p50 <= Lean p50 + {KERNEL_TARGET_MS:g} ms: {verdict['kernel']}",
            "## 2. Create-to-initialized vs spawning the same Lean\n\n"
            + markdown_table(
                ["what", "p50 ms", "p99 ms"],
                [
                    row("`lean --server` spawned directly (elan's proxy)", "spawn_ms"),
                    row("WS /lean/lsp, sandbox none", "create_ms_none"),
                    row("WS /lean/lsp, default sandbox (bwrap here)", "create_ms_default"),
                ],
            )
            + f"\n\nTarget: <= {CREATE_RATIO:g} x direct + {CREATE_SLACK_MS:g} ms: "
            f"none {verdict['create_ms_none']}, default {verdict['create_ms_default']}",
            f"## 3. Measuring memory and CPU of {results.get('sessions', 'N')} sessions\n\n"
            + markdown_table(
                ["what", "value"],
                [
                    ["processes measured", f"{polling['processes']:.0f}"],
                    ["one /proc pass (p50)", f"{polling['pass_ms_p50']:.2f} ms"],
                    ["server CPU, monitor off", f"{polling['cpu_per_s_idle'] * 100:.2f} %"],
                    [
                        "server CPU, polling every 2 s",
                        f"{polling['cpu_per_s_polling'] * 100:.2f} %",
                    ],
                ],
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
