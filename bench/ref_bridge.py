#!/usr/bin/env python3
"""The reference for the relay benchmark: the thinnest Tornado WebSocket <-> stdio LSP bridge.

    python bench/ref_bridge.py PORT CMD...     # serves ws://127.0.0.1:PORT/ws

Each WebSocket connection starts its own CMD; a text frame becomes one Content-Length-framed
message on CMD's stdin, and each message on CMD's stdout becomes one text frame. No
authentication, sessions, checks or flow control: this is not the product but the floor any
Tornado bridge on this machine can reach, so the product's relay is measured against it.
"""

from __future__ import annotations

import asyncio
import sys

import tornado.web
import tornado.websocket

READ_LIMIT = 2**24
MAX_FRAME = 2**26


class BridgeHandler(tornado.websocket.WebSocketHandler):
    command: list[str] = []
    process: asyncio.subprocess.Process | None = None

    async def open(self) -> None:  # type: ignore[override]
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=READ_LIMIT,
        )
        self.relay = asyncio.ensure_future(self.relay_output(self.process))

    async def relay_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        output = process.stdout
        while True:
            length = 0
            while header := (await output.readline()).strip():
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if not length:
                return  # the server closed its output
            body = await output.readexactly(length)
            try:
                self.write_message(body.decode())
            except tornado.websocket.WebSocketClosedError:
                return

    def on_message(self, message: str | bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        body = message.encode() if isinstance(message, str) else message
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def on_close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


async def serve(port: int, command: list[str]) -> None:
    BridgeHandler.command = command
    app = tornado.web.Application([("/ws", BridgeHandler)], websocket_max_message_size=MAX_FRAME)
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2:]))
