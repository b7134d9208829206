"""Who is a Lean admin (jupyter_server_ext/admin.py): under JupyterHub, the Hub's admin:servers
scope covering this server's owner, read from the caller's token (JupyterHub's own authorizer
allows everything to anyone who reaches the server); elsewhere the server's authorizer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub.services.auth import HubAuth

from jupyter_server_ext.admin import ADMIN_RESOURCE, is_admin


def _hub_handler(scopes: list[str]) -> Any:
    user = SimpleNamespace(username="someone", hub_user={"name": "someone", "scopes": scopes})
    hub_auth = SimpleNamespace(check_scopes=HubAuth.check_scopes.__get__(object()))
    # An authorizer like JupyterHub's: yes to whoever got this far.
    authorizer = SimpleNamespace(is_authorized=lambda *args: True)
    return SimpleNamespace(
        current_user=user,
        authorizer=authorizer,
        identity_provider=SimpleNamespace(hub_auth=hub_auth),
    )


@pytest.mark.parametrize(
    ("scopes", "admin"),
    [
        (["admin:servers", "access:servers"], True),  # a Hub admin
        (["admin:servers!user=bob", "access:servers!user=bob"], True),  # admin of bob's servers
        (["admin:servers!user=carol", "access:servers"], False),  # of someone else's
        (["access:servers!user=bob", "servers!user=bob", "read:users:name!user=bob"], False),  # bob
        (["access:servers!server=bob/"], False),  # shared with them
    ],
)
async def test_hub_admins_hold_admin_servers_for_this_servers_owner(
    monkeypatch: pytest.MonkeyPatch, scopes: list[str], admin: bool
) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    for action in ("read", "write"):
        assert await is_admin(_hub_handler(scopes), action) is admin


async def test_elsewhere_the_authorizer_decides_on_lean_admin() -> None:
    asked = []

    def is_authorized(handler: Any, user: Any, action: str, resource: str) -> bool:
        asked.append((action, resource))
        return user.username == "root-of-all"

    handler = SimpleNamespace(
        current_user=SimpleNamespace(username="root-of-all"),
        authorizer=SimpleNamespace(is_authorized=is_authorized),
    )
    assert await is_admin(handler, "write")
    handler.current_user = SimpleNamespace(username="mallory")
    assert not await is_admin(handler, "read")
    assert asked == [("write", ADMIN_RESOURCE), ("read", ADMIN_RESOURCE)]
    handler.current_user = None
    assert not await is_admin(handler, "read")
