"""The session layer: Lean servers, their clients and their owners.

Plain asyncio (no jupyter_server, no tornado), so the server extension and the kernel run the very
same code.
"""

from .client import InProcessClient, SessionClosed
from .command import COMMAND_ENV_VAR, LeanNotFound, resolve_command
from .manager import (
    LeanSessionManager,
    LeanUnavailable,
    ServerFull,
    SessionError,
    TooManySessions,
    UnknownProject,
)
from .session import ClientConnection, LeanRequestError, LeanSession, SessionState

__all__ = [
    "COMMAND_ENV_VAR",
    "ClientConnection",
    "InProcessClient",
    "LeanNotFound",
    "LeanRequestError",
    "LeanSession",
    "LeanSessionManager",
    "LeanUnavailable",
    "ServerFull",
    "SessionClosed",
    "SessionError",
    "SessionState",
    "TooManySessions",
    "UnknownProject",
    "resolve_command",
]
