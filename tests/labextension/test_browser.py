"""The JupyterLab extension in a real browser against a real ``jupyter lab``.

Each test opens a Lean notebook (or a ``.lean`` file) in headless Chromium, types like a user and
checks what the page shows: error marks on the right cell that go away when fixed, hover types,
completion, the goals panel, ``\\alpha`` input, the status bar. Screenshots go to
``test-artifacts/labextension/``, the server log next to them.

The Lean server is the one of the ``lean_server`` fixture (the scripted stand-in by default;
``pytest -m lean`` for a real Lean), passed to the server extension through
``JUPYTER_LEAN_COMMAND``. The extension under test is the build in
``jupyter_server_ext/labextension`` (``cd labextension && npm install && npm run build``), put
first on ``JUPYTER_PATH`` so a stale installed copy cannot shadow it.

Needs the ``playwright`` Python package and Debian's ``/usr/bin/chromium`` (never
``playwright install``); skipped with the reason when either is missing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
BUILT_EXTENSION = REPO / "jupyter_server_ext" / "labextension"
ARTIFACTS = REPO / "test-artifacts" / "labextension"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90  # seconds
UI_TIMEOUT = 20_000  # ms, for anything that waits on Lean or the page
expect.set_options(timeout=UI_TIMEOUT)

CONNECTED_STATUS = re.compile(r"Lean: (ready|processing|\d+ errors?)")

LEAN_METADATA = {
    "kernelspec": {"display_name": "Lean 4", "language": "lean4", "name": "lean4"},
    "language_info": {
        "name": "lean4",
        "codemirror_mode": "lean4",
        "file_extension": ".lean",
        "mimetype": "text/x-lean4",
    },
}


def notebook_json(*sources: str) -> str:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{index}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources)
    ]
    return json.dumps(
        {"cells": cells, "metadata": LEAN_METADATA, "nbformat": 4, "nbformat_minor": 5},
        indent=1,
    )


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def page_url(self, path: str) -> str:
        # A fresh workspace per page: no panel layout leaks between tests.
        return f"{self.url}lab/workspaces/t{uuid.uuid4().hex[:8]}/tree/{path}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, token: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    request = urllib.request.Request(
        f"{url}lean/health", headers={"Authorization": f"token {token}"}
    )
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"no answer from /lean/health within {SERVER_START_TIMEOUT} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The server runs in its own process group with its kernels and Lean servers.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


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
    """A `jupyter lab` on 127.0.0.1 with a random port and token, killed at the end."""
    if not (BUILT_EXTENSION / "package.json").exists():
        pytest.skip(
            "the labextension is not built: cd labextension && npm install && npm run build"
        )
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()

    # Our build first on the labextension search path.
    jupyter_path = base / "jupyter_path"
    (jupyter_path / "labextensions" / "@jupyter-lean").mkdir(parents=True)
    (jupyter_path / "labextensions" / "@jupyter-lean" / "labextension").symlink_to(BUILT_EXTENSION)

    config_dir = base / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {"jpserver_extensions": {"jupyter_server_ext": True}},
                "LeanSessionManager": {"workspace_root": str(base / "workspaces")},
            }
        )
    )
    # No news or update toasts over the page.
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyter-lab.log"
    port = _free_port()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_LEAN_COMMAND": shlex.join(lean_server.argv),
        "JUPYTER_PATH": os.pathsep.join(
            [str(jupyter_path), *filter(None, [os.environ.get("JUPYTER_PATH")])]
        ),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces-lab"),
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    request.addfinalizer(lambda: _stop(process))
    url = f"http://127.0.0.1:{port}/"
    _wait_until_up(url, token, process, log)
    return Lab(url=url, token=token, root=root)


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


# --- page helpers -------------------------------------------------------------------------------


def open_document(page, lab: Lab, path: str) -> None:
    page.goto(lab.page_url(path))
    page.wait_for_selector(".cm-content", timeout=60_000)
    _dismiss_kernel_dialog(page)
    # Connected and the document opened (not "starting…" nor "disconnected"; the
    # latter happens while an earlier test's session is not yet free to adopt).
    expect(page.locator(".jp-Lean-status")).to_have_text(CONNECTED_STATUS, timeout=60_000)


def _dismiss_kernel_dialog(page) -> None:
    """Without the lean4 kernel installed, JupyterLab asks for one: keep "No Kernel"."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=1500)
    except playwright_sync.TimeoutError:
        return
    no_kernel = dialog.get_by_role("button", name="No Kernel")
    if no_kernel.count():
        no_kernel.first.click()
    else:
        page.keyboard.press("Escape")


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-CodeCell").nth(index)


def cell_text(page, index: int) -> str:
    return cell(page, index).locator(".cm-content").inner_text()


def type_at_end_of_cell(page, index: int, text: str) -> None:
    cell(page, index).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def word_center(page, scope: str, index: int, word: str) -> tuple[float, float]:
    """Screen position of the first `word` in the index-th element matching `scope`."""
    box = page.evaluate(
        """([scope, index, word]) => {
          const root = document.querySelectorAll(scope)[index];
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.textContent.indexOf(word);
            if (at >= 0) {
              const range = document.createRange();
              range.setStart(node, at);
              range.setEnd(node, at + word.length);
              const r = range.getBoundingClientRect();
              return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
            }
          }
          return null;
        }""",
        [scope, index, word],
    )
    assert box, f"{word!r} not found in {scope}[{index}]"
    return box["x"], box["y"]


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def errors_in_cell(page, index: int):
    return cell(page, index).locator(".cm-lintRange-error")


# --- tests --------------------------------------------------------------------------------------


def test_error_mark_appears_on_its_cell_and_goes_when_fixed(page, lab: Lab) -> None:
    (lab.root / "errors.ipynb").write_text(
        notebook_json("def double (n : Nat) : Nat := n + n", "#check double", "")
    )
    open_document(page, lab, "errors.ipynb")
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready")

    type_at_end_of_cell(page, 2, 'def bad : Nat := "s"')
    expect(errors_in_cell(page, 2)).to_have_count(1)
    expect(errors_in_cell(page, 0)).to_have_count(0)
    expect(errors_in_cell(page, 1)).to_have_count(0)
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: 1 error")
    # The message is on the mark (and in the gutter).
    mark_x, mark_y = word_center(page, ".jp-Notebook .jp-CodeCell .cm-content", 2, '"s"')
    page.mouse.move(mark_x, mark_y)
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("type mismatch", ignore_case=True)
    shot(page, "error-mark")

    for _ in range(3):
        page.keyboard.press("Backspace")
    page.keyboard.type("42")
    expect(errors_in_cell(page, 2)).to_have_count(0)
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready")
    assert cell_text(page, 2) == "def bad : Nat := 42"
    shot(page, "error-fixed")


def test_hover_shows_the_type(page, lab: Lab) -> None:
    (lab.root / "hover.ipynb").write_text(
        notebook_json("def double (n : Nat) : Nat := n + n", "#check double 21")
    )
    open_document(page, lab, "hover.ipynb")
    x, y = word_center(page, ".jp-Notebook .jp-CodeCell .cm-content", 1, "double")
    page.mouse.move(x, y)
    hover = page.locator(".jp-Lean-hover")
    expect(hover).to_contain_text("double : Nat → Nat")
    shot(page, "hover")


def test_completion_offers_a_defined_name(page, lab: Lab) -> None:
    (lab.root / "completion.ipynb").write_text(
        notebook_json("def doubleIt (n : Nat) : Nat := n + n", "")
    )
    open_document(page, lab, "completion.ipynb")
    type_at_end_of_cell(page, 1, "#eval doub")
    popup = page.locator(".cm-tooltip-autocomplete")
    expect(popup).to_contain_text("doubleIt")
    shot(page, "completion")
    page.keyboard.press("Enter")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("#eval doubleIt")


def test_goals_panel_follows_the_cursor(page, lab: Lab) -> None:
    (lab.root / "goals.ipynb").write_text(notebook_json("def x : Nat := 1", ""))
    open_document(page, lab, "goals.ipynb")
    type_at_end_of_cell(page, 1, "theorem t (p : Prop) (hp : p) : p := by\n  exact hp")
    # Open the panel through the command palette (clicking the tab would toggle it).
    page.keyboard.press("Control+Shift+c")
    page.keyboard.type("Lean: Show Goals")
    page.keyboard.press("Enter")
    panel = page.locator(".jp-Lean-goals")
    expect(panel).to_be_visible()
    # Back in the cell, cursor at the start of `exact hp`: the goal before it.
    x, y = word_center(page, ".jp-Notebook .jp-CodeCell .cm-content", 1, "exact")
    page.mouse.click(x - 2, y)
    page.keyboard.press("Home")
    expect(panel.locator(".jp-Lean-goal")).to_contain_text("⊢ p")
    expect(panel.locator(".jp-Lean-goal")).to_contain_text("hp : p")
    expect(panel.locator(".jp-Lean-goals-header")).to_contain_text("Code cell 2, line 2")
    shot(page, "goals")
    # After the tactic closed the goal: "No goals".
    page.keyboard.press("End")
    expect(panel).to_contain_text("No goals")


def test_backslash_abbreviations_become_unicode(page, lab: Lab) -> None:
    (lab.root / "unicode.ipynb").write_text(notebook_json(""))
    open_document(page, lab, "unicode.ipynb")
    typed = "example (\\alpha : Type) (f : \\alpha \\to \\N) : True := trivial"
    type_at_end_of_cell(page, 0, typed)
    expect(cell(page, 0).locator(".cm-content")).to_have_text(
        "example (α : Type) (f : α → ℕ) : True := trivial"
    )
    shot(page, "unicode")


def test_moving_a_cell_is_sent_to_lean(page, lab: Lab) -> None:
    # `y` is used before it is defined; moving its definition up fixes the error.
    (lab.root / "move.ipynb").write_text(notebook_json("def x : Nat := y + 1", "def y : Nat := 1"))
    open_document(page, lab, "move.ipynb")
    expect(errors_in_cell(page, 0)).to_have_count(1)
    cell(page, 1).locator(".cm-content").click()
    cell(page, 1).get_by_role("button", name=re.compile("Move this cell up")).click()
    expect(page.locator(".jp-Notebook .jp-CodeCell").nth(0).locator(".cm-content")).to_have_text(
        "def y : Nat := 1"
    )
    expect(page.locator(".jp-Notebook .cm-lintRange-error")).to_have_count(0)
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready")
    shot(page, "cell-moved")


def test_lean_file_in_the_editor(page, lab: Lab) -> None:
    (lab.root / "Main.lean").write_text('def greeting : String := "hi"\n#eval nope\n')
    open_document(page, lab, "Main.lean")
    errors = page.locator(".jp-FileEditor .cm-lintRange-error")
    expect(errors).to_have_count(1)
    # Highlighted by the Lean language: `def` gets a token class of its own.
    keyword_class = page.evaluate(
        """() => {
          const span = [...document.querySelectorAll('.jp-FileEditor .cm-line span')]
            .find(s => s.textContent === 'def');
          return span ? span.className : null;
        }"""
    )
    assert keyword_class, "`def` is not highlighted"
    # Define `nope` before its use: the error goes.
    page.locator(".jp-FileEditor .cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("def nope : Nat := 0\n")
    expect(errors).to_have_count(0)
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready")
    shot(page, "lean-file")


def test_status_shows_progress_while_lean_works(page, lab: Lab, standin_only) -> None:
    # The stand-in's `delay` directive makes elaboration wait at that line.
    (lab.root / "progress.ipynb").write_text(
        notebook_json("def a : Nat := 1", "-- standin: delay 4\ndef b : Nat := 2")
    )
    page.goto(lab.page_url("progress.ipynb"))
    page.wait_for_selector(".cm-content", timeout=60_000)
    _dismiss_kernel_dialog(page)
    status = page.locator(".jp-Lean-status")
    expect(status).to_have_text(re.compile(r"Lean: processing line \d+ of 3"))
    shot(page, "processing")
    expect(status).to_have_text("Lean: ready", timeout=30_000)


def test_a_deleted_session_is_replaced(page, lab: Lab) -> None:
    (lab.root / "culled.ipynb").write_text(notebook_json("def a : Nat := 1", ""))
    open_document(page, lab, "culled.ipynb")
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready")
    # Delete every session, as the idle culler would: the socket closes with 4410.
    headers = {"Authorization": f"token {lab.token}"}
    listing = urllib.request.Request(f"{lab.url}lean/sessions", headers=headers)
    with urllib.request.urlopen(listing, timeout=10) as response:
        sessions = json.load(response)
    assert sessions
    for session in sessions:
        delete = urllib.request.Request(
            f"{lab.url}lean/sessions/{session['id']}", headers=headers, method="DELETE"
        )
        urllib.request.urlopen(delete, timeout=30).close()
    # A new session comes up and the document is opened in it again.
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready", timeout=30_000)
    type_at_end_of_cell(page, 1, "#eval missing")
    expect(errors_in_cell(page, 1)).to_have_count(1)
    shot(page, "session-replaced")


def test_a_keystroke_sends_one_small_change_and_closing_sends_did_close(page, lab: Lab) -> None:
    sources = [f"def x{i} : Nat := {i}\n#check x{i}" for i in range(100)]
    (lab.root / "big.ipynb").write_text(notebook_json(*sources))
    sent: list[dict] = []

    sockets: list = []

    def watch(socket) -> None:
        if "/lean/" in socket.url:
            sockets.append(socket)
            socket.on("framesent", lambda frame: sent.append(json.loads(frame)))

    page.on("websocket", watch)
    open_document(page, lab, "big.ipynb")
    opened = [m for m in sent if m.get("method") == "textDocument/didOpen"]
    assert len(opened) == 1 and opened[0]["params"]["textDocument"]["text"] == "\n".join(sources)

    cell(page, 50).scroll_into_view_if_needed()
    type_at_end_of_cell(page, 50, "7")
    expect(cell(page, 50).locator(".cm-content")).to_contain_text("#check x507")
    changes = [m for m in sent if m.get("method") == "textDocument/didChange"]
    assert changes, "no didChange was sent"
    change = changes[-1]
    # One range edit at cell 50's last line (document line 101), not the notebook's text.
    assert change["params"]["contentChanges"] == [
        {
            "range": {
                "start": {"line": 101, "character": 10},
                "end": {"line": 101, "character": 10},
            },
            "text": "7",
        }
    ]
    assert len(json.dumps(change["params"]["contentChanges"])) < 120

    page.keyboard.press("Escape")
    page.keyboard.press("Alt+w")
    discard = page.get_by_role("button", name="Discard")
    with sockets[-1].expect_event(
        "framesent", predicate=lambda frame: "textDocument/didClose" in frame
    ):
        discard.click()
    expect(page.locator(".jp-Notebook")).to_have_count(0)
    closes = [m for m in sent if m.get("method") == "textDocument/didClose"]
    uri = opened[0]["params"]["textDocument"]["uri"]
    assert closes and closes[-1]["params"]["textDocument"]["uri"] == uri
