"""Shared fixtures: the Lean under test, and a Jupyter server running this extension.

Lean-facing tests run on one of three tiers, shown per test in pytest's summary:

- **real** (``real_lean`` fixture): the real Lean found the way a user's is (elan's proxy on PATH or
  in ``~/.elan/bin``), with the product's default settings. Everything that can be said in a
  document starting with ``prelude`` is tested here. ``make test`` assembles Lean 4.35 for it
  (``tests/real_lean.py``) and sets ``JUPYTER_LEAN_REQUIRE_REAL=1``, so a missing Lean fails the
  run instead of skipping it.
- **full** (``lean_server`` fixture, when the Lean found has its library, i.e. a released
  toolchain): the tests that need ``Init`` (``#eval``, tactics, imports).
- **standin** (``lean_server`` fixture otherwise): the scripted stand-in ``tests/lean_standin.py``,
  also used on purpose for scripted faults (``standin_only``). ``JUPYTER_LEAN_TEST_SERVER=standin``
  forces it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import LeanServerUnderTest
from traitlets.config import Config

from jupyter_server_ext.session.command import find_tool

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# pytest-jupyter gives every test a HOME of its own; elan finds its toolchains through HOME
# unless ELAN_HOME says where: keep the real tier's Lean where the user's elan put it.
if "ELAN_HOME" not in os.environ and os.path.isdir(os.path.expanduser("~/.elan")):
    os.environ["ELAN_HOME"] = os.path.expanduser("~/.elan")

TESTS_DIR = Path(__file__).parent
STANDIN = TESTS_DIR / "lean_standin.py"
LEAN_SERVER_ENV = "JUPYTER_LEAN_TEST_SERVER"
REQUIRE_REAL_ENV = "JUPYTER_LEAN_REQUIRE_REAL"
BUILD_HINT = (
    "assemble Lean 4.35 and link it into elan with `python tests/real_lean.py --elan` "
    "(needs elan: apt-get install elan), or install a released Lean with elan"
)


@dataclass(frozen=True)
class RealLean:
    """The real Lean a user's setup would find."""

    lean: str  # as found: usually elan's proxy
    version: str  # `lean --version`
    prefix: str  # `lean --print-prefix`: the toolchain itself
    has_library: bool  # Init's .olean files are there (a released toolchain)


def _find_real_lean() -> RealLean | str:
    """The real Lean on this machine, or why there is none."""
    lean = find_tool("lean")
    if lean is None:
        return "no `lean` on PATH or in ~/.elan/bin"
    try:
        version, prefix = (
            subprocess.run(
                [lean, flag], capture_output=True, text=True, timeout=60, check=True
            ).stdout.strip()
            for flag in ("--version", "--print-prefix")
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`{lean} --version` failed: {exc}"
    has_library = (Path(prefix) / "lib" / "lean" / "Init.olean").is_file()
    return RealLean(lean, version, prefix, has_library)


@pytest.fixture(scope="session")
def _real_lean_found() -> RealLean | str:
    return _find_real_lean()


@pytest.fixture(scope="session")
def real_lean(_real_lean_found: RealLean | str) -> RealLean:
    """The real tier: Lean as users have it, run with the product's default settings."""
    if isinstance(_real_lean_found, str):
        message = f"real-Lean test: {_real_lean_found}; {BUILD_HINT}"
        if os.environ.get(REQUIRE_REAL_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return _real_lean_found


@pytest.fixture(scope="session")
def lean_server(_real_lean_found: RealLean | str) -> LeanServerUnderTest:
    """The Lean server for tests that need Lean's library: a released toolchain when one is
    installed (the "full" tier), else the stand-in."""
    forced = os.environ.get(LEAN_SERVER_ENV, "").lower()
    if (
        forced != "standin"
        and isinstance(_real_lean_found, RealLean)
        and _real_lean_found.has_library
    ):
        return LeanServerUnderTest(kind="full", argv=[_real_lean_found.lean, "--server"])
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
    request: pytest.FixtureRequest, lean_config: dict[str, object], tmp_path: Path
) -> Config:
    manager: dict[str, object] = {"workspace_root": str(tmp_path / "workspaces")}
    if "real_lean" not in request.fixturenames:
        # The real tier runs with the product's defaults: Lean found as a user's would be.
        manager["lean_command"] = request.getfixturevalue("lean_server").argv
        manager["cull_interval"] = 60
    manager.update(lean_config)
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_server_ext": True}},
            "LeanSessionManager": manager,
        }
    )


@pytest.fixture(autouse=True)
def _no_command_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's JUPYTER_LEAN_COMMAND must not change what the tests run.
    monkeypatch.delenv("JUPYTER_LEAN_COMMAND", raising=False)


def _tier(item: pytest.Item) -> str | None:
    fixtures = getattr(item, "fixturenames", ())
    if "real_lean" in fixtures:
        return "real"
    if "lean_server" in fixtures:
        return "lean"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `pytest -m real` runs the real tier alone, `pytest -m lean` every Lean-facing test.
    for item in items:
        tier = _tier(item)
        if tier is not None:
            item.add_marker(pytest.mark.lean)
        if tier == "real":
            item.add_marker(pytest.mark.real)


_tier_outcomes: Counter[tuple[str, str]] = Counter()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    tier = _tier(item)
    if tier is None or not (report.when == "call" or report.outcome != "passed"):
        return None
    if tier == "lean":
        server = item.funcargs.get("lean_server") if hasattr(item, "funcargs") else None
        tier = server.kind if isinstance(server, LeanServerUnderTest) else "standin"
    _tier_outcomes[(tier, report.outcome)] += 1
    return None


def pytest_terminal_summary(
    terminalreporter: object, exitstatus: int, config: pytest.Config
) -> None:
    if not _tier_outcomes:
        return
    lean = _find_real_lean()
    described = {
        "real": f"real ({lean.version.split(',')[0].replace('(version ', '')})"
        if isinstance(lean, RealLean)
        else "real (no Lean)",
        "full": "full (a toolchain with its library)",
        "standin": "standin (tests/lean_standin.py)",
    }
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    write("Lean tiers:")
    for tier in ("real", "full", "standin"):
        counts = {o: n for (t, o), n in _tier_outcomes.items() if t == tier}
        if counts:
            tally = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            write(f"  {described[tier]}: {tally}")
