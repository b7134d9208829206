"""Text frames to a Tornado WebSocket, coalesced per turn of the event loop.

Lean answers in bursts (a reply with progress and diagnostics, many replies to a pipelining
client). Tornado's ``write_message`` costs, per message, a task of its own and a ``send``: with
TCP_NODELAY that is one TCP segment and one wake-up of the client each. Here the first frame of a
turn goes out at once and the rest of the turn's frames together, in order, right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .session import TurnCoalescer, close_reason

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text); frames from a server are never masked
_HEADER_SHORT = struct.Struct("!BB")
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked, uncompressed text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        return _HEADER_SHORT.pack(_FIN_TEXT, size) + payload
    if size <= 0xFFFF:
        return _HEADER_16.pack(_FIN_TEXT, 126, size) + payload
    return _HEADER_64.pack(_FIN_TEXT, 127, size) + payload


def _consume_result(future: asyncio.Future[Any]) -> None:
    """A write future fails with StreamClosedError when the client goes away: that is expected
    and must not be logged as an exception nobody retrieved."""
    if not future.cancelled():
        future.exception()


class CoalescedWriter:
    """Text frames for ``handler``, coalesced per turn of the event loop (TurnCoalescer)."""

    def __init__(self, handler: WebSocketHandler) -> None:
        self._handler = handler
        self._frames = TurnCoalescer(self._write)
        self.last_write: asyncio.Future[Any] | None = None

    def send(self, text: str) -> None:
        """Queue one message; nothing happens once the connection is closing."""
        connection = self._handler.ws_connection
        if connection is None or connection.is_closing():
            return
        if getattr(connection, "_compressor", None) is not None or not hasattr(
            connection, "stream"
        ):
            # permessage-deflate (or another protocol object): Tornado frames it.
            with contextlib.suppress(WebSocketClosedError):
                self.last_write = self._handler.write_message(text)
                self.last_write.add_done_callback(_consume_result)
            return
        self._frames.push(text_frame(text.encode()))

    def backlog(self) -> int:
        """Bytes queued or written to the WebSocket and not yet taken by the network."""
        connection = self._handler.ws_connection
        stream = getattr(connection, "stream", None) if connection is not None else None
        # Tornado's IOStream keeps the count; reading it costs nothing per message, unlike a
        # done-callback on every write (an event-loop round per message).
        buffer = getattr(stream, "_write_buffer", None)
        return self._frames.queued_bytes + (len(buffer) if buffer is not None else 0)

    def drained(self) -> asyncio.Future[Any]:
        """Resolves once everything sent so far has been taken by the network."""
        self.flush()
        last_write = self.last_write
        if last_write is None or last_write.done():
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return last_write

    def close(self, code: int, reason: str) -> None:
        """Close the WebSocket after what was queued (the close frame must come last)."""
        self.flush()
        self._handler.close(code, close_reason(reason))

    def flush(self) -> None:
        """Write everything queued now (also before a close frame, which must come after)."""
        self._frames.flush()

    def _write(self, data: bytes) -> None:
        connection = self._handler.ws_connection
        if connection is None or connection.is_closing():
            return
        stream = getattr(connection, "stream", None)
        if stream is None:
            return
        try:
            write = stream.write(data)
        except StreamClosedError:
            return
        write.add_done_callback(_consume_result)
        self.last_write = write
