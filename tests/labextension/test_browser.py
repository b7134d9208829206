"""The JupyterLab extension in a real browser against a real ``jupyter lab``.

Each test opens a Lean notebook (or a ``.lean`` file) in headless Chromium, types like a user and
checks what the page shows: error marks on the right cell that go away when fixed, hover types,
completion, the goals panel, ``\\alpha`` input, the status bar. Screenshots go to
``test-artifacts/labextension/``, the server log next to them.

The Lean server is the one of the ``lean_server`` fixture (a released toolchain with its library,
else the scripted stand-in), passed to the server extension through ``JUPYTER_LEAN_COMMAND``.
The same in a ``prelude`` document on the real Lean with default settings: ``test_browser_real``.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from labextension.lab_page import (
    REPO,
    Lab,
    cell,
    cell_text,
    errors_in_cell,
    expect,
    notebook_json,
    open_document,
    shot,
    type_at_end_of_cell,
    word_center,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


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
    # CodeMirror ignores keys for `interactionDelay` (75 ms) after the popup opens, so that a
    # fast typist's Enter is not taken as a pick (it becomes a newline instead): wait until the
    # popup element has been on the page for longer than that. Also while it is disabled: Lean's
    # lists are incomplete, so a popup opened on an earlier prefix (a pause mid-typing) waits,
    # disabled, for the answer about the last one.
    page.wait_for_function(
        """() => {
            const popup = document.querySelector('.cm-tooltip-autocomplete');
            if (!popup) return false;
            popup.dataset.seenAt ??= String(performance.now());
            return performance.now() - Number(popup.dataset.seenAt) > 150
                && !popup.classList.contains('cm-tooltip-autocomplete-disabled');
        }""",
        polling=25,
    )
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


def test_magic_cells_of_the_basics_notebook_get_no_marks(page, lab: Lab) -> None:
    # The example notebook ends with a %lsmagic and a %env cell, and has cells meant to fail.
    notebook = json.loads((REPO / "notebooks" / "01-lean-basics.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in code]
    magic_cells = [i for i, text in enumerate(sources) if text.startswith("%")]
    failing_cell = sources.index('#eval 1 + "one"')
    assert magic_cells, "the notebook has no magic cell any more"
    (lab.root / "basics.ipynb").write_text(json.dumps(notebook))
    # The same notebook with the magic cells emptied: what Lean should report.
    for index in magic_cells:
        code[index]["source"] = ""
    (lab.root / "basics-no-magics.ipynb").write_text(json.dumps(notebook))

    open_document(page, lab, "basics-no-magics.ipynb")
    cell(page, failing_cell).scroll_into_view_if_needed()
    expect(errors_in_cell(page, failing_cell)).to_have_count(1)
    expect(page.locator(".jp-Lean-status")).to_have_text(re.compile(r"Lean: \d+ errors?"))
    expected_status = page.locator(".jp-Lean-status").inner_text().strip()

    open_document(page, lab, "basics.ipynb")
    # Diagnostics are in once the intended error is marked.
    cell(page, failing_cell).scroll_into_view_if_needed()
    expect(errors_in_cell(page, failing_cell)).to_have_count(1)
    for index in magic_cells:
        cell(page, index).scroll_into_view_if_needed()
        expect(cell(page, index).locator(".cm-content")).to_contain_text("%")
        expect(cell(page, index).locator(".cm-lintRange")).to_have_count(0)
    expect(page.locator(".jp-Lean-status")).to_have_text(expected_status)
    shot(page, "basics-magics")


def test_status_shows_progress_while_lean_works(page, lab: Lab, standin_only) -> None:
    # The stand-in's `delay` directive makes elaboration wait at that line.
    (lab.root / "progress.ipynb").write_text(
        notebook_json("def a : Nat := 1", "-- standin: delay 4\ndef b : Nat := 2")
    )
    page.goto(lab.page_url("progress.ipynb"))
    page.wait_for_selector(".cm-content", timeout=60_000)
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
    # A new session comes up and the document is opened in it again. The status may still be the
    # old session's "ready" (the page hears of the close a moment later): the error, which only a
    # new session can report, is the proof, and gets the time a new session may take.
    expect(page.locator(".jp-Lean-status")).to_have_text("Lean: ready", timeout=30_000)
    type_at_end_of_cell(page, 1, "#eval missing")
    expect(errors_in_cell(page, 1)).to_have_count(1, timeout=30_000)
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
