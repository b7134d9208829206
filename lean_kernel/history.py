"""history_request for the kernel's own session: the code of every executed cell, in memory.

Entries are (session, line, input) as the messaging protocol wants them; this kernel keeps one
session (1) and numbers lines by execution count.
"""

from __future__ import annotations

import fnmatch
from typing import Any

SESSION = 1

Entry = tuple[int, int, Any]


class History:
    def __init__(self) -> None:
        self._entries: list[tuple[int, str]] = []

    def add(self, line: int, source: str) -> None:
        self._entries.append((line, source))

    def _shape(self, entries: list[tuple[int, str]], output: bool) -> list[Entry]:
        # Outputs are not kept: (input, None) when they are asked for.
        return [(SESSION, line, (source, None) if output else source) for line, source in entries]

    def reply(
        self,
        access: str,
        *,
        output: bool = False,
        session: int | None = None,
        start: int = 0,
        stop: int | None = None,
        n: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
    ) -> list[Entry]:
        if access == "tail":
            chosen = self._entries[-n:] if n else list(self._entries)
        elif access == "range":
            if session not in (None, 0, SESSION, -1):
                return []
            chosen = [
                (line, source)
                for line, source in self._entries
                if line >= (start or 0) and (stop is None or line < stop)
            ]
        elif access == "search":
            glob = pattern or "*"
            chosen = [
                (line, source)
                for line, source in self._entries
                if fnmatch.fnmatchcase(source, glob)
            ]
            if unique:
                seen: set[str] = set()
                kept = []
                for line, source in reversed(chosen):
                    if source not in seen:
                        seen.add(source)
                        kept.append((line, source))
                chosen = list(reversed(kept))
            if n:
                chosen = chosen[-n:]
        else:
            chosen = []
        return self._shape(chosen, output)
