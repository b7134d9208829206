"""Several identities with admins among them: tests/identities.py's users, plus the Lean admin
scope (resource ``lean:admin``) for users whose name starts with ``admin``."""

from __future__ import annotations

from typing import Any

from identities import DenyLeanAuthorizer, multi_user_config
from jupyter_server.auth.identity import User

from jupyter_server_ext.admin import ADMIN_RESOURCE


class LeanAdminAuthorizer(DenyLeanAuthorizer):
    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if resource == ADMIN_RESOURCE:
            return user.username.startswith("admin")
        return super().is_authorized(handler, user, action, resource)


def admin_config() -> dict[str, Any]:
    return {**multi_user_config(), "authorizer_class": f"{__name__}.LeanAdminAuthorizer"}
