"""JupyterHub configuration for tests/jupyterhub/test_hub.py (``jupyterhub -f hub_config.py``).

Users alice, bob and carol, each with a single-user Jupyter server on 127.0.0.1 in which the
jupyter-lean extension is enabled by installation, and dana, a Hub admin with no server.
Everything machine-specific comes from ``JLH_*`` environment variables set by the test, so this
file holds no paths or secrets.
"""

# ruff: noqa: F821 (``c`` is provided by JupyterHub when it loads this file)

from __future__ import annotations

import os
import sys

work = os.environ["JLH_DIR"]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["JLH_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["JLH_HUB_PORT"])
c.JupyterHub.db_url = f"sqlite:///{work}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{work}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{work}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.ConfigurableHTTPProxy.command = [os.environ["JLH_CHP"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['JLH_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = f"{work}/proxy.pid"

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["JLH_PASSWORD"]
c.Authenticator.allowed_users = {"alice", "bob", "carol", "dana"}
# dana is a Hub admin (admin:servers on every user): she may see and end anyone's Lean sessions.
c.Authenticator.admin_users = {"dana"}

# The test drives the Hub's REST API with this service's token: create users' tokens, start and
# stop their servers.
c.JupyterHub.services = [{"name": "lean-test-admin", "api_token": os.environ["JLH_ADMIN_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "lean-test-admin",
        "scopes": ["admin:users", "admin:servers", "tokens"],
        "services": ["lean-test-admin"],
    }
]

c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = f"{work}/home/{{username}}"
c.Spawner.ip = "127.0.0.1"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
# A single-user server refuses to run as root without this (the tests run as root in CI).
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []


def _per_user_workspaces(spawner: object) -> None:
    """Lean workspaces inside the test's folder, one root per user (a manager removes its whole
    root on shutdown, so two users must not share one)."""
    name = spawner.user.name  # type: ignore[attr-defined]
    spawner.args = [
        *spawner.args,  # type: ignore[attr-defined]
        f"--LeanSessionManager.workspace_root={work}/workspaces/{name}",
    ]


c.Spawner.pre_spawn_hook = _per_user_workspaces
c.Spawner.environment = {
    "JUPYTER_LEAN_COMMAND": os.environ["JLH_LEAN_COMMAND"],
    # Marks every process the Hub starts, so the test can find and end stragglers.
    "JLH_MARKER": os.environ["JLH_MARKER"],
}
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.JupyterHub.log_level = "INFO"
