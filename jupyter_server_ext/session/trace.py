"""A session's JSON-RPC traffic, teed to whoever watches it (the sessions console).

The session calls ``SessionTrace.record`` only while ``watchers`` is non-empty, so a session
nobody watches pays one truth test per message. Watchers get each message as one JSON text
(``frame``) and must never hold the relay up: a slow one drops frames (the WebSocket watcher
counts them), it never applies backpressure to the session.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from .lsp import JsonObject, dumps

# Direction of a traced message: sent by the client towards Lean, or delivered to the client.
TO_LEAN = "in"
TO_CLIENT = "out"
# Larger messages (a didOpen of a big file) are traced as the start of their text: a console
# shows a few screens of a message, never megabytes.
MAX_TRACED_TEXT = 64 * 1024


class TraceWatcher(Protocol):
    def trace(self, frame: str) -> None:
        """One frame (JSON text) for the watcher; must not block."""

    def close_trace(self, code: int, reason: str) -> None: ...


class SessionTrace:
    """The watchers of one session and the sequence number of its traced messages."""

    def __init__(self) -> None:
        self.watchers: list[TraceWatcher] = []
        self._seq = 0

    def __bool__(self) -> bool:
        return bool(self.watchers)

    def add(self, watcher: TraceWatcher) -> None:
        if watcher not in self.watchers:
            self.watchers.append(watcher)

    def discard(self, watcher: TraceWatcher) -> None:
        if watcher in self.watchers:
            self.watchers.remove(watcher)

    def record(self, direction: str, message: JsonObject, raw: str | None) -> None:
        """``message`` crossed the session's client boundary; ``raw`` is its exact text when
        known (embedded as is: it was parsed as JSON already)."""
        text = raw if raw is not None else dumps(message)
        self._seq += 1
        head = f'{{"seq":{self._seq},"t":{time.time() * 1000:.3f},"dir":"{direction}",'
        if len(text) > MAX_TRACED_TEXT:
            frame = head + (f'"size":{len(text)},"truncated":{dumps(text[:MAX_TRACED_TEXT])}}}')
        else:
            frame = head + f'"message":{text}}}'
        self._send(frame)

    def event(self, name: str, **details: Any) -> None:
        """Something that happened to the session (attached, detached, exited)."""
        if not self.watchers:
            return
        self._seq += 1
        self._send(
            dumps({"seq": self._seq, "t": round(time.time() * 1000, 3), "event": name, **details})
        )

    def close(self, code: int, reason: str) -> None:
        watchers, self.watchers = self.watchers, []
        for watcher in watchers:
            watcher.close_trace(code, reason)

    def _send(self, frame: str) -> None:
        for watcher in list(self.watchers):
            watcher.trace(frame)
