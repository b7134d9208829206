"""Requests sent to Lean and not yet answered: the client's and the session's own, their ids on
Lean's side, and the timeout of the client's.

Client ids go to Lean unchanged unless one is still pending (a previous client's, or one of the
session's own): then the request gets a fresh id of the session's, mapped back on the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .lsp import JsonObject
from .mirror import VERSIONED_URI_METHODS

# Barriers, not questions: they legitimately take as long as Lean needs to elaborate a file
# (minutes for a big one), so request_timeout does not apply to them.
UNTIMED_METHODS = frozenset(VERSIONED_URI_METHODS)


class LeanRequestError(Exception):
    """Lean answered a request of the session's own with an error (or exited first)."""

    def __init__(self, error: JsonObject) -> None:
        self.error = error
        super().__init__(error.get("message", "Lean request failed"))


@dataclass
class ClientRequest:
    generation: int  # of the client that sent it: a later client does not get its answer
    client_id: Any
    method: str
    sent_at: float


@dataclass
class InternalRequest:
    future: asyncio.Future[Any]
    method: str
    sent_at: float = field(default_factory=time.monotonic)


Entry = ClientRequest | InternalRequest
# Called with the client requests that timed out, already taken out of the table.
ExpiryHandler = Callable[[list[tuple[Any, ClientRequest]]], None]


class PendingRequests:
    """Pending requests by the id Lean knows them by; ``timeout`` (seconds, 0 = never) fails a
    client request Lean has not answered, through ``on_expired``."""

    def __init__(self, timeout: float, on_expired: ExpiryHandler) -> None:
        self.timeout = timeout
        self._on_expired = on_expired
        self._entries: dict[Any, Entry] = {}
        # client id -> the id Lean got, for the client's requests still pending.
        self._client_ids: dict[Any, Any] = {}
        self._next_id = 0
        self._timer: asyncio.TimerHandle | None = None

    def __contains__(self, server_id: Any) -> bool:
        return server_id in self._entries

    def allocate_id(self) -> str:
        """An id of the session's own, distinct from every pending one."""
        while True:
            self._next_id += 1
            candidate = f"jupyter-lean:{self._next_id}"
            if candidate not in self._entries:
                return candidate

    def add_internal(self, method: str) -> tuple[str, asyncio.Future[Any]]:
        """A request of the session's own: its id and the future its answer resolves."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        server_id = self.allocate_id()
        self._entries[server_id] = InternalRequest(future, method)
        return server_id, future

    def add_client(self, generation: int, client_id: Any, method: str) -> Any:
        """A client's request: the id Lean gets for it (``client_id`` unless that clashes)."""
        server_id = client_id
        if server_id in self._entries:
            server_id = self.allocate_id()
        self._entries[server_id] = ClientRequest(generation, client_id, method, time.monotonic())
        self._client_ids[client_id] = server_id
        if self.timeout > 0 and self._timer is None:
            self._arm_timer(self.timeout)
        return server_id

    def pop(self, server_id: Any) -> Entry | None:
        """The request Lean answered (None when it is not pending any more)."""
        entry = self._entries.pop(server_id, None)
        if isinstance(entry, ClientRequest) and self._client_ids.get(entry.client_id) == server_id:
            del self._client_ids[entry.client_id]
        return entry

    def server_id_of(self, client_id: Any) -> Any | None:
        return self._client_ids.get(client_id)

    def release_client_ids(self) -> list[Any]:
        """The client has gone: Lean's ids of its pending requests (to cancel them). Their
        answers still arrive and are dropped (their generation is gone)."""
        server_ids = list(self._client_ids.values())
        self._client_ids.clear()
        return server_ids

    def take_all(self) -> list[Entry]:
        """Every pending request, taken out of the table (Lean exited: all of them fail)."""
        entries = list(self._entries.values())
        self._entries = {}
        self._client_ids.clear()
        return entries

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm_timer(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._expire)

    def _expire(self) -> None:
        """Take out client requests older than ``timeout`` (the barriers of UNTIMED_METHODS
        excepted), hand them to ``on_expired``, then sleep until the oldest one left is due.
        A timer, not a polling loop: an idle session costs no wake-ups."""
        self._timer = None
        now = time.monotonic()
        deadline = now - self.timeout
        oldest: float | None = None
        expired: list[tuple[Any, ClientRequest]] = []
        for server_id, entry in list(self._entries.items()):
            if not isinstance(entry, ClientRequest) or entry.method in UNTIMED_METHODS:
                continue
            if entry.sent_at > deadline:
                oldest = entry.sent_at if oldest is None else min(oldest, entry.sent_at)
                continue
            self.pop(server_id)
            expired.append((server_id, entry))
        if expired:
            self._on_expired(expired)
        if oldest is not None:
            self._arm_timer(oldest + self.timeout - now)
