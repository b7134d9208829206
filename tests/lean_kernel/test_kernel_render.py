"""Lean's messages and goals -> Jupyter outputs; hover text; kernel history; and Markdown that
Lean's text cannot turn into markup."""

from __future__ import annotations

from typing import Any

import pytest
from kernel_harness import live_markup, rendered

from lean_kernel.history import History
from lean_kernel.markdown import code_block, safe_markdown, text_span
from lean_kernel.render import (
    ERROR,
    INFORMATION,
    WARNING,
    CellMessage,
    GoalView,
    completion_matches,
    goal_output,
    goal_table_output,
    hover_bundle,
    message_from_diagnostic,
    plain_goals,
    render_messages,
)


def diagnostic(severity: int, message: str, **extra: object) -> dict[str, object]:
    return {"severity": severity, "message": message, "source": "Lean 4", **extra}


def test_information_is_stdout_warnings_stderr_errors_one_error_output() -> None:
    messages = [
        message_from_diagnostic(diagnostic(ERROR, "unknown identifier 'y'"), 3, 6),
        message_from_diagnostic(diagnostic(INFORMATION, "hi\n"), 0, 0),
        message_from_diagnostic(diagnostic(INFORMATION, "x : Nat"), 1, 0),
        message_from_diagnostic(diagnostic(WARNING, "declaration uses `sorry`"), 2, 8),
        message_from_diagnostic(diagnostic(ERROR, "type mismatch\n  1\nhas type..."), 4, 2),
    ]
    outputs, error = render_messages(messages)
    assert outputs == [
        ("stream", {"name": "stdout", "text": "hi\nx : Nat\n"}),
        ("stream", {"name": "stderr", "text": "3:8: warning: declaration uses `sorry`\n"}),
    ]
    assert error is not None
    assert error.ename == "LeanError"
    assert error.evalue == "4:6: unknown identifier 'y' (and 1 more)"
    assert len(error.traceback) == 2
    assert "4:6:" in error.traceback[0] and "unknown identifier 'y'" in error.traceback[0]
    assert "5:2:" in error.traceback[1] and "has type..." in error.traceback[1]


def test_no_error_no_error_output() -> None:
    outputs, error = render_messages([CellMessage(INFORMATION, 0, 0, "2")])
    assert error is None
    assert outputs == [("stream", {"name": "stdout", "text": "2\n"})]


def test_unsolved_goals_are_shown_as_goals() -> None:
    text = "unsolved goals\ncase left\np q : Prop\n⊢ p\n\ncase right\np q : Prop\n⊢ q"
    message = message_from_diagnostic(diagnostic(ERROR, text, leanTags=[1]), 0, 40)
    assert message.unsolved_goals
    outputs, error = render_messages([message])
    ((kind, content),) = outputs
    assert kind == "display_data"
    assert content["data"]["text/markdown"].count("```lean") == 2
    assert "case right\np q : Prop\n⊢ q" in content["data"]["text/plain"]
    assert error is not None and "unsolved goals" in error.evalue


def test_goal_views_and_plain_goal_results() -> None:
    assert plain_goals(None) is None
    assert plain_goals({"goals": [], "rendered": "no goals"}) == ()
    assert plain_goals({"goals": ["⊢ True"], "rendered": "..."}) == ("⊢ True",)
    assert plain_goals({"goal": "n : Nat\n⊢ Nat", "range": {}}) == ("n : Nat\n⊢ Nat",)
    _, content = goal_output(GoalView("Goal at sorry (2:2)", ("n : Nat\n⊢ n = n",)))
    assert content["data"]["text/plain"] == "Goal at sorry (2:2):\nn : Nat\n⊢ n = n"
    assert "```lean\nn : Nat\n⊢ n = n\n```" in content["data"]["text/markdown"]


def test_hover_bundle() -> None:
    bundle = hover_bundle(
        {"kind": "markdown", "value": "```lean\nNat.add : Nat → Nat → Nat\n```\n***\nAddition."}
    )
    assert bundle is not None
    assert bundle["text/markdown"].startswith("```lean")
    assert bundle["text/plain"] == "Nat.add : Nat → Nat → Nat\n\nAddition."
    assert hover_bundle(None) is None
    assert hover_bundle({"kind": "markdown", "value": " "}) is None


def test_history() -> None:
    history = History()
    for line, code in enumerate(["#eval 1", "#check Nat", "#eval 2", "#eval 1"], start=1):
        history.add(line, code)
    assert history.reply("tail", n=2) == [(1, 3, "#eval 2"), (1, 4, "#eval 1")]
    assert history.reply("range", session=1, start=2, stop=3) == [(1, 2, "#check Nat")]
    assert history.reply("search", pattern="#eval*", unique=True) == [
        (1, 3, "#eval 2"),
        (1, 4, "#eval 1"),
    ]
    assert history.reply("tail", n=1, output=True) == [(1, 4, ("#eval 1", None))]


def test_completion_matches_prefer_the_typed_prefix() -> None:
    items = [
        {"label": "succ_le", "kind": 3},
        {"label": "sub", "kind": 3, "sortText": "b"},
        {"label": "succ", "kind": 4, "sortText": "a"},
        {"label": "succ", "kind": 4},
        {"label": "lt_succ_self", "kind": 21},
        "not an item",
    ]
    reply = completion_matches(items, "suc", 10, 13, limit=10)
    assert reply["matches"] == ["succ", "succ_le"]
    types = reply["metadata"]["_jupyter_types_experimental"]
    assert types[0] == {
        "start": 10,
        "end": 13,
        "text": "succ",
        "type": "constructor",
        "signature": "",
    }
    # Nothing starts with the prefix: Lean's fuzzy matches are the answer.
    assert completion_matches(items, "sl", 0, 2, limit=2)["matches"] == ["succ", "sub"]


# Lean text an attacker controls: a name in guillemets may hold any of this.
HOSTILE = [
    *("`" * n + "\n<img src=x onerror=alert(1)>\n" + "`" * n for n in range(1, 12)),
    *("~" * n + "\n<img src=x onerror=alert(1)>" for n in (3, 4, 8)),
    "</pre><script>alert(1)</script><pre>",
    "```\n</code></pre><img src=x onerror=alert(1)>",
    "<!-- x --><svg onload=alert(1)>",
    "`<img src=x onerror=alert(1)>`",
    "```lean\n```\n\n<iframe src=javascript:alert(1)>\n\n```",
    "x\n    ```\n<img src=x onerror=alert(1)>",
    "$x$ <img src=x onerror=alert(1)> $$y$$",
    "<https://example.com> [a](javascript:alert(1)) &amp; <b>bold</b>",
]


def test_the_live_markup_check_sees_html() -> None:
    # The check itself: raw HTML and a closed fence followed by a tag are found.
    assert live_markup("<img src=x onerror=alert(1)>")
    assert live_markup("```lean\n```\n<img src=x onerror=alert(1)>\n```")


@pytest.mark.parametrize("text", HOSTILE)
def test_code_block_cannot_be_closed_by_its_text(text: str) -> None:
    block = code_block(text)
    assert live_markup(block) == []
    html = rendered(block)
    assert html.count("<pre>") == 1  # one block: the text did not end it
    assert "&lt;" in html or "<" not in text


@pytest.mark.parametrize("text", HOSTILE)
def test_text_span_is_literal(text: str) -> None:
    span = text_span(text)
    assert "\n" not in span
    html = rendered(f"**{span}**")
    assert live_markup(f"**{span}**") == []
    assert "<code" not in html and "<a " not in html  # no code span, no link either


@pytest.mark.parametrize("text", HOSTILE)
def test_goal_outputs_carry_no_live_markup(text: str) -> None:
    goal = f"h : «{text}»\n⊢ «{text}»"
    for _, content in (
        goal_output(GoalView("Unsolved goals at 1:0", (goal, goal))),
        goal_table_output("Goals after each line", [(f"2: {text}", (goal,))]),
    ):
        markdown = content["data"]["text/markdown"]
        assert live_markup(markdown) == [], markdown
        plain = content["data"]["text/plain"]
        assert all(line in plain for line in goal.split("\n"))  # the text stays as it was


@pytest.mark.parametrize("text", HOSTILE)
def test_hover_markdown_carries_no_live_markup(text: str) -> None:
    value = f"```lean\n«{text}» : N\n```\n***\nA docstring about «{text}»."
    bundle = hover_bundle({"kind": "markdown", "value": value})
    assert bundle is not None
    assert live_markup(bundle["text/markdown"]) == [], bundle["text/markdown"]


def test_safe_markdown_keeps_ordinary_hovers() -> None:
    value = "```lean\nN.add (a b : N) : N\n```\n***\nAdds `a < b` and *more*; see `<;>`."
    assert safe_markdown(value) == value
    html = rendered(safe_markdown(value))
    assert "<em>more</em>" in html and "<code>a &lt; b</code>" in html


@pytest.mark.parametrize(
    "text",
    [
        "unsolved goals\n<img src=x onerror=alert(1)>",  # the words alone make no goals
        "unsolved goals",
    ],
)
def test_goals_are_decided_by_lean_tags_not_by_text(text: str) -> None:
    untagged = message_from_diagnostic(diagnostic(ERROR, text), 0, 0)
    assert not untagged.unsolved_goals
    outputs, error = render_messages([untagged])
    assert outputs == [] and error is not None
    tagged = message_from_diagnostic(diagnostic(ERROR, text, leanTags=[1]), 0, 0)
    assert tagged.unsolved_goals
    other_tag = message_from_diagnostic(diagnostic(ERROR, text, leanTags=[2]), 0, 0)
    assert not other_tag.unsolved_goals


def test_unsolved_goals_of_a_hostile_name_render_as_text() -> None:
    name = "«x\n```\n<img src=x onerror=alert(1)>\n```»"
    text = f"unsolved goals\n{name} : N\n⊢ N"
    message = message_from_diagnostic(diagnostic(ERROR, text, leanTags=[1]), 0, 0)
    outputs, _ = render_messages([message])
    content: dict[str, Any] = outputs[0][1]
    assert live_markup(content["data"]["text/markdown"]) == []
    assert "<img src=x onerror=alert(1)>" in content["data"]["text/plain"]
