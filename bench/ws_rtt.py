#!/usr/bin/env python3
"""Round trips and pipelined throughput of LSP requests, over stdio or a WebSocket.

    python bench/ws_rtt.py stdio CMD...   # start CMD and speak LSP to it on its stdin/stdout
    python bench/ws_rtt.py ws URL         # one JSON-RPC message per WebSocket text frame

After ``initialize`` it sends N_SEQ requests (``bench/echo``, params ``{"p": "x" * PAYLOAD}``)
one at a time, timing each until its answer, then N_PIPE more without waiting and counts answers
per second until the last has arrived. Prints one JSON line:

    {"kind": "ws", "rtt_p50_ms": 0.31, "rtt_p99_ms": 0.42, "pipelined_msgs_per_s": 33000}

p50 is the median; p99 is the sorted sample at index int(n * 0.99). Frames without an ``id``
(notifications, such as jupyter-lean's ``$/jupyterLean/session``) are skipped. Environment:
N_SEQ (default 2000), N_PIPE (20000), PAYLOAD (100 bytes). Needs ``websockets`` for ``ws``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any, Protocol

SENDS_BETWEEN_YIELDS = 200  # the pipelined sender lets the reader run this often
READ_LIMIT = 2**24
MAX_FRAME = 2**26


class Transport(Protocol):
    async def send(self, message: dict[str, Any]) -> None: ...
    async def next_reply(self) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class StdioTransport:
    """An LSP server as a child process, Content-Length framing both ways."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = process.stdout

    @classmethod
    async def start(cls, argv: list[str]) -> StdioTransport:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=READ_LIMIT
        )
        return cls(process)

    async def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read(self) -> dict[str, Any]:
        length = 0
        while header := (await self.stdout.readline()).strip():
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if not length:
            raise ConnectionError("the server closed its output")
        message: dict[str, Any] = json.loads(await self.stdout.readexactly(length))
        return message

    async def next_reply(self) -> dict[str, Any]:
        while "id" not in (message := await self._read()):
            pass
        return message

    async def close(self) -> None:
        # shutdown and exit, as a client would; then EOF, and a kill if it still lingers
        await self.send({"jsonrpc": "2.0", "id": "shutdown", "method": "shutdown"})
        await self.send({"jsonrpc": "2.0", "method": "exit"})
        self.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()


class WebSocketTransport:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def connect(cls, url: str) -> WebSocketTransport:
        try:
            from websockets.asyncio.client import connect
        except ImportError:  # websockets < 13
            from websockets import connect  # type: ignore[attr-defined,no-redef]
        return cls(await connect(url, max_size=MAX_FRAME))

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def next_reply(self) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await self.connection.recv())
            if "id" in message:
                return message

    async def close(self) -> None:
        await self.connection.close()


def echo_request(request_id: int, payload: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "bench/echo", "params": {"p": payload}}


def checked(reply: dict[str, Any], expected_id: int | None = None) -> dict[str, Any]:
    if "error" in reply or (expected_id is not None and reply.get("id") != expected_id):
        raise RuntimeError(f"unexpected answer: {json.dumps(reply)[:500]}")
    return reply


async def sequential_rtts_ms(transport: Transport, count: int, payload: str) -> list[float]:
    rtts: list[float] = []
    for request_id in range(1, count + 1):
        started = time.perf_counter()
        await transport.send(echo_request(request_id, payload))
        checked(await transport.next_reply(), request_id)
        rtts.append((time.perf_counter() - started) * 1000.0)
    return rtts


async def pipelined_rate(transport: Transport, first_id: int, count: int, payload: str) -> float:
    async def send_all() -> None:
        for offset in range(count):
            await transport.send(echo_request(first_id + offset, payload))
            if (offset + 1) % SENDS_BETWEEN_YIELDS == 0:
                await asyncio.sleep(0)

    started = time.perf_counter()
    sending = asyncio.create_task(send_all())
    try:
        for _ in range(count):
            checked(await transport.next_reply())
        await sending
    finally:
        sending.cancel()
    return count / (time.perf_counter() - started)


async def measure(
    kind: str, target: list[str], n_seq: int, n_pipe: int, payload: str
) -> dict[str, Any]:
    transport: Transport
    if kind == "stdio":
        transport = await StdioTransport.start(target)
    else:
        transport = await WebSocketTransport.connect(target[0])
    try:
        await transport.send(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        checked(await transport.next_reply(), 0)
        rtts = sorted(await sequential_rtts_ms(transport, n_seq, payload))
        rate = await pipelined_rate(transport, n_seq + 1, n_pipe, payload)
    finally:
        await transport.close()
    return {
        "kind": kind,
        "rtt_p50_ms": round(statistics.median(rtts), 3),
        "rtt_p99_ms": round(rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))], 3),
        "pipelined_msgs_per_s": round(rate),
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("stdio", "ws") or (argv[0] == "ws" and len(argv) != 2):
        print(__doc__, file=sys.stderr)
        return 2
    n_seq = int(os.environ.get("N_SEQ", "2000"))
    n_pipe = int(os.environ.get("N_PIPE", "20000"))
    payload = "x" * int(os.environ.get("PAYLOAD", "100"))
    if n_seq < 1 or n_pipe < 1:
        print("ws_rtt.py: N_SEQ and N_PIPE must be at least 1", file=sys.stderr)
        return 2
    result = asyncio.run(measure(argv[0], argv[1:], n_seq, n_pipe, payload))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
