"""The client -> Lean half of a session: what a client's message becomes before Lean sees it.

Lifecycle methods are the session's own (one ``initialize`` per Lean, answered from its result
for every later client; a client's ``shutdown``/``exit`` never reach Lean), parameters Lean
decodes strictly are checked (``guard.py``) and document URIs confined (``uris.py``), document
notifications go through the mirror (``mirror.py``), request ids through the pending table
(``pending.py``); whatever needs no change is forwarded as the client's own text.

``ClientToLean`` is a base class of ``LeanSession`` (``session.py``), which owns the state named
below and the other half.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from . import metrics
from .flow import ClientConnection, InputFlow
from .guard import params_problem, rebuilt_params, sanitize_client_error
from .lsp import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LEAN_SERVER_EXITED,
    REQUEST_TIMED_OUT,
    SERVER_NOT_INITIALIZED,
    JsonObject,
    encode_body,
    encode_message,
    error_response,
    notification,
    result_response,
)
from .mirror import DocumentMirror, MirrorOutcome
from .pending import LeanRequestError, PendingRequests
from .ratelimit import RATE_LIMITED, RATE_LIMITED_MESSAGE, TokenBucket
from .state import SessionState
from .trace import TO_LEAN, SessionTrace
from .uris import UriOutsideProject, confined_path, uris_in_params

log = logging.getLogger("jupyter_lean.session")

# Sent by clients on a timer, not by a person: an infoview left open in a forgotten tab sends
# keepAlive every 10 s, which would keep its session (and, through last_activity, the user's
# whole server) from ever being culled.
_NOT_ACTIVITY = frozenset({"$/lean/rpc/keepAlive"})
_LIFECYCLE_METHODS = frozenset(("initialize", "initialized", "shutdown", "exit"))
_DOCUMENT_METHODS = ("textDocument/didOpen", "textDocument/didChange", "textDocument/didClose")


class ClientToLean:
    """Messages from the attached client, checked, mapped and written to Lean's stdin."""

    id: str
    owner: str | None
    state: SessionState
    exit_reason: str | None
    request_timeout: float
    trace: SessionTrace
    _client: ClientConnection | None
    _generation: int  # counts clients: answers to a gone client's requests are dropped
    _mirror: DocumentMirror
    _pending: PendingRequests
    _input: InputFlow
    _server_requests: set[Any]  # Lean's requests awaiting the client's reply, by Lean's id
    _initialize: asyncio.Future[Any] | None
    _initialized_sent: bool
    _allowed_roots: tuple[str, ...]
    _rate_bucket: TokenBucket | None

    def touch(self) -> None:
        raise NotImplementedError

    def _deliver(self, message: JsonObject, raw: str | None = None) -> None:
        raise NotImplementedError

    def _spawn(self, awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
        raise NotImplementedError

    def receive(
        self, client: ClientConnection, message: JsonObject, raw: str | None = None
    ) -> asyncio.Future[None] | None:
        """One valid JSON-RPC message from ``client`` (checked by guard.parse_client_frame);
        ``raw`` is its exact text, forwarded as is when nothing in it needs changing.

        Returns a future when the client must be read no further until it resolves (Lean has
        not taken what it was given: flow.STDIN_PAUSE_BYTES), else None."""
        if client is not self._client:
            return None
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
                failure = "internal error while relaying this request"
                self._deliver(error_response(message["id"], INTERNAL_ERROR, failure))
        return self._input.pause_needed()

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
                reason = self.exit_reason or "Lean server exited"
                self._deliver(error_response(message["id"], LEAN_SERVER_EXITED, reason))
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
                refusal = "send 'initialize' first"
                self._deliver(error_response(message["id"], SERVER_NOT_INITIALIZED, refusal))
            return
        self._send_initialized()
        problem = params_problem(method, params, is_request=is_request)
        problem = problem or self._refuse_uris(method, params)
        if problem is not None:
            self._refuse(message, problem)
        elif is_request:
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
                wrong_kind = f"'{method}' is a notification, not a request"
                self._deliver(error_response(message["id"], INVALID_REQUEST, wrong_kind))
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
            if self._initialize is not None:
                self._send_initialized()
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
            error = sanitize_client_error(message["error"])
            self._write({"jsonrpc": "2.0", "id": request_id, "error": error})
        else:
            self._write(result_response(request_id, message.get("result")))

    def _client_request(self, client_id: Any, method: str, params: Any, raw: str | None) -> None:
        if isinstance(params, dict):
            mapped = self._mirror.map_request_versions(method, params)
            if mapped is not params:
                params, raw = mapped, None
        server_id = self._pending.add_client(self._generation, client_id, method)
        if raw is not None and server_id == client_id:
            self._input.send(encode_body(raw.encode()))
        else:
            self._write({"jsonrpc": "2.0", "id": server_id, "method": method, "params": params})

    def _client_notification(self, method: str, params: Any, raw: str | None) -> None:
        if method in _DOCUMENT_METHODS:
            self._carry_out(self._document_change(method, params))
            return
        if method == "$/cancelRequest":
            server_id = self._pending.server_id_of(params["id"])
            if server_id is None:
                return
            params, raw = {"id": server_id}, None
        else:
            rebuilt = rebuilt_params(method, params)
            if rebuilt is not None:
                params, raw = rebuilt, None
        if raw is not None:
            self._input.send(encode_body(raw.encode()))
        else:
            self._write(notification(method, params))

    def _document_change(self, method: str, params: JsonObject) -> MirrorOutcome:
        if method == "textDocument/didOpen":
            return self._mirror.did_open(self.owner, params)
        if method == "textDocument/didChange":
            return self._mirror.did_change(self.owner, params)
        return self._mirror.did_close(self.owner, params)

    def _carry_out(self, outcome: MirrorOutcome) -> None:
        if outcome.refusal is not None:
            log.info("Lean session %s: refused %s", self.id, outcome.refusal)
        for message in outcome.to_client:
            self._deliver(message)
        if outcome.to_lean is not None:
            self._write(outcome.to_lean)

    async def _client_initialize(self, client_id: Any, params: Any) -> None:
        generation = self._generation
        try:
            result = await asyncio.wait_for(
                self._send_initialize(params), self.request_timeout or None
            )
        except LeanRequestError as exc:
            code = exc.error.get("code", INTERNAL_ERROR)
            response = error_response(client_id, code, str(exc), exc.error.get("data"))
        except asyncio.TimeoutError:
            late = f"Lean did not answer 'initialize' within {self.request_timeout:g} s"
            response = error_response(client_id, REQUEST_TIMED_OUT, late)
        else:
            response = result_response(client_id, result)
        if generation == self._generation:
            self._deliver(response)

    async def _send_initialize(self, params: Any) -> Any:
        return await asyncio.shield(self._start_initialize(params))

    def _start_initialize(self, params: Any) -> asyncio.Future[Any]:
        """The one `initialize` Lean ever gets (later ones are answered from its result)."""
        if self._initialize is None:
            server_id, self._initialize = self._pending.add_internal("initialize")
            message = {"jsonrpc": "2.0", "id": server_id, "method": "initialize", "params": params}
            self._write(message)
        return self._initialize

    def _send_initialized(self) -> None:
        if not self._initialized_sent:
            self._initialized_sent = True
            self._write(notification("initialized", {}))

    async def request(self, method: str, params: Any) -> Any:
        """A request of the session's own (not relayed to any client)."""
        server_id, future = self._pending.add_internal(method)
        message: JsonObject = {"jsonrpc": "2.0", "id": server_id, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return await future

    def _write(self, message: JsonObject) -> None:
        self._input.send(encode_message(message))
