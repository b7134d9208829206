"""The usage monitor: every session's memory and CPU time, and the end of those over a limit.

Every ``usage_interval`` one pass over /proc, off the event loop (``usage.py``), measures each
live session's Lean process tree (shared pages once) plus its sandbox's memory-backed folders.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from . import metrics, usage
from .sandbox import tmpfs_mounts
from .session import LeanSession
from .state import SessionState

MiB = 1 << 20


class UsageMonitor:
    """Owned by the manager: ``live_sessions`` and ``limits`` (memory bytes, CPU seconds; 0 =
    none) are asked at every pass, so a change of the settings applies at once."""

    def __init__(
        self,
        live_sessions: Callable[[], list[LeanSession]],
        limits: Callable[[], tuple[int, int]],
    ) -> None:
        self._live_sessions = live_sessions
        self._limits = limits
        self._task: asyncio.Task[None] | None = None

    def start(self, interval: float) -> None:
        if interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.measure()

    async def measure(self) -> None:
        """Measure every live session's Lean (one /proc pass, off the event loop) and end those
        over ``memory_limit`` or ``cpu_time_limit``."""
        live = [s for s in self._live_sessions() if s.pid is not None]
        roots = {s.id: s.pid for s in live if s.pid is not None}
        mounts = {s.id: tmpfs_mounts(s.workspace_dir) for s in live if s.sandboxed}
        measured = await asyncio.to_thread(usage.measure, roots, mounts)
        for session in live:
            found = measured.get(session.id)
            if found is None or session.state is SessionState.EXITED:
                continue
            session.usage = found
            reason = self.over_limit(found)
            if reason is not None:
                metrics.SESSIONS_OVER_LIMIT.inc()
                session.end_over_limit(reason)

    def over_limit(self, found: usage.ProcessTreeUsage) -> str | None:
        memory_limit, cpu_time_limit = self._limits()
        if memory_limit and found.memory_bytes > memory_limit:
            return (
                f"the memory limit was reached: Lean used {found.memory_bytes // MiB} MiB "
                f"(memory_limit is {memory_limit // MiB} MiB per session, for all of "
                "its Lean processes and its /tmp and workspace)"
            )
        if cpu_time_limit and found.cpu_seconds > cpu_time_limit:
            return (
                f"the CPU time limit was reached: Lean used {found.cpu_seconds:.0f} s of CPU "
                f"(cpu_time_limit is {cpu_time_limit} s per session)"
            )
        return None
