"""The kernel's Lean: one session of the session layer with the notebook's document open in it.

It starts Lean (through ``LeanSessionManager``, so configuration, sandbox and limits are the server
extension's), opens the document, sends edits, waits on ``textDocument/waitForDiagnostics`` (Lean's
"everything for version N has been sent" barrier) and turns Lean's failure modes into three
exceptions: Lean could not start, a file worker crashed, the whole server exited. It also brings
Lean back after a crash, a hang or an interrupt, and stops starting a Lean that keeps dying as it
starts (``StartBackoff``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server_ext.session import (
    COMMAND_ENV_VAR,
    CONTENT_MODIFIED,
    INSTALL_HINT,
    LEAN_SERVER_EXITED,
    InProcessClient,
    LeanRequestError,
    LeanSession,
    LeanSessionManager,
    LeanUnavailable,
    SessionClosed,
    SessionError,
    SessionState,
)

if TYPE_CHECKING:  # document.py needs render.py, which needs this module at run time
    from .document import Edit, Position

WORKER_EXITED, WORKER_CRASHED = -32901, -32902
FATAL = 2  # fileProgress kind of a fatal error
FATAL_GRACE = 2.0  # seconds: see LeanConnection._wait_for_diagnostics
STDERR_SEPARATOR = "; last stderr lines:\n"  # how the session layer appends Lean's stderr
MAX_SUMMARY = 600  # characters of Lean's stderr in a one-line summary

ProgressListener = Callable[[int, list[dict[str, Any]]], None]


class WorkerCrashed(Exception):
    """Lean's file worker for the document died (Lean restarts it on the next edit)."""


class ServerExited(Exception):
    """The whole Lean server exited (or was stopped); a new session is needed."""


def lsp_position(position: Position) -> dict[str, int]:
    return {"line": position[0], "character": position[1]}


def one_line(reason: str) -> str:
    """A session's exit reason on one line, Lean's stderr lines included: the first line of an
    error is what notebooks, papermill and logs show of it."""
    head, _, stderr = reason.partition(STDERR_SEPARATOR)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    head = " ".join(head.split())
    if not lines:
        return head
    said = " | ".join(lines)
    if len(said) > MAX_SUMMARY:
        said = "..." + said[-MAX_SUMMARY:]
    return f"{head}; Lean said: {said}"


@dataclass
class StartBackoff:
    """A Lean that dies (or hangs) as it starts is not started again for every cell: after n
    failures in a row the next try waits ``first * 2**(n-1)`` seconds (at most ``longest``),
    unless the settings that start it changed, or the user asks (%reset, %project)."""

    first: float
    longest: float = 300.0
    failures: int = 0
    message: str = ""
    retry_at: float = 0.0
    settings: Hashable = None

    def failed(self, message: str, settings: Hashable) -> None:
        self.failures += 1
        self.message = message
        self.settings = settings
        pause = min(self.first * 2 ** (self.failures - 1), self.longest)
        self.retry_at = time.monotonic() + pause

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = 0.0

    def forget(self) -> None:
        """Allow the next start at once (the pause after another failure still grows)."""
        self.retry_at = 0.0

    def refusal(self, settings: Hashable) -> str | None:
        """Why Lean is not started now, or None when it may be."""
        remaining = self.retry_at - time.monotonic()
        if self.failures == 0 or remaining <= 0 or settings != self.settings:
            return None
        times = "once" if self.failures == 1 else f"{self.failures} times in a row"
        return (
            f"{self.message}\nLean failed to start {times}; it is started again in "
            f"{remaining:.0f} s at the earliest (the pause doubles with each failure), or "
            "at once after %reset or a change of the Lean settings "
            "(c.LeanSessionManager.* in jupyter_server_config)."
        )


class LeanConnection:
    """One Lean server, one virtual document ``<project>/.jupyter-lean/<name>.lean``."""

    def __init__(
        self,
        manager: LeanSessionManager,
        *,
        owner: str,
        project: str,
        document_name: str,
        startup_timeout: float,
        log: logging.Logger | logging.LoggerAdapter[Any],
        backoff: float = 10.0,
        settings: Callable[[], Hashable] | None = None,
        has_widgets: Callable[[], bool] = lambda: False,
    ) -> None:
        self.manager = manager
        self.owner = owner
        self.project = project
        self.document_name = document_name
        self.startup_timeout = startup_timeout
        self.log = log
        # Told to Lean at initialize: its messages then carry their expressions' information.
        self.has_widgets = has_widgets
        self.session: LeanSession | None = None
        self.client: InProcessClient | None = None
        self.version = 0
        self.server_info: dict[str, Any] = {}
        self.progress_listener: ProgressListener | None = None
        # Things that happened to Lean between cells (culled, crashed), told with the next cell.
        self.notices: list[str] = []
        self._diagnostics: tuple[int, list[dict[str, Any]]] = (-1, [])
        self._is_open = False
        self._fatal = asyncio.Event()
        self._fatal_version: int | None = None
        self._lock = asyncio.Lock()
        self.last_used = time.monotonic()
        self.backoff = StartBackoff(backoff)
        # What starting Lean depends on (command, configuration): a change ends a backoff.
        self.settings = settings or (lambda: (self.project, self.describe_command()))

    # -- state -----------------------------------------------------------------------------

    @property
    def project_dir(self) -> str:
        return self.manager.project_dir(self.project)

    @property
    def uri(self) -> str:
        # Virtual (never written): the session only lets a client name documents inside the
        # project, and Lean resolves the project's imports for files inside it.
        path = Path(self.project_dir) / ".jupyter-lean" / f"{self.document_name}.lean"
        return path.as_uri()

    @property
    def alive(self) -> bool:
        """Lean runs (it may still be initializing)."""
        return (
            self.session is not None
            and self.client is not None
            and self.client.closed is None
            and self.session.state is not SessionState.EXITED
        )

    @property
    def ready(self) -> bool:
        """Lean runs and has the document open: edits and requests may be sent."""
        return self.alive and self._is_open

    @property
    def pid(self) -> int | None:
        return self.session.pid if self.session is not None else None

    def describe_command(self) -> str:
        try:
            return " ".join(self.manager.command_for(self.project).argv)
        except Exception as exc:  # LeanNotFound, UnknownProject: say why
            return f"(none: {exc})"

    # -- starting and stopping -------------------------------------------------------------

    async def ensure_open(self, text: str) -> bool:
        """Start Lean and open the document with ``text`` unless that is done; True if it was
        (re)opened now. Raises LeanUnavailable."""
        if self.ready:
            return False
        async with self._lock:
            if self.ready:
                return False
            if self.session is not None:
                reason = one_line(self.session.exit_reason or "it stopped")
                self.notices.append(
                    f"Lean had stopped ({reason}); it was started again and the document "
                    "re-checked."
                )
                await self.drop_session()
            if self.backoff.failures:
                refusal = self.backoff.refusal(self.settings())
                if refusal is not None:
                    raise LeanUnavailable(refusal)
            await self._start()
            self._open(text)
            return True

    async def _start(self) -> None:
        """Start a Lean server and initialize it; a server that exits or stays silent meanwhile
        counts against ``backoff``."""
        try:
            session = await self.manager.create(self.owner, self.project)
        except SessionError as exc:
            # Nothing was started (Lean missing, no sandbox): cheap to try again every time.
            raise LeanUnavailable(_with_hint(exc.message)) from exc
        try:
            await self._initialize(session)
        except LeanUnavailable as exc:
            self.backoff.failed(str(exc), self.settings())
            raise
        self.backoff.succeeded()

    async def _initialize(self, session: LeanSession) -> None:
        self.session = session
        self._is_open = False
        self.client = client = InProcessClient(session)
        client.on_notification(self._notification)
        self.version = 0  # versions start again in a new server
        self._diagnostics = (-1, [])
        self._fatal_version = None
        params = {
            "processId": os.getpid(),
            "rootUri": Path(self.project_dir).as_uri(),
            "capabilities": {},
            "initializationOptions": {"editDelay": 0, "hasWidgets": self.has_widgets()},
        }
        try:
            result = await asyncio.wait_for(
                client.request("initialize", params), self.startup_timeout
            )
        except asyncio.TimeoutError:
            tail = session.stderr_tail[-10:]
            await self.drop_session()
            raise LeanUnavailable(
                f"Lean did not answer `initialize` within {self.startup_timeout:g} s "
                f"(command: {self.describe_command()})"
                + (f"; Lean said: {' | '.join(tail)}" if tail else "")
                + "."
                + (" Its last stderr lines:\n" + "\n".join(tail) + "\n" if tail else " ")
                + "Raise LeanKernel.startup_timeout if the project is slow to load."
            ) from None
        except (LeanRequestError, SessionClosed) as exc:
            reason = session.exit_reason or str(exc)
            await self.drop_session()
            _, _, stderr = reason.partition(STDERR_SEPARATOR)
            raise LeanUnavailable(
                f"Lean started but failed: {one_line(reason)}\n"
                + (f"Lean's last stderr lines:\n{stderr}\n" if stderr else "")
                + f"The command was: {self.describe_command()}. "
                "Check that it starts a Lean 4 language server (`lean --server`, or `lake serve` "
                f"in a Lake project); set {COMMAND_ENV_VAR} or c.LeanSessionManager.lean_command "
                "to change it, and see https://lean-lang.org/install/ to install Lean."
            ) from exc
        except BaseException:
            await self.drop_session()
            raise
        client.notify("initialized", {})
        self.server_info = (result or {}).get("serverInfo") or {}

    def _open(self, text: str) -> None:
        assert self.client is not None
        self.version += 1
        self.client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": self.uri,
                    "languageId": "lean4",
                    "version": self.version,
                    "text": text,
                }
            },
        )
        self._is_open = True
        self.last_used = time.monotonic()

    async def cull_if_idle(self, idle_timeout: float) -> bool:
        """Stop Lean when it has not been used for ``idle_timeout`` seconds (the session layer's
        idle culling, done here so that it never races a running cell)."""
        idle = time.monotonic() - self.last_used
        if not self.ready or idle <= idle_timeout:
            return False
        self.log.info("Stopping Lean after %.0f s without use", idle)
        self.notices.append(
            f"Lean had been stopped after {idle_timeout:g} s without use "
            "(LeanSessionManager.idle_timeout); it was started again and the document re-checked."
        )
        await self.drop_session()
        return True

    async def drop_session(self) -> None:
        """Stop this connection's Lean server (if any); returns when its process is reaped."""
        session, self.session, self.client = self.session, None, None
        if session is not None:
            with contextlib.suppress(Exception):
                await self.manager.delete(session.id, self.owner)

    async def close(self) -> None:
        await self.drop_session()

    # -- the document ----------------------------------------------------------------------

    def change(self, edits: Sequence[Edit]) -> int:
        """Send ``edits`` as one didChange; returns the new version."""
        client = self._live_client()
        self.version += 1
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [edit.to_lsp() for edit in edits],
            },
        )
        return self.version

    def reopen(self, text: str) -> int:
        """Close and open the document again: Lean starts a fresh file worker."""
        client = self._live_client()
        client.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})
        self._open(text)
        return self.version

    async def barrier(self, version: int) -> list[dict[str, Any]]:
        """Wait until Lean has sent everything for ``version``; its diagnostics."""
        for _ in range(3):
            try:
                await self._wait_for_diagnostics(version)
                break
            except LeanRequestError as exc:
                # Lean answers -32801 when the worker the request waited on was replaced (a
                # header change restarts it): ask the new one.
                if exc.error.get("code") != CONTENT_MODIFIED:
                    raise
        stored_version, diagnostics = self._diagnostics
        return list(diagnostics) if stored_version == version else []

    async def _wait_for_diagnostics(self, version: int) -> None:
        """waitForDiagnostics, or WorkerCrashed. A crashed worker answers the requests it holds
        with an error, but one that crashes before the request reaches it leaves it queued
        until the next edit: all the client sees is a fatal fileProgress (kind 2). A fatal
        error that is no crash (a broken header) is followed by the answer at once, so a fatal
        progress without an answer within FATAL_GRACE seconds counts as a crash."""
        request = asyncio.ensure_future(
            self.request("textDocument/waitForDiagnostics", {"uri": self.uri, "version": version})
        )
        fatal = asyncio.ensure_future(self._fatal_at(version))
        try:
            await asyncio.wait({request, fatal}, return_when=asyncio.FIRST_COMPLETED)
            if not request.done():
                done, _ = await asyncio.wait({request}, timeout=FATAL_GRACE)
                if not done:
                    tail = "; ".join(self.session.stderr_tail[-3:]) if self.session else ""
                    raise WorkerCrashed(
                        "Lean's file worker stopped with a fatal error"
                        + (f" (its last stderr lines: {tail})" if tail else "")
                    )
            request.result()
        finally:
            for task in (request, fatal):
                task.cancel()
            await asyncio.gather(request, fatal, return_exceptions=True)

    async def _fatal_at(self, version: int) -> None:
        """Returns once Lean reported a fatal error for ``version`` or a later one."""
        while self._fatal_version is None or self._fatal_version < version:
            self._fatal.clear()
            await self._fatal.wait()

    async def request(self, method: str, params: Any, timeout: float | None = None) -> Any:
        client = self._live_client()
        try:
            return await client.request(method, params, timeout)
        except SessionClosed as exc:
            raise ServerExited(self._exit_reason(exc.reason)) from exc
        except LeanRequestError as exc:
            code = exc.error.get("code")
            if code in (WORKER_EXITED, WORKER_CRASHED):
                raise WorkerCrashed(str(exc)) from exc
            if code == LEAN_SERVER_EXITED:
                raise ServerExited(self._exit_reason(str(exc))) from exc
            raise

    def _live_client(self) -> InProcessClient:
        if not self.alive:
            raise ServerExited(self._exit_reason("Lean is not running"))
        assert self.client is not None
        self.last_used = time.monotonic()
        return self.client

    def _exit_reason(self, fallback: str) -> str:
        if self.session is not None and self.session.exit_reason:
            return self.session.exit_reason
        return fallback

    def _notification(self, method: str, params: Any) -> None:
        if not isinstance(params, dict):
            return
        if method == "textDocument/publishDiagnostics" and params.get("uri") == self.uri:
            version = params.get("version")
            diagnostics = params.get("diagnostics")
            if (
                isinstance(version, int)
                and isinstance(diagnostics, list)
                and (version >= self._diagnostics[0])
            ):
                self._diagnostics = (version, diagnostics)
        elif method == "$/lean/fileProgress":
            text_document = params.get("textDocument") or {}
            processing = params.get("processing")
            if text_document.get("uri") != self.uri or not isinstance(processing, list):
                return
            version = text_document.get("version")
            version = version if isinstance(version, int) else -1
            if any(isinstance(item, dict) and item.get("kind") == FATAL for item in processing):
                self._fatal_version = version
                self._fatal.set()
            if self.progress_listener is not None:
                self.progress_listener(version, processing)

    # -- recovery --------------------------------------------------------------------------

    async def recover(self, text: str, edits: Sequence[Edit], timeout: float) -> str:
        """Bring Lean to the document ``text`` (reached from what Lean has by ``edits``) and make
        sure it answers again, escalating: the edits alone, then a fresh file worker (close and
        reopen), then a new Lean server. Returns what it took; raises LeanUnavailable (or
        ServerExited) when even a new server does not answer."""
        if self.ready:
            try:
                version = self.change(edits) if edits else self.version
                await asyncio.wait_for(self.barrier(version), timeout)
                return "Lean is ready"
            except (asyncio.TimeoutError, WorkerCrashed, ServerExited, LeanRequestError):
                self.log.info("Lean did not settle after reverting; restarting its file worker")
        if self.ready and await self._watchdog_answers(min(timeout, 2.0)):
            try:
                version = self.reopen(text)
                await asyncio.wait_for(self.barrier(version), timeout)
                return "Lean's file worker was restarted"
            except (asyncio.TimeoutError, WorkerCrashed, ServerExited, LeanRequestError):
                self.log.info("Lean's file worker did not answer; restarting the Lean server")
        await self.drop_session()
        await self._start()
        self._open(text)
        try:
            await asyncio.wait_for(self.barrier(self.version), timeout)
        except asyncio.TimeoutError:
            # Keep the new server: it may just be slow to re-check a long document.
            return "the Lean server was restarted (it is still checking the document)"
        return "the Lean server was restarted"

    async def _watchdog_answers(self, timeout: float) -> bool:
        """Whether Lean's watchdog still answers (a request it handles itself, not the file
        worker): if it does not, a fresh file worker cannot help."""
        try:
            await self.request("workspace/symbol", {"query": "jupyter-lean-ping"}, timeout)
        except LeanRequestError:
            return True  # an answer, even an error, is a sign of life
        except (asyncio.TimeoutError, ServerExited, WorkerCrashed):
            return False
        return True


def _with_hint(message: str) -> str:
    if INSTALL_HINT in message:
        return message  # Lean was not found: the message already says how to install it
    return f"{message}. {INSTALL_HINT}"
