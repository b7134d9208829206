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
from typing import Any, Protocol

from . import metrics
from .lsp import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    LEAN_SERVER_EXITED,
    REQUEST_TIMED_OUT,
    SERVER_NOT_INITIALIZED,
    JsonObject,
    LspProtocolError,
    MessageTooLarge,
    encode_body,
    encode_message,
    error_response,
    notification,
    read_message_body,
    result_response,
)
from .process import LaunchSpec, LeanProcess, describe_exit
from .text import apply_content_change
from .uris import UriOutsideProject, confined_path, uris_in_params

log = logging.getLogger("jupyter_lean.session")

# WebSocket close codes of DESIGN section 4.
CLOSE_REPLACED = 4409
CLOSE_SESSION_ENDED = 4410

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


class SessionState(str, Enum):
    STARTING = "starting"
    READY = "ready"
    EXITED = "exited"


class ClientConnection(Protocol):
    """What a session needs from an attached client."""

    def deliver(self, message: JsonObject, raw: str | None = None) -> None:
        """Send ``message``; ``raw``, when given, is its exact JSON text (saves re-encoding)."""

    def close_session(self, code: int, reason: str) -> None: ...


class LeanRequestError(Exception):
    def __init__(self, error: JsonObject) -> None:
        self.error = error
        super().__init__(error.get("message", "Lean request failed"))


@dataclass
class DocumentState:
    text: str
    is_open: bool
    server_version: int
    # server version = client version + offset: Lean ignores versions lower than one it has seen,
    # so a client that comes back counting from 1 is shifted above everything Lean knows.
    offset: int = 0
    # Messages for client versions below this predate the client's (re)open and are dropped.
    min_client_version: int = 0
    diagnostics: JsonObject | None = None
    progress: JsonObject | None = None


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
        self.created = _utcnow()
        self._last_activity = self.created.timestamp()
        self._reported_activity = 0.0
        self.state: SessionState = SessionState.STARTING
        self.exit_code: int | None = None
        self.exit_reason: str | None = None
        self._stopping = False
        self._process = LeanProcess(spec, self._process_exited)
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
        self._timeout_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid

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
        if self.request_timeout > 0:
            self._timeout_task = asyncio.create_task(self._expire_requests())

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
        """Stop Lean (shutdown + exit, then SIGTERM, then SIGKILL of its process group) and close
        the client with 4410. Returns once the process is reaped."""
        self._stopping = True
        if self.state is not SessionState.EXITED:
            self.exit_reason = reason
            if self._initialize is not None and self._initialize.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.request("shutdown", None), 2.0)
                self._write(notification("exit", {}))
        await self._process.terminate(grace=2.0)
        for task in (self._reader, self._timeout_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._close_client(CLOSE_SESSION_ENDED, f"Lean session ended: {reason}")

    def _process_exited(self, returncode: int) -> None:
        self.exit_code = returncode
        expected = self._stopping
        if not expected:
            stderr = "\n".join(self._process.stderr_tail)
            self.exit_reason = f"Lean server {describe_exit(returncode)}" + (
                f"; last stderr lines:\n{stderr}" if stderr else ""
            )
            metrics.SESSIONS_CRASHED.inc()
            log.warning("Lean session %s: %s", self.id, self.exit_reason)
        self._set_state(SessionState.EXITED)
        self._fail_pending(self.exit_reason or "Lean server exited")
        if not expected:
            self._deliver(
                notification(
                    EXITED_NOTIFICATION, {"code": returncode, "reason": self.exit_reason}
                )
            )
            self._close_client(CLOSE_SESSION_ENDED, self.exit_reason or "Lean server exited")
        self._on_exit(self)

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

    def detach(self, client: ClientConnection) -> None:
        if self._client is client:
            self._detach_current()
            self.touch()

    def _detach_current(self) -> None:
        if self._client is None:
            return
        self._client = None
        self._generation += 1
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
            metrics.LEAN_TO_CLIENT.inc()
            self._client.deliver(message, raw)

    # -- client -> Lean --------------------------------------------------------------------

    def receive(self, client: ClientConnection, message: JsonObject, raw: str | None = None
                ) -> None:
        """One valid JSON-RPC message from ``client`` (checked by lsp.parse_client_frame);
        ``raw`` is its exact text, forwarded as is when nothing in it needs changing."""
        if client is not self._client:
            return
        self.touch()
        metrics.CLIENT_TO_LEAN.inc()
        method = message.get("method")
        if method is None:
            self._client_response(message)
            return
        is_request = "id" in message
        if self.state is SessionState.EXITED:
            if is_request:
                self._deliver(error_response(message["id"], LEAN_SERVER_EXITED,
                                             self.exit_reason or "Lean server exited"))
            return
        params = message.get("params")
        if params is None:
            params = {}
            raw = None  # Lean treats a missing "params" as fatal: it must be added
        if method == "initialize" and is_request:
            task = asyncio.create_task(self._client_initialize(message["id"], params))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        if method == "initialized":
            if not self._initialized_sent and self._initialize is not None:
                self._initialized_sent = True
                self._write(notification("initialized", params))
            return
        if method == "shutdown" and is_request:
            # The Lean server belongs to the session, not to one connection: clients end it with
            # DELETE /lean/sessions/{id}, never by shutting it down under a resumable session.
            self._deliver(result_response(message["id"], None))
            return
        if method == "exit":
            return
        if self._initialize is None:
            if is_request:
                self._deliver(error_response(message["id"], SERVER_NOT_INITIALIZED,
                                             "send 'initialize' first"))
            return
        if not self._initialized_sent:
            self._initialized_sent = True
            self._write(notification("initialized", {}))
        refusal = self._refuse_uris(method, params)
        if refusal is not None:
            if is_request:
                self._deliver(error_response(message["id"], INVALID_PARAMS, refusal))
            else:
                self._deliver(notification("window/showMessage", {"type": 1, "message": refusal}))
            return
        if is_request:
            self._client_request(message["id"], method, params, raw)
        else:
            self._client_notification(method, params, raw)

    def _refuse_uris(self, method: str, params: Any) -> str | None:
        for uri in uris_in_params(method, params):
            try:
                confined_path(uri, self._allowed_roots)
            except UriOutsideProject as exc:
                return f"Refused: {exc}"
        return None

    def _client_response(self, message: JsonObject) -> None:
        request_id = message.get("id")
        if request_id in self._server_requests:
            self._server_requests.discard(request_id)
            self._write(message)

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
        if raw is not None:
            self._process.write(encode_body(raw.encode()))
        else:
            self._write({"jsonrpc": "2.0", "id": server_id, "method": method, "params": params})

    def _client_notification(self, method: str, params: Any, raw: str | None) -> None:
        if isinstance(params, dict):
            if method == "textDocument/didOpen":
                self._did_open(params)
                return
            if method == "textDocument/didChange":
                if not self._did_change(params):
                    return
                raw = None
            elif method == "textDocument/didClose":
                self._did_close(params)
            elif method == "$/cancelRequest":
                server_id = self._client_ids.get(params.get("id"))
                if server_id is None:
                    return
                params, raw = {"id": server_id}, None
        if raw is not None:
            self._process.write(encode_body(raw.encode()))
        else:
            self._write(notification(method, params))

    def _map_request_versions(self, method: str, params: JsonObject) -> JsonObject:
        if method in _VERSIONED_URI_METHODS:
            doc = self.documents.get(params.get("uri", ""))
            if doc is not None and isinstance(params.get("version"), int):
                return {**params, "version": params["version"] + doc.offset}
        text_document = params.get("textDocument")
        if isinstance(text_document, dict) and isinstance(text_document.get("version"), int):
            doc = self.documents.get(text_document.get("uri", ""))
            if doc is not None and doc.offset:
                mapped = {**text_document, "version": text_document["version"] + doc.offset}
                return {**params, "textDocument": mapped}
        return params

    def _did_open(self, params: JsonObject) -> None:
        text_document = params.get("textDocument")
        if not isinstance(text_document, dict) or not isinstance(text_document.get("text"), str):
            self._deliver(notification("window/showMessage", {
                "type": 1, "message": "didOpen needs textDocument.uri, .version and .text"}))
            return
        uri = text_document["uri"]
        client_version = text_document.get("version")
        if not isinstance(client_version, int):
            client_version = 0
        text = text_document["text"].replace("\r\n", "\n")
        doc = self.documents.get(uri)
        if doc is not None and doc.is_open:
            self._reopen(uri, doc, client_version, text)
            return
        offset = 0 if doc is None else max(0, doc.server_version + 1 - client_version)
        doc = DocumentState(text=text, is_open=True, server_version=client_version + offset,
                            offset=offset, min_client_version=client_version)
        self.documents[uri] = doc
        forwarded = {**text_document, "version": doc.server_version}
        self._write(notification("textDocument/didOpen", {**params, "textDocument": forwarded}))

    def _reopen(self, uri: str, doc: DocumentState, client_version: int, text: str) -> None:
        """A resumed client opens a document Lean already has: never restart its worker."""
        doc.min_client_version = client_version
        if text == doc.text:
            doc.offset = doc.server_version - client_version
            for cached in (doc.progress, doc.diagnostics):
                if cached is not None:
                    mapped = self._to_client(cached)
                    if mapped is not None:
                        self._deliver(mapped)
            return
        doc.server_version += 1
        doc.offset = doc.server_version - client_version
        doc.text = text
        self._write(notification("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": doc.server_version},
            "contentChanges": [{"text": text}],
        }))

    def _did_change(self, params: JsonObject) -> bool:
        text_document = params.get("textDocument")
        if not isinstance(text_document, dict):
            return False
        doc = self.documents.get(text_document.get("uri", ""))
        if doc is None or not doc.is_open:
            return False  # Lean ignores changes to closed documents; so do we
        changes = params.get("contentChanges")
        try:
            text = doc.text
            for change in changes if isinstance(changes, list) else []:
                text = apply_content_change(text, change)
        except (KeyError, TypeError, ValueError) as exc:
            self._deliver(notification("window/showMessage", {
                "type": 1, "message": f"Refused a malformed didChange: {exc!r}"}))
            return False
        doc.text = text
        client_version = text_document.get("version")
        if isinstance(client_version, int):
            doc.server_version = max(doc.server_version, client_version + doc.offset)
            params["textDocument"] = {**text_document, "version": client_version + doc.offset}
        return True

    def _did_close(self, params: JsonObject) -> None:
        text_document = params.get("textDocument")
        if isinstance(text_document, dict):
            doc = self.documents.get(text_document.get("uri", ""))
            if doc is not None:
                doc.is_open = False
                doc.diagnostics = doc.progress = None

    async def _client_initialize(self, client_id: Any, params: Any) -> None:
        generation = self._generation
        try:
            result = await self._send_initialize(params)
        except LeanRequestError as exc:
            response = error_response(client_id, exc.error.get("code", INTERNAL_ERROR),
                                      str(exc), exc.error.get("data"))
        else:
            response = result_response(client_id, result)
        if generation == self._generation:
            self._deliver(response)

    async def _send_initialize(self, params: Any) -> Any:
        if self._initialize is None:
            self._initialize = asyncio.get_running_loop().create_future()
            server_id = self._allocate_id()
            self._pending[server_id] = _InternalRequest(self._initialize, "initialize")
            self._write({"jsonrpc": "2.0", "id": server_id, "method": "initialize",
                         "params": params})
        return await asyncio.shield(self._initialize)

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
        self._process.write(encode_message(message))

    # -- Lean -> client --------------------------------------------------------------------

    async def _read_lean(self) -> None:
        stdout = self._process.stdout
        while True:
            try:
                body = await read_message_body(stdout, self.max_message_size)
            except MessageTooLarge as exc:
                log.warning("Lean session %s: dropped a message: %s", self.id, exc)
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
                self._from_lean(message, body)

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
            uri = params.get("uri") if method == "textDocument/publishDiagnostics" else (
                (params.get("textDocument") or {}).get("uri")
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
        doc = self.documents.get(text_document.get("uri"))
        version = text_document.get("version")
        if doc is None or not isinstance(version, int) or doc.offset == 0:
            return message
        client_version = version - doc.offset
        if client_version < doc.min_client_version:
            return None
        return {**message, "params": {**params,
                                      "textDocument": {**text_document, "version": client_version}}}

    # -- timeouts --------------------------------------------------------------------------

    async def _expire_requests(self) -> None:
        """Fail client requests Lean has not answered within ``request_timeout`` seconds."""
        period = max(0.05, min(1.0, self.request_timeout / 4))
        while True:
            await asyncio.sleep(period)
            deadline = time.monotonic() - self.request_timeout
            expired = [server_id for server_id, entry in self._pending.items()
                       if isinstance(entry, _ClientRequest) and entry.sent_at < deadline]
            for server_id in expired:
                entry = self._pending.pop(server_id)
                assert isinstance(entry, _ClientRequest)
                self._client_ids.pop(entry.client_id, None)
                self._write(notification("$/cancelRequest", {"id": server_id}))
                if entry.generation == self._generation:
                    self._deliver(error_response(
                        entry.client_id, REQUEST_TIMED_OUT,
                        f"Lean did not answer '{entry.method}' within {self.request_timeout:g} s"))

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
        }
