"""The text of Lean's interactive messages (``lean_kernel/messages.py``), without a Lean: shapes
as Lean 4.35 sends them to a client with ``hasWidgets`` (``tests/transcripts/rpc_messages.json``
holds a recorded one; the traces are Lean's ``MsgEmbed.trace`` as recorded for
``set_option trace.Meta.isDefEq true``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from lean_kernel.messages import (
    MAX_LAZY_EXPANSIONS,
    MessageText,
    goal_text,
    has_expression,
    has_trace,
    strip_tags,
)

pytestmark = pytest.mark.timeout(30)

TRANSCRIPT = Path(__file__).parents[1] / "transcripts" / "rpc_messages.json"


def expr(text: Any) -> dict[str, Any]:
    return {"tag": [{"expr": text}, {"text": ""}]}


def term(ref: str, text: str) -> dict[str, Any]:
    return {"tag": [{"info": {"p": ref}, "subexprPos": "/"}, {"text": text}]}


def trace(msg: Any, children: dict[str, Any]) -> dict[str, Any]:
    node = {"cls": "Meta.isDefEq", "collapsed": True, "indent": 0, "msg": msg}
    return {"tag": [{"trace": {**node, "children": children}}, {"text": ""}]}


def is_def_eq(left: str, right: str, mark: str = "✅️ ") -> dict[str, Any]:
    return {
        "append": [
            {"text": mark},
            expr(term("1", left)),
            expr({"text": " =?= "}),
            expr(term("2", right)),
        ]
    }


def text_of(message: Any, expand: Any = None) -> str:
    return asyncio.run(MessageText(expand).text(message))


def test_recorded_type_mismatch_reads_as_leans_plain_message() -> None:
    recorded = json.loads(TRANSCRIPT.read_text())["observations"]
    [diagnostic] = recorded["diagnostics"]["result"]
    published = next(
        d["message"]
        for d in recorded["published"]["diagnostics"]
        if d["range"] == diagnostic["range"]
    )
    assert text_of(diagnostic["message"]) == published
    assert has_expression(diagnostic["message"]) and not has_trace(diagnostic["message"])


def test_sibling_traces_each_start_a_line() -> None:
    message = {"append": [trace(is_def_eq("N", "N"), {"strict": []})] * 2}
    assert text_of(message) == "[Meta.isDefEq] ✅️ N =?= N\n[Meta.isDefEq] ✅️ N =?= N"
    assert has_trace(message)


def test_collapsed_children_are_fetched_and_indented() -> None:
    asked: list[Any] = []

    async def expand(ref: Any) -> Any:
        asked.append(ref)
        inner = trace(is_def_eq("Sort ?u.4", "Type"), {"strict": []})
        return [
            trace(is_def_eq("?m.1 [assignable]", "N [nonassignable]", ""), {"strict": []}),
            inner,
        ]

    message = trace(is_def_eq("?m.1", "N"), {"lazy": {"p": "18"}})
    assert text_of(message, expand) == (
        "[Meta.isDefEq] ✅️ ?m.1 =?= N\n"
        "  [Meta.isDefEq] ?m.1 [assignable] =?= N [nonassignable]\n"
        "  [Meta.isDefEq] ✅️ Sort ?u.4 =?= Type"
    )
    assert asked == [{"p": "18"}]


def test_children_that_cannot_be_fetched_keep_leans_placeholder() -> None:
    message = trace(is_def_eq("?m.1", "N"), {"lazy": {"p": "18"}})
    assert text_of(message) == "[Meta.isDefEq] ✅️ ?m.1 =?= N\n  (trace)"

    async def fails(ref: Any) -> Any:
        raise asyncio.TimeoutError

    assert text_of(message, fails).endswith("\n  (trace)")


def test_expansions_are_bounded_per_cell() -> None:
    calls = 0

    async def expand(ref: Any) -> Any:
        nonlocal calls
        calls += 1
        return [trace(is_def_eq("N", "N"), {"lazy": {"p": str(n)}}) for n in range(300)]

    text = text_of(trace(is_def_eq("N", "N"), {"lazy": {"p": "0"}}), expand)
    assert calls == MAX_LAZY_EXPANSIONS
    assert text.count("(trace)") > 0  # the rest keep Lean's placeholder


def test_goal_and_widget_embeds_read_as_lean_prints_them() -> None:
    goal = {
        "userName": "succ",
        "hyps": [{"names": ["a", "b"], "type": term("1", "N")}],
        "type": term("2", "N"),
        "goalPrefix": "⊢ ",
    }
    assert goal_text(goal) == "case succ\na b : N\n⊢ N"
    widget = {"tag": [{"widget": {"wi": {}, "alt": {"text": "alt text"}}}, {"text": ""}]}
    message = {
        "append": [expr({"text": "unsolved goals\n"}), {"tag": [{"goal": goal}, {"text": ""}]}]
    }
    assert text_of(message) == "unsolved goals\ncase succ\na b : N\n⊢ N"
    assert text_of(widget) == "alt text"


def test_hostile_shapes_give_text_never_an_exception() -> None:
    deep: Any = {"text": "x"}
    for _ in range(5000):
        deep = {"append": [deep]}
    assert text_of(deep) == "" and not has_expression(deep) and not has_trace(deep)
    for odd in (None, 3, [], {"tag": "x"}, {"tag": [1, 2]}, {"append": "no"}, {"unknown": {}}):
        assert text_of(odd) == ""
        assert strip_tags(odd) == ""
    assert goal_text("not a goal") == ""
