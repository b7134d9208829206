"""One Lean server and the one client attached to it, with everything needed to resume.

The session sits between a client (a WebSocket, or the kernel in-process) and Lean's stdio. It
relays JSON-RPC messages both ways and keeps just enough state to let a client detach and come back
without restarting Lean: the cached ``initialize`` result, the open documents with their text and
a client-to-server version offset, and the latest diagnostics and progress of each document.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Protocol, cast

from . import metrics
from .documents import DocumentBudget, DocumentText
from .guard import is_int, params_problem, sanitize_client_error
from .lsp import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LEAN_SERVER_EXITED,
    REQUEST_TIMED_OUT,
    SERVER_NOT_INITIALIZED,
    JsonObject,
    LspProtocolError,
    MessageTooLarge,
    dumps,
    encode_body,
    encode_message,
    error_response,
    notification,
    read_message_body,
    response_id,
    result_response,
)
from .process import LaunchSpec, LeanProcess, describe_exit
from .ratelimit import RATE_LIMITED, RATE_LIMITED_MESSAGE, bucket_for
from .text import utf8_length
from .trace import TO_CLIENT, TO_LEAN, SessionTrace
from .uris import UriOutsideProject, confined_path, uris_in_params
from .usage import ProcessTreeUsage

MiB = 1 << 20
# Sent by clients on a timer, not by a person: an infoview left open in a forgotten tab sends
# keepAlive every 10 s, which would keep its session (and, through last_activity, the user's
# whole server) from ever being culled.
_NOT_ACTIVITY = frozenset({"$/lean/rpc/keepAlive"})

log = logging.getLogger("jupyter_lean.session")

# WebSocket close codes (README "HTTP and WebSocket API").
CLOSE_REPLACED = 4409
CLOSE_SESSION_ENDED = 4410
# The client did not read what the session had for it (CLIENT_STALL_SECONDS, see below).
CLOSE_CLIENT_TOO_SLOW = 4408

# Flow control, both directions (docs/ARCHITECTURE.md 1.1). Constants so tests can shorten them.
#
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
# When stopping: how long Lean gets to answer `shutdown`, then each of EOF and SIGTERM. Bounded
# so that a server stopping with hung Lean servers is done within 5 s.
SHUTDOWN_ANSWER_SECONDS = 1.0
STOP_GRACE_SECONDS = 1.0

EXITED_NOTIFICATION = "$/jupyterLean/exited"

# What a warm-pool session sends as `initialize` before any client exists. Conservative on
# purpose: no Lean-specific capability that would change what Lean sends (silent diagnostics,
# widgets), so any client is served correctly by the cached result.
WARM_INITIALIZE_PARAMS: JsonObject = {
    "processId": None,
    "rootUri": None,
    "capabilities": {},
    "initializationOptions": {"hasWidgets": False},
}

_VERSIONED_URI_METHODS = ("textDocument/waitForDiagnostics", "$/lean/waitForILeans")
# Barriers, not questions: they legitimately take as long as Lean needs to elaborate a file
# (minutes for a big one), so request_timeout does not apply to them.
UNTIMED_METHODS = frozenset(_VERSIONED_URI_METHODS)
_DEPENDENCY_BUILD_MODES = ("always", "once", "never")
_LIFECYCLE_METHODS = frozenset(("initialize", "initialized", "shutdown", "exit"))


class SessionState(str, Enum):
    STARTING = "starting"
    READY = "ready"
    EXITED = "exited"


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


class LeanRequestError(Exception):
    def __init__(self, error: JsonObject) -> None:
        self.error = error
        super().__init__(error.get("message", "Lean request failed"))


# Closed documents keep only their version numbering (a few hundred bytes each); past this many
# the oldest are forgotten (Lean's own state of a closed document is gone anyway).
MAX_CLOSED_DOCUMENTS = 1000


@dataclass
class DocumentState:
    # The session's copy of the text while the document is open; None once it is closed.
    text: DocumentText | None
    server_version: int
    # server version = client version + offset: Lean ignores versions lower than one it has seen,
    # so a client that comes back counting from 1 is shifted above everything Lean knows.
    offset: int = 0
    # Messages for client versions below this predate the client's (re)open and are dropped.
    min_client_version: int = 0
    diagnostics: JsonObject | None = None
    progress: JsonObject | None = None

    @property
    def is_open(self) -> bool:
        return self.text is not None


@dataclass
class _ClientRequest:
    generation: int
    client_id: Any
    method: str
    sent_at: float


@dataclass
class _InternalRequest:
    future: asyncio.Future[Any]
    method: str
    sent_at: float = field(default_factory=time.monotonic)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class LeanSession:
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
        # Limits on the documents the session keeps, and the bytes each owner holds (shared by
        # the sessions of one manager).
        self.document_budget = document_budget or DocumentBudget()
        self.created = _utcnow()
        self._last_activity = self.created.timestamp()
        self._reported_activity = 0.0
        self.state: SessionState = SessionState.STARTING
        self.exit_code: int | None = None
        self.exit_reason: str | None = None
        self._stopping = False
        self._process = LeanProcess(spec, self._process_exited, self._stdin_backlogged)
        self._started_at = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._client: ClientConnection | None = None
        self._generation = 0
        self._next_id = 0
        self._pending: dict[Any, _ClientRequest | _InternalRequest] = {}
        self._client_ids: dict[Any, int] = {}
        # Lean -> client requests awaiting the client's reply, by Lean's id.
        self._server_requests: set[Any] = set()
        self._initialize: asyncio.Future[Any] | None = None
        self._initialized_sent = False
        self.documents: dict[str, DocumentState] = {}
        self._allowed_roots = (project_dir, spec.workspace_dir)
        self._request_timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # Set when the session itself gives up on Lean (it stopped reading): the exit that
        # follows is reported with this reason, as a crash.
        self._fault: str | None = None
        # Flow control: bytes handed to Lean's stdin so far, the stall check, the shared wait
        # for the stdin buffer to drain, and a future resolved when the client detaches.
        self._bytes_to_lean = 0
        self._stall_timer: asyncio.TimerHandle | None = None
        self._input_drained: asyncio.Future[None] | None = None
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

    async def start(self) -> None:
        self._started_at = time.monotonic()
        await self._process.start()
        metrics.SESSIONS_STARTED.inc()
        self._reader = asyncio.create_task(self._read_lean())

    async def warm_up(self) -> Any:
        """Initialize Lean ahead of any client (warm pool): the client's own initialize is then
        answered from the cached result."""
        result = await self._send_initialize(dict(WARM_INITIALIZE_PARAMS))
        if not self._initialized_sent:
            self._initialized_sent = True
            self._write(notification("initialized", {}))
        return result

    def _set_state(self, state: SessionState) -> None:
        self.state = state

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

    def _cancel_timers(self) -> None:
        for timer in (self._request_timer, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._request_timer = self._stall_timer = None

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

    def _spawn(self, awaitable: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(awaitable)
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
        self._set_state(SessionState.EXITED)
        self._fail_pending(self.exit_reason or "Lean server exited")
        self._free_documents()
        if not expected:
            self._deliver(
                notification(EXITED_NOTIFICATION, {"code": returncode, "reason": self.exit_reason})
            )
            self._close_client(CLOSE_SESSION_ENDED, self.exit_reason or "Lean server exited")
        if self.trace:
            self.trace.event("exited", code=returncode, reason=self.exit_reason)
            self.trace.close(CLOSE_SESSION_ENDED, self.exit_reason or "Lean server exited")
        self._on_exit(self)

    def _free_documents(self) -> None:
        """An exited session keeps only what its JSON shows: documents, cached diagnostics and
        Lean's initialize result go (and stop counting toward the owner's bytes)."""
        for doc in self.documents.values():
            if doc.text is not None:
                self.document_budget.release(self.owner, doc.text.utf8_bytes)
        self.documents = {}
        self._server_requests.clear()
        self._initialize = None

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        self._client_ids.clear()
        for entry in pending.values():
            if isinstance(entry, _InternalRequest):
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
        for server_id in self._client_ids.values():
            self._write(notification("$/cancelRequest", {"id": server_id}))
        self._client_ids.clear()

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

    # -- client -> Lean --------------------------------------------------------------------

    def receive(
        self, client: ClientConnection, message: JsonObject, raw: str | None = None
    ) -> None:
        """One valid JSON-RPC message from ``client`` (checked by guard.parse_client_frame);
        ``raw`` is its exact text, forwarded as is when nothing in it needs changing."""
        if client is not self._client:
            return
        if message.get("method") not in _NOT_ACTIVITY:
            self.touch()
        metrics.RelayCounts.client_to_lean += 1
        if self.trace:
            self.trace.record(TO_LEAN, message, raw)
        try:
            self._receive(message, raw)
        except Exception:
            # A bug here must cost one message, never the connection (Tornado drops a socket
            # whose on_message raises) nor the session.
            log.exception("Lean session %s: failed to handle a client message", self.id)
            if "method" in message and "id" in message:
                self._deliver(
                    error_response(
                        message["id"], INTERNAL_ERROR, "internal error while relaying this request"
                    )
                )

    def _receive(self, message: JsonObject, raw: str | None) -> None:
        method = message.get("method")
        if method is None:
            self._client_response(message)
            return
        is_request = "id" in message
        if (
            is_request
            and self._rate_bucket is not None
            and method not in _LIFECYCLE_METHODS
            and not self._rate_bucket.take()
        ):
            # Refused here, before anything of it reaches Lean; notifications are never
            # limited (a dropped didChange would desynchronise the document).
            metrics.REQUESTS_RATE_LIMITED.inc()
            self._deliver(error_response(message["id"], RATE_LIMITED, RATE_LIMITED_MESSAGE))
            return
        if self.state is SessionState.EXITED:
            if is_request:
                self._deliver(
                    error_response(
                        message["id"], LEAN_SERVER_EXITED, self.exit_reason or "Lean server exited"
                    )
                )
            return
        params = message.get("params")
        if params is None:
            params = {}
            raw = None  # Lean treats a missing "params" as fatal: it must be added
        if method in _LIFECYCLE_METHODS:
            self._lifecycle(method, message, params)
            return
        if self._initialize is None:
            if is_request:
                self._deliver(
                    error_response(message["id"], SERVER_NOT_INITIALIZED, "send 'initialize' first")
                )
            return
        if not self._initialized_sent:
            self._initialized_sent = True
            self._write(notification("initialized", {}))
        refusal = params_problem(method, params, is_request=is_request) or self._refuse_uris(
            method, params
        )
        if refusal is not None:
            self._refuse(message, refusal)
            return
        if is_request:
            self._client_request(message["id"], method, params, raw)
        else:
            self._client_notification(method, params, raw)

    def _lifecycle(self, method: str, message: JsonObject, params: Any) -> None:
        """initialize/initialized/shutdown/exit belong to the session, not to one connection;
        sent with the wrong kind (a request `exit`, a notification `shutdown`) they are
        answered or dropped here: Lean must never see them out of order."""
        is_request = "id" in message
        expected_request = method in ("initialize", "shutdown")
        if is_request != expected_request:
            if is_request:
                self._deliver(
                    error_response(
                        message["id"],
                        INVALID_REQUEST,
                        f"'{method}' is a notification, not a request",
                    )
                )
            return
        if method == "initialize":
            if not isinstance(params, dict):
                self._refuse(message, "params of 'initialize' must be an object")
                return
            # Sent to Lean now, not when the task first runs: a client that pipelines
            # `initialized` and requests behind it finds the session initializing.
            self._start_initialize(params)
            self._spawn(self._client_initialize(message["id"], params))
        elif method == "initialized":
            if not self._initialized_sent and self._initialize is not None:
                self._initialized_sent = True
                self._write(notification("initialized", {}))
        elif method == "shutdown":
            # The Lean server belongs to the session, not to one connection: clients end it with
            # DELETE /lean/sessions/{id}, never by shutting it down under a resumable session.
            self._deliver(result_response(message["id"], None))
        # "exit": likewise ignored.

    def _refuse(self, message: JsonObject, reason: str) -> None:
        """Answer a message that must not reach Lean: an error for a request, a visible
        message for a notification (which has nobody to answer to)."""
        if "id" in message:
            self._deliver(error_response(message["id"], INVALID_PARAMS, reason))
        else:
            self._deliver(notification("window/showMessage", {"type": 1, "message": reason}))

    def _refuse_uris(self, method: str, params: Any) -> str | None:
        for uri in uris_in_params(method, params):
            try:
                confined_path(uri, self._allowed_roots)
            except UriOutsideProject as exc:
                return f"Refused: {exc}"
        return None

    def _client_response(self, message: JsonObject) -> None:
        """The client's reply to one of Lean's requests, rebuilt in the shape Lean decodes."""
        request_id = message.get("id")
        if request_id not in self._server_requests:
            return
        self._server_requests.discard(request_id)
        if "error" in message:
            self._write(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "error": sanitize_client_error(message["error"]),
                }
            )
        else:
            self._write(result_response(request_id, message.get("result")))

    def _client_request(self, client_id: Any, method: str, params: Any, raw: str | None) -> None:
        if isinstance(params, dict):
            mapped = self._map_request_versions(method, params)
            if mapped is not params:
                params, raw = mapped, None
        # Client ids go to Lean unchanged unless one is still pending (a previous client's, or
        # one of the session's own): then this request gets a fresh id of the session's.
        server_id = client_id
        if server_id in self._pending:
            server_id, raw = self._allocate_id(), None
        self._pending[server_id] = _ClientRequest(
            self._generation, client_id, method, time.monotonic()
        )
        self._client_ids[client_id] = server_id
        if self.request_timeout > 0 and self._request_timer is None:
            self._arm_request_timer(self.request_timeout)
        if raw is not None:
            self._send(encode_body(raw.encode()))
        else:
            self._write({"jsonrpc": "2.0", "id": server_id, "method": method, "params": params})

    def _client_notification(self, method: str, params: Any, raw: str | None) -> None:
        # Notifications Lean decodes strictly are rebuilt from their checked fields; the rest
        # (rpc keep-alives, unknown `$/` methods) pass as they came.
        if method == "textDocument/didOpen":
            self._did_open(params)
            return
        if method == "textDocument/didChange":
            self._did_change(params)
            return
        if method == "textDocument/didClose":
            self._did_close(params)
            return
        if method == "$/cancelRequest":
            server_id = self._client_ids.get(params["id"])
            if server_id is None:
                return
            params, raw = {"id": server_id}, None
        elif method == "textDocument/didSave":
            saved: JsonObject = {"textDocument": {"uri": params["textDocument"]["uri"]}}
            if isinstance(params.get("text"), str):
                saved["text"] = params["text"]
            params, raw = saved, None
        elif method == "workspace/didChangeWatchedFiles":
            params = {"changes": [{"uri": c["uri"], "type": c["type"]} for c in params["changes"]]}
            raw = None
        if raw is not None:
            self._send(encode_body(raw.encode()))
        else:
            self._write(notification(method, params))

    def _map_request_versions(self, method: str, params: JsonObject) -> JsonObject:
        if method in _VERSIONED_URI_METHODS:
            doc = self.documents.get(params.get("uri", ""))
            if doc is not None and is_int(params.get("version")):
                return {**params, "version": params["version"] + doc.offset}
        text_document = params.get("textDocument")
        if isinstance(text_document, dict) and is_int(text_document.get("version")):
            doc = self.documents.get(text_document.get("uri", ""))
            if doc is not None and doc.offset:
                mapped = {**text_document, "version": text_document["version"] + doc.offset}
                return {**params, "textDocument": mapped}
        return params

    def _did_open(self, params: JsonObject) -> None:
        """``params`` passed guard.params_problem: uri, version and text are well typed."""
        text_document = params["textDocument"]
        uri = text_document["uri"]
        client_version = text_document["version"]
        text = text_document["text"].replace("\r\n", "\n")
        doc = self.documents.get(uri)
        if doc is not None and doc.is_open:
            self._reopen(uri, doc, client_version, text)
            return
        budget = self.document_budget
        open_count = sum(1 for state in self.documents.values() if state.is_open)
        if budget.max_open_documents and open_count >= budget.max_open_documents:
            self._refuse_document(
                "textDocument/didOpen",
                uri,
                (f"this session has {open_count} open documents, its limit; close one first"),
            )
            return
        problem = budget.charge(self.owner, 0, utf8_length(text))  # before building anything
        if problem is not None:
            self._refuse_document("textDocument/didOpen", uri, problem)
            return
        mirror = DocumentText(text)
        offset = 0 if doc is None else max(0, doc.server_version + 1 - client_version)
        doc = DocumentState(
            text=mirror,
            server_version=client_version + offset,
            offset=offset,
            min_client_version=client_version,
        )
        self.documents.pop(uri, None)  # re-inserted last: the dict is in order of last opening
        self.documents[uri] = doc
        language = text_document.get("languageId")
        forwarded: JsonObject = {
            "textDocument": {
                "uri": uri,
                "languageId": language if isinstance(language, str) else "lean4",
                "version": doc.server_version,
                "text": text_document["text"],
            }
        }
        if params.get("dependencyBuildMode") in _DEPENDENCY_BUILD_MODES:
            forwarded["dependencyBuildMode"] = params["dependencyBuildMode"]
        self._write(notification("textDocument/didOpen", forwarded))

    def _reopen(self, uri: str, doc: DocumentState, client_version: int, text: str) -> None:
        """A resumed client opens a document Lean already has: never restart its worker."""
        assert doc.text is not None
        if doc.text.equals(text):
            doc.min_client_version = client_version
            doc.offset = doc.server_version - client_version
            for cached in (doc.progress, doc.diagnostics):
                if cached is not None:
                    mapped = self._to_client(cached)
                    if mapped is not None:
                        self._deliver(mapped)
            return
        problem = self.document_budget.charge(self.owner, doc.text.utf8_bytes, utf8_length(text))
        if problem is not None:
            self._refuse_document("textDocument/didOpen", uri, problem)
            return
        mirror = DocumentText(text)
        doc.min_client_version = client_version
        doc.server_version += 1
        doc.offset = doc.server_version - client_version
        doc.text = mirror
        self._write(
            notification(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": doc.server_version},
                    "contentChanges": [{"text": text}],
                },
            )
        )

    def _did_change(self, params: JsonObject) -> None:
        """Apply the edits to the session's copy, then forward them so that Lean ends up with
        exactly that text: positions Lean might place differently (past the end of a line or of
        the text, inside a surrogate pair) are sent as where the session placed them. A message
        that is refused (malformed, too many edits, too large a result) changes nothing."""
        text_document = params["textDocument"]
        uri = text_document["uri"]
        doc = self.documents.get(uri)
        changes = params["contentChanges"]
        if doc is None or doc.text is None or not changes:
            return  # Lean ignores changes to closed documents and empty change lists; so do we
        budget = self.document_budget
        if budget.max_edits_per_message and len(changes) > budget.max_edits_per_message:
            self._refuse_document(
                "textDocument/didChange",
                uri,
                (
                    f"{len(changes)} edits in one message, the limit is "
                    f"{budget.max_edits_per_message}; send the whole text as one change instead"
                ),
            )
            return
        try:
            text, forwarded_changes = _apply_changes(doc.text, changes)
        except ValueError as exc:
            self._refuse_document("textDocument/didChange", uri, f"malformed edit: {exc}")
            return
        problem = budget.charge(self.owner, doc.text.utf8_bytes, text.utf8_bytes)
        if problem is not None:
            self._refuse_document("textDocument/didChange", uri, problem)
            return
        doc.text = text
        forwarded_document: JsonObject = {"uri": uri}
        client_version = text_document.get("version")
        if is_int(client_version):
            forwarded_document["version"] = client_version + doc.offset
            doc.server_version = max(doc.server_version, client_version + doc.offset)
        self._write(
            notification(
                "textDocument/didChange",
                {
                    "textDocument": forwarded_document,
                    "contentChanges": forwarded_changes,
                },
            )
        )

    def _refuse_document(self, method: str, uri: str, reason: str) -> None:
        """A document notification that does not reach Lean (nobody to answer it to)."""
        log.info("Lean session %s: refused %s of %s: %s", self.id, method, uri, reason)
        self._deliver(
            notification(
                "window/showMessage", {"type": 1, "message": f"Refused {method} of {uri}: {reason}"}
            )
        )

    def _did_close(self, params: JsonObject) -> None:
        uri = params["textDocument"]["uri"]
        doc = self.documents.get(uri)
        if doc is None or doc.text is None:
            return  # never opened (or refused): nothing for Lean to close
        self.document_budget.release(self.owner, doc.text.utf8_bytes)
        doc.text = None
        doc.diagnostics = doc.progress = None
        self._forget_closed_documents()
        self._write(notification("textDocument/didClose", {"textDocument": {"uri": uri}}))

    def _forget_closed_documents(self) -> None:
        closed = [uri for uri, doc in self.documents.items() if not doc.is_open]
        for uri in closed[: max(0, len(closed) - MAX_CLOSED_DOCUMENTS)]:
            del self.documents[uri]

    async def _client_initialize(self, client_id: Any, params: Any) -> None:
        generation = self._generation
        try:
            result = await asyncio.wait_for(
                self._send_initialize(params), self.request_timeout or None
            )
        except LeanRequestError as exc:
            response = error_response(
                client_id, exc.error.get("code", INTERNAL_ERROR), str(exc), exc.error.get("data")
            )
        except asyncio.TimeoutError:
            response = error_response(
                client_id,
                REQUEST_TIMED_OUT,
                (f"Lean did not answer 'initialize' within {self.request_timeout:g} s"),
            )
        else:
            response = result_response(client_id, result)
        if generation == self._generation:
            self._deliver(response)

    async def _send_initialize(self, params: Any) -> Any:
        return await asyncio.shield(self._start_initialize(params))

    def _start_initialize(self, params: Any) -> asyncio.Future[Any]:
        """The one `initialize` Lean ever gets (later ones are answered from its result)."""
        if self._initialize is None:
            self._initialize = asyncio.get_running_loop().create_future()
            server_id = self._allocate_id()
            self._pending[server_id] = _InternalRequest(self._initialize, "initialize")
            self._write(
                {"jsonrpc": "2.0", "id": server_id, "method": "initialize", "params": params}
            )
        return self._initialize

    async def request(self, method: str, params: Any) -> Any:
        """A request of the session's own (not relayed to any client)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        server_id = self._allocate_id()
        self._pending[server_id] = _InternalRequest(future, method)
        message: JsonObject = {"jsonrpc": "2.0", "id": server_id, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return await future

    def _allocate_id(self) -> str:
        """An id of the session's own, distinct from every pending one."""
        while True:
            self._next_id += 1
            candidate = f"jupyter-lean:{self._next_id}"
            if candidate not in self._pending:
                return candidate

    def _write(self, message: JsonObject) -> None:
        self._send(encode_message(message))

    # -- flow control towards Lean ---------------------------------------------------------

    def _send(self, data: bytes) -> None:
        """Queue ``data`` for Lean's stdin (LeanProcess reports a full pipe: _stdin_backlogged)."""
        # Counted first: a full pipe reports back from inside write(), and the stall check then
        # takes this message as not yet taken.
        self._bytes_to_lean += len(data)
        self._process.write(data)

    def _stdin_backlogged(self) -> None:
        if self._stall_timer is None:
            self._arm_stall_check()

    def input_backlog(self) -> int:
        """Bytes queued for Lean's stdin beyond what its pipe holds."""
        return self._process.stdin_buffered_bytes()

    def input_drained(self) -> asyncio.Future[None]:
        """Resolves once Lean has taken the queued input (or the session ended). Shared by all
        callers: one drain at a time."""
        if self._input_drained is None or self._input_drained.done():
            self._input_drained = self._spawn(self._drain_stdin())
        return self._input_drained

    async def _drain_stdin(self) -> None:
        await self._process.drain()

    def _arm_stall_check(self) -> None:
        taken = self._bytes_to_lean - self._process.stdin_buffered_bytes()
        self._stall_timer = asyncio.get_running_loop().call_later(
            STDIN_STALL_SECONDS, self._check_stall, taken
        )

    def _check_stall(self, taken_before: int) -> None:
        """Input has been waiting for STDIN_STALL_SECONDS: fine if Lean took some of it."""
        self._stall_timer = None
        waiting = self._process.stdin_buffered_bytes()
        if waiting == 0 or self.state is SessionState.EXITED:
            return
        if self._bytes_to_lean - waiting > taken_before:
            self._arm_stall_check()  # slow, not stuck
            return
        self._give_up_on_lean(
            f"Lean stopped reading its input: {waiting} bytes have been waiting for "
            f"{STDIN_STALL_SECONDS:g} s"
        )

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
            if client is not None and _backlog(client) > CLIENT_PAUSE_BYTES:
                await self._wait_for_client(client)

    async def _wait_for_client(self, client: ClientConnection) -> None:
        """Backpressure: stop reading Lean's stdout until ``client`` has flushed what it was
        given; a client that takes nothing for CLIENT_STALL_SECONDS is closed (4408)."""
        drained = cast(FlowControlledClient, client).drained()
        if self._client_left is None:
            self._client_left = asyncio.get_running_loop().create_future()
        self.reading_paused = True
        try:
            done, _ = await asyncio.wait(
                {drained, self._client_left},
                timeout=CLIENT_STALL_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self.reading_paused = False
        if not done and self._client is client:
            log.warning(
                "Lean session %s: the client read nothing for %g s; closing it",
                self.id,
                CLIENT_STALL_SECONDS,
            )
            self._close_client(
                CLOSE_CLIENT_TOO_SLOW,
                (
                    f"client too slow: {_backlog(client) >> 10} KiB unread for "
                    f"{CLIENT_STALL_SECONDS:g} s"
                ),
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
            self._lean_notification(method, message, body)

    def _answer_dropped(self, exc: MessageTooLarge) -> None:
        """A response too large to relay still answers its request, with an error: otherwise
        the client would wait for it until request_timeout."""
        request_id = response_id(exc.head)
        if request_id is None or request_id not in self._pending:
            return
        failure = error_response(
            request_id,
            INTERNAL_ERROR,
            (
                f"Lean's answer was {exc.size / MiB:.1f} MiB, over max_message_size "
                f"({self.max_message_size / MiB:.1f} MiB): ask for less, or raise the limit"
            ),
        )
        self._lean_response(failure, dumps(failure).encode())

    def _lean_response(self, message: JsonObject, body: bytes) -> None:
        entry = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if entry is None:
            return
        if isinstance(entry, _InternalRequest):
            if entry.method == "initialize" and self.state is SessionState.STARTING:
                metrics.SPAWN_READY_SECONDS.observe(time.monotonic() - self._started_at)
                self._set_state(SessionState.READY)
            if entry.future.done():
                return
            if "error" in message:
                entry.future.set_exception(LeanRequestError(message["error"]))
            else:
                entry.future.set_result(message.get("result"))
            return
        if self._client_ids.get(entry.client_id) == message["id"]:
            del self._client_ids[entry.client_id]
        if entry.generation == self._generation:
            if message["id"] == entry.client_id:
                self._deliver(message, body.decode())
            else:
                message["id"] = entry.client_id
                self._deliver(message)

    def _lean_notification(self, method: str, message: JsonObject, body: bytes) -> None:
        params = message.get("params")
        if method in ("textDocument/publishDiagnostics", "$/lean/fileProgress") and isinstance(
            params, dict
        ):
            uri = (
                params.get("uri")
                if method == "textDocument/publishDiagnostics"
                else ((params.get("textDocument") or {}).get("uri"))
            )
            doc = self.documents.get(uri) if isinstance(uri, str) else None
            if doc is not None:
                if method == "textDocument/publishDiagnostics":
                    if doc.is_open:
                        doc.diagnostics = message
                else:
                    doc.progress = message
                mapped = self._to_client(message)
                if mapped is not None:
                    self._deliver(mapped, body.decode() if mapped is message else None)
                return
        self._deliver(message, body.decode())

    def _to_client(self, message: JsonObject) -> JsonObject | None:
        """``message`` with its document version in the client's numbering; None if it is stale."""
        params = message["params"]
        if message["method"] == "textDocument/publishDiagnostics":
            doc = self.documents.get(params["uri"])
            version = params.get("version")
            if doc is None or not isinstance(version, int) or doc.offset == 0:
                return message
            client_version = version - doc.offset
            if client_version < doc.min_client_version:
                return None
            return {**message, "params": {**params, "version": client_version}}
        text_document = params.get("textDocument") or {}
        doc = self.documents.get(text_document.get("uri", ""))
        version = text_document.get("version")
        if doc is None or not isinstance(version, int) or doc.offset == 0:
            return message
        client_version = version - doc.offset
        if client_version < doc.min_client_version:
            return None
        return {
            **message,
            "params": {**params, "textDocument": {**text_document, "version": client_version}},
        }

    # -- timeouts --------------------------------------------------------------------------

    def _arm_request_timer(self, delay: float) -> None:
        self._request_timer = asyncio.get_running_loop().call_later(
            max(0.0, delay), self._expire_requests
        )

    def _expire_requests(self) -> None:
        """Fail client requests Lean has not answered within ``request_timeout`` seconds (the
        barriers of UNTIMED_METHODS excepted), then sleep until the oldest one left is due.
        A timer, not a polling loop: an idle session costs no wake-ups."""
        self._request_timer = None
        now = time.monotonic()
        deadline = now - self.request_timeout
        oldest: float | None = None
        for server_id, entry in list(self._pending.items()):
            if not isinstance(entry, _ClientRequest) or entry.method in UNTIMED_METHODS:
                continue
            if entry.sent_at > deadline:
                oldest = entry.sent_at if oldest is None else min(oldest, entry.sent_at)
                continue
            del self._pending[server_id]
            if self._client_ids.get(entry.client_id) == server_id:
                del self._client_ids[entry.client_id]
            self._write(notification("$/cancelRequest", {"id": server_id}))
            if entry.generation == self._generation:
                self._deliver(
                    error_response(
                        entry.client_id,
                        REQUEST_TIMED_OUT,
                        f"Lean did not answer '{entry.method}' within {self.request_timeout:g} s",
                    )
                )
        if oldest is not None and self.state is not SessionState.EXITED:
            self._arm_request_timer(oldest + self.request_timeout - now)

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


def _backlog(client: ClientConnection) -> int:
    backlog = getattr(client, "backlog", None)
    return backlog() if backlog is not None else 0


def _apply_changes(
    text: DocumentText, changes: list[JsonObject]
) -> tuple[DocumentText, list[JsonObject]]:
    """(``text`` after ``changes``, the changes as Lean should get them: only the fields Lean
    reads, and every position exact). ValueError when a range ends before it starts."""
    forwarded: list[JsonObject] = []
    for change in changes:
        edit_range = change.get("range")
        if edit_range is None:
            text = DocumentText(change["text"])
            forwarded.append({"text": change["text"]})
            continue
        start, end = edit_range["start"], edit_range["end"]
        start_index, start_exact = text.locate(start["line"], start["character"])
        end_index, end_exact = text.locate(end["line"], end["character"])
        if end_index < start_index:
            raise ValueError("range end before range start")
        if not (start_exact and end_exact):
            # Clamping is left to each implementation: say where the session placed them.
            start = _position(text.position(start_index))
            end = _position(text.position(end_index))
        forwarded.append(
            _clean_change({"range": {"start": start, "end": end}, "text": change["text"]})
        )
        text = text.replaced(start_index, end_index, change["text"])
    return text, forwarded


def _position(line_character: tuple[int, int]) -> JsonObject:
    return {"line": line_character[0], "character": line_character[1]}


def _clean_change(change: JsonObject) -> JsonObject:
    """A checked content change with only the fields Lean reads (a stray `rangeLength` of the
    wrong type would fail Lean's decoding)."""
    edit_range = change.get("range")
    if edit_range is None:
        return {"text": change["text"]}
    return {
        "range": {
            "start": {
                "line": edit_range["start"]["line"],
                "character": edit_range["start"]["character"],
            },
            "end": {"line": edit_range["end"]["line"], "character": edit_range["end"]["character"]},
        },
        "text": change["text"],
    }
