"""What the infoview costs the page, on the real Lean with the product's defaults.

Behaviour: with the panel closed, the page fetches none of the infoview's files; opening the
panel fetches them from the extension's own static folder (no other host), once. Numbers (not
asserted, printed with ``-s``): page load until the notebook's editor shows and Lean is
connected, with the panel closed and with the panel restored open; the first opening of the
panel until the infoview is rendered; the bytes of the infoview's files.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
import urllib.request
from urllib.parse import urlparse

import pytest
from labextension.lab_page import (
    CONNECTED_STATUS,
    Lab,
    expect,
    notebook_json,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

HEADER = "prelude\ninductive N | z | s (n : N)"
INFOVIEW_FILES = "/@jupyter-lean/labextension/static/infoview-"
ROUNDS = 3


def _load(page, url: str, infoview: bool = False) -> tuple[float, float]:
    """Seconds from navigation until the notebook's editor shows and Lean is connected, and
    (with ``infoview``) until the infoview has rendered too."""
    start = time.perf_counter()
    page.goto(url)
    page.locator(".jp-CodeCell .cm-content").first.wait_for(timeout=60_000)
    expect(page.locator(".jp-Lean-status")).to_have_text(CONNECTED_STATUS, timeout=60_000)
    loaded = time.perf_counter() - start
    if infoview:
        _wait_rendered(page)
    rendered = time.perf_counter() - start
    return loaded, rendered


def _open_panel(page) -> float:
    """Seconds from a click on the panel's tab until the infoview has rendered."""
    start = time.perf_counter()
    page.get_by_role("tab", name="Lean Infoview").click()
    _wait_rendered(page)
    return time.perf_counter() - start


def _wait_layout_saved(lab: Lab, workspace: str, deadline_s: float = 30) -> None:
    """Return once the workspace saved on the server shows the infoview as the right sidebar's
    current panel (JupyterLab saves its layout on a debounce, not at once)."""
    url = f"{lab.url}lab/api/workspaces/{workspace}"
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        request = urllib.request.Request(url, headers={"Authorization": f"token {lab.token}"})
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(request, timeout=10) as response:
                data = json.loads(response.read()).get("data", {})
            right = data.get("layout-restorer:data", {}).get("right", {})
            if right.get("current") == "jupyter-lean-infoview":
                return
        time.sleep(0.1)  # polling the server's saved workspace; bounded by the deadline
    raise AssertionError(f"the workspace layout with the infoview open was not saved: {url}")


def _wait_rendered(page) -> None:
    expect(page.locator(".jp-Lean-infoview")).to_have_attribute("data-state", "ready")
    page.frame_locator(".jp-Lean-infoview-frame").locator("#infoview > *").first.wait_for(
        state="attached"
    )


def test_the_page_fetches_the_infoview_only_when_its_panel_opens(page, real_lab: Lab) -> None:
    (real_lab.root / "infoview-load.ipynb").write_text(
        notebook_json(HEADER, "theorem t (q : Prop) (h : q) : q := by\n  ")
    )
    fetched: list[tuple[str, int]] = []

    def on_response(response) -> None:
        if INFOVIEW_FILES in response.url:
            fetched.append((response.url, len(response.body())))

    page.on("response", on_response)
    closed_url = real_lab.page_url("infoview-load.ipynb")
    closed = [_load(page, closed_url)[0] for _ in range(ROUNDS)]
    assert fetched == [], "the infoview's files were fetched with the panel closed"

    # First opening of the panel.
    first_open = _open_panel(page)
    lab_host = urlparse(real_lab.url).netloc
    assert fetched, "opening the panel fetched no infoview file"
    assert {urlparse(url).netloc for url, _ in fetched} == {lab_host}
    names = sorted(urlparse(url).path.rsplit("/", 1)[1] for url, _ in fetched)
    assert names == sorted(set(names)), f"a file was fetched twice: {names}"
    infoview_bytes = sum(size for _, size in fetched)
    fetched_first = len(fetched)

    # The same workspace again: its layout restores the panel open, so the page loads the
    # infoview too (files in the browser's cache by now). JupyterLab saves the layout a moment
    # after it changes: reload only once the server has the layout with the panel open.
    _wait_layout_saved(real_lab, urlparse(closed_url).path.split("/")[3])
    samples = [_load(page, closed_url, infoview=True) for _ in range(ROUNDS)]
    loads = [loaded for loaded, _ in samples]
    rendered = [done for _, done in samples]

    print(
        f"\npage load, infoview closed: median {statistics.median(closed):.2f} s {closed}"
        f"\npage load, infoview open:   median {statistics.median(loads):.2f} s {loads}"
        f"\n  ... until it rendered:    median {statistics.median(rendered):.2f} s {rendered}"
        f"\nfirst opening of the panel: {first_open:.2f} s"
        f"\ninfoview files fetched: {fetched_first}, {infoview_bytes / 1024:.0f} KiB {names}"
    )
