"""Rate limits through the server, on the real Lean with the default settings (200 requests/s,
bursts of 1,000): a client flooding hovers is refused with -32003 past its burst, its edits
still all reach Lean, and another session is answered as usual meanwhile."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from support import LspSocket

Fetch = Any
pytestmark = pytest.mark.timeout(180)

FLOOD = 3000  # pipelined at once: far more than the burst, in far less than 10 s
DOCUMENT = """prelude
inductive N where
  | z : N
  | s : N → N
#check N.s
"""


async def _initialized(open_socket: Any, jp_root_dir: Path, name: str) -> tuple[LspSocket, str]:
    socket = await open_socket()
    assert (await socket.recv())["method"] == "$/jupyterLean/session"  # type: ignore[index]
    await socket.initialize()
    uri = (jp_root_dir / f"{name}.lean").as_uri()
    await socket.open_document(uri, DOCUMENT)
    return socket, uri


def _hover(request_id: int, uri: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "textDocument/hover",
        "params": {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 8}},
    }


async def _refused_count(jp_fetch: Fetch) -> float:
    text = (await jp_fetch("metrics")).body.decode()
    found = re.search(r"^jupyter_lean_requests_rate_limited_total (\S+)$", text, re.M)
    assert found is not None, "the metric is exported"
    return float(found[1])


async def _request_when_allowed(socket: LspSocket, method: str, params: Any) -> dict[str, Any]:
    """What a well-behaved client does with -32003: ask again a little later."""
    while True:
        response = await socket.request(method, params, timeout=60)
        if response.get("error", {}).get("code") != -32003:
            return response
        await asyncio.sleep(0.05)


async def test_a_hover_flood_is_limited_and_another_session_is_not(
    real_lean: Any, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    flooder, uri = await _initialized(open_socket, jp_root_dir, "Flood")
    bystander, other_uri = await _initialized(open_socket, jp_root_dir, "Calm")
    refused_before = await _refused_count(jp_fetch)

    for request_id in range(1000, 1000 + FLOOD):
        await flooder.send(_hover(request_id, uri))
        if request_id % 500 == 0:  # edits in the middle of the flood: never dropped
            await flooder.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": request_id},
                    "contentChanges": [{"text": DOCUMENT + f"#check N.z -- {request_id}\n"}],
                },
            )
    # The other session, meanwhile: every one of its requests answered by Lean.
    calm = [
        await bystander.request("textDocument/hover", _hover(0, other_uri)["params"], timeout=60)
        for _ in range(20)
    ]
    assert all("N.s : N → N" in r["result"]["contents"]["value"] for r in calm)

    answers = {}
    while len(answers) < FLOOD:
        message = await flooder.recv(timeout=60)
        assert message is not None
        if "method" not in message:
            answers[message["id"]] = message
    refused = [a for a in answers.values() if "error" in a]
    hovered = [a for a in answers.values() if "result" in a]
    assert {(a["error"]["code"], a["error"]["message"]) for a in refused} == {
        (-32003, "rate limit exceeded")
    }
    assert len(hovered) >= 1000, "the whole burst gets through"
    assert len(refused) >= FLOOD // 2
    assert all("N.s : N → N" in a["result"]["contents"]["value"] for a in hovered)
    assert await _refused_count(jp_fetch) - refused_before == len(refused)

    # The last edit reached Lean: its #check is elaborated.
    last_version = max(v for v in range(1000, 1000 + FLOOD) if v % 500 == 0)
    response = await _request_when_allowed(
        flooder, "textDocument/waitForDiagnostics", {"uri": uri, "version": last_version}
    )
    assert "result" in response
    checked = [
        m
        for m in flooder.notifications
        if m.get("method") == "textDocument/publishDiagnostics"
        and m["params"].get("version") == last_version
    ]
    assert any(d["message"].startswith("N.z : N") for d in checked[-1]["params"]["diagnostics"])
