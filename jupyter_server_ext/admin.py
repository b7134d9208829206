"""Who may see and end every user's Lean sessions: users with the admin scope.

- Under JupyterHub, the Hub's own scope ``admin:servers`` covering this server's owner (Hub
  admins hold it; a role can grant ``admin:servers!user=NAME``). JupyterHub's authorizer answers
  yes to everything for anyone who may reach the server at all (``access:servers``), so the
  scopes of the caller's token are read instead.
- Otherwise, jupyter_server's authorizer decides, on the resource ``"lean:admin"``: ``read``
  to list and watch every session, ``write`` to end them. The default authorizer allows
  everything to the one user the server belongs to (who owns every session anyway); a
  deployment with several identities grants it to its admins in its Authorizer.

Admin rights are used only where a request asks for them (``?all=1``): without it every route
keeps its per-user meaning, and another user's session is a 404 for admins too.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_core.utils import ensure_async

ADMIN_RESOURCE = "lean:admin"
HUB_ADMIN_SCOPE = "admin:servers"


def _hub_scopes_grant(handler: Any, hub_user: dict[str, Any]) -> bool:
    owner = os.environ.get("JUPYTERHUB_USER", "")
    scopes = set(hub_user.get("scopes") or ())
    if not owner:
        return HUB_ADMIN_SCOPE in scopes
    # Only the filtered form is asked for: the Hub's intersection of an unfiltered requirement
    # with `admin:servers!user=someone-else` would answer yes.
    wanted = {f"{HUB_ADMIN_SCOPE}!user={owner}"}
    hub_auth = getattr(getattr(handler, "identity_provider", None), "hub_auth", None)
    if hub_auth is not None and hasattr(hub_auth, "check_scopes"):
        # The Hub's own check: unfiltered `admin:servers` covers every user.
        return bool(hub_auth.check_scopes(wanted, hub_user))
    return bool(scopes & (wanted | {HUB_ADMIN_SCOPE}))


async def is_admin(handler: Any, action: str) -> bool:
    """Whether the caller of ``handler`` (authenticated already) may do ``action`` ("read" or
    "write") to every user's sessions."""
    user = handler.current_user
    if user is None:
        return False
    hub_user = getattr(user, "hub_user", None)
    if isinstance(hub_user, dict):
        return _hub_scopes_grant(handler, hub_user)
    return bool(
        await ensure_async(handler.authorizer.is_authorized(handler, user, action, ADMIN_RESOURCE))
    )
