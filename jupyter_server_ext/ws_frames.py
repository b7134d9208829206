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
from typing import TYPE_CHECKING, Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .session.coalesce import TurnCoalescer

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

    def queued_bytes(self) -> int:
        return self._frames.queued_bytes

    def flush(self) -> None:
        """Write everything queued now (also before a close frame, which must come after)."""
        self._frames.flush()

    def _write(self, data: bytes) -> None:
        connection = self._handler.ws_connection
        if connection is None or connection.is_closing():
            return
        try:
            write = connection.stream.write(data)  # type: ignore[attr-defined]
        except StreamClosedError:
            return
        write.add_done_callback(_consume_result)
        self.last_write = write


if TYPE_CHECKING:
    _HandlerBase = WebSocketHandler
else:
    _HandlerBase = object


class CoalescingMixin(_HandlerBase):
    """For a Tornado WebSocketHandler: ``send_text`` coalesces, ``close`` sends what was queued
    before the close frame, ``write_backlog``/``write_drained`` are the outgoing flow control."""

    _coalesced_writer: CoalescedWriter | None = None

    def send_text(self, text: str) -> None:
        if self._coalesced_writer is None:
            self._coalesced_writer = CoalescedWriter(self)
        self._coalesced_writer.send(text)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self._coalesced_writer is not None:
            self._coalesced_writer.flush()
        super().close(code, reason)

    def write_backlog(self) -> int:
        """Bytes queued or written to the WebSocket and not yet taken by the network."""
        connection = self.ws_connection
        stream = getattr(connection, "stream", None) if connection is not None else None
        # Tornado's IOStream keeps the count; reading it costs nothing per message, unlike a
        # done-callback on every write (an event-loop round per message).
        buffer = getattr(stream, "_write_buffer", None)
        writer = self._coalesced_writer
        return (writer.queued_bytes() if writer is not None else 0) + (
            len(buffer) if buffer is not None else 0
        )

    def write_drained(self) -> asyncio.Future[Any]:
        """Resolves once everything sent so far has been taken by the network."""
        last_write = None
        if self._coalesced_writer is not None:
            self._coalesced_writer.flush()
            last_write = self._coalesced_writer.last_write
        if last_write is None or last_write.done():
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return last_write
