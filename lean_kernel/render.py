"""Lean's messages and goals -> Jupyter outputs.

Information (`#eval`, `#check`, `#print`) is stdout text exactly as Lean prints it, so
`#eval IO.println "hi"` shows `hi` as `print` would in Python. Warnings are stderr text with a
`line:col:` prefix. Every error of the cell becomes one `error` output (and a failed reply), so
"Run All", nbclient and papermill stop there. Goals get a Markdown rendering with a plain-text
fallback. Positions are cell-relative: line from 1, column from 0, as Lean's command line prints.

Lean's text is not trusted markup: names written with guillemets (``«```<img ...>»``) may hold
backticks, newlines and HTML, and JupyterLab renders a freshly produced output's Markdown without
sanitizing it. So every Markdown this module builds puts Lean's text in a code fence longer than
any backtick run in it, or escapes it (``markdown.py``), and whether a message holds goals is
decided by Lean's ``leanTags``, never by its text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .interactive import MIME_TYPE
from .markdown import code_block, safe_markdown, text_span

ERROR, WARNING, INFORMATION, HINT = 1, 2, 3, 4
UNSOLVED_GOALS_TAG = 1  # Lean's leanTags value for "unsolved goals" errors

RED, BOLD, RESET = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"

Output = tuple[str, dict[str, Any]]  # (IOPub msg_type, content)


@dataclass(frozen=True)
class CellMessage:
    """One Lean diagnostic, positioned in the cell it belongs to."""

    severity: int
    line: int  # 0-based line of the cell
    column: int  # 0-based, in code points
    text: str
    unsolved_goals: bool = False
    place: str | None = None  # shown instead of line:col for messages from outside the cell
    # Where Lean answers with the goals an "unsolved goals" message lists (document positions:
    # the end of the tactic block, then its `by`), and those goals for the interactive output.
    goal_positions: tuple[dict[str, int], ...] = ()
    interactive: dict[str, Any] | None = field(default=None, compare=False)
    # Lean's interactive form of the message (TaggedText MsgEmbed) and where it starts in the
    # document, when Lean gave them (``messages.py``).
    rich: Any = field(default=None, compare=False)
    document_position: dict[str, int] | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        return self.place or f"{self.line + 1}:{self.column}"


@dataclass(frozen=True)
class GoalView:
    """Goals to show: the state at a `sorry`, after a tactic line, or left unsolved."""

    title: str
    goals: tuple[str, ...]
    interactive: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ErrorContent:
    ename: str
    evalue: str
    traceback: tuple[str, ...]

    def to_content(self) -> dict[str, Any]:
        return {"ename": self.ename, "evalue": self.evalue, "traceback": list(self.traceback)}


def diagnostic_start(diagnostic: dict[str, Any]) -> tuple[int, int] | None:
    """Where a diagnostic starts in the document (line, character of its full range); None
    when it does not say."""
    where = (diagnostic.get("fullRange") or diagnostic.get("range") or {}).get("start")
    if not isinstance(where, dict):
        return None
    return int(where.get("line", 0)), int(where.get("character", 0))


def message_from_diagnostic(
    diagnostic: dict[str, Any], line: int, column: int, place: str | None = None
) -> CellMessage:
    severity = diagnostic.get("severity")
    text = diagnostic.get("message")
    tags = diagnostic.get("leanTags") or []
    text = text if isinstance(text, str) else str(text)
    unsolved = isinstance(tags, list) and UNSOLVED_GOALS_TAG in tags
    span = diagnostic.get("fullRange") or diagnostic.get("range") or {}
    positions = (
        tuple(
            {"line": point["line"], "character": point["character"]}
            for point in (span.get("end"), span.get("start"))
            if isinstance(point, dict)
            and isinstance(point.get("line"), int)
            and isinstance(point.get("character"), int)
        )
        if unsolved and isinstance(span, dict)
        else ()
    )
    return CellMessage(
        severity=severity if isinstance(severity, int) else ERROR,
        line=line,
        column=column,
        text=text,
        unsolved_goals=unsolved,
        place=place,
        goal_positions=positions,
    )


def unsolved_goals(message: CellMessage) -> GoalView:
    """A message tagged "unsolved goals": a heading line, then the goals separated by blank lines
    (Lean's format) as a GoalView."""
    body = message.text.split("\n", 1)[1] if "\n" in message.text else ""
    goals = tuple(goal for goal in body.split("\n\n") if goal.strip())
    title = f"Unsolved goals at {message.where}"
    interactive = {**message.interactive, "title": title} if message.interactive else None
    return GoalView(title, goals, interactive)


def goal_output(view: GoalView) -> Output:
    if view.goals:
        plain = "\n\n".join(view.goals)
        fenced = "\n\n".join(code_block(goal) for goal in view.goals)
    else:
        plain, fenced = "no goals", "*no goals*"
    data: dict[str, Any] = {
        "text/plain": f"{view.title}:\n{plain}",
        "text/markdown": f"**{text_span(view.title)}**\n\n{fenced}",
    }
    if view.interactive is not None:
        data[MIME_TYPE] = view.interactive
    return "display_data", {"data": data, "metadata": {}}


def goal_table_output(title: str, rows: Sequence[tuple[str, tuple[str, ...]]]) -> Output:
    """Goals after each tactic line (%goals): one row per line, as text and Markdown."""
    plain_parts = [title]
    markdown_parts = [f"**{text_span(title)}**"]
    for label, goals in rows:
        state = "\n\n".join(goals) if goals else "no goals"
        plain_parts.append(f"{label}\n{_indent(state)}")
        fenced = "\n".join(code_block(goal) for goal in goals) if goals else "*no goals*"
        # The label is a line of the cell: text as well, not markup.
        markdown_parts.append(f"{text_span(label)}\n\n{fenced}")
    return "display_data", {
        "data": {
            "text/plain": "\n".join(plain_parts),
            "text/markdown": "\n\n".join(markdown_parts),
        },
        "metadata": {},
    }


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def _terminated(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def stream_outputs(messages: Iterable[CellMessage]) -> list[Output]:
    """Information and warnings, in position order, consecutive texts of a stream merged."""
    outputs: list[Output] = []
    for message in messages:
        if message.severity == ERROR:
            continue
        if message.severity == WARNING:
            name, text = "stderr", f"{message.where}: warning: {_terminated(message.text)}"
        else:
            name, text = "stdout", _terminated(message.text)
        if outputs and outputs[-1][1]["name"] == name:
            outputs[-1][1]["text"] += text
        else:
            outputs.append(("stream", {"name": name, "text": text}))
    return outputs


def lean_error(messages: Iterable[CellMessage]) -> ErrorContent | None:
    """Every error of the cell as one error output, or None when there is none."""
    errors = [m for m in messages if m.severity == ERROR]
    if not errors:
        return None
    first = errors[0]
    summary = first.text.split("\n", 1)[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    traceback = tuple(
        f"{BOLD}{m.where}:{RESET} {RED}error:{RESET} {m.text.rstrip()}" for m in errors
    )
    return ErrorContent("LeanError", f"{first.where}: {summary}{more}", traceback)


def plain_error(ename: str, text: str, summary: str | None = None) -> ErrorContent:
    """An error that is not Lean's own (Lean missing, interrupted, timed out, bad magic)."""
    summary = summary or text.split("\n", 1)[0]
    return ErrorContent(ename, summary, (f"{RED}{ename}:{RESET} {text}",))


def severity_word(severity: int) -> str:
    return {ERROR: "error", WARNING: "warning", INFORMATION: "info"}.get(severity, "hint")


def messages_output(messages: Sequence[CellMessage], interactive: dict[str, Any]) -> Output:
    """Messages with Lean's interactive form (``interactive``), as text and Markdown too."""
    heads = [f"{m.where}: {severity_word(m.severity)}:" for m in messages]
    plain = "\n".join(f"{head} {m.text.rstrip()}" for head, m in zip(heads, messages, strict=True))
    markdown = "\n\n".join(
        f"**{text_span(head)}**\n\n{code_block(m.text.rstrip())}"
        for head, m in zip(heads, messages, strict=True)
    )
    data = {"text/plain": plain, "text/markdown": markdown, MIME_TYPE: interactive}
    return "display_data", {"data": data, "metadata": {}}


def render_messages(
    messages: Sequence[CellMessage],
    goal_views: Sequence[GoalView] = (),
    interactive_messages: tuple[Sequence[CellMessage], dict[str, Any]] | None = None,
) -> tuple[list[Output], ErrorContent | None]:
    """The outputs of a checked cell: streams, then goals, the interactive messages, and the
    error (sent last)."""
    ordered = sorted(messages, key=lambda m: (m.line, m.column))
    outputs = stream_outputs(ordered)
    outputs += [goal_output(unsolved_goals(m)) for m in ordered if m.unsolved_goals]
    outputs += [goal_output(view) for view in goal_views]
    if interactive_messages is not None:
        outputs.append(messages_output(*interactive_messages))
    return outputs, lean_error(ordered)


def plain_goals(result: Any) -> tuple[str, ...] | None:
    """Goals from a `$/lean/plainGoal` ({goals}) or `$/lean/plainTermGoal` ({goal}) result."""
    if not isinstance(result, dict):
        return None
    if isinstance(result.get("goals"), list):
        return tuple(str(goal) for goal in result["goals"])
    if isinstance(result.get("goal"), str):
        return (result["goal"],)
    return None


def hover_bundle(contents: Any) -> dict[str, str] | None:
    """A hover result's contents as a mimebundle (Markdown plus a plain-text version)."""
    if isinstance(contents, dict) and "value" in contents:
        value = str(contents["value"])
        markdown = value if contents.get("kind", "markdown") == "markdown" else None
    elif isinstance(contents, str):
        value, markdown = contents, contents
    elif isinstance(contents, list):  # MarkedString[] of older servers
        texts = [bundle["text/plain"] for part in contents if (bundle := hover_bundle(part))]
        if not texts:
            return None
        return {
            "text/plain": "\n\n".join(texts),
            "text/markdown": "\n\n".join(code_block(text) for text in texts),
        }
    else:
        return None
    if not value.strip():
        return None
    bundle = {"text/plain": markdown_to_plain(value)}
    if markdown is not None:
        # Lean's hover is Markdown (a signature in a fence, a docstring) holding Lean's text.
        bundle["text/markdown"] = safe_markdown(markdown)
    return bundle


def markdown_to_plain(markdown: str) -> str:
    """Hover Markdown as plain text: code fences and rules removed, the text kept."""
    lines: list[str] = []
    for line in markdown.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```") or stripped in ("***", "---"):
            if stripped in ("***", "---") and lines and lines[-1] != "":
                lines.append("")
            continue
        lines.append(line)
    return "\n".join(lines).strip()


COMPLETION_KINDS = {
    1: "text",
    2: "method",
    3: "function",
    4: "constructor",
    5: "field",
    6: "variable",
    7: "class",
    8: "interface",
    9: "module",
    10: "property",
    12: "value",
    13: "enum",
    14: "keyword",
    15: "snippet",
    20: "enum member",
    21: "constant",
    22: "structure",
    23: "event",
    24: "operator",
    25: "type parameter",
}


def choose_completions(items: list[Any], prefix: str, limit: int) -> list[dict[str, Any]]:
    """The completion items to offer, best first, one per inserted text."""
    usable = sorted(
        (item for item in items if isinstance(item, dict) and "label" in item),
        key=lambda item: str(item.get("sortText") or item["label"]),
    )
    # Lean matches fuzzily; when some names start with what was typed, those are the answer.
    exact = [item for item in usable if str(item["label"]).startswith(prefix)]
    chosen: dict[str, dict[str, Any]] = {}
    for item in exact or usable:
        if len(chosen) >= limit:
            break
        chosen.setdefault(completion_text(item), item)
    return list(chosen.values())


def completion_text(item: dict[str, Any]) -> str:
    return str(item.get("insertText") or item["label"])


def completion_reply(chosen: Sequence[dict[str, Any]], start: int, end: int) -> dict[str, Any]:
    """complete_reply's ``matches`` and JupyterLab's types (kind and signature) for the items."""
    types = [
        {
            "start": start,
            "end": end,
            "text": completion_text(item),
            "type": COMPLETION_KINDS.get(int(item.get("kind") or 0), ""),
            "signature": str(item.get("detail") or ""),
        }
        for item in chosen
    ]
    return {
        "matches": [completion_text(item) for item in chosen],
        "metadata": {"_jupyter_types_experimental": types},
    }


def completion_matches(
    items: list[Any], prefix: str, start: int, end: int, limit: int
) -> dict[str, Any]:
    """complete_reply's ``matches`` (and JupyterLab's types) from Lean's completion items."""
    return completion_reply(choose_completions(items, prefix, limit), start, end)
