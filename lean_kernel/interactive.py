"""Interactive goals in cell outputs: Lean's RPC session of the kernel, and the MIME bundle.

A goal output carries, next to its text and Markdown, ``MIME_TYPE``: the goals as Lean's
``Lean.Widget.getInteractiveGoals`` gives them (tagged text whose subterms hold RPC references),
and which kernel and RPC session those references belong to. JupyterLab's renderer
(``labextension/src/outputs/``) shows the goals and, while that RPC session lives, asks the kernel
over the comm ``jupyter_lean.rpc`` for the type of a hovered subterm; the kernel relays the call
to its Lean (``RpcRelay``). A reopened notebook, a restarted kernel or a new Lean server means
another kernel token or RPC session: the kernel says the output's session has ended and the
renderer keeps the goals without hovers.

No server path goes into the bundle (the document URI names the project folder): the kernel calls
its own document, so the output need not say which.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyter_server_ext.session import LeanRequestError, LeanSession

from .connection import LeanConnection, ServerExited, WorkerCrashed

MIME_TYPE = "application/vnd.jupyter-lean.infoview+json"
COMM_TARGET = "jupyter_lean.rpc"
PAYLOAD_VERSION = 1
RPC_NEEDS_RECONNECT = -32900  # Lean: "Outdated RPC session" (worker restarted, session expired)
KEEP_ALIVE_SECONDS = 10.0  # Lean drops an RPC session after 30 s without a keepAlive
MAX_PAYLOAD_CHARS = 500_000  # a huge goal keeps its text renderings only

# What the renderer may ask through the comm: reading goals and the information of their
# subterms. The frontend can run any Lean code anyway; this keeps the relay to its purpose.
RELAYED_METHODS = frozenset(
    {
        "Lean.Widget.InteractiveDiagnostics.infoToInteractive",
        "Lean.Widget.getInteractiveGoals",
        "Lean.Widget.getInteractiveTermGoal",
        "Lean.Widget.getInteractiveDiagnostics",
    }
)


class SessionEnded(Exception):
    """The RPC session an output refers to is gone (another kernel, a new Lean, expired)."""


# What a kernel's own RPC call can come to besides an answer: the output then goes without.
RPC_FAILURES = (SessionEnded, LeanRequestError, asyncio.TimeoutError)


@dataclass
class _Connected:
    lean_session: LeanSession  # the Lean server the RPC session lives in
    session_id: str | int  # a string since Lean 4.2x, a number before


class RpcRelay:
    """The kernel's one RPC session with its Lean document, kept alive while Lean runs."""

    def __init__(self, lean: LeanConnection, timeout: Callable[[], float]) -> None:
        self.lean = lean
        self.timeout = timeout
        # Identifies this kernel process in its outputs: a restarted kernel answers "ended".
        self.kernel_token = uuid.uuid4().hex
        self._connected: _Connected | None = None
        self._connecting: asyncio.Future[str | int | None] | None = None

    @property
    def session_id(self) -> str | int | None:
        connected = self._connected
        if connected is None or connected.lean_session is not self.lean.session:
            return None
        return connected.session_id

    async def connect(self) -> str | int | None:
        """The RPC session id, connecting if this Lean has none yet; None if Lean refuses."""
        current = self.session_id
        if current is not None:
            return current
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> str | int | None:
        session = self.lean.session
        try:
            result = await self.lean.request(
                "$/lean/rpc/connect", {"uri": self.lean.uri}, self.timeout()
            )
        except (LeanRequestError, asyncio.TimeoutError, WorkerCrashed, ServerExited):
            return None
        session_id = result.get("sessionId") if isinstance(result, dict) else None
        if session is None or not isinstance(session_id, (str, int)):
            return None
        self._connected = _Connected(session, session_id)
        return session_id

    async def call(
        self, method: str, params: Any, position: dict[str, int], session_id: Any = None
    ) -> Any:
        """``$/lean/rpc/call`` in the session ``session_id`` (the current one when None).
        Raises SessionEnded when that is not the live session, LeanRequestError for Lean's
        other errors."""
        current = self.session_id
        wanted = current if session_id is None else session_id
        if current is None or wanted != current or not self.lean.ready:
            raise SessionEnded("the Lean session of this output has ended")
        params = {
            "textDocument": {"uri": self.lean.uri},
            "position": position,
            "sessionId": current,
            "method": method,
            "params": params,
        }
        try:
            return await self.lean.request("$/lean/rpc/call", params, self.timeout())
        except LeanRequestError as exc:
            if exc.error.get("code") == RPC_NEEDS_RECONNECT:
                self._connected = None
                raise SessionEnded("Lean ended the RPC session of this output") from exc
            raise
        except (WorkerCrashed, ServerExited) as exc:
            raise SessionEnded(f"Lean stopped: {exc}") from exc

    async def call_current(self, method: str, params: Any, position: dict[str, int]) -> Any:
        """A call of the kernel's own, in the live session: when Lean has ended the session the
        kernel knew (a new file worker after %reset or a crash), connect again once."""
        for attempt in range(2):
            if await self.connect() is None:
                raise SessionEnded("Lean refused an RPC session")
            try:
                return await self.call(method, params, position)
            except SessionEnded:
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def keep_alive(self) -> None:
        """Tell Lean the session is in use. Sent on the client directly: a keepAlive is not use
        of Lean by the notebook, so it must not hold off the idle culler."""
        session_id, client = self.session_id, self.lean.client
        if session_id is not None and client is not None and self.lean.ready:
            with contextlib.suppress(Exception):
                client.notify(
                    "$/lean/rpc/keepAlive", {"uri": self.lean.uri, "sessionId": session_id}
                )

    async def keep_alive_forever(self) -> None:
        while True:
            await asyncio.sleep(KEEP_ALIVE_SECONDS)
            self.keep_alive()

    # -- goals for outputs -----------------------------------------------------------------

    async def goals_payload(
        self, title: str, position: dict[str, int], term_goal: bool = True
    ) -> dict[str, Any] | None:
        """The MIME data of the goals at ``position`` (document coordinates): the tactic goals,
        else (``term_goal``) the expected type there; None when Lean has neither."""
        where = {"textDocument": {"uri": self.lean.uri}, "position": position}
        goals: list[Any] = []
        term: Any = None
        try:
            answer = await self.call_current("Lean.Widget.getInteractiveGoals", where, position)
            if isinstance(answer, dict) and isinstance(answer.get("goals"), list):
                goals = answer["goals"]
            if not goals and term_goal:
                term = await self.call("Lean.Widget.getInteractiveTermGoal", where, position)
        except RPC_FAILURES:
            return None
        if not goals and not isinstance(term, dict):
            return None
        return self._payload(
            "goals",
            title,
            position,
            goals=goals,
            termGoal=term if isinstance(term, dict) else None,
            messages=[],
        )

    async def interactive_diagnostics(self, first_line: int, end_line: int) -> list[Any] | None:
        """Lean's interactive diagnostics of document lines ``first_line`` up to ``end_line``
        (excluded); None when Lean does not give them."""
        params = {"lineRange": {"start": first_line, "end": end_line}}
        position = {"line": first_line, "character": 0}
        try:
            answer = await self.call_current(
                "Lean.Widget.getInteractiveDiagnostics", params, position
            )
        except RPC_FAILURES:
            return None
        return [d for d in answer if isinstance(d, dict)] if isinstance(answer, list) else None

    def messages_payload(
        self, title: str, position: dict[str, int], messages: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The MIME data of interactive messages (``{severity, where, message}`` each), their
        references asked about at ``position``; None when too big or no session lives."""
        return self._payload("messages", title, position, messages=messages)

    def _payload(
        self, kind: str, title: str, position: dict[str, int], **content: Any
    ) -> dict[str, Any] | None:
        """An output's MIME data in the live RPC session; None when no session lives or the
        data is too big (the output keeps its text renderings only)."""
        session_id = self.session_id
        if session_id is None:
            return None
        payload = {
            "version": PAYLOAD_VERSION,
            "kind": kind,
            "title": title,
            "position": position,
            **content,
            "rpc": {"kernel": self.kernel_token, "session": session_id},
        }
        if len(json.dumps(payload, ensure_ascii=False)) > MAX_PAYLOAD_CHARS:
            return None
        return payload

    # -- the comm --------------------------------------------------------------------------

    async def answer(self, request: Any) -> dict[str, Any]:
        """The reply to one comm message ``{id, kernel, session, method, params, position}``."""
        if not isinstance(request, dict):
            return {"id": None, "error": {"message": "a request must be an object"}}
        ident = request.get("id")
        method, position = request.get("method"), request.get("position")
        if request.get("kernel") != self.kernel_token:
            return _ended(ident, "this output comes from another kernel")
        if method not in RELAYED_METHODS:
            return {"id": ident, "error": {"message": f"{method!r} is not relayed"}}
        if not (
            isinstance(position, dict)
            and all(isinstance(position.get(k), int) for k in ("line", "character"))
        ):
            return {"id": ident, "error": {"message": "position must be {line, character}"}}
        try:
            result = await self.call(
                method,
                request.get("params"),
                {"line": position["line"], "character": position["character"]},
                request.get("session"),
            )
        except SessionEnded as exc:
            return _ended(ident, str(exc))
        except LeanRequestError as exc:
            return {
                "id": ident,
                "error": {
                    "code": exc.error.get("code"),
                    "message": str(exc.error.get("message", exc)),
                },
            }
        except asyncio.TimeoutError:
            return {"id": ident, "error": {"message": "Lean did not answer in time"}}
        return {"id": ident, "result": result}


def _ended(ident: Any, why: str) -> dict[str, Any]:
    return {"id": ident, "error": {"message": why, "ended": True}}
