"""The warm pool: Lean servers started and initialized ahead, per project, handed out at once."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import SessionError
from .session import LeanSession
from .state import SessionState

# A refill after a hand-out waits this long, so that starting the replacement server (a fork, an
# exec and a CPU-bound start) does not compete with the session being handed out.
REFILL_AFTER_TAKE_S = 0.25
WARM_UP_TIMEOUT_S = 120


class WarmPool:
    """Owned by the manager, which says how to build a session (``new_session``, not started),
    how to stop one, and how many each project keeps (``size()``, asked at each refill)."""

    def __init__(
        self,
        new_session: Callable[[str], Awaitable[LeanSession]],
        stop: Callable[[LeanSession, str], Awaitable[None]],
        size: Callable[[], int],
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self._new_session = new_session
        self._stop = stop
        self._size = size
        self._log = log
        self._warm: dict[str, list[LeanSession]] = {}
        self._refills: set[asyncio.Future[None]] = set()
        self._closing = False

    def states(self) -> list[str]:
        return ["warm" for pool in self._warm.values() for _ in pool]

    async def wait(self) -> None:
        """Return once every refill under way has finished."""
        while self._refills:
            await asyncio.gather(*list(self._refills), return_exceptions=True)

    async def close(self) -> list[LeanSession]:
        """Stop refilling; the sessions the pool held, for the caller to stop."""
        self._closing = True
        for task in list(self._refills):
            task.cancel()
        await asyncio.gather(*self._refills, return_exceptions=True)
        held = [s for pool in self._warm.values() for s in pool]
        self._warm.clear()
        return held

    def session_exited(self, session: LeanSession) -> None:
        for pool in self._warm.values():
            if session in pool:
                pool.remove(session)
                shutil.rmtree(session.workspace_dir, ignore_errors=True)

    def take(self, project: str) -> LeanSession | None:
        """A ready session of ``project``, and a refill scheduled; None when there is none."""
        pool = self._warm.get(project, [])
        found = None
        while pool and found is None:
            session = pool.pop(0)
            if session.state is SessionState.READY:
                found = session
            else:
                self._track(self._stop(session, "warm pool"))
        return found

    def schedule_refill(self, project: str, delay: float = 0.0) -> None:
        if self._size() <= 0 or self._closing:
            return
        self._track(self._refill(project, delay))

    def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _refill(self, project: str, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        pool = self._warm.setdefault(project, [])
        while len(pool) < self._size() and not self._closing:
            try:
                session = await self._new_session(project)
            except SessionError as exc:
                self._log.warning("Lean warm pool for %s not filled: %s", project, exc.message)
                return
            pool.append(session)
            try:
                await session.start()
                await asyncio.wait_for(session.warm_up(), timeout=WARM_UP_TIMEOUT_S)
            except Exception as exc:
                self._log.warning(
                    "Lean warm pool for %s: a server failed to start: %s", project, exc
                )
                if session in pool:
                    pool.remove(session)
                await self._stop(session, "warm-up failed")
                return
