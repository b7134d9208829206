"""The infoview's pin and go-to-definition actions in Chromium on the real Lean (default settings).

Pinning keeps a goal view at a place of the document while the cursor moves on (to another cell,
another notebook), follows that place through an edit above it, and its "go to pinned location"
button brings the cursor back into the right cell of the right notebook. Ctrl-click on a name in
the goal asks Lean (``Lean.Widget.getGoToLocation`` over RPC) where it is defined and the bridge's
``showDocument`` puts the cursor there: in the defining cell of the notebook, or in the ``.lean``
file. The documents start with ``prelude`` (the real tier has no library). Screenshots go to
``test-artifacts/labextension/``.
"""

from __future__ import annotations

import re

import pytest
from labextension.lab_page import (
    CONNECTED_STATUS,
    Lab,
    cell,
    expect,
    notebook_json,
    open_document,
    playwright_sync,
    shot,
    type_at_end_of_cell,
    wait_until_page_settled,
)
from labextension.test_infoview_real import (
    cursor_at_end_of_cell,
    show_infoview,
    tactic_goals,
    tactic_state,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PRELUDE_CELLS = (
    "prelude",
    "inductive N where\n  | z : N\n  | s : N → N",
    "def two : N := N.s (N.s N.z)",
    "theorem t (p : N → Prop) (x : N) (h : p two) : p two := by\n  ",
    "theorem u (q : Prop) (hq : q) : q := by\n  ",
)
INDUCTIVE_CELL, DEF_CELL, THEOREM_T_CELL, THEOREM_U_CELL = 1, 2, 3, 4

# Where the cursor is: the document of the current main-area tab, the index of the notebook cell
# holding the DOM selection (-1 in a file editor; CodeMirror mirrors its cursor there while
# focused), its line and column.
CURSOR_PLACE_JS = """() => {
  const selection = document.getSelection();
  const node = selection && selection.focusNode;
  const element = node && (node.nodeType === 1 ? node : node.parentElement);
  const content = element && element.closest('.cm-content');
  const line = element && element.closest('.cm-line');
  if (!content || !line || !content.contains(document.activeElement)) {
    return null;
  }
  const before = document.createRange();
  before.setStart(line, 0);
  before.setEnd(selection.focusNode, selection.focusOffset);
  const notebook = content.closest('.jp-Notebook');
  const cells = notebook ? [...notebook.querySelectorAll('.jp-CodeCell .cm-content')] : [];
  const tab = document.querySelector(
    '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel'
  );
  return {
    document: tab ? tab.textContent.trim() : null,
    cell: cells.indexOf(content),
    line: [...content.querySelectorAll(':scope > .cm-line')].indexOf(line),
    column: before.toString().length,
  };
}"""


def expect_cursor_at(page, document: str, cell_index: int, line: int, column: int) -> None:
    """Wait until the focused editor's cursor is in `document` at (line, column) of its cell
    `cell_index` (-1: a file editor)."""
    wanted = {"document": document, "cell": cell_index, "line": line, "column": column}
    try:
        page.wait_for_function(
            f"""wanted => {{
              const place = ({CURSOR_PLACE_JS})();
              return place !== null && Object.keys(wanted).every(k => place[k] === wanted[k]);
            }}""",
            arg=wanted,
        )
    except playwright_sync.TimeoutError:
        pytest.fail(f"cursor not at {wanted}: {page.evaluate(CURSOR_PLACE_JS)}")


def document_line(cells: tuple[str, ...], cell_index: int, line_in_cell: int) -> int:
    """0-based line of the notebook's Lean document: its cells one after the other."""
    return sum(source.count("\n") + 1 for source in cells[:cell_index]) + line_in_cell


def section(infoview, pinned: bool):
    """The infoview's section of the cursor (pinnable) or of a pinned place (unpinnable)."""
    title = "Unpin state" if pinned else "Pin state to top"
    return infoview.locator(f"xpath=//details[summary//a[@title='{title}']]")


def cursor_at_end_of_shown_cell(page, index: int) -> None:
    """The cursor at the end of a cell of the notebook in view (others hide in their tabs)."""
    shown = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").nth(index)
    shown.locator(".cm-line").last.click()  # straight to the end: see cursor_at_end_of_cell
    page.keyboard.press("Control+End")


def open_from_file_browser(page, name: str) -> None:
    page.locator(".jp-DirListing-item", has_text=name).dblclick()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")).to_have_text(name)
    wait_until_page_settled(page)


def test_a_pinned_goal_stays_while_the_cursor_moves_and_leads_back_to_its_cell(
    page, real_lab: Lab
) -> None:
    (real_lab.root / "pin.ipynb").write_text(notebook_json(*PRELUDE_CELLS))
    (real_lab.root / "pin-other.ipynb").write_text(
        notebook_json("prelude", "theorem w (r : Prop) (hr : r) : r := by\n  ")
    )
    open_document(page, real_lab, "pin.ipynb")
    infoview = show_infoview(page)
    cursor_at_end_of_cell(page, THEOREM_T_CELL)
    at_cursor, pinned = section(infoview, pinned=False), section(infoview, pinned=True)
    expect(tactic_goals(at_cursor)).to_have_text("⊢ p two")

    at_cursor.locator("[data-id=toggle-pinned]").click()
    pin_line = document_line(PRELUDE_CELLS, THEOREM_T_CELL, 1)
    expect(pinned.locator("xpath=./summary")).to_contain_text(f"pin.ipynb.lean:{pin_line + 1}:2")
    expect(tactic_goals(pinned)).to_have_text("⊢ p two")

    # The cursor moves to another proof: the pinned goal stays.
    cursor_at_end_of_cell(page, THEOREM_U_CELL)
    expect(tactic_goals(at_cursor)).to_have_text("⊢ q")
    expect(tactic_goals(pinned)).to_have_text("⊢ p two")
    expect(tactic_state(pinned).locator(".goal-hyp")).to_have_text(["p", "x", "h"])
    shot(page, "infoview-pinned")

    # A line typed in a cell above moves the pinned place with its proof.
    type_at_end_of_cell(page, INDUCTIVE_CELL, "\n-- a line above the pin")
    expect(pinned.locator("xpath=./summary")).to_contain_text(f"pin.ipynb.lean:{pin_line + 2}:2")
    expect(tactic_goals(pinned)).to_have_text("⊢ p two")

    # In another notebook of the project, the pin stays too.
    open_from_file_browser(page, "pin-other.ipynb")
    expect(page.locator(".jp-Lean-status")).to_have_text(CONNECTED_STATUS, timeout=60_000)
    cursor_at_end_of_shown_cell(page, 1)
    expect(tactic_goals(at_cursor)).to_have_text("⊢ r")
    expect(tactic_goals(pinned)).to_have_text("⊢ p two")
    shot(page, "infoview-pinned-other-notebook")

    # Ctrl-click on `two` in the pinned goal: into the defining cell of the pin's notebook.
    tactic_goals(pinned).locator("[data-has-tooltip-on-hover]", has_text="two").last.click(
        modifiers=["Control"]
    )
    expect_cursor_at(page, "pin.ipynb", DEF_CELL, line=0, column=4)

    # "Go to pinned location" brings the cursor back into its cell of its notebook.
    open_from_file_browser(page, "pin-other.ipynb")
    pinned.locator("[data-id=reveal-file-location]").click()
    expect_cursor_at(page, "pin.ipynb", THEOREM_T_CELL, line=1, column=2)
    expect(tactic_goals(at_cursor)).to_have_text("⊢ p two")

    pinned.locator("[data-id=toggle-pinned]").click()
    expect(pinned).to_have_count(0)
    expect(tactic_goals(at_cursor)).to_have_text("⊢ p two")


def test_ctrl_click_on_a_name_in_the_goal_goes_to_its_defining_cell(page, real_lab: Lab) -> None:
    (real_lab.root / "definition.ipynb").write_text(notebook_json(*PRELUDE_CELLS))
    open_document(page, real_lab, "definition.ipynb")
    infoview = show_infoview(page)
    cursor_at_end_of_cell(page, THEOREM_T_CELL)
    goal = tactic_goals(infoview)
    expect(goal).to_have_text("⊢ p two")

    # `two` in the goal: its definition is the name in `def two` (cell 2, column 4).
    goal.locator("[data-has-tooltip-on-hover]", has_text="two").last.click(modifiers=["Control"])
    expect_cursor_at(page, "definition.ipynb", DEF_CELL, line=0, column=4)
    expect(cell(page, DEF_CELL)).to_have_class(re.compile(r"\bjp-mod-active\b"))
    def_line = document_line(PRELUDE_CELLS, DEF_CELL, 0)
    expect(section(infoview, pinned=False).locator("xpath=./summary")).to_contain_text(
        f"definition.ipynb.lean:{def_line + 1}:4"
    )
    shot(page, "infoview-go-to-definition-cell")

    # Cmd-click (macOS) on `N` in a hypothesis' type: to `inductive N` (cell 1, column 10).
    cursor_at_end_of_cell(page, THEOREM_T_CELL)
    expect(goal).to_have_text("⊢ p two")
    hypothesis_x = tactic_state(infoview).locator(".goal-hyp", has_text="x").locator("xpath=..")
    hypothesis_x.locator("[data-has-tooltip-on-hover]", has_text="N").last.click(modifiers=["Meta"])
    expect_cursor_at(page, "definition.ipynb", INDUCTIVE_CELL, line=0, column=10)


def test_ctrl_click_on_a_name_in_the_goal_of_a_lean_file_goes_to_its_line(
    page, real_lab: Lab
) -> None:
    source = "\n".join(PRELUDE_CELLS[: THEOREM_T_CELL + 1])
    (real_lab.root / "Definitions.lean").write_text(source)
    open_document(page, real_lab, "Definitions.lean")
    infoview = show_infoview(page)
    page.locator(".jp-FileEditor .cm-content").click()
    page.keyboard.press("Control+End")
    goal = tactic_goals(infoview)
    expect(goal).to_have_text("⊢ p two")

    goal.locator("[data-has-tooltip-on-hover]", has_text="two").last.click(modifiers=["Control"])
    def_line = document_line(PRELUDE_CELLS, DEF_CELL, 0)
    expect_cursor_at(page, "Definitions.lean", -1, line=def_line, column=4)
    expect(section(infoview, pinned=False).locator("xpath=./summary")).to_contain_text(
        f"Definitions.lean:{def_line + 1}:4"
    )
    shot(page, "infoview-go-to-definition-file")


def test_go_to_definition_scrolls_to_a_cell_far_above(page, real_lab: Lab) -> None:
    fillers = tuple(f"theorem f{k} (q : Prop) (hq : q) : q := hq" for k in range(60))
    cells = (*PRELUDE_CELLS[: DEF_CELL + 1], *fillers, PRELUDE_CELLS[THEOREM_T_CELL])
    (real_lab.root / "long.ipynb").write_text(notebook_json(*cells))
    open_document(page, real_lab, "long.ipynb")
    infoview = show_infoview(page)
    last = len(cells) - 1
    cell(page, last).scroll_into_view_if_needed()
    cursor_at_end_of_cell(page, last)
    goal = tactic_goals(infoview)
    expect(goal).to_have_text("⊢ p two")
    expect(cell(page, DEF_CELL)).not_to_be_in_viewport()

    goal.locator("[data-has-tooltip-on-hover]", has_text="two").last.click(modifiers=["Control"])
    expect_cursor_at(page, "long.ipynb", DEF_CELL, line=0, column=4)
    expect(cell(page, DEF_CELL)).to_be_in_viewport()
    shot(page, "infoview-go-to-definition-far-above")
