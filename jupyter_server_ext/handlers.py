"""The HTTP and WebSocket routes (README "HTTP and WebSocket API"; docs/ARCHITECTURE.md 1.1):
parse, authorize, delegate to the manager."""

from __future__ import annotations

import asyncio
import getpass
import json
from types import TracebackType
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.auth.identity import (
    IdentityProvider,
    LegacyIdentityProvider,
    PasswordIdentityProvider,
)
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.log import _scrub_uri
from tornado import web
from tornado.log import app_log, gen_log
from tornado.websocket import WebSocketHandler

from .admin import is_admin
from .lsp_connection import LspConnection
from .session import (
    CLOSE_NO_SESSION,
    INSTALL_HINT,
    LeanSession,
    LeanSessionManager,
    LeanUnavailable,
    SessionError,
    executable_exists,
    has_lakefile,
    lean_version,
)

AUTH_RESOURCE = "lean"
_SINGLE_PRINCIPAL_PROVIDERS = (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)
_SERVER_OWNER = getpass.getuser()
_SESSION_ID = r"(?P<session_id>[A-Za-z0-9_-]{1,64})"


class LeanMixin:
    """What every Lean route needs: the manager, the caller's username, scrubbed logging."""

    settings: dict[str, Any]
    current_user: Any
    request: Any

    def _request_summary(self) -> str:
        """Tornado's summary of the request for its log lines, without secrets: a browser's
        WebSocket cannot send headers, so its token comes in the URL (`?token=...`)."""
        uri = _scrub_uri(self.request.uri, self.settings.get("extra_log_scrub_param_keys", []))
        return f"{self.request.method} {uri} ({self.request.remote_ip})"

    def log_exception(
        self, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Tornado's own version also logs repr(request), whose URI holds the token.
        if isinstance(value, web.HTTPError):
            message = value.get_message()
            if message:
                gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), message)
        else:
            app_log.error("Uncaught exception %s", self._request_summary(), exc_info=value)

    @property
    def manager(self) -> LeanSessionManager:
        manager: LeanSessionManager = self.settings["lean_session_manager"]
        return manager

    @property
    def username(self) -> str:
        """The owner key of the caller's sessions.

        jupyter_server's own token/password identity providers invent a random anonymous user per
        browser or token request, yet every one of them is the one person the server belongs to:
        they all own the same sessions. Real identity providers (JupyterHub, custom ones) give
        stable usernames, and each user owns their own sessions.
        """
        if type(self.identity_provider) in _SINGLE_PRINCIPAL_PROVIDERS:  # type: ignore[attr-defined]
            return _SERVER_OWNER
        return str(self.current_user.username)

    @property
    def for_all_users(self) -> bool:
        """The request asks for admin rights (``?all=1``): every user's sessions."""
        flag: str | None = self.get_argument("all", "")  # type: ignore[attr-defined]
        return flag == "1"

    async def require_admin(self, action: str) -> None:
        """403 unless the caller may ``action`` ("read"/"write") every user's sessions."""
        if not await is_admin(self, action):
            raise web.HTTPError(403, "?all=1 (every user's sessions) needs the admin scope")

    async def find_session(self, session_id: str, action: str) -> LeanSession | None:
        """The caller's session ``session_id``; with ``?all=1``, an admin's pick of anyone's.
        None when there is no such session for the caller."""
        if self.for_all_users:
            await self.require_admin(action)
            return self.manager.sessions.get(session_id)
        return self.manager.get(session_id, self.username)


class LeanAPIHandler(LeanMixin, ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    def write_session_error(self, exc: SessionError) -> None:
        self.set_status(exc.status)
        self.finish({"message": exc.message})


class HealthHandler(LeanAPIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        manager = self.manager
        lean: dict[str, Any] = {"found": False, "command": None, "version": None}
        try:
            command = manager.command_for("default")
        except LeanUnavailable as exc:
            lean["message"] = exc.message
        else:
            lean["command"] = command.argv
            lean["origin"] = command.origin
            lean["found"] = executable_exists(command.argv)
            if not lean["found"]:
                lean["message"] = f"{command.argv[0]!r} was not found. {INSTALL_HINT}"
            elif command.origin in ("lean", "lake"):
                lean["version"] = await self._cached_version()
        sandbox = manager.sandbox_in_force()
        healthy = lean["found"] and not sandbox.startswith("unavailable")
        check = None
        if healthy:
            # Found is not working: start Lean as a session would and have it elaborate.
            check = await manager.check_lean(refresh=self.get_argument("refresh", "") == "1")
            healthy = check.ok
            if not check.ok:
                lean["message"] = check.problem
        self.finish(
            {
                "status": "ok" if healthy else "degraded",
                "lean": lean,
                "check": check.to_json() if check is not None else None,
                "sandbox": sandbox,
                "sessions": len(manager.live_sessions()),
            }
        )

    async def _cached_version(self) -> str | None:
        cache: dict[str, str | None] = self.settings.setdefault("lean_version_cache", {})
        if "version" not in cache:
            cache["version"] = await lean_version()
        return cache["version"]


class ProjectsHandler(LeanAPIHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        projects = []
        for name in sorted(self.manager.projects):
            path = self.manager.project_dir(name)
            projects.append({"name": name, "path": path, "lakefile": has_lakefile(path)})
        self.finish(json.dumps(projects))


class SessionsHandler(LeanAPIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        if self.for_all_users:
            await self.require_admin("read")
            sessions = list(self.manager.sessions.values())
        else:
            sessions = self.manager.sessions_of(self.username)
        self.finish(json.dumps([s.to_json() for s in sessions]))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body: Any = {}
        if self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                raise web.HTTPError(400, "the request body must be JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, 'the request body must be a JSON object like {"project": ...}')
        project = body.get("project")
        if project is not None and not isinstance(project, str):
            raise web.HTTPError(400, '"project" must be a string')
        try:
            session = await self.manager.create(self.username, project)
        except SessionError as exc:
            self.write_session_error(exc)
            return
        self.set_status(201)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + session.id)
        self.finish(session.to_json())


class SessionHandler(LeanAPIHandler):
    async def _session(self, session_id: str, action: str) -> LeanSession:
        session = await self.find_session(session_id, action)
        if session is None:
            raise web.HTTPError(404, f"no Lean session {session_id}")
        return session

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        self.finish((await self._session(session_id, "read")).to_json())

    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        session = await self._session(session_id, "write")
        if not await self.manager.delete(session_id, session.owner or ""):
            raise web.HTTPError(404, f"no Lean session {session_id}")
        self.set_status(204)
        self.finish()


class LeanSocketHandler(
    LeanMixin,
    WebSocketMixin,
    WebSocketHandler,
    ExtensionHandlerMixin,
    JupyterHandler,
):
    """What the Lean WebSockets share: authorization and Tornado's upgrade checks made before
    anything is done for the request."""

    auth_resource = AUTH_RESOURCE
    auth_action = "execute"
    session: LeanSession | None = None

    def set_default_headers(self) -> None:
        """JupyterHandler's CSP and other page headers make no sense for a WebSocket."""

    @property
    def max_message_size(self) -> int:
        return self.manager.max_message_size

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    async def may_upgrade(self) -> bool:
        """403 when the caller may not use this route; False when Tornado will refuse the
        upgrade anyway (``super().get`` then answers with its own status)."""
        if not await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, self.auth_action, AUTH_RESOURCE)
        ):
            raise web.HTTPError(403)
        return self._upgrade_problem() is None

    def _upgrade_problem(self) -> str | None:
        """Why Tornado would refuse to upgrade this request, or None (the checks of
        WebSocketHandler.get and WebSocketProtocol13, made before any session exists)."""
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            return "not a WebSocket upgrade"
        if "upgrade" not in {
            part.strip().lower() for part in headers.get("Connection", "").split(",")
        }:
            return '"Connection" is not "Upgrade"'
        check_cross_origin = getattr(self, "_check_cross_origin", None)  # Tornado >= 6.5
        if check_cross_origin is not None:
            problem: str | None = check_cross_origin(self.check_origin)
            if problem is not None:
                return problem
        else:
            origin = headers.get("Origin", headers.get("Sec-Websocket-Origin"))
            if origin is not None and not self.check_origin(origin):
                return f"origin {origin!r} not allowed"
        if headers.get("Sec-WebSocket-Version") != "13":
            return "unsupported WebSocket version"
        if not (headers.get("Host") and headers.get("Sec-WebSocket-Key")):
            return "missing WebSocket headers"
        return None


class LspSocketHandler(LeanSocketHandler):
    """One LSP client: JSON-RPC messages as text frames, relayed to and from its session by a
    connection object (``lsp_connection.py``)."""

    created_session = False
    connection: LspConnection | None = None

    @ws_authenticated
    async def get(self, session_id: str | None = None) -> None:
        # Everything that can refuse the connection happens here, before the upgrade, and
        # before a session is created: a refused request must leave nothing behind (a
        # cross-site page could otherwise use up its victim's sessions).
        if not await self.may_upgrade():
            await super().get(session_id=session_id)  # Tornado refuses it with its own status
            return
        if session_id is not None:
            self.session = self.manager.get(session_id, self.username)
        else:
            try:
                self.session = await self.manager.create(
                    self.username, self.get_argument("project", None)
                )
            except SessionError as exc:
                raise web.HTTPError(exc.status, exc.message) from None
            self.created_session = True
        try:
            await super().get(session_id=session_id)
        finally:
            if self.created_session and self.get_status() != 101 and self.session is not None:
                # Not upgraded after all (a check this handler does not know about): the
                # session was made for this connection alone.
                await self.manager.delete(self.session.id, self.username)

    def open(self, session_id: str | None = None) -> None:
        super().open()
        # LSP is interactive and often answers with two frames in a row (an error and a reply,
        # progress and diagnostics): with Nagle's algorithm the second waits for the client's
        # delayed ACK, 40 ms on Linux.
        self.set_nodelay(True)
        if self.session is None:
            self.close(CLOSE_NO_SESSION, "no such Lean session")
            return
        self.connection = LspConnection(self, self.session)
        self.connection.open(self.created_session)

    def on_message(self, message: str | bytes) -> asyncio.Future[None] | None:
        if self.connection is None:
            return None
        return self.connection.handle_incoming(message)

    def on_close(self) -> None:
        if self.connection is not None:
            self.connection.on_close()


def handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    # The console's handlers build on the classes above.
    from .console.handlers import console_handlers

    return [
        *console_handlers(_SESSION_ID),
        (r"/lean/health", HealthHandler),
        (r"/lean/projects", ProjectsHandler),
        (r"/lean/sessions/?", SessionsHandler),
        (rf"/lean/sessions/{_SESSION_ID}/lsp", LspSocketHandler),
        (rf"/lean/sessions/{_SESSION_ID}", SessionHandler),
        (r"/lean/lsp", LspSocketHandler),
    ]
