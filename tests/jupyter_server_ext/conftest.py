"""Fixtures of the server-extension tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support import LspSocket, connect, ws_url


@pytest.fixture
def open_socket(
    http_server_client: Any, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> Iterator[Any]:
    """Open WebSockets to the running server (http_server_client makes it listen)."""
    sockets: list[LspSocket] = []

    async def _open(path: str = "/lean/lsp", **query: str) -> LspSocket:
        if path == "/lean/lsp":
            query.setdefault("project", "default")
        socket = await connect(ws_url(jp_http_port, jp_base_url, path, **query), jp_auth_header)
        sockets.append(socket)
        return socket

    yield _open
    for socket in sockets:
        socket.close()
