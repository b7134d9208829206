"""Hostile-client benchmark: a bystander's hover round trips while another user attacks.

One real `jupyter server` with this extension (sandbox none). The bystander (this process) has
its own session on the stand-in Lean and asks one hover question after another, through the
server's WebSocket, for the whole run. An attacker (a child process, so that building its frames
does not stall the bystander's own measurements) connects to a second project whose "Lean" just
swallows its input, and in turn:

- ``baseline``: does nothing;
- ``didchange``: opens a document of 4,000,000 newlines, then sends didChange frames of 40
  range edits at its last line (4.6 KB each), one after another;
- ``big-frames``: sends frames of ``max_message_size`` minus 4 KiB (a notification with one long
  string: parsed and checked like any frame), one after another.

Each phase lasts ``--seconds``. A hover is due every 10 ms; each is timed from when it was due
to its answer, so a stall counts once for every hover it held up. Prints p50/p99/max per phase.

Before/after: run it with ``PYTHONPATH=<another checkout>`` to measure that checkout's server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _util import (
    REPO,
    RUN_MARKER_VAR,
    Child,
    free_port,
    http,
    kill_pids,
    leftovers,
    markdown_table,
    percentile_ms,
    pids,
    wait_until,
)
from websockets.asyncio.client import connect
from websockets.sync.client import connect as sync_connect

PYTHON = sys.executable
STANDIN = REPO / "tests" / "lean_standin.py"
DOCUMENT = "def answer := 42\n#eval answer\n"
HOVER_POSITION = {"line": 1, "character": 7}
LINES = 4_000_000
EDITS = 40
PHASES = ("baseline", "didchange", "big-frames")
TICK_S = 0.01
# The attacker's "Lean": reads and discards (its project folder is named like this).
SINK_PROJECT = "sink"


def log(message: str) -> None:
    print(f"[hostile_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def start_server(workdir: Path, marker: str) -> tuple[Child, int, str]:
    port, token = free_port(), secrets.token_hex(16)
    config_dir, runtime_dir, root = (workdir / d for d in ("config", "runtime", "root"))
    for folder in (config_dir, runtime_dir, root / SINK_PROJECT):
        folder.mkdir(parents=True)
    standin = shlex.join([PYTHON, str(STANDIN), "-Dserver.reportDelayMs=10"])
    # One command for every project: the sink project's "Lean" swallows its input.
    command = (
        f'if [ "$(basename "$PWD")" = {SINK_PROJECT} ]; then exec cat >/dev/null; '
        f"else exec {standin}; fi"
    )
    lines = [
        "c.ServerApp.ip = '127.0.0.1'",
        f"c.ServerApp.port = {port}",
        "c.ServerApp.port_retries = 0",
        "c.ServerApp.open_browser = False",
        f"c.ServerApp.allow_root = {os.geteuid() == 0!r}",
        f"c.ServerApp.root_dir = {str(root)!r}",
        f"c.IdentityProvider.token = {token!r}",
        "c.ServerApp.jpserver_extensions = {'jupyter_server_ext': True}",
        "c.LeanSessionManager.sandbox = 'none'",
        f"c.LeanSessionManager.workspace_root = {str(workdir / 'workspaces')!r}",
        f"c.LeanSessionManager.projects = {{'default': {str(root)!r}, "
        f"{SINK_PROJECT!r}: {str(root / SINK_PROJECT)!r}}}",
        f"c.LeanSessionManager.lean_command = ['sh', '-c', {command!r}]",
    ]
    (config_dir / "jupyter_server_config.py").write_text("\n".join(lines) + "\n")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_RUNTIME_DIR=str(runtime_dir),
        **{RUN_MARKER_VAR: marker},
    )
    env.pop("JUPYTER_LEAN_COMMAND", None)
    child = Child(
        "jupyter server",
        [PYTHON, "-m", "jupyter_server"],
        env=env,
        cwd=root,
        log_path=workdir / "server.log",
        grace=30.0,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(
        "jupyter server",
        lambda: http("GET", f"{base}/lean/health", token=token)[0] == 200,
        deadline_s=90,
        alive=lambda: child.alive,
        on_fail=child.log_tail,
    )
    return child, port, token


def max_message_size() -> int:
    """The default max_message_size of the code under test (the same PYTHONPATH as the server)."""
    from jupyter_server_ext.session.manager import LeanSessionManager

    return int(LeanSessionManager.class_traits()["max_message_size"].default_value)


def delete_sessions(port: int, token: str) -> None:
    base = f"http://127.0.0.1:{port}/lean/sessions"
    status, body = http("GET", base, token=token, timeout=120)
    for session in json.loads(body) if status == 200 else []:
        http("DELETE", f"{base}/{session['id']}", token=token, timeout=120)


def _big_frame(size: int) -> str:
    head = '{"jsonrpc":"2.0","method":"$/bench/big","params":{"data":"'
    return head + "x" * (size - len(head) - 3) + '"}}'


# -- the attacker (a child process) ---------------------------------------------------------


def attack(
    phase: str, port: int, token: str, seconds: float, frame_size: int, max_frames: int, root: str
) -> None:
    url = f"ws://127.0.0.1:{port}/lean/lsp?project={SINK_PROJECT}&token={token}"
    deadline = time.monotonic() + seconds
    with sync_connect(url, max_size=None, open_timeout=30, close_timeout=1) as ws:
        ws.recv(timeout=30)
        ws.send(
            json.dumps(
                {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}
            )
        )
        uri = (Path(root) / SINK_PROJECT / "Attack.lean").as_uri()
        sent = 0
        if phase == "didchange":
            ws.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didOpen",
                        "params": {
                            "textDocument": {
                                "uri": uri,
                                "languageId": "lean4",
                                "version": 1,
                                "text": "\n" * LINES,
                            }
                        },
                    }
                )
            )
            edit = {
                "range": {
                    "start": {"line": LINES, "character": 0},
                    "end": {"line": LINES, "character": 0},
                },
                "text": "x",
            }
            version = 1
            while time.monotonic() < deadline and not (max_frames and sent >= max_frames):
                version += 1
                ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "method": "textDocument/didChange",
                            "params": {
                                "textDocument": {"uri": uri, "version": version},
                                "contentChanges": [edit] * EDITS,
                            },
                        }
                    )
                )
                sent += 1
                time.sleep(0.01)
        elif phase == "big-frames":
            frame = _big_frame(frame_size)
            while time.monotonic() < deadline and not (max_frames and sent >= max_frames):
                ws.send(frame)
                sent += 1
        time.sleep(max(0.0, deadline - time.monotonic()))
        print(json.dumps({"frames": sent}), flush=True)


# -- the bystander --------------------------------------------------------------------------


async def bystander(
    port: int, token: str, root: Path, seconds: float, attacker: list[str]
) -> tuple[list[float], str]:
    url = f"ws://127.0.0.1:{port}/lean/lsp?project=default&token={token}"
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        ws.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await ws.recv()
        next_id = 0

        async def call(method: str, params: Any) -> Any:
            nonlocal next_id
            next_id += 1
            await ws.send(
                json.dumps({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params})
            )
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == next_id and "method" not in message:
                    return message

        await call("initialize", {"processId": None, "capabilities": {}})
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        uri = (root / "Bystander.lean").as_uri()
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": uri,
                            "languageId": "lean4",
                            "version": 1,
                            "text": DOCUMENT,
                        }
                    },
                }
            )
        )
        await call("textDocument/waitForDiagnostics", {"uri": uri, "version": 1})
        hover = {"textDocument": {"uri": uri}, "position": HOVER_POSITION}
        expected = await call("textDocument/hover", hover)
        proc = await asyncio.create_subprocess_exec(*attacker, stdout=subprocess.PIPE)
        # One hover due every TICK_S: a hover held up by a stall also delays the ones due
        # meanwhile, and each is counted from when it was due (a stall of 1 s is 100 slow
        # samples, not one: no coordinated omission).
        samples: list[float] = []
        start = time.perf_counter()
        due = start
        while due < start + seconds:
            now = time.perf_counter()
            if now < due:
                await asyncio.sleep(due - now)
            answer = await call("textDocument/hover", hover)
            done = time.perf_counter()
            assert answer["result"] == expected["result"], answer
            while due <= done and due < start + seconds:
                samples.append((done - due) * 1000)
                due += TICK_S
        out, _ = await proc.communicate()
        return samples, out.decode().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument(
        "--max-frames",
        type=int,
        default=0,
        help="attack frames per phase at most (0 = as many as fit): code that "
        "takes seconds per frame would otherwise work through them for hours",
    )
    parser.add_argument("--attacker", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        phase, port, token, seconds, frame, most, root = args.attacker
        attack(phase, int(port), token, float(seconds), int(frame), int(most), root)
        return 0
    marker, before = secrets.token_hex(8), pids()
    workdir = Path(tempfile.mkdtemp(prefix="jupyter-lean-hostile-"))
    rows = []
    server, port, token = start_server(workdir, marker)
    try:
        frame = max_message_size() - 4096
        log(f"big frames: {frame} bytes")
        for phase in args.phases.split(","):
            log(f"phase {phase}")
            attacker = [
                PYTHON,
                __file__,
                "--attacker",
                phase,
                str(port),
                token,
                str(args.seconds),
                str(frame),
                str(args.max_frames),
                str(workdir / "root"),
            ]
            samples, sent = asyncio.run(
                bystander(port, token, workdir / "root", args.seconds, attacker)
            )
            delete_sessions(port, token)
            p50, p99 = percentile_ms(samples)
            rows.append(
                (
                    phase,
                    len(samples),
                    f"{p50:.2f}",
                    f"{p99:.2f}",
                    f"{max(samples):.1f}",
                    json.loads(sent or "{}").get("frames", 0),
                )
            )
    except BaseException:
        log(f"failed; the server's log is in {workdir}")
        raise
    finally:
        server.stop()
        kill_pids(leftovers(marker, before, [str(workdir)]))
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        markdown_table(
            ["attacker", "hovers due", "p50 ms", "p99 ms", "max ms", "attack frames"], rows
        )
    )
    print(
        f"(big frames of {frame / (1 << 20):.1f} MiB; code: "
        f"{os.environ.get('PYTHONPATH') or 'this checkout'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
