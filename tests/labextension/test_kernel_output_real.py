"""The Lean kernel's interactive goals and messages in cell outputs, in Chromium on the real Lean
(defaults).

A cell whose `by` block leaves its goal unsolved (without a library most tactics are unknown, so
the goal stays): the output shows the goal with `⊢` as the infoview lays it out, and hovering a
subterm shows its type in a popup, asked of the kernel's Lean through the comm. After the kernel
is restarted (its Lean session ended) the same output still shows the goal, statically. A cell
with a type error: its messages output lists the error as the infoview does, and its terms show
their types on hover. Screenshots go to ``test-artifacts/labextension/``.
"""

from __future__ import annotations

import pytest
from labextension.lab_page import (
    Lab,
    cell,
    expect,
    notebook_json,
    open_document,
    shot,
    word_center,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

THEOREM = (
    "prelude\ninductive N where\n  | z : N\n  | s : N → N\n"
    "theorem t (p : N → Prop) (x : N) (h : p x) : p x := by\n  skip"
)
TYPE_ERROR = "prelude\ninductive N | z | s (n : N)\ndef bad : N := N"
GOALS = ".jp-OutputArea .jl-goals"
MESSAGES = ".jp-OutputArea .jl-messages"
POPUP = ".jl-popup"


def hover_word(page, scope: str, word: str) -> None:
    page.mouse.move(0, 0)  # leave any earlier subterm, so the next hover is a new one
    x, y = word_center(page, scope, 0, word)
    page.mouse.move(x, y)


def hover_own_text(page, selector: str) -> None:
    """Hover the first text of the element itself (not of a nested subterm)."""
    page.mouse.move(0, 0)
    box = page.evaluate(
        """(selector) => {
          const element = document.querySelector(selector);
          const own = [...element.childNodes].find(node => node.nodeType === Node.TEXT_NODE);
          const range = document.createRange();
          range.selectNode(own);
          const r = range.getBoundingClientRect();
          return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
        }""",
        selector,
    )
    page.mouse.move(box["x"], box["y"])


def test_kernel_goal_output_is_interactive_then_static_after_restart(page, real_lab: Lab) -> None:
    (real_lab.root / "kernel-goals.ipynb").write_text(notebook_json(THEOREM))
    open_document(page, real_lab, "kernel-goals.ipynb")
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")

    goals = page.locator(GOALS)
    expect(goals).to_contain_text("⊢ p x", timeout=90_000)
    expect(goals.locator(".jl-hyp")).to_have_text(["p : N → Prop", "x : N", "h : p x"])
    expect(goals).to_have_attribute("data-state", "live")
    # The text fallback is there for other front ends, but JupyterLab shows the goals view.
    expect(page.locator(".jp-OutputArea-output .jp-RenderedMarkdown")).to_have_count(0)

    hover_word(page, f"{GOALS} .jl-goal-type", "x")
    expect(page.locator(POPUP)).to_have_text("x : N")
    expect(goals.locator(".jl-hovered")).to_have_text("x")
    shot(page, "kernel-output-hover-x")

    hover_word(page, f"{GOALS} .jl-hyp", "Prop")
    expect(page.locator(f"{POPUP} .jl-popup-type")).to_have_text("Prop : Type")
    # Lean's docstring, as text.
    expect(page.locator(f"{POPUP} .jl-popup-doc")).to_contain_text("The universe of propositions")
    shot(page, "kernel-output-hover-prop")

    # The whole application: the space between `p` and `x` belongs to it alone.
    hover_own_text(page, f"{GOALS} .jl-goal-type .jl-code > .jl-subterm")
    expect(page.locator(POPUP)).to_have_text("p x : Prop")
    page.mouse.move(0, 0)
    expect(page.locator(POPUP)).to_have_count(0)

    # Restart the kernel: its Lean session ends with it.
    # The toolbar's button: the palette's first match may be "... and Clear Outputs".
    page.locator('.jp-NotebookPanel-toolbar [data-command="notebook:restart-kernel"]').click()
    page.locator(".jp-Dialog").get_by_role("button", name="Confirm Kernel Restart").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    hover_word(page, f"{GOALS} .jl-goal-type", "x")
    expect(goals).to_have_attribute("data-state", "static")
    expect(page.locator(POPUP)).to_have_count(0)
    expect(goals).to_contain_text("⊢ p x")
    expect(goals.locator(".jl-hyp")).to_have_text(["p : N → Prop", "x : N", "h : p x"])
    shot(page, "kernel-output-static-after-restart")

    # Run again: a new output, live in the new kernel's Lean session.
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    expect(goals).to_have_attribute("data-state", "live", timeout=90_000)
    hover_word(page, f"{GOALS} .jl-goal-type", "x")
    expect(page.locator(POPUP)).to_have_text("x : N")


def test_kernel_type_error_output_lists_the_message_with_types_on_hover(
    page, real_lab: Lab
) -> None:
    (real_lab.root / "kernel-messages.ipynb").write_text(notebook_json(TYPE_ERROR))
    open_document(page, real_lab, "kernel-messages.ipynb")
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")

    messages = page.locator(MESSAGES)
    error = messages.locator('.jl-message[data-severity="error"]')
    expect(error).to_contain_text("Type mismatch", timeout=90_000)
    expect(error.locator(".jl-message-where")).to_contain_text("3:15")
    expect(messages).to_have_attribute("data-state", "live")
    # The cell still failed: the error output is there too, and no Markdown fallback is shown.
    expect(page.locator(".jp-OutputArea-output[data-mime-type*='stderr']")).to_contain_text(
        "Type mismatch"
    )
    expect(page.locator(".jp-OutputArea-output .jp-RenderedMarkdown")).to_have_count(0)

    # The first term of the message, `N` (the ill-typed body): its type on hover.
    terms = error.locator(".jl-subterm")
    expect(terms.first).to_have_text("N")
    page.mouse.move(0, 0)
    box = terms.first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator(POPUP)).to_have_text("N : Type")
    shot(page, "kernel-messages-hover")
    page.mouse.move(0, 0)
    expect(page.locator(POPUP)).to_have_count(0)
