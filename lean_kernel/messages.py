"""A cell's messages in Lean's interactive form (``Lean.Widget.getInteractiveDiagnostics``).

The kernel tells Lean ``hasWidgets`` so that its messages carry their expressions' information
(without it Lean strips every tag, and nothing in a message could show its type on hover). Lean
then writes each trace in its plain diagnostics as ``(trace)``, so the kernel rebuilds the text of
a message that holds traces from its interactive form, as Lean prints traces: ``[cls] header``,
each child below it two spaces in; collapsed children are fetched through RPC.

The errors whose text holds expressions become the interactive messages output (next to the
error output, as unsolved goals have their goals output).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .document import NotebookDocument
from .interactive import RPC_FAILURES, RpcRelay
from .render import ERROR, CellMessage, diagnostic_start

LAZY_CHILDREN = "Lean.Widget.lazyTraceChildrenToInteractive"
MAX_LAZY_EXPANSIONS = 200  # per cell: a trace of thousands of collapsed nodes stays bounded
MAX_DEPTH = 200  # Lean's messages nest far less; a deeper one is cut, never a recursion error
UNEXPANDED = "(trace)"  # what Lean itself prints for a trace it does not write out

Expand = Callable[[Any], Awaitable[Any]]


def has_expression(message: Any, depth: int = 0) -> bool:
    """Whether an InteractiveMessage holds a subterm with information (something to hover)."""
    if not isinstance(message, dict) or depth > MAX_DEPTH:
        return False
    if isinstance(message.get("info"), dict):
        return True
    return any(
        has_expression(part, depth + 1)
        for value in message.values()
        for part in (value if isinstance(value, list) else [value])
    )


def has_trace(message: Any, depth: int = 0) -> bool:
    if not isinstance(message, dict) or depth > MAX_DEPTH:
        return False
    if "append" in message and isinstance(message["append"], list):
        return any(has_trace(part, depth + 1) for part in message["append"])
    tag = message.get("tag")
    if isinstance(tag, list) and len(tag) == 2 and isinstance(tag[0], dict):
        embed = tag[0]
        if "trace" in embed:
            return True
        widget = embed.get("widget")
        return isinstance(widget, dict) and has_trace(widget.get("alt"), depth + 1)
    return False


def strip_tags(text: Any, depth: int = 0) -> str:
    """The text of a TaggedText whose tags are subterm information (CodeWithInfos)."""
    if not isinstance(text, dict) or depth > MAX_DEPTH:
        return ""
    if isinstance(text.get("text"), str):
        return str(text["text"])
    if isinstance(text.get("append"), list):
        return "".join(strip_tags(part, depth + 1) for part in text["append"])
    tag = text.get("tag")
    if isinstance(tag, list) and len(tag) == 2:
        return strip_tags(tag[1], depth + 1)
    return ""


def goal_text(goal: Any) -> str:
    """An InteractiveGoal as Lean prints a goal: ``case``, hypotheses, then the target."""
    if not isinstance(goal, dict):
        return ""
    lines = [f"case {goal['userName']}"] if isinstance(goal.get("userName"), str) else []
    for hyp in goal.get("hyps") or []:
        if isinstance(hyp, dict):
            names = " ".join(str(name) for name in hyp.get("names") or [])
            value = f" := {strip_tags(hyp['val'])}" if hyp.get("val") else ""
            lines.append(f"{names} : {strip_tags(hyp.get('type'))}{value}")
    prefix = goal.get("goalPrefix") if isinstance(goal.get("goalPrefix"), str) else "⊢ "
    lines.append(f"{prefix}{strip_tags(goal.get('type'))}")
    return "\n".join(lines)


def _indented(text: str) -> str:
    return "  " + text.replace("\n", "\n  ")


class MessageText:
    """The plain text of InteractiveMessages, traces written out as Lean writes them."""

    def __init__(self, expand: Expand | None) -> None:
        self._expand = expand  # collapsed children by their reference; None: not fetched
        self.expansions = 0

    async def text(self, message: Any, depth: int = 0) -> str:
        if not isinstance(message, dict) or depth > MAX_DEPTH:
            return ""
        if isinstance(message.get("text"), str):
            return str(message["text"])
        if isinstance(message.get("append"), list):
            out = ""
            for part in message["append"]:
                piece = await self.text(part, depth + 1)
                # Lean puts no newline between sibling traces: its printer starts each on a line.
                if out and not out.endswith("\n") and piece and _starts_trace(part):
                    out += "\n"
                out += piece
            return out
        tag = message.get("tag")
        if not (isinstance(tag, list) and len(tag) == 2 and isinstance(tag[0], dict)):
            return ""
        embed = tag[0]
        if "expr" in embed:
            return strip_tags(embed["expr"])
        if "goal" in embed:
            return goal_text(embed["goal"])
        if isinstance(embed.get("widget"), dict):
            return await self.text(embed["widget"].get("alt"), depth + 1)
        if isinstance(embed.get("trace"), dict):
            return await self._trace(embed["trace"], depth + 1)
        return await self.text(tag[1], depth + 1)

    async def _trace(self, trace: dict[str, Any], depth: int) -> str:
        head = f"[{trace.get('cls', '')}] {await self.text(trace.get('msg'), depth + 1)}"
        children = await self._children(trace.get("children"))
        if children is None:
            return f"{head}\n{_indented(UNEXPANDED)}"
        texts = [await self.text(child, depth + 1) for child in children]
        return head + "".join("\n" + _indented(text) for text in texts if text)

    async def _children(self, children: Any) -> list[Any] | None:
        if not isinstance(children, dict):
            return []
        if isinstance(children.get("strict"), list):
            return list(children["strict"])
        if "lazy" not in children:
            return []
        if self._expand is None or self.expansions >= MAX_LAZY_EXPANSIONS:
            return None
        self.expansions += 1
        try:
            answer = await self._expand(children["lazy"])
        except RPC_FAILURES:
            return None  # Lean's own placeholder, as when the kernel cannot ask
        return list(answer) if isinstance(answer, list) else None


def _starts_trace(part: Any) -> bool:
    tag = part.get("tag") if isinstance(part, dict) else None
    return isinstance(tag, list) and bool(tag) and isinstance(tag[0], dict) and "trace" in tag[0]


async def with_interactive_messages(
    relay: RpcRelay, document: NotebookDocument, key: str, messages: Sequence[CellMessage]
) -> list[CellMessage]:
    """``messages`` with their interactive form, and their own text where it holds traces."""
    chosen = list(messages)
    cell = document.cell(key)
    if cell is None or not any(_needs_interactive_form(m) for m in chosen):
        return chosen  # most cells: Lean is not asked again
    first = document.start_line(key)
    answer = await relay.interactive_diagnostics(first, first + cell.line_count + 1)
    if not answer:
        return chosen
    # Lean's diagnostics by where they start in the cell; a message takes the first of its place.
    found: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    for diagnostic in answer:
        start = diagnostic_start(diagnostic)
        located = document.locate(*start) if start is not None else None
        if located is not None and located.key == key:
            place = (located.line, located.column, diagnostic.get("severity"))
            found.setdefault(place, []).append({**diagnostic, "documentStart": start})
    texts = MessageText(lambda ref: relay.call(LAZY_CHILDREN, ref, _position(first)))
    for index, message in enumerate(chosen):
        matches = found.get((message.line, message.column, message.severity))
        if not matches:
            continue
        diagnostic = matches.pop(0)
        rich = diagnostic.get("message")
        line, character = diagnostic["documentStart"]
        changes: dict[str, Any] = {
            "rich": rich,
            "document_position": {"line": line, "character": character},
        }
        if has_trace(rich):
            changes["text"] = await texts.text(rich)
        chosen[index] = dataclasses.replace(message, **changes)
    return chosen


def _needs_interactive_form(message: CellMessage) -> bool:
    """An error may go to the messages output; a text with Lean's placeholder needs its traces
    written out. Anything else reads the same in both forms."""
    return (message.severity == ERROR and not message.unsolved_goals) or UNEXPANDED in message.text


def shown_interactively(message: CellMessage) -> bool:
    """The errors the interactive messages output shows: those with something to hover (an
    unsolved goals error has its goals output instead)."""
    return message.severity == ERROR and not message.unsolved_goals and has_expression(message.rich)


def _position(line: int) -> dict[str, int]:
    return {"line": line, "character": 0}


def interactive_errors(
    relay: RpcRelay, messages: Sequence[CellMessage]
) -> tuple[list[CellMessage], dict[str, Any]] | None:
    """The errors to show interactively and their payload; None when there are none."""
    shown = sorted(
        (m for m in messages if shown_interactively(m) and m.document_position is not None),
        key=lambda m: (m.line, m.column),
    )
    if not shown:
        return None
    entries = [{"severity": m.severity, "where": m.where, "message": m.rich} for m in shown]
    payload = relay.messages_payload("", shown[0].document_position or {}, entries)
    return (shown, payload) if payload is not None else None
