"""Test identity provider and authorizer: several users on one Jupyter server.

``X-Test-User: alice`` (or ``?test_user=alice`` on a WebSocket URL) authenticates as alice; no
header means not authenticated. The authorizer denies the ``lean`` resource to users whose name
starts with ``nolean``, so tests can tell authentication from authorization.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User


class HeaderIdentityProvider(IdentityProvider):
    def get_user(self, handler: Any) -> User | None:
        name = handler.request.headers.get("X-Test-User") or handler.get_argument("test_user", None)
        return User(username=name) if name else None

    @property
    def auth_enabled(self) -> bool:
        return True

    def is_token_authenticated(self, handler: Any) -> bool:
        # Header authentication is API-style (like a token): no XSRF cookie to check.
        return True


class DenyLeanAuthorizer(Authorizer):
    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        return not (resource == "lean" and user.username.startswith("nolean"))


def multi_user_config() -> dict[str, Any]:
    return {
        "identity_provider_class": f"{__name__}.HeaderIdentityProvider",
        "authorizer_class": f"{__name__}.DenyLeanAuthorizer",
    }
