"""Coalesced WebSocket writes: frames a real client decodes, in order, before the close frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.websocket import WebSocketHandler, websocket_connect

from jupyter_server_ext.ws_frames import CoalescedWriter

# Around each boundary of the three length encodings of RFC 6455 (7 bits, 16 bits, 64 bits).
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]


class BurstHandler(WebSocketHandler):
    """On "burst": one message per size in SIZES, all in one turn; on "burst-then-close": three
    messages, the close (4410) and one more, all in one turn."""

    def open(self) -> None:
        self.writer = CoalescedWriter(self)

    def on_message(self, message: str | bytes) -> None:
        if message == "burst":
            for index, size in enumerate(SIZES):
                self.writer.send(json.dumps({"index": index, "pad": "é" * (size // 2)}))
        elif message == "burst-then-close":
            for index in range(3):
                self.writer.send(json.dumps({"index": index}))
            self.writer.close(4410, "gone")
            self.writer.send(json.dumps({"index": "after close"}))


class CompressingBurstHandler(BurstHandler):
    """The same, with permessage-deflate offered (then Tornado frames every message)."""

    def get_compression_options(self) -> dict[str, Any]:
        return {}


@contextlib.asynccontextmanager
async def burst_server(handler: type[WebSocketHandler] = BurstHandler) -> AsyncIterator[str]:
    """A Tornado server with ``handler`` on a free port (async: it needs the test's loop)."""
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([("/ws", handler)]))
    server.add_sockets([sock])
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.stop()
        await server.close_all_connections()


@pytest.mark.parametrize("compressed", [False, True], ids=["raw-frames", "permessage-deflate"])
async def test_a_burst_arrives_whole_and_in_order(compressed: bool) -> None:
    handler = CompressingBurstHandler if compressed else BurstHandler
    async with burst_server(handler) as url:
        client = await websocket_connect(url, compression_options={} if compressed else None)
        assert (client.protocol._compressor is not None) is compressed  # type: ignore[union-attr]
        await client.write_message("burst")
        received = [json.loads(await asyncio.wait_for(client.read_message(), 10)) for _ in SIZES]
        client.close()
    assert [m["index"] for m in received] == list(range(len(SIZES)))
    assert [len(m["pad"]) for m in received] == [size // 2 for size in SIZES]
    assert all(set(m["pad"]) <= {"é"} for m in received)


async def test_frames_queued_before_a_close_go_out_before_it() -> None:
    async with burst_server() as url:
        client = await websocket_connect(url)
        await client.write_message("burst-then-close")
        frames = []
        while (frame := await asyncio.wait_for(client.read_message(), 10)) is not None:
            frames.append(json.loads(frame)["index"])
    assert frames == [0, 1, 2]  # nothing after the close frame
    assert client.close_code == 4410
