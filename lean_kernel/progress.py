"""Where Lean is while a cell runs long: one display_data output, updated in place, then removed.

Fast cells show nothing: the display appears only after ``delay`` seconds (a UI timer, not a
synchronisation), then follows Lean's ``$/lean/fileProgress`` notifications.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from .connection import FATAL

Send = Callable[[str, dict[str, Any]], None]
Describe = Callable[[int], str]  # document line -> "line 3 of this cell"


class ProgressDisplay:
    def __init__(self, send: Send, describe: Describe, delay: float) -> None:
        self._send = send
        self._describe = describe
        self._delay = delay
        self.display_id = f"lean-progress-{uuid.uuid4().hex}"
        self.version = 0
        self.shown = False
        self._finished = False
        self._text = "Lean is checking this cell…"
        self._timer: asyncio.TimerHandle | None = None

    def start(self, version: int) -> None:
        self.version = version
        self._timer = asyncio.get_running_loop().call_later(self._delay, self._show)

    def update(self, version: int, processing: list[dict[str, Any]]) -> None:
        if self._finished or version < self.version:
            return
        text = self._text_for(processing)
        if text == self._text:
            return
        self._text = text
        if self.shown:
            self._send("update_display_data", self._content())

    def _text_for(self, processing: list[dict[str, Any]]) -> str:
        if not processing:
            return "Lean is done; collecting its messages…"
        first = processing[0]
        try:
            line = int(first["range"]["start"]["line"])
        except (KeyError, TypeError, ValueError):
            return self._text
        if first.get("kind") == FATAL:
            return "Lean reported a fatal error while checking the document…"
        return f"Lean is checking {self._describe(line)}…"

    def _content(self) -> dict[str, Any]:
        return {
            "data": {"text/plain": f"⏳ {self._text}"},
            "metadata": {},
            "transient": {"display_id": self.display_id},
        }

    def _show(self) -> None:
        if self._finished:
            return
        self.shown = True
        self._send("display_data", self._content())

    def finish(self) -> bool:
        """Stop updating; True if the display was shown (and must be removed by the caller)."""
        self._finished = True
        if self._timer is not None:
            self._timer.cancel()
        return self.shown

    def blank(self) -> dict[str, Any]:
        """The update that empties the display (when clear_output would remove other outputs)."""
        return {
            "data": {"text/plain": ""},
            "metadata": {},
            "transient": {"display_id": self.display_id},
        }
