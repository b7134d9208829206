"""Shared fixtures: the Lean server under test, and a Jupyter server running this extension.

Every test that exercises Lean behaviour takes its server from the ``lean_server`` fixture. By
default that is the scripted stand-in ``tests/lean_standin.py``. To run the same tests against a
real Lean toolchain (``lean``/``lake`` on PATH, installed by elan), run ``pytest -m lean`` or set
``JUPYTER_LEAN_TEST_SERVER=real``; without a toolchain those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from support import LeanServerUnderTest
from traitlets.config import Config

from jupyter_server_ext.session.command import find_tool

pytest_plugins = ["pytest_jupyter.jupyter_server"]

TESTS_DIR = Path(__file__).parent
STANDIN = TESTS_DIR / "lean_standin.py"
LEAN_SERVER_ENV = "JUPYTER_LEAN_TEST_SERVER"


def _wants_real_lean(config: pytest.Config) -> bool:
    if os.environ.get(LEAN_SERVER_ENV, "").lower() == "real":
        return True
    markexpr = config.getoption("markexpr", "") or ""
    return markexpr.strip() == "lean"


@pytest.fixture(scope="session")
def lean_server(request: pytest.FixtureRequest) -> LeanServerUnderTest:
    """The Lean server under test: the stand-in, or a real Lean when asked for and installed."""
    if _wants_real_lean(request.config):
        lean = find_tool("lean")
        if lean is None:
            pytest.skip(
                "a real Lean was asked for (pytest -m lean / JUPYTER_LEAN_TEST_SERVER=real) but "
                "no `lean` is on PATH or in ~/.elan/bin: install it with elan "
                "(https://lean-lang.org/install/)"
            )
        return LeanServerUnderTest(kind="real", argv=[lean, "--server"])
    return LeanServerUnderTest(
        kind="standin", argv=[sys.executable, str(STANDIN), "-Dserver.reportDelayMs=10"]
    )


@pytest.fixture
def standin_only(lean_server: LeanServerUnderTest) -> None:
    """For tests that script faults or timing with the stand-in's directives."""
    if not lean_server.is_standin:
        pytest.skip("scripts faults with stand-in directives (-- standin: ...), not real Lean")


@pytest.fixture
def lean_config() -> dict[str, object]:
    """LeanSessionManager settings a test module wants on top of the test defaults."""
    return {}


@pytest.fixture
def jp_server_config(
    lean_server: LeanServerUnderTest, lean_config: dict[str, object], tmp_path: Path
) -> Config:
    manager: dict[str, object] = {
        "lean_command": lean_server.argv,
        "workspace_root": str(tmp_path / "workspaces"),
        "cull_interval": 60,
    }
    manager.update(lean_config)
    return Config({
        "ServerApp": {"jpserver_extensions": {"jupyter_server_ext": True}},
        "LeanSessionManager": manager,
    })


@pytest.fixture(autouse=True)
def _no_command_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's JUPYTER_LEAN_COMMAND must not change what the tests run.
    monkeypatch.delenv("JUPYTER_LEAN_COMMAND", raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Whatever talks to a Lean server is a `lean` test, so `pytest -m lean` runs exactly those
    # against a real toolchain.
    for item in items:
        if "lean_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lean)
