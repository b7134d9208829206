"""Routes of the sessions console: the page, its files, and the traffic of one session.

- ``GET /lean/console``: the page, with what its script needs (base URL, XSRF token, who the
  caller is, whether they are an admin) in a JSON island.
- ``GET /lean/console/static/...``: its script and style, authenticated like every route.
- ``WS /lean/sessions/{id}/trace``: every JSON-RPC message between that session and its client,
  as it happens, for the session's owner (or an admin, with ``?all=1``). Read-only.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from .._version import __version__
from ..admin import is_admin
from ..handlers import AUTH_RESOURCE, LeanMixin, LeanSocketHandler
from ..session import CLOSE_NO_SESSION, CLOSE_SESSION_ENDED, dumps
from ..ws_frames import CoalescedWriter

STATIC_DIR = Path(__file__).with_name("static")
PAGE = STATIC_DIR / "console.html"
CONFIG_MARK = "<!-- jupyter-lean console config -->"
# A watcher whose socket holds this much unsent loses frames instead of slowing the session.
TRACE_BACKLOG_LIMIT = 2 << 20


class ConsolePageHandler(LeanMixin, ExtensionHandlerMixin, JupyterHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        config = {
            "baseUrl": self.base_url,
            # Also sets the _xsrf cookie the page's POST and DELETE requests are checked against.
            "xsrfToken": self.xsrf_token.decode(),
            "user": self.username,
            "admin": await is_admin(self, "read"),
            "canEndAll": await is_admin(self, "write"),
            "version": __version__,
        }
        # "<" escaped: no text of the config can close the script element.
        island = json.dumps(config).replace("<", "\\u003c")
        static = html.escape(url_path_join(self.base_url, "lean/console/static/"))
        head = (
            f'<script type="application/json" id="jupyter-lean-console-config">{island}'
            "</script>\n"
            f'<link rel="stylesheet" href="{static}console.css?v={__version__}">\n'
            f'<script defer src="{static}console.js?v={__version__}"></script>'
        )
        page = PAGE.read_text(encoding="utf-8").replace(CONFIG_MARK, head)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(page)


# ExtensionHandlerMixin.initialize(name) and StaticFileHandler.initialize(path) differ; Tornado
# calls it with both (the route gives path, the extension name).
class ConsoleStaticHandler(  # type: ignore[misc]
    LeanMixin, ExtensionHandlerMixin, JupyterHandler, web.StaticFileHandler
):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self, path: str, include_body: bool = True) -> Any:  # type: ignore[override]
        return web.StaticFileHandler.get(self, path, include_body)

    def set_extra_headers(self, path: str) -> None:
        # Revalidated on each load: a new version of the extension is picked up at once.
        self.set_header("Cache-Control", "no-cache")


class TraceSocketHandler(LeanSocketHandler):
    """One watcher of a session's traffic (session/trace.py): frames out, nothing in."""

    auth_action = "read"
    dropped = 0
    writer: CoalescedWriter

    @property
    def max_message_size(self) -> int:
        return 4096  # it reads nothing; a client sending more is closed

    @ws_authenticated
    async def get(self, session_id: str) -> None:
        if await self.may_upgrade():
            self.session = await self.find_session(session_id, "read")
        await super().get(session_id=session_id)

    def open(self, session_id: str) -> None:
        super().open()
        self.set_nodelay(True)
        session = self.session
        if session is None:
            self.close(CLOSE_NO_SESSION, "no such Lean session")
            return
        self.writer = CoalescedWriter(self)
        self.writer.send(dumps({"event": "watching", "session": session.to_json()}))
        if session.exit_code is not None:
            self.writer.close(CLOSE_SESSION_ENDED, session.exit_reason or "ended")
            return
        session.trace.add(self)

    def on_message(self, message: str | bytes) -> None:
        """Watchers only listen."""

    def on_close(self) -> None:
        if self.session is not None:
            self.session.trace.discard(self)

    # TraceWatcher
    def trace(self, frame: str) -> None:
        if self.writer.backlog() > TRACE_BACKLOG_LIMIT:
            self.dropped += 1
            return
        if self.dropped:
            self.writer.send(dumps({"event": "dropped", "count": self.dropped}))
            self.dropped = 0
        self.writer.send(frame)

    def close_trace(self, code: int, reason: str) -> None:
        self.writer.close(code, reason)


def console_handlers(session_id_pattern: str) -> list[tuple[Any, ...]]:
    return [
        (r"/lean/console/?", ConsolePageHandler),
        (r"/lean/console/static/(.*)", ConsoleStaticHandler, {"path": str(STATIC_DIR)}),
        (rf"/lean/sessions/{session_id_pattern}/trace", TraceSocketHandler),
    ]
