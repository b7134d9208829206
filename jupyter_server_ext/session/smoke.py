"""A real check that Lean works as configured: start it the way a session would (same command,
sandbox, limits and user), initialize it, have it elaborate a one-line document, stop it.

"Lean was found" says little: elan's proxy is found even when it has no toolchain, and a Lean that
starts can still die under the sandbox or the limits. /lean/health reports this check's result,
with Lean's own words when it fails.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .client import InProcessClient, SessionClosed
from .errors import SessionError
from .pending import LeanRequestError
from .session import LeanSession

SMOKE_DOCUMENT = "prelude\n"
SMOKE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    seconds: float
    problem: str | None
    checked: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "problem": self.problem,
            "checked": self.checked.isoformat().replace("+00:00", "Z"),
        }


def _lean_errors(diagnostics: list[Any]) -> list[str]:
    return [
        str(d.get("message", ""))
        for d in diagnostics
        if isinstance(d, dict) and d.get("severity") == 1
    ]


async def _exercise(session: LeanSession) -> str | None:
    """Initialize and elaborate; None when Lean did both, else what went wrong."""
    client = InProcessClient(session)
    published: list[Any] = []
    client.on_notification(
        lambda method, params: (
            published.append(params) if method == "textDocument/publishDiagnostics" else None
        )
    )
    uri = f"file://{session.workspace_dir}/JupyterLeanHealth.lean"
    await client.request("initialize", {"processId": None, "capabilities": {}})
    client.notify("initialized", {})
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": SMOKE_DOCUMENT}},
    )
    await client.request("textDocument/waitForDiagnostics", {"uri": uri, "version": 1})
    errors = [
        e
        for params in published
        if isinstance(params, dict)
        for e in _lean_errors(params.get("diagnostics") or [])
    ]
    return "Lean reported: " + "; ".join(errors) if errors else None


async def smoke_test(session: LeanSession) -> SmokeResult:
    """Run the check on a freshly created, not yet started ``session`` and stop it."""
    started = time.monotonic()
    problem: str | None
    try:
        await session.start()
        problem = await asyncio.wait_for(_exercise(session), SMOKE_TIMEOUT_S)
    except (asyncio.TimeoutError, TimeoutError):
        problem = f"Lean did not elaborate a one-line document within {SMOKE_TIMEOUT_S:g} s"
    except SessionClosed as exc:
        problem = exc.reason
    except LeanRequestError as exc:
        problem = f"{exc}" + (
            f"; Lean's stderr: {' / '.join(session.stderr_tail[-5:])}"
            if session.stderr_tail
            else ""
        )
    except OSError as exc:
        problem = f"Lean could not be started: {exc}"
    finally:
        await session.stop("health check done")
    if problem is None and session.exit_reason not in (None, "health check done"):
        problem = session.exit_reason
    return SmokeResult(
        problem is None, time.monotonic() - started, problem, datetime.now(timezone.utc)
    )


class HealthCheck:
    """The manager's smoke test, reused for ``interval()`` seconds, one at a time however many
    ask. ``new_session`` builds (does not start) a session as a user's would be."""

    def __init__(
        self,
        new_session: Callable[[], Awaitable[LeanSession]],
        interval: Callable[[], float],
    ) -> None:
        self._new_session = new_session
        self._interval = interval
        self._result: SmokeResult | None = None
        self._task: asyncio.Task[SmokeResult] | None = None

    async def result(self, refresh: bool = False) -> SmokeResult:
        last = self._result
        fresh = (
            last is not None
            and (datetime.now(last.checked.tzinfo) - last.checked).total_seconds()
            < self._interval()
        )
        if last is not None and fresh and not refresh:
            return last
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        self._result = await asyncio.shield(self._task)
        return self._result

    async def _run(self) -> SmokeResult:
        try:
            session = await self._new_session()
        except SessionError as exc:
            return SmokeResult(False, 0.0, exc.message, datetime.now(timezone.utc))
        try:
            return await smoke_test(session)
        finally:
            shutil.rmtree(session.workspace_dir, ignore_errors=True)
