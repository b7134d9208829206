"""Interactive goal outputs on the ``lean_server`` tier (the stand-in, or a Lean with its library):
the same bundle and comm relay as on the real tier, and the fault the stand-in scripts as Lean
does: a restarted file worker ends the RPC session, so old outputs are told they ended while new
ones work (see ``rpc_faults`` in tests/transcripts)."""

from __future__ import annotations

from typing import Any

import pytest
from test_kernel_interactive import Comm, flat, goal_bundles, hover

from lean_kernel.interactive import MIME_TYPE

pytestmark = pytest.mark.timeout(120)

CELL = "theorem {name} (a b : Nat) (h : a = b) : b = a := by\n  skip"


def goals_payload(kernel: Any, cell_id: str) -> dict[str, Any]:
    result = kernel.execute(CELL.format(name=cell_id), cell_id=cell_id)
    assert result.status == "error" and "unsolved goals" in result.error_text
    [bundle] = goal_bundles(result.outputs)
    assert "⊢ b = a" in bundle["text/plain"]
    return bundle[MIME_TYPE]


def test_hover_works_until_the_worker_restarts(kernel_factory: Any) -> None:
    kernel = kernel_factory()
    payload = goals_payload(kernel, "theorem")
    [goal] = payload["goals"]
    assert flat(goal["type"]) == "b = a"
    assert [hyp["names"] for hyp in goal["hyps"]] == [["a", "b"], ["h"]]
    comm = Comm(kernel)
    info = goal["type"]["tag"][0]["info"]
    answer = hover(comm, payload, info)
    assert flat(answer["result"]["exprExplicit"]) == "b = a"

    # A header change restarts Lean's file worker: its RPC sessions end.
    kernel.ok("import Foo", cell_id="header")
    assert hover(comm, payload, info)["error"]["ended"] is True
    fresh = goals_payload(kernel, "again")
    assert fresh["rpc"]["session"] != payload["rpc"]["session"]
    again = hover(comm, fresh, fresh["goals"][0]["type"]["tag"][0]["info"])
    assert flat(again["result"]["exprExplicit"]) == "b = a"
