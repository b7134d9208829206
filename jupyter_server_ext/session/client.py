"""An LSP client living in the same process as the session (the kernel, tests, benchmarks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .lsp import JsonObject, notification, result_response
from .pending import LeanRequestError
from .session import LeanSession

NotificationHandler = Callable[[str, Any], None]


class SessionClosed(Exception):
    """The session ended or replaced this client."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"Lean session closed ({code}): {reason}")


class InProcessClient:
    """Attach to a LeanSession and talk to it with awaitable requests.

    Lean's own requests to the client (registerCapability, semantic-token refreshes) are answered
    with ``null``, as the session does when no client is attached.
    """

    def __init__(self, session: LeanSession) -> None:
        self.session = session
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._handlers: list[NotificationHandler] = []
        self.closed: SessionClosed | None = None
        session.attach(self)

    def on_notification(self, handler: NotificationHandler) -> Callable[[], None]:
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    # ClientConnection
    def deliver(self, message: JsonObject, raw: str | None = None) -> None:
        method = message.get("method")
        if method is None:
            future = self._waiting.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(LeanRequestError(message["error"]))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:
            self.session.receive(self, result_response(message["id"], None))
        else:
            for handler in list(self._handlers):
                handler(method, message.get("params"))

    def close_session(self, code: int, reason: str) -> None:
        self.closed = SessionClosed(code, reason)
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(self.closed)

    def start_request(self, method: str, params: Any) -> tuple[int, asyncio.Future[Any]]:
        """Send a request now; its id and a future for its result."""
        if self.closed is not None:
            raise self.closed
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.session.receive(
            self, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        )
        return request_id, future

    async def request(self, method: str, params: Any, timeout: float | None = None) -> Any:
        request_id, future = self.start_request(method, params)
        try:
            return await asyncio.wait_for(future, timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            if self._waiting.pop(request_id, None) is not None and self.closed is None:
                self.notify("$/cancelRequest", {"id": request_id})
            raise

    def notify(self, method: str, params: Any) -> None:
        if self.closed is not None:
            raise self.closed
        self.session.receive(self, notification(method, params))

    def detach(self) -> None:
        self.session.detach(self)
