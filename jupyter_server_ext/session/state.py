"""Where a session is in its life."""

from __future__ import annotations

from enum import Enum


class SessionState(str, Enum):
    STARTING = "starting"  # Lean runs, and has not answered `initialize` yet
    READY = "ready"
    EXITED = "exited"  # Lean exited or was stopped; the session is listed until removed
