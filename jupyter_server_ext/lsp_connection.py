"""One WebSocket client of one Lean session, as jupyter_server's kernel WebSocket handler has a
connection object: the handler does HTTP (authentication, the upgrade), this does the session.

Frames in are parsed strictly (``guard.parse_client_frame``) and handed to the session, which
decides backpressure: while Lean has not taken what it was given, the future it returns holds
up the reading of further frames (Tornado waits for a future ``on_message`` returns). Messages
out are text frames coalesced per turn of the event loop (``ws_frames.py``); their backlog is
what the session reads to pause reading Lean.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornado.websocket import WebSocketHandler

from .session import (
    CLOSE_SESSION_ENDED,
    PARSE_ERROR,
    JsonObject,
    LeanSession,
    dumps,
    error_response,
    notification,
    parse_client_frame,
)
from .ws_frames import CoalescedWriter

SESSION_NOTIFICATION = "$/jupyterLean/session"


class LspConnection:
    """A ``FlowControlledClient`` of ``session`` over ``handler``'s WebSocket."""

    def __init__(self, handler: WebSocketHandler, session: LeanSession) -> None:
        self.session = session
        self._writer = CoalescedWriter(handler)

    def open(self, created: bool) -> None:
        """Attach to the session; a session made for this connection first says its id."""
        session = self.session
        if created:
            self.deliver(notification(SESSION_NOTIFICATION, {"id": session.id}))
        if session.exit_code is not None:
            self.close_session(CLOSE_SESSION_ENDED, session.exit_reason or "Lean session ended")
            return
        session.attach(self)

    def handle_incoming(self, frame: str | bytes) -> asyncio.Future[None] | None:
        """One frame from the client; a future to wait for before reading the next, or None."""
        if isinstance(frame, bytes):
            try:
                frame = frame.decode()
            except UnicodeDecodeError:
                self.deliver(error_response(None, PARSE_ERROR, "Parse error: frame is not UTF-8"))
                return None
        parsed, error = parse_client_frame(frame)
        if error is not None:
            self.deliver(error)
            return None
        assert parsed is not None
        return self.session.receive(self, parsed, frame)

    def on_close(self) -> None:
        self.session.detach(self)

    # ClientConnection
    def deliver(self, message: JsonObject, raw: str | None = None) -> None:
        self._writer.send(raw if raw is not None else dumps(message))

    def close_session(self, code: int, reason: str) -> None:
        self._writer.close(code, reason)

    # FlowControlledClient
    def backlog(self) -> int:
        return self._writer.backlog()

    def drained(self) -> asyncio.Future[Any]:
        return self._writer.drained()
