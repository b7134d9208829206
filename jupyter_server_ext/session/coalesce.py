"""Coalescing writes per turn of the event loop.

A pipelining client sends dozens of messages per turn, and Lean answers in bursts: one write
per message costs a syscall, a TCP segment or a pipe wake-up each. A lone message must not wait,
though: round trips are what an editor feels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class TurnCoalescer:
    """The first chunk of a turn is written at once, later ones of the same turn together at
    its end (a ``call_soon`` callback), in order."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._in_turn = False
        self._queued: list[bytes] = []
        self.queued_bytes = 0

    def push(self, data: bytes) -> None:
        if not self._in_turn:
            self._in_turn = True
            asyncio.get_running_loop().call_soon(self._end_turn)
            self._write(data)
            return
        self._queued.append(data)
        self.queued_bytes += len(data)

    def flush(self) -> None:
        """Write what is queued now (before a close, or to measure what is left)."""
        if not self._queued:
            return
        chunks, self._queued, self.queued_bytes = self._queued, [], 0
        self._write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _end_turn(self) -> None:
        self._in_turn = False
        self.flush()
