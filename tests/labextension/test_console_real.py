"""The sessions console in Chromium, on the real Lean with the product's default settings: the
page at /lean/console (create, attach, hand-written messages, live traffic with timings, filter,
end), the "Lean Sessions" panel in JupyterLab, and the labextension under a keystroke storm
staying under the default rate limit (its peak request rate is measured and printed).
"""

from __future__ import annotations

import json
import re

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

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

HEADER = "prelude\ninductive N | z | s (n : N)"
DOCUMENT = "prelude\ninductive N | z | s (n : N)\n#check N.s\n"


def _console(page, lab: Lab) -> None:
    page.goto(f"{lab.url}lean/console?token={lab.token}")
    expect(page.locator("#jl-who")).to_contain_text("signed in as")
    # The sessions are listed a moment later (a request): a row, or the note that there is none.
    page.locator("#jl-sessions tbody tr, #jl-empty:not([hidden])").first.wait_for()


def _press(button) -> None:
    """Click a button of the sessions table. The page rebuilds the table every 2 s, and a click
    whose press and release straddle a rebuild is lost (the pressed button is gone): the button
    gets its click event directly."""
    button.dispatch_event("click")


def _send(page, message: dict) -> None:
    page.locator("#jl-send-text").fill(json.dumps(message))
    page.locator("#jl-send-button").click()


def _entries(page, kind: str, method: str):
    return page.locator(f'#jl-messages li[data-kind="{kind}"][data-method="{method}"]')


def test_console_creates_attaches_traces_and_ends_a_session(page, real_lab: Lab) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    _console(page, real_lab)
    rows = page.locator("#jl-sessions tbody tr")
    before = rows.count()
    page.locator("#jl-create").click()
    expect(rows).to_have_count(before + 1)
    row = rows.last
    session_id = row.get_attribute("data-session")
    expect(row.locator(".jl-state")).to_have_text(re.compile("starting|ready"))

    _press(row.get_by_role("button", name="Attach"))
    expect(page.locator("#jl-send-button")).to_be_enabled()
    expect(row.locator(".jl-connected")).to_have_text("yes")  # the console is its client now
    page.locator("#jl-send-button").click()  # the prefilled initialize
    initialized = _entries(page, "response", "initialize")
    expect(initialized).to_have_count(1)
    expect(initialized.locator(".jl-duration")).to_have_text(re.compile(r"\d+\.\d ms"))
    initialized.locator("summary").click()
    expect(initialized.locator("pre")).to_contain_text('"Lean 4 Server"')

    uri = (real_lab.root / "Console.lean").as_uri()
    _send(page, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    _send(
        page,
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": DOCUMENT}
            },
        },
    )
    _send(
        page,
        {
            "jsonrpc": "2.0",
            "id": "by-hand",
            "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}},
        },
    )
    hovered = _entries(page, "response", "textDocument/hover")
    expect(hovered).to_have_count(1)
    hovered.locator("summary").click()
    expect(hovered.locator("pre")).to_contain_text("N.s (n : N) : N")
    expect(_entries(page, "notification", "textDocument/publishDiagnostics").first).to_be_attached()

    page.locator("#jl-filter").fill("hover")
    shown = page.locator("#jl-messages li")
    expect(shown).to_have_count(2)  # the request and its response
    for index in range(2):
        assert shown.nth(index).get_attribute("data-method") == "textDocument/hover"
    shot(page, "console-traffic")

    # Jupyter's XSRF check holds for the page's own cookie: a POST without the token fails.
    status = page.evaluate("""async () => (await fetch('../lean/sessions', {
        method: 'POST', credentials: 'same-origin', body: '{}'})).status""")
    assert status == 403

    _press(row.get_by_role("button", name="End"))
    expect(page.locator(f'#jl-sessions tr[data-session="{session_id}"]')).to_have_count(0)
    expect(page.locator("#jl-traffic-note")).to_contain_text("4410")


def test_lean_sessions_panel_from_the_palette_and_the_launcher(page, real_lab: Lab) -> None:
    path = "sessions-panel.ipynb"
    (real_lab.root / path).write_text(notebook_json(HEADER, "#check N.s"))
    open_document(page, real_lab, path)
    run_command(page, "Lean Sessions")
    panel = page.locator("#jupyter-lean-sessions")
    expect(panel).to_be_visible()
    frame = page.frame_locator("#jupyter-lean-sessions iframe")
    expect(frame.locator("h1")).to_have_text("Lean Sessions")
    # The notebook's own session, connected.
    expect(frame.locator("#jl-sessions tbody tr .jl-connected", has_text="yes")).not_to_have_count(
        0
    )
    shot(page, "console-panel")

    page.keyboard.press("Control+Shift+l")  # a new launcher
    card = page.locator(".jp-LauncherCard", has_text="Lean Sessions")
    expect(card).to_be_visible()
    card.click()
    expect(panel).to_be_visible()


# Counts, in the page, the JSON-RPC requests the labextension sends to /lean/ sockets and the
# -32003 refusals it gets back.
COUNT_REQUESTS = """
(() => {
  const seen = { sent: [], refused: 0 };
  window.__leanRequests = seen;
  const Original = window.WebSocket;
  const send = Original.prototype.send;
  Original.prototype.send = function (data) {
    if (typeof data === 'string' && String(this.url).includes('/lean/')) {
      try {
        const message = JSON.parse(data);
        if (message && typeof message.method === 'string' && 'id' in message) {
          seen.sent.push([performance.now(), message.method]);
        }
      } catch (error) {}
    }
    return send.call(this, data);
  };
  window.WebSocket = new Proxy(Original, {
    construct(target, args) {
      const socket = new target(...args);
      if (String(args[0]).includes('/lean/')) {
        socket.addEventListener('message', event => {
          if (typeof event.data === 'string' && event.data.includes('-32003')) {
            seen.refused += 1;
          }
        });
      }
      return socket;
    }
  });
})();
"""

PEAK_PER_SECOND = """() => {
  const times = window.__leanRequests.sent.map(([t]) => t);
  let peak = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= 1000) start++;
    peak = Math.max(peak, end - start + 1);
  }
  const methods = {};
  for (const [, method] of window.__leanRequests.sent) methods[method] = (methods[method] || 0) + 1;
  return { peak, total: times.length, refused: window.__leanRequests.refused, methods };
}"""

# Lean typed as by the fastest typist, and faster: every keystroke moves the cursor (goals,
# infoview) and identifiers open the completion list (activateOnTyping).
TYPED = "\ndef twice (n : N) : N := N.s (N.s n)\ntheorem t (P : Prop) (p : P) : P := by\n  intro\n"


def test_a_keystroke_storm_stays_under_the_default_rate_limit(page, real_lab: Lab) -> None:
    page.add_init_script(COUNT_REQUESTS)
    path = "storm.ipynb"
    (real_lab.root / path).write_text(notebook_json(HEADER, ""))
    open_document(page, real_lab, path)
    # The infoview asks Lean for the goals at every cursor move.
    run_command(page, "Lean: Show Infoview")
    expect(page.locator("#jupyter-lean-infoview")).to_be_visible()
    editor = cell(page, 1).locator(".cm-content")
    editor.click()
    measured = {}
    # Machine speed, the world record (~35 ms a key), and just slower than the completion
    # delay (every key asks for completions).
    for delay in (0, 35, 110):
        start = page.evaluate("() => window.__leanRequests.sent.length")
        for _ in range(3 if delay < 100 else 1):
            page.keyboard.type(TYPED, delay=delay)
        page.keyboard.press("Control+End")
        measured[delay] = page.evaluate("() => window.__leanRequests.sent.length") - start
    expect(page.locator(".jp-Lean-status")).to_have_text(re.compile(r"Lean: "))
    stats = page.evaluate(PEAK_PER_SECOND)
    print(
        f"\nkeystroke storm: peak {stats['peak']} requests in 1 s (limit 200/s, burst 1000); "
        f"{stats['total']} requests in all, per typing speed {measured}; by method "
        f"{stats['methods']}; refused {stats['refused']}"
    )
    assert stats["total"] > 0, "the storm made the labextension ask Lean"
    assert stats["refused"] == 0
    assert stats["peak"] < 200, "under the rate itself, never mind the burst"
    metrics = page.evaluate(f"""async () => (await (await fetch(
        '{real_lab.url}metrics?token={real_lab.token}')).text())""")
    found = re.search(r"^jupyter_lean_requests_rate_limited_total (\S+)$", metrics, re.M)
    assert found is not None and float(found[1]) == 0
