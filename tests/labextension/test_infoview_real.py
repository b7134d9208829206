"""The Lean infoview panel in Chromium on the real Lean, with the product's default settings.

``@leanprover/infoview`` runs in a same-origin frame of the "Lean Infoview" panel, fed by the
extension's EditorApi bridge over the page's Lean connection. The notebooks start with
``prelude`` (the real tier has no library): the goal of an unfinished ``by`` with ``⊢``, the type
of a subterm of the goal in a hover popup (interactive RPC: ``getInteractiveGoals`` and
``infoToInteractive``), a type error at the cursor under the messages. Screenshots go to
``test-artifacts/labextension/``.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from labextension.lab_page import (
    Lab,
    cell,
    expect,
    notebook_json,
    open_document,
    run_command,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

HEADER = "prelude\ninductive N | z | s (n : N)"
FRAME = ".jp-Lean-infoview-frame"


def tactic_state(scope):
    """The "Tactic state" of the infoview (or of one of its sections).

    Not its "Expected type" beside it: where the cursor ends a line with ``by`` (as it does on its
    way to the end of a cell), that shows the same goal a second time.
    """
    return scope.locator("xpath=.//details[summary[contains(., 'Tactic state')]]")


def tactic_goals(scope):
    return tactic_state(scope).locator("[data-is-goal]")


def show_infoview(page):
    run_command(page, "Lean: Show Infoview")
    expect(page.locator(".jp-Lean-infoview")).to_have_attribute("data-state", "ready")
    return page.frame_locator(FRAME)


def cursor_at_end_of_cell(page, index: int) -> None:
    """The cursor at the end of a cell, without stopping anywhere else in it.

    A click on the middle of the cell puts it somewhere mid-cell first (at the end of a line
    ending in ``by``, say), where the infoview shows the same goal as at the end: a pin or a hover
    could then act on that place. A click on the middle of the last line, right of its text (short
    in these cells), lands at its end, where Control+End keeps it.
    """
    cell(page, index).locator(".cm-line").last.click()
    page.keyboard.press("Control+End")


def test_goal_at_the_cursor_and_the_type_of_a_subterm_on_hover(page, real_lab: Lab) -> None:
    (real_lab.root / "infoview-goal.ipynb").write_text(
        notebook_json(HEADER, "theorem t (p : N → Prop) (x : N) : p x := by\n  ")
    )
    open_document(page, real_lab, "infoview-goal.ipynb")
    infoview = show_infoview(page)
    cursor_at_end_of_cell(page, 1)

    expect(infoview.locator(".goal-goals")).to_have_text("1 goal")
    target = tactic_goals(infoview)
    expect(target).to_have_text("⊢ p x")
    expect(tactic_state(infoview).locator(".goal-hyp")).to_have_text(["p", "x"])
    expect(infoview.locator("body")).to_contain_text("x : N")
    shot(page, "infoview-goal")

    # The `x` of the goal is a subterm: hovering it asks Lean (over RPC) for its type.
    subterm = target.locator("[data-has-tooltip-on-hover]", has_text="x").last
    expect(subterm).to_have_text("x")
    subterm.hover()
    popup = infoview.locator(".tooltip-content")
    expect(popup).to_be_visible()
    expect(popup).to_contain_text("x : N")
    shot(page, "infoview-hover-popup")


def test_type_error_at_the_cursor_is_listed_under_messages(page, real_lab: Lab) -> None:
    (real_lab.root / "infoview-error.ipynb").write_text(
        notebook_json(HEADER, "def bad : N → N := N.z")
    )
    open_document(page, real_lab, "infoview-error.ipynb")
    infoview = show_infoview(page)
    cursor_at_end_of_cell(page, 1)

    # Under the messages at the cursor, and in the list of all messages (opened on click).
    at_cursor = infoview.locator(
        "details", has=infoview.locator("summary", has_text=re.compile(r"^Messages"))
    ).last  # the innermost: the location's section holds it
    expect(at_cursor).to_contain_text("Type mismatch")
    expect(at_cursor).to_contain_text("but is expected to have type")
    all_messages = infoview.locator(
        "details", has=infoview.locator("summary", has_text="All Messages")
    )
    all_messages.locator("summary").first.click()
    expect(all_messages).to_contain_text("Type mismatch")
    shot(page, "infoview-type-error")


def test_follows_the_cursor_across_cells_and_leaves_jupyterlab_alone(page, real_lab: Lab) -> None:
    (real_lab.root / "infoview-cells.ipynb").write_text(
        notebook_json(
            HEADER,
            "theorem a (p : N → Prop) (x : N) : p x := by\n  ",
            "theorem b (q : Prop) (h : q) : q := by\n  ",
        )
    )
    open_document(page, real_lab, "infoview-cells.ipynb")
    infoview = show_infoview(page)
    cursor_at_end_of_cell(page, 1)
    expect(tactic_goals(infoview)).to_have_text("⊢ p x")
    cursor_at_end_of_cell(page, 2)
    expect(tactic_goals(infoview)).to_have_text("⊢ q")
    expect(tactic_state(infoview).locator(".goal-hyp")).to_have_text(["q", "h"])

    # The infoview's React, module shims and global CSS live in its frame only.
    assert page.evaluate("typeof window.importShim") == "undefined"
    assert page.evaluate("typeof window.esmsInitOptions") == "undefined"
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    frame = page.frame_locator(FRAME).locator("body")
    assert frame.evaluate("() => typeof window.importShim") == "function"
    # JupyterLab's own React UI still renders: the command palette lists commands.
    run_command(page, "Lean: Show Goals")
    expect(page.locator(".jp-Lean-goals")).to_be_visible()

    # Its colours follow JupyterLab's theme.
    run_command(page, "Lean: Show Infoview")
    light = frame.evaluate("b => getComputedStyle(b).backgroundColor")
    run_command(page, "Use Theme: JupyterLab Dark")
    expect(frame).to_have_class("vscode-dark")
    dark = frame.evaluate("b => getComputedStyle(b).backgroundColor")
    assert dark != light
    shot(page, "infoview-dark")
    run_command(page, "Use Theme: JupyterLab Light")
    expect(frame).to_have_class("vscode-light")


def test_recovers_without_a_reload_when_the_lean_session_ends(page, real_lab: Lab) -> None:
    (real_lab.root / "infoview-restart.ipynb").write_text(
        notebook_json(
            HEADER,
            "theorem a (p : N → Prop) (x : N) : p x := by\n  ",
            "theorem b (q : Prop) (h : q) : q := by\n  ",
        )
    )
    open_document(page, real_lab, "infoview-restart.ipynb")
    infoview = show_infoview(page)
    cursor_at_end_of_cell(page, 1)
    expect(tactic_goals(infoview)).to_have_text("⊢ p x")

    # The Lean session ends under the page (as when culled): its RPC sessions die with it.
    ended = _delete_sessions(real_lab)
    assert ended, "the page had a Lean session"
    expect(page.locator(".jp-Lean-status")).to_have_text(
        re.compile(r"Lean: (ready|\d+ errors?)"), timeout=60_000
    )
    # A goal needs a new RPC session on the new Lean; the frame was not reloaded.
    cursor_at_end_of_cell(page, 2)
    expect(tactic_goals(infoview)).to_have_text("⊢ q", timeout=60_000)
    subterm = tactic_goals(infoview).locator("[data-has-tooltip-on-hover]", has_text="q").last
    subterm.hover()
    expect(infoview.locator(".tooltip-content")).to_contain_text("q : Prop")
    shot(page, "infoview-after-restart")


def _delete_sessions(lab: Lab) -> list[str]:
    """DELETE every Lean session of the server (REST, with the token)."""
    headers = {"Authorization": f"token {lab.token}"}
    listing = urllib.request.Request(f"{lab.url}lean/sessions", headers=headers)
    with urllib.request.urlopen(listing, timeout=30) as response:
        ids = [session["id"] for session in json.load(response)]
    for session_id in ids:
        request = urllib.request.Request(
            f"{lab.url}lean/sessions/{session_id}", headers=headers, method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=30):
            pass
    return ids
