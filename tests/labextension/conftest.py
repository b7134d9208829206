"""Fixtures of the browser tests: Chromium, a page per test, and the `jupyter lab` servers.

Needs the ``playwright`` Python package and Debian's ``/usr/bin/chromium`` (never
``playwright install``); skipped with the reason when either is missing.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest
from labextension.lab_page import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_TIMEOUT,
    Lab,
    playwright_sync,
    start_lab,
)


@pytest.fixture
def jp_asyncio_loop():
    """Override pytest-jupyter's autouse loop: it would close Playwright's running loop.

    These tests run the server in a subprocess, so no in-process loop is needed.
    """
    return None


@pytest.fixture
def jp_server_cleanup():
    """Override pytest-jupyter's autouse cleanup of an in-process server (there is none)."""
    return None


@pytest.fixture(scope="module")
def lab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, lean_server
) -> Lab:
    """JupyterLab whose Lean is the `lean_server` fixture's (through JUPYTER_LEAN_COMMAND)."""
    return start_lab(
        request, tmp_path_factory.mktemp("lab"), "jupyter-lab", shlex.join(lean_server.argv)
    )


@pytest.fixture(scope="module")
def real_lab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, real_lean
) -> Lab:
    """JupyterLab with the product's defaults: it finds the real Lean itself (elan's proxy)."""
    return start_lab(request, tmp_path_factory.mktemp("real-lab"), "jupyter-lab-real", None)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(UI_TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    yield page
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"))
    context.close()
    # Exceptions thrown in the page fail the test, except JupyterLab's own known one: closing a
    # large notebook while its idle-time cell rendering is scheduled reads the model of a
    # disposed cell ("Cannot read properties of null (reading 'id')" in _runOnIdleTime, every
    # frame in jlab_core). Anything with a frame outside JupyterLab's core bundle is ours.
    ours = [error for error in errors if not _only_jupyterlab_core(error)]
    assert not ours, f"uncaught errors in the page: {ours}"


def _only_jupyterlab_core(error: str) -> bool:
    frames = [line for line in error.splitlines() if line.strip().startswith("at ")]
    return bool(frames) and all("/static/lab/jlab_core." in frame for frame in frames)
