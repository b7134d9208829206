"""Asking Lean for goals: the goal each `sorry` stands for, and the goals after each line (%goals).

Asked after the cell's waitForDiagnostics barrier, so Lean answers from the checked document.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from jupyter_server_ext.session import LeanRequestError

from .connection import LeanConnection, lsp_position
from .document import NotebookDocument
from .interactive import RpcRelay
from .render import CellMessage, GoalView, Output, goal_table_output, plain_goals
from .syntax import scan, sorry_offsets

MAX_GOAL_REQUESTS = 100  # per cell: a pasted file with thousands of lines must not flood Lean


def position_params(
    lean: LeanConnection, document: NotebookDocument, key: str, code: str, index: int
) -> dict[str, Any]:
    """`{textDocument, position}` of character ``index`` of cell ``key`` (code ``code``)."""
    return {
        "textDocument": {"uri": lean.uri},
        "position": lsp_position(document.to_document(key, code, index)),
    }


class GoalAsker:
    def __init__(
        self,
        lean: LeanConnection,
        document: NotebookDocument,
        timeout: float,
        relay: RpcRelay | None = None,
    ) -> None:
        self.lean = lean
        self.document = document
        self.timeout = timeout
        self.relay = relay  # None: text renderings only

    async def _ask(self, method: str, key: str, code: str, index: int) -> Any:
        """A goal request whose failure just means "nothing to show"."""
        params = position_params(self.lean, self.document, key, code, index)
        try:
            return await self.lean.request(method, params, self.timeout)
        except (LeanRequestError, asyncio.TimeoutError):
            return None

    async def at_sorries(self, key: str, code: str) -> list[GoalView]:
        """The goal each `sorry` of the cell stands for: the tactic goal there, else the
        expected type of the term."""

        async def goal_at(offset: int) -> GoalView | None:
            for method in ("$/lean/plainGoal", "$/lean/plainTermGoal"):
                goals = plain_goals(await self._ask(method, key, code, offset))
                if goals:
                    line = code.count("\n", 0, offset)
                    column = offset - (code.rfind("\n", 0, offset) + 1)
                    title = f"Goal at sorry ({line + 1}:{column})"
                    params = position_params(self.lean, self.document, key, code, offset)
                    interactive = (
                        None
                        if self.relay is None
                        else (await self.relay.goals_payload(title, params["position"]))
                    )
                    return GoalView(title, goals, interactive)
            return None

        offsets = sorry_offsets(code)[:MAX_GOAL_REQUESTS]
        views = await asyncio.gather(*(goal_at(offset) for offset in offsets))
        return [view for view in views if view is not None]

    async def with_interactive(self, messages: Sequence[CellMessage]) -> list[CellMessage]:
        """``messages`` with the interactive goals of each "unsolved goals" message: Lean's
        goals after the block's last tactic (the end of the message's range), else at its `by`.
        The message's own text says the same without the subterms' information."""

        async def interactive(message: CellMessage) -> CellMessage:
            if self.relay is None or not message.unsolved_goals:
                return message
            for position in message.goal_positions:
                payload = await self.relay.goals_payload("", position, term_goal=False)
                if payload is not None:
                    return dataclasses.replace(message, interactive=payload)
            return message

        chosen = list(messages)
        wanted = [i for i, m in enumerate(chosen) if m.unsolved_goals][:MAX_GOAL_REQUESTS]
        answers = await asyncio.gather(*(interactive(chosen[i]) for i in wanted))
        for index, answer in zip(wanted, answers, strict=True):
            chosen[index] = answer
        return chosen

    async def after_each_line(self, key: str, code: str) -> Output | None:
        """The goals after each line of the cell's tactic blocks, as one table output. Lean
        answers at the end of a tactic with the goals after it; other lines answer null."""
        scanned = scan(code)
        lines = code.split("\n")
        ends: list[tuple[int, int]] = []  # (line number, index just after its last code char)
        offset = 0
        for number, line in enumerate(lines):
            last = max(
                (
                    i
                    for i in range(offset, offset + len(line))
                    if scanned.is_code(i) and not code[i].isspace()
                ),
                default=None,
            )
            if last is not None:
                ends.append((number, last + 1))
            offset += len(line) + 1
        ends = ends[:MAX_GOAL_REQUESTS]
        results = await asyncio.gather(
            *(self._ask("$/lean/plainGoal", key, code, end) for _, end in ends)
        )
        rows = [
            (f"{number + 1}: {lines[number].strip()}", goals)
            for (number, _), result in zip(ends, results, strict=True)
            if (goals := plain_goals(result)) is not None
        ]
        return goal_table_output("Goals after each line", rows) if rows else None
