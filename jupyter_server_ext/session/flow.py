"""Flow control between a client and Lean, both directions (docs/ARCHITECTURE.md 1.1).

The limits are module constants so that tests can shorten them (monkeypatch; they are read when
used, never copied).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from .lsp import JsonObject
from .process import LeanProcess

# Client -> Lean: writes to Lean's stdin are queued by asyncio without bound. Past
# STDIN_PAUSE_BYTES queued, the client's connection stops being read until Lean takes them
# (real backpressure, all the way to the client's TCP window). A Lean that takes nothing at all
# for STDIN_STALL_SECONDS while input waits has stopped reading: the session is ended.
STDIN_PAUSE_BYTES = 1 << 20
STDIN_STALL_SECONDS = 60.0
# Lean -> client: past CLIENT_PAUSE_BYTES not yet flushed to the client's socket, the session
# stops reading Lean's stdout (Lean then blocks on its own writes). A client that takes nothing
# for CLIENT_STALL_SECONDS is closed with 4408; the session stays, and the client may resume.
CLIENT_PAUSE_BYTES = 4 << 20
CLIENT_STALL_SECONDS = 60.0


class ClientConnection(Protocol):
    """What a session needs from an attached client."""

    def deliver(self, message: JsonObject, raw: str | None = None) -> None:
        """Send ``message``; ``raw``, when given, is its exact JSON text (saves re-encoding)."""

    def close_session(self, code: int, reason: str) -> None: ...


class FlowControlledClient(ClientConnection, Protocol):
    """A client with an outgoing buffer (a WebSocket); in-process clients have none."""

    def backlog(self) -> int:
        """Size of what was delivered but not yet flushed to the network."""

    def drained(self) -> asyncio.Future[Any]:
        """Resolves once everything delivered so far is flushed (or the connection is gone)."""


def client_backlog(client: ClientConnection) -> int:
    """Bytes ``client`` was given and has not flushed (0 for a client without a buffer)."""
    backlog: Callable[[], int] | None = getattr(client, "backlog", None)
    return backlog() if backlog is not None else 0


def client_too_full(client: ClientConnection) -> bool:
    return client_backlog(client) > CLIENT_PAUSE_BYTES


async def client_drained(client: FlowControlledClient, left: asyncio.Future[None]) -> bool:
    """Wait until ``client`` has flushed what it was given, or has left: False when it took
    nothing for CLIENT_STALL_SECONDS."""
    done, _ = await asyncio.wait(
        {client.drained(), left},
        timeout=CLIENT_STALL_SECONDS,
        return_when=asyncio.FIRST_COMPLETED,
    )
    return bool(done)


class InputFlow:
    """What goes to Lean's stdin: the bytes handed over, one shared wait for the pipe to drain,
    and the check that Lean still takes them (``on_stuck`` with a reason when it does not)."""

    def __init__(self, process: LeanProcess, on_stuck: Callable[[str], None]) -> None:
        self._process = process
        self._on_stuck = on_stuck
        self._sent = 0
        self._stall_timer: asyncio.TimerHandle | None = None
        self._drained: asyncio.Future[None] | None = None

    def send(self, data: bytes) -> None:
        # Counted first: a full pipe reports back from inside write() (``backlogged``), and
        # the stall check then takes this message as not yet taken.
        self._sent += len(data)
        self._process.write(data)

    def backlogged(self) -> None:
        """LeanProcess found the pipe full: start watching whether Lean takes anything."""
        if self._stall_timer is None:
            self._arm_stall_check()

    def backlog(self) -> int:
        """Bytes queued for Lean's stdin beyond what its pipe holds."""
        return self._process.stdin_buffered_bytes()

    def pause_needed(self) -> asyncio.Future[None] | None:
        """While Lean has not taken what it was given, the client is read no further: the
        future to wait for, or None to go on reading."""
        return self.drained() if self.backlog() > STDIN_PAUSE_BYTES else None

    def drained(self) -> asyncio.Future[None]:
        """Resolves once Lean has taken the queued input (or the session ended). Shared by all
        callers: one drain at a time."""
        if self._drained is None or self._drained.done():
            self._drained = asyncio.ensure_future(self._process.drain())
        return self._drained

    def stop(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _arm_stall_check(self) -> None:
        taken = self._sent - self._process.stdin_buffered_bytes()
        self._stall_timer = asyncio.get_running_loop().call_later(
            STDIN_STALL_SECONDS, self._check_stall, taken
        )

    def _check_stall(self, taken_before: int) -> None:
        """Input has been waiting for STDIN_STALL_SECONDS: fine if Lean took some of it."""
        self._stall_timer = None
        waiting = self._process.stdin_buffered_bytes()
        if waiting == 0 or self._process.returncode is not None:
            return
        if self._sent - waiting > taken_before:
            self._arm_stall_check()  # slow, not stuck
            return
        self._on_stuck(
            f"Lean stopped reading its input: {waiting} bytes have been waiting for "
            f"{STDIN_STALL_SECONDS:g} s"
        )
