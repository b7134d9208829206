"""Why a session could not be created or found; ``status`` is the HTTP status each maps to."""

from __future__ import annotations


class SessionError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownProject(SessionError):
    status = 400


class TooManySessions(SessionError):
    status = 429


class ServerFull(SessionError):
    status = 503


class LeanUnavailable(SessionError):
    """Lean is missing or cannot start, or the sandbox that was asked for cannot run."""

    status = 503
