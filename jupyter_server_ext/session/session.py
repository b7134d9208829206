"""One Lean server and the one client attached to it, with everything needed to resume.

The session sits between a client (a WebSocket, or the kernel in-process) and Lean's stdio. It
relays JSON-RPC messages both ways and keeps just enough state to let a client detach and come back
without restarting Lean: the cached ``initialize`` result and the mirror of the open documents
(``mirror.py``). This file holds its lifecycle, its client's attachment and the Lean -> client
direction; the client -> Lean direction is ``inbound.py``. Its parts: requests awaiting Lean's
answer (``pending.py``), flow control (``flow.py``), Lean's process (``process.py``), the
traffic's watchers (``trace.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, cast

from . import flow, metrics
from .closecodes import CLOSE_CLIENT_TOO_SLOW, CLOSE_REPLACED, CLOSE_SESSION_ENDED
from .documents import DocumentBudget
from .flow import ClientConnection, FlowControlledClient, InputFlow
from .inbound import ClientToLean
from .lsp import (
    INTERNAL_ERROR,
    LEAN_SERVER_EXITED,
    REQUEST_TIMED_OUT,
    JsonObject,
    LspProtocolError,
    MessageTooLarge,
    dumps,
    error_response,
    notification,
    read_message_body,
    response_id,
    result_response,
)
from .mirror import DocumentMirror, DocumentState
from .pending import ClientRequest, InternalRequest, LeanRequestError, PendingRequests
from .process import LaunchSpec, LeanProcess, describe_exit
from .ratelimit import bucket_for
from .state import SessionState
from .trace import TO_CLIENT, SessionTrace
from .usage import ProcessTreeUsage

MiB = 1 << 20

log = logging.getLogger("jupyter_lean.session")

# When stopping: how long Lean gets to answer `shutdown`, then each of EOF and SIGTERM. Bounded
# so that a server stopping with hung Lean servers is done within 5 s.
SHUTDOWN_ANSWER_SECONDS = 1.0
STOP_GRACE_SECONDS = 1.0

EXITED_NOTIFICATION = "$/jupyterLean/exited"

# What a warm-pool session sends as `initialize` before any client exists; the client's own
# initialize is answered from its result. As the infoview initializes (and VS Code): hasWidgets,
# without which Lean strips the terms' information from every message it shows (so a trace
# reads "(trace)" in plain diagnostics, as it does for those clients). Nothing else
# Lean-specific (silent diagnostics...) that would change what other clients are sent.
WARM_INITIALIZE_PARAMS: JsonObject = {
    "processId": None,
    "rootUri": None,
    "capabilities": {},
    "initializationOptions": {"hasWidgets": True},
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class LeanSession(ClientToLean):
    """A Lean server process plus owner, project and at most one attached client."""

    def __init__(
        self,
        *,
        session_id: str,
        owner: str | None,
        project: str,
        project_dir: str,
        spec: LaunchSpec,
        max_message_size: int,
        request_timeout: float = 0,
        on_activity: Callable[[LeanSession], None] = lambda session: None,
        on_exit: Callable[[LeanSession], None] = lambda session: None,
        document_budget: DocumentBudget | None = None,
        rate_limit: float = 0,
        rate_burst: float = 0,
    ) -> None:
        self.id = session_id
        self.owner = owner
        self.project = project
        self.project_dir = project_dir
        self.workspace_dir = spec.workspace_dir
        self.max_message_size = max_message_size
        self.request_timeout = request_timeout
        self._on_activity = on_activity
        self._on_exit = on_exit
        self._mirror = DocumentMirror(document_budget or DocumentBudget())
        self.created = datetime.now(timezone.utc)
        self._last_activity = self.created.timestamp()
        self._reported_activity = 0.0
        self.state: SessionState = SessionState.STARTING
        self.exit_code: int | None = None
        self.exit_reason: str | None = None
        self._stopping = False
        self._process = LeanProcess(spec, self._process_exited, self._stdin_backlogged)
        self._input = InputFlow(self._process, self._give_up_on_lean)
        self._started_at = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._client: ClientConnection | None = None
        self._generation = 0
        self._pending = PendingRequests(request_timeout, self._requests_expired)
        self._server_requests: set[Any] = set()
        self._initialize: asyncio.Future[Any] | None = None
        self._initialized_sent = False
        self._allowed_roots = (project_dir, spec.workspace_dir)
        self._background: set[asyncio.Future[Any]] = set()
        # Set when the session itself gives up on Lean (it stopped reading): the exit that
        # follows is reported with this reason, as a crash.
        self._fault: str | None = None
        # Resolved when the client detaches (ends a wait for the client to drain).
        self._client_left: asyncio.Future[None] | None = None
        self.reading_paused = False
        # Resident memory and CPU time of the Lean process tree, as last measured by the
        # manager's usage monitor (usage.py).
        self.usage = ProcessTreeUsage()
        # Client requests per second Lean gets from this session (None: no limit).
        self._rate_bucket = bucket_for(rate_limit, rate_burst)
        # Watchers of the traffic (the sessions console); empty, it costs a truth test.
        self.trace = SessionTrace()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def sandboxed(self) -> bool:
        return self._process.spec.sandbox == "bwrap"

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def stderr_tail(self) -> list[str]:
        return list(self._process.stderr_tail)

    @property
    def documents(self) -> dict[str, DocumentState]:
        """The mirrored documents by URI (closed ones keep only their version numbering)."""
        return self._mirror.documents

    @property
    def document_budget(self) -> DocumentBudget:
        return self._mirror.budget

    async def start(self) -> None:
        self._started_at = time.monotonic()
        await self._process.start()
        metrics.SESSIONS_STARTED.inc()
        self._reader = asyncio.create_task(self._read_lean())

    async def warm_up(self) -> Any:
        """Initialize Lean ahead of any client (warm pool): the client's own initialize is then
        answered from the cached result."""
        result = await self._send_initialize(dict(WARM_INITIALIZE_PARAMS))
        self._send_initialized()
        return result

    def touch(self) -> None:
        now = time.time()
        self._last_activity = now
        # Listeners (the server's last_activity) need no sub-second precision: spare the hot path.
        if now - self._reported_activity >= 1.0:
            self._reported_activity = now
            self._on_activity(self)

    @property
    def last_activity(self) -> datetime:
        return datetime.fromtimestamp(self._last_activity, timezone.utc)

    @property
    def idle_seconds(self) -> float:
        return time.time() - self._last_activity

    async def stop(self, reason: str = "deleted") -> None:
        """Stop Lean (shutdown + exit, then EOF, SIGTERM and SIGKILL of its process group) and
        close the client with 4410. Returns once the process is reaped (within about 3 s)."""
        self._stopping = True
        if self.state is not SessionState.EXITED:
            self.exit_reason = reason
            # A Lean that is not reading its input would not read `shutdown` either.
            polite = self.input_backlog() == 0
            if polite and self._initialize is not None and self._initialize.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.request("shutdown", None), SHUTDOWN_ANSWER_SECONDS)
                self._process.note_worker_groups()  # Lean may be gone before terminate looks
                self._write(notification("exit", {}))
        await self._process.terminate(grace=STOP_GRACE_SECONDS)
        self._cancel_timers()
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._close_client(CLOSE_SESSION_ENDED, f"Lean session ended: {reason}")

    def kill_now(self) -> None:
        """SIGKILL Lean's process group at once, without waiting (the process is ending)."""
        if self.pid is not None and self.exit_code is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def _cancel_timers(self) -> None:
        self._pending.stop_timer()
        self._input.stop()

    def _give_up_on_lean(self, reason: str) -> None:
        """End a Lean that no longer works (it stopped reading): reported like a crash."""
        if self._fault is not None or self._stopping or self.state is SessionState.EXITED:
            return
        self._fault = reason
        log.warning("Lean session %s: %s; stopping it", self.id, reason)
        self._spawn(self._process.terminate(grace=STOP_GRACE_SECONDS))

    def end_over_limit(self, reason: str) -> None:
        """End the session because its Lean went over a resource limit (``reason`` names it)."""
        self._give_up_on_lean(reason)

    def _spawn(self, awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _process_exited(self, returncode: int) -> None:
        self.exit_code = returncode
        self._cancel_timers()
        expected = self._stopping
        if self._fault is not None:
            self.exit_reason = self._fault
            metrics.SESSIONS_CRASHED.inc()
        elif not expected:
            stderr = "\n".join(self._process.stderr_tail)
            self.exit_reason = f"Lean server {describe_exit(returncode)}" + (
                f"; last stderr lines:\n{stderr}" if stderr else ""
            )
            metrics.SESSIONS_CRASHED.inc()
            log.warning("Lean session %s: %s", self.id, self.exit_reason)
        self.state = SessionState.EXITED
        reason = self.exit_reason or "Lean server exited"
        self._fail_pending(reason)
        # An exited session keeps only what its JSON shows: documents, cached diagnostics and
        # Lean's initialize result go (and stop counting toward the owner's bytes).
        self._mirror.free(self.owner)
        self._server_requests.clear()
        self._initialize = None
        if not expected:
            self._deliver(
                notification(EXITED_NOTIFICATION, {"code": returncode, "reason": self.exit_reason})
            )
            self._close_client(CLOSE_SESSION_ENDED, reason)
        if self.trace:
            self.trace.event("exited", code=returncode, reason=self.exit_reason)
            self.trace.close(CLOSE_SESSION_ENDED, reason)
        self._on_exit(self)

    def _fail_pending(self, reason: str) -> None:
        for entry in self._pending.take_all():
            if isinstance(entry, InternalRequest):
                if not entry.future.done():
                    entry.future.set_exception(
                        LeanRequestError({"code": LEAN_SERVER_EXITED, "message": reason})
                    )
            elif entry.generation == self._generation:
                self._deliver(error_response(entry.client_id, LEAN_SERVER_EXITED, reason))

    # -- client attachment -----------------------------------------------------------------

    def attach(self, client: ClientConnection) -> None:
        """Attach ``client``; a client already attached is closed with 4409."""
        previous = self._client
        self._detach_current()
        if previous is not None:
            previous.close_session(CLOSE_REPLACED, "replaced by a newer client")
        self._client = client
        self.touch()
        if self.trace:
            self.trace.event("attached")

    def detach(self, client: ClientConnection) -> None:
        if self._client is client:
            self._detach_current()
            self.touch()
            if self.trace:
                self.trace.event("detached")

    def _detach_current(self) -> None:
        if self._client is None:
            return
        self._client = None
        self._generation += 1
        left, self._client_left = self._client_left, None
        if left is not None and not left.done():
            left.set_result(None)
        # Lean still waits for replies to its own requests: answer them as a client would.
        for request_id in self._server_requests:
            self._write(result_response(request_id, None))
        self._server_requests.clear()
        # Requests of the gone client are cancelled; their responses will be dropped.
        for server_id in self._pending.release_client_ids():
            self._write(notification("$/cancelRequest", {"id": server_id}))

    def _close_client(self, code: int, reason: str) -> None:
        client = self._client
        if client is not None:
            self._detach_current()
            client.close_session(code, reason)

    def _deliver(self, message: JsonObject, raw: str | None = None) -> None:
        if self._client is not None:
            metrics.RelayCounts.lean_to_client += 1
            if self.trace:
                self.trace.record(TO_CLIENT, message, raw)
            self._client.deliver(message, raw)

    # -- flow control towards Lean ---------------------------------------------------------

    def _stdin_backlogged(self) -> None:
        self._input.backlogged()

    def input_backlog(self) -> int:
        """Bytes queued for Lean's stdin beyond what its pipe holds."""
        return self._input.backlog()

    def input_drained(self) -> asyncio.Future[None]:
        """Resolves once Lean has taken the queued input (or the session ended)."""
        return self._input.drained()

    # -- Lean -> client --------------------------------------------------------------------

    async def _read_lean(self) -> None:
        stdout = self._process.stdout
        while True:
            try:
                body = await read_message_body(stdout, self.max_message_size)
            except MessageTooLarge as exc:
                log.warning("Lean session %s: dropped a message: %s", self.id, exc)
                self._answer_dropped(exc)
                continue
            except LspProtocolError as exc:
                log.error("Lean session %s: unreadable output from Lean: %s", self.id, exc)
                await self._process.terminate(grace=1.0)
                return
            if body is None:
                return
            try:
                message = json.loads(body)
            except ValueError:
                log.warning("Lean session %s: Lean sent invalid JSON: %r", self.id, body[:200])
                continue
            if isinstance(message, dict):
                try:
                    self._from_lean(message, body)
                except Exception:
                    # One odd message must not stop the relay for the rest of the session.
                    log.exception("Lean session %s: failed to relay a message from Lean", self.id)
            client = self._client
            if client is not None and flow.client_too_full(client):
                await self._wait_for_client(client)

    async def _wait_for_client(self, client: ClientConnection) -> None:
        """Backpressure: stop reading Lean's stdout until ``client`` has flushed what it was
        given; a client that takes nothing for CLIENT_STALL_SECONDS is closed (4408)."""
        if self._client_left is None:
            self._client_left = asyncio.get_running_loop().create_future()
        self.reading_paused = True
        try:
            took = await flow.client_drained(cast(FlowControlledClient, client), self._client_left)
        finally:
            self.reading_paused = False
        if not took and self._client is client:
            stall = flow.CLIENT_STALL_SECONDS
            log.warning(
                "Lean session %s: the client read nothing for %g s; closing it", self.id, stall
            )
            unread = flow.client_backlog(client) >> 10
            self._close_client(
                CLOSE_CLIENT_TOO_SLOW, f"client too slow: {unread} KiB unread for {stall:g} s"
            )

    def _from_lean(self, message: JsonObject, body: bytes) -> None:
        method = message.get("method")
        if method is None:
            self._lean_response(message, body)
        elif "id" in message:
            if self._client is None:
                self._write(result_response(message["id"], None))
            else:
                self._server_requests.add(message["id"])
                self._deliver(message, body.decode())
        else:
            mapped = self._mirror.from_lean(method, message)
            if mapped is not None:
                self._deliver(mapped, body.decode() if mapped is message else None)

    def _answer_dropped(self, exc: MessageTooLarge) -> None:
        """A response too large to relay still answers its request, with an error: otherwise
        the client would wait for it until request_timeout."""
        request_id = response_id(exc.head)
        if request_id is None or request_id not in self._pending:
            return
        failure = error_response(
            request_id,
            INTERNAL_ERROR,
            f"Lean's answer was {exc.size / MiB:.1f} MiB, over max_message_size "
            f"({self.max_message_size / MiB:.1f} MiB): ask for less, or raise the limit",
        )
        self._lean_response(failure, dumps(failure).encode())

    def _lean_response(self, message: JsonObject, body: bytes) -> None:
        server_id = message.get("id")
        entry = self._pending.pop(server_id)
        if entry is None:
            return
        if isinstance(entry, InternalRequest):
            if entry.method == "initialize" and self.state is SessionState.STARTING:
                metrics.SPAWN_READY_SECONDS.observe(time.monotonic() - self._started_at)
                self.state = SessionState.READY
            if entry.future.done():
                return
            if "error" in message:
                entry.future.set_exception(LeanRequestError(message["error"]))
            else:
                entry.future.set_result(message.get("result"))
            return
        if entry.generation == self._generation:
            if server_id == entry.client_id:
                self._deliver(message, body.decode())
            else:
                message["id"] = entry.client_id
                self._deliver(message)

    def _requests_expired(self, expired: list[tuple[Any, ClientRequest]]) -> None:
        """Client requests Lean did not answer within request_timeout: cancelled in Lean,
        failed for the client (-32098)."""
        for server_id, entry in expired:
            self._write(notification("$/cancelRequest", {"id": server_id}))
            if entry.generation == self._generation:
                late = f"Lean did not answer '{entry.method}' within {self.request_timeout:g} s"
                self._deliver(error_response(entry.client_id, REQUEST_TIMED_OUT, late))

    # -- reporting -------------------------------------------------------------------------

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "owner": self.owner,
            "project": self.project,
            "state": self.state.value,
            "created": _iso(self.created),
            "last_activity": _iso(self.last_activity),
            "connected": self.connected,
            "exit_code": self.exit_code,
            "exit_reason": self.exit_reason,
            "pid": self.pid,
            "memory": self.usage.memory_bytes,
            "cpu_seconds": round(self.usage.cpu_seconds, 2),
        }
