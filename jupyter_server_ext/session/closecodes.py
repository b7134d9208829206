"""The WebSocket close codes a client of a session may see (README "HTTP and WebSocket API"),
and the one rule about close reasons."""

from __future__ import annotations

# No such session (or not the caller's).
CLOSE_NO_SESSION = 4404
# The client read nothing of what the session had for it for flow.CLIENT_STALL_SECONDS; the
# session stays, and the client may resume.
CLOSE_CLIENT_TOO_SLOW = 4408
# Another client attached to the session.
CLOSE_REPLACED = 4409
# The session ended: Lean exited, was stopped, culled or over a limit.
CLOSE_SESSION_ENDED = 4410

_MAX_REASON_BYTES = 120  # RFC 6455 allows 123 bytes of UTF-8


def close_reason(reason: str) -> str:
    """``reason`` cut to what a WebSocket close frame may carry."""
    return reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
