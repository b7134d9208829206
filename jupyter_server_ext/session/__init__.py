"""The session layer: Lean servers, their clients and their owners.

Plain asyncio (no jupyter_server, no tornado), so the server extension and the kernel run the very
same code. What is exported here is the layer's public API: the server extension's handlers and
the kernel use nothing else of it (the modules behind it are free to change).
"""

from .client import InProcessClient, SessionClosed
from .closecodes import (
    CLOSE_CLIENT_TOO_SLOW,
    CLOSE_NO_SESSION,
    CLOSE_REPLACED,
    CLOSE_SESSION_ENDED,
    close_reason,
)
from .coalesce import TurnCoalescer
from .command import (
    COMMAND_ENV_VAR,
    ELAN_INSTALL,
    INSTALL_HINT,
    LAKEFILES,
    LeanCommand,
    executable_exists,
    find_tool,
    has_lakefile,
    lean_version,
    resolve_command,
)
from .errors import LeanUnavailable, ServerFull, SessionError, TooManySessions, UnknownProject
from .flow import ClientConnection, FlowControlledClient
from .guard import parse_client_frame
from .lsp import (
    CONTENT_MODIFIED,
    LEAN_SERVER_EXITED,
    PARSE_ERROR,
    JsonObject,
    dumps,
    error_response,
    notification,
)
from .manager import LeanSessionManager
from .pending import LeanRequestError
from .projects import UnsafeProject, check_project_dir
from .session import LeanSession
from .smoke import SmokeResult
from .state import SessionState
from .text import index_to_position, utf16_column_to_index

__all__ = [
    "CLOSE_CLIENT_TOO_SLOW",
    "CLOSE_NO_SESSION",
    "CLOSE_REPLACED",
    "CLOSE_SESSION_ENDED",
    "COMMAND_ENV_VAR",
    "CONTENT_MODIFIED",
    "ELAN_INSTALL",
    "INSTALL_HINT",
    "LAKEFILES",
    "LEAN_SERVER_EXITED",
    "PARSE_ERROR",
    "ClientConnection",
    "FlowControlledClient",
    "InProcessClient",
    "JsonObject",
    "LeanCommand",
    "LeanRequestError",
    "LeanSession",
    "LeanSessionManager",
    "LeanUnavailable",
    "ServerFull",
    "SessionClosed",
    "SessionError",
    "SessionState",
    "SmokeResult",
    "TooManySessions",
    "TurnCoalescer",
    "UnknownProject",
    "UnsafeProject",
    "check_project_dir",
    "close_reason",
    "dumps",
    "error_response",
    "executable_exists",
    "find_tool",
    "has_lakefile",
    "index_to_position",
    "lean_version",
    "notification",
    "parse_client_frame",
    "resolve_command",
    "utf16_column_to_index",
]
