"""A real ``jupyter lab`` for the browser tests, and what a test does in its page.

The extension under test is the build in ``jupyter_server_ext/labextension``
(``cd labextension && npm install && npm run build``), put first on ``JUPYTER_PATH`` so a stale
installed copy cannot shadow it. Screenshots go to ``test-artifacts/labextension/``, each server's
log next to them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from support import free_port

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)
expect = playwright_sync.expect

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


# --- the server ---------------------------------------------------------------------------------


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def page_url(self, path: str) -> str:
        # A fresh workspace per page: no panel layout leaks between tests.
        return f"{self.url}lab/workspaces/t{uuid.uuid4().hex[:8]}/tree/{path}?token={self.token}"


def start_lab(
    request: pytest.FixtureRequest, base: Path, name: str, lean_command: str | None
) -> Lab:
    """A `jupyter lab` on 127.0.0.1 with a random port and token, killed at the end.

    ``lean_command`` goes to ``JUPYTER_LEAN_COMMAND``; None leaves Lean to the product's
    defaults (found the way a user's is).
    """
    if not (BUILT_EXTENSION / "package.json").exists():
        pytest.skip(
            "the labextension is not built: cd labextension && npm install && npm run build"
        )
    if "lean4" not in KernelSpecManager().find_kernel_specs():
        # Without it JupyterLab asks for a kernel in a dialog over every notebook.
        pytest.fail("the lean4 kernel is not installed: pip install -e . (make test does)")
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
    log = ARTIFACTS / f"{name}.log"
    port = free_port()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_PATH": os.pathsep.join(
            [str(jupyter_path), *filter(None, [os.environ.get("JUPYTER_PATH")])]
        ),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces-lab"),
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    env.pop("JUPYTER_LEAN_COMMAND", None)
    if lean_command is not None:
        env["JUPYTER_LEAN_COMMAND"] = lean_command
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
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


# --- page helpers -------------------------------------------------------------------------------


def open_document(page, lab: Lab, path: str) -> None:
    page.goto(lab.page_url(path))
    # A code editor (a rendered Markdown cell's editor is hidden).
    page.locator(".jp-CodeCell .cm-content, .jp-FileEditor .cm-content").first.wait_for(
        timeout=60_000
    )
    wait_until_page_settled(page)
    # Connected and the document opened (not "starting…" nor "disconnected"; the
    # latter happens while an earlier test's session is not yet free to adopt).
    expect(page.locator(".jp-Lean-status")).to_have_text(CONNECTED_STATUS, timeout=60_000)


def wait_until_page_settled(page) -> None:
    """Until JupyterLab has focused the document it opened (a notebook's cell, a file's editor)
    and a notebook's kernel has told its info.

    Both may come after Lean has connected on a busy machine. Keys pressed before the focus go
    astray; and when a kernel's info arrives, JupyterLab's help menu runs a command, which closes
    the command palette if it is open (the palette closes whenever a command runs).
    """
    page.wait_for_function(
        """async () => {
          const context = window.jupyterapp.shell.currentWidget?.sessionContext;
          if (context) {
            await context.ready;
            await context.session?.kernel?.info;
          }
          const document_ = document.activeElement?.closest('.jp-Notebook, .jp-FileEditor');
          return document_ != null && document_.closest('.lm-mod-hidden') == null;
        }""",
        timeout=60_000,
    )


def run_command(page, label: str) -> None:
    """Run a command through the command palette (clicking a tab could toggle a panel).

    Each step waits for the palette to take it: keys typed before it has opened would go to the
    notebook, and Enter before the search has settled would run another command.
    """
    page.keyboard.press("Control+Shift+c")
    search = page.locator(".lm-CommandPalette-input")
    expect(search).to_be_focused()
    search.fill(label)
    active = page.locator(".lm-CommandPalette-item.lm-mod-active .lm-CommandPalette-itemLabel")
    expect(active).to_have_text(label)
    page.keyboard.press("Enter")


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-CodeCell").nth(index)


def cell_text(page, index: int) -> str:
    return cell(page, index).locator(".cm-content").inner_text()


# A line ending in (part of) a name, as the completion source sees names.
ENDS_IN_NAME = re.compile(r"[\w'!?.]$")


def type_at_end_of_cell(page, index: int, text: str) -> None:
    cell(page, index).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)
        if number < len(lines) - 1 and ENDS_IN_NAME.search(line):
            # Typing a name opens the completion list after a pause (100 ms, then Lean's answer),
            # and Enter picks from it once it has been open 75 ms: a slow machine's pause before
            # the newline would pick. Moving the cursor (to the line's start and back) closes it
            # and cancels its query.
            page.keyboard.press("Home")
            page.keyboard.press("End")


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


def word_in_cell(page, index: int, word: str) -> tuple[float, float]:
    return word_center(page, ".jp-Notebook .jp-CodeCell .cm-content", index, word)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def errors_in_cell(page, index: int):
    return cell(page, index).locator(".cm-lintRange-error")
