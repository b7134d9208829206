"""The JupyterLab extension in Chromium on the real Lean, with the product's default settings.

The server gets no Lean command: it finds Lean the way a user's install does (elan's proxy on
PATH). The notebooks start with ``prelude``, so they need no library (see ``tests/conftest.py``,
the real tier): an own ``inductive N``, definitions, type errors, an unfinished ``by``. Also: the
kernel's ``%`` magic lines are invisible to Lean in the live editor, and Lean text carrying HTML
(a name in «guillemets», a docstring) stays text in every place the page shows it.
Screenshots go to ``test-artifacts/labextension/``.
"""

from __future__ import annotations

import pytest
from labextension.lab_page import (
    Lab,
    cell,
    errors_in_cell,
    expect,
    notebook_json,
    open_document,
    run_command,
    shot,
    type_at_end_of_cell,
    word_in_cell,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

HEADER = "prelude\ninductive N | z | s (n : N)"
STATUS = ".jp-Lean-status"


def test_error_mark_on_its_cell_clears_when_fixed(page, real_lab: Lab) -> None:
    (real_lab.root / "real-errors.ipynb").write_text(
        notebook_json(HEADER, "def two : N := N.s (N.s N.z)", "")
    )
    open_document(page, real_lab, "real-errors.ipynb")
    expect(page.locator(STATUS)).to_have_text("Lean: ready")

    type_at_end_of_cell(page, 2, "def bad : N → N := two")
    expect(errors_in_cell(page, 2)).to_have_count(1)
    expect(errors_in_cell(page, 0)).to_have_count(0)
    expect(errors_in_cell(page, 1)).to_have_count(0)
    expect(page.locator(STATUS)).to_have_text("Lean: 1 error")
    x, y = word_in_cell(page, 2, "two")
    page.mouse.move(x, y)
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("Type mismatch")
    shot(page, "real-error-mark")

    # `N.s : N → N` fits.
    for _ in range(3):
        page.keyboard.press("Backspace")
    page.keyboard.type("N.s")
    expect(errors_in_cell(page, 2)).to_have_count(0)
    expect(page.locator(STATUS)).to_have_text("Lean: ready")
    shot(page, "real-error-fixed")


def test_hover_shows_the_type(page, real_lab: Lab) -> None:
    (real_lab.root / "real-hover.ipynb").write_text(
        notebook_json(HEADER, "def two : N := N.s (N.s N.z)", "#check N.s two")
    )
    open_document(page, real_lab, "real-hover.ipynb")
    x, y = word_in_cell(page, 2, "two")
    page.mouse.move(x, y)
    expect(page.locator(".jp-Lean-hover")).to_contain_text("two : N")
    shot(page, "real-hover")


def test_goals_panel_inside_an_unfinished_by(page, real_lab: Lab) -> None:
    (real_lab.root / "real-goals.ipynb").write_text(
        notebook_json(HEADER, "theorem t (p : N → Type) (x : N) : p x := by\n  ")
    )
    open_document(page, real_lab, "real-goals.ipynb")
    run_command(page, "Lean: Show Goals")
    panel = page.locator(".jp-Lean-goals")
    expect(panel).to_be_visible()
    # The cursor on the tactic block's empty line.
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    expect(panel.locator(".jp-Lean-goal")).to_contain_text("⊢ p x")
    expect(panel.locator(".jp-Lean-goal")).to_contain_text("x : N")
    expect(panel.locator(".jp-Lean-goals-header")).to_contain_text("Code cell 2, line 2")
    shot(page, "real-goals")


def test_magic_lines_are_not_lean(page, real_lab: Lab) -> None:
    (real_lab.root / "real-magics.ipynb").write_text(
        notebook_json(
            "%lsmagic\n-- magics may come before the prelude\n" + HEADER,
            "%env",
            "%timeout 5\ndef bad : N → N := N.z",
            "",
        )
    )
    open_document(page, real_lab, "real-magics.ipynb")
    # The one real error, in its cell; no mark and no count from a magic.
    expect(errors_in_cell(page, 2)).to_have_count(1)
    expect(page.locator(STATUS)).to_have_text("Lean: 1 error")
    expect(page.locator(".jp-Notebook .cm-lintRange-error")).to_have_count(1)
    shot(page, "real-magics")

    # Typed magics stay invisible to Lean; the code under them is Lean's, on the right line.
    type_at_end_of_cell(page, 3, "%goals on\n#check N.nope")
    expect(errors_in_cell(page, 3)).to_have_count(1)
    expect(errors_in_cell(page, 3)).to_have_text("N.nope")
    expect(page.locator(STATUS)).to_have_text("Lean: 2 errors")

    # A `%` in front of the bad definition makes it a magic: its error goes, and comes back.
    cell(page, 2).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Home")
    page.keyboard.type("%")
    expect(errors_in_cell(page, 2)).to_have_count(0)
    expect(page.locator(STATUS)).to_have_text("Lean: 1 error")
    page.keyboard.press("Backspace")
    expect(errors_in_cell(page, 2)).to_have_count(1)
    expect(page.locator(STATUS)).to_have_text("Lean: 2 errors")
    shot(page, "real-magics-typed")


# Lean prints names as written: a name in «guillemets» can hold any text, HTML included, and so
# can a docstring. Each payload would set window.PWNED or load `x` if it became live HTML.
HOSTILE_NAME = '«```<img src=x onerror="window.PWNED=1">»'
HOSTILE_HYPOTHESIS = "«<img src=x onerror=window.PWNED=2>»"
HOSTILE_CELLS = (
    HEADER,
    f'/-- Doc <img src=x onerror="window.PWNED=3"> -/\ndef {HOSTILE_NAME} : N := N.z',
    f"#check {HOSTILE_NAME}",
    f"def bad : N → N := {HOSTILE_NAME}",
    f"theorem h ({HOSTILE_HYPOTHESIS} : N) (p : N → Type) : p {HOSTILE_HYPOTHESIS} := by\n  ",
)


def _assert_nothing_live(page, loads: list[str]) -> None:
    assert page.evaluate("() => window.PWNED") is None
    live = page.evaluate(
        """() => [...document.querySelectorAll('img, svg image, iframe, object, embed')]
          .map(element => element.outerHTML)
          .filter(html => /PWNED|src="x"|href="x"/.test(html))"""
    )
    assert live == []
    assert loads == []


def test_hostile_lean_text_stays_text(page, real_lab: Lab) -> None:
    loads: list[str] = []
    page.on(
        "request", lambda request: loads.append(request.url) if request.url.endswith("/x") else None
    )
    (real_lab.root / "real-hostile.ipynb").write_text(notebook_json(*HOSTILE_CELLS))
    open_document(page, real_lab, "real-hostile.ipynb")
    expect(errors_in_cell(page, 3)).to_have_count(1)
    # Lean done (the unfinished proof in the last cell too): new diagnostics would close the lint
    # tooltip below, and it does not come back while the pointer rests.
    expect(page.locator(STATUS)).to_have_text("Lean: 3 errors")

    # Lint tooltip and hover tooltip together, over the name in the ill-typed definition.
    x, y = word_in_cell(page, 3, "<img")
    page.mouse.move(x, y)
    lint = page.locator(".cm-tooltip-lint")
    expect(lint).to_contain_text(HOSTILE_NAME)
    expect(lint).to_contain_text("Type mismatch")
    hover = page.locator(".jp-Lean-hover")
    expect(hover).to_contain_text(f"{HOSTILE_NAME} : N")
    expect(hover).to_contain_text("Doc")
    shot(page, "real-hostile-tooltips")
    _assert_nothing_live(page, loads)

    # The goals panel, with the hypothesis named in HTML.
    run_command(page, "Lean: Show Goals")
    cell(page, 4).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    goal = page.locator(".jp-Lean-goals .jp-Lean-goal")
    expect(goal).to_contain_text(f"{HOSTILE_HYPOTHESIS} : N")
    expect(goal).to_contain_text(f"⊢ p {HOSTILE_HYPOTHESIS}")
    shot(page, "real-hostile-goals")
    _assert_nothing_live(page, loads)

    # The kernel's outputs: Run All stops at the ill-typed cell (an error), after the #check.
    run_command(page, "Run All Cells")
    expect(cell(page, 2).locator(".jp-OutputArea-output")).to_contain_text(
        f"{HOSTILE_NAME} : N", timeout=90_000
    )
    # Its interactive messages output and its error output, both with the name as text.
    outputs = cell(page, 3).locator(".jp-OutputArea-output")
    expect(outputs).to_have_count(2)
    expect(outputs.nth(0).locator(".jl-message")).to_contain_text(HOSTILE_NAME)
    expect(outputs.nth(1)).to_contain_text(HOSTILE_NAME)
    shot(page, "real-hostile-outputs")
    _assert_nothing_live(page, loads)
    # The name's type on hover in the message: Lean's text again, in the popup.
    term = outputs.nth(0).locator(".jl-subterm", has_text="img").first
    page.mouse.move(0, 0)
    box = term.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator(".jl-popup")).to_contain_text(HOSTILE_NAME)
    _assert_nothing_live(page, loads)
