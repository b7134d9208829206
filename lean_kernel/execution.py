"""Running one cell: magics, then the cell's text into the document, Lean's barrier, and the
cell's messages and goals as outputs, under the time limit and interrupts. A cell that is
abandoned (interrupt, time limit, crash) is taken back out of the document and Lean is brought
back (``LeanConnection.recover``)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jupyter_server_ext.session import LeanRequestError, LeanUnavailable

from .connection import ServerExited, WorkerCrashed
from .goals import GoalAsker
from .interactive import RpcRelay
from .magics import MagicHost, UsageError, run_magic, split_magics
from .messages import interactive_errors, with_interactive_messages
from .progress import ProgressDisplay
from .render import ErrorContent, Output, plain_error, render_messages

Publish = Callable[[str, dict[str, Any], dict[str, Any]], None]


@dataclass
class Attempt:
    """One execution of a cell, enough to undo it."""

    key: str
    previous: str | None  # the cell's source before, None if the cell is new
    applied: bool = False


class CellRun:
    """Publishes one cell's outputs (nothing when the request is silent)."""

    def __init__(self, publish: Publish, parent: dict[str, Any], silent: bool) -> None:
        self._publish = publish
        self.silent = silent
        self.published = 0
        # Captured when the request comes: progress updates are sent from Lean's reader task,
        # whose context does not carry ipykernel's current parent header.
        self.parent = parent

    def send(self, msg_type: str, content: dict[str, Any]) -> None:
        if self.silent:
            return
        self.published += msg_type in ("stream", "display_data", "error")
        self._publish(msg_type, content, self.parent)

    def send_all(self, outputs: list[Output]) -> None:
        for msg_type, content in outputs:
            self.send(msg_type, content)

    def text(self, name: str, text: str) -> None:
        self.send("stream", {"name": name, "text": text if text.endswith("\n") else text + "\n"})


class ExecutionHost(MagicHost, Protocol):
    """What running a cell reads of the kernel (its settings) besides what magics act on."""

    progress_delay: float
    request_timeout: float
    recover_timeout: float
    interactive_goals: bool
    rpc: RpcRelay


class CellExecutor:
    """Runs the kernel's cells, one at a time; ``current`` is what an interrupt cancels."""

    def __init__(self, host: ExecutionHost) -> None:
        self.host = host
        self.current: asyncio.Future[Any] | None = None
        self._anonymous = itertools.count(1)

    async def execute(
        self, code: str, key: str | None, metadata: dict[str, Any], run: CellRun
    ) -> ErrorContent | None:
        calls, lean_code = split_magics(code)
        goals = self.host.goals_after_tactics
        for call in calls:
            try:
                goals = (
                    await run_magic(call, self.host, lambda text: run.text("stdout", text)) or goals
                )
            except UsageError as exc:
                return plain_error("UsageError", str(exc))
            except LeanUnavailable as exc:
                return plain_error("LeanUnavailable", str(exc))
        deleted = [
            k
            for k in metadata.get("deletedCells") or []
            if isinstance(k, str) and k in self.host.document
        ]
        if key is None:
            if not lean_code.strip():
                return None
            key = f"execution-{next(self._anonymous)}"
        elif not lean_code.strip() and key not in self.host.document and not deleted:
            return None
        existing = self.host.document.cell(key)
        attempt = Attempt(key, existing.source if existing is not None else None)
        return await self._run_guarded(attempt, lean_code, deleted, goals, run)

    async def _run_guarded(
        self, attempt: Attempt, lean_code: str, deleted: list[str], goals: bool, run: CellRun
    ) -> ErrorContent | None:
        """Check the cell under the timeout and interrupts; abandon it when either strikes."""
        timeout = self.host.cell_timeout
        task = asyncio.ensure_future(self._check_cell(attempt, lean_code, deleted, goals, run))
        self.current = task
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout if timeout > 0 else None)
        finally:
            self.current = None
        if task not in done:
            task.cancel()
            await asyncio.wait({task})
            return await self._abandon(
                attempt,
                "LeanTimeout",
                f"The cell took longer than {timeout:g} s (the time limit "
                "set by %timeout or LeanKernel.cell_timeout)",
                run,
            )
        if task.cancelled():
            return await self._abandon(attempt, "LeanInterrupted", "Interrupted", run)
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, LeanUnavailable):
            return plain_error("LeanUnavailable", str(exc))
        if isinstance(exc, (WorkerCrashed, ServerExited)):
            reason = str(exc).rstrip(".")
            return await self._abandon(
                attempt, "LeanCrashed", f"Lean crashed while checking this cell: {reason}", run
            )
        raise exc

    async def _check_cell(
        self, attempt: Attempt, lean_code: str, deleted: list[str], goals: bool, run: CellRun
    ) -> ErrorContent | None:
        lean, document = self.host.lean, self.host.document
        await lean.ensure_open(document.text)
        for notice in lean.notices:
            run.text("stderr", notice)
        lean.notices.clear()
        edits = document.remove_cells(deleted) if deleted else []
        edits += document.set_cell(attempt.key, lean_code)
        attempt.applied = True
        version = lean.change(edits) if edits else lean.version
        progress = ProgressDisplay(
            run.send,
            lambda line: document.describe_line(attempt.key, line),
            self.host.progress_delay,
        )
        outputs_before = run.published
        progress.start(version)
        lean.progress_listener = progress.update
        try:
            diagnostics = await lean.barrier(version)
        finally:
            lean.progress_listener = None
            if progress.finish():
                if run.published == outputs_before + 1:  # the progress display is the only one
                    run.send("clear_output", {"wait": False})
                else:
                    run.send("update_display_data", progress.blank())
        messages = document.messages_of(attempt.key, diagnostics)
        relay = self.host.rpc if self.host.interactive_goals else None  # None: text only
        asker = GoalAsker(lean, document, self.host.request_timeout, relay)
        interactive = None
        if relay is not None:
            messages = await with_interactive_messages(relay, document, attempt.key, messages)
            interactive = interactive_errors(relay, messages)
        messages = await asker.with_interactive(messages)
        views = await asker.at_sorries(attempt.key, lean_code)
        outputs, error = render_messages(messages, views, interactive)
        run.send_all(outputs)
        if goals:
            table = await asker.after_each_line(attempt.key, lean_code)
            if table is not None:
                run.send(*table)
        return error

    async def _abandon(self, attempt: Attempt, ename: str, what: str, run: CellRun) -> ErrorContent:
        """Take the cell's text back out of the document and make Lean answer again."""
        if not attempt.applied:
            return plain_error(ename, f"{what}. Lean had not started checking the cell.")
        edits = self.host.document.restore(attempt.key, attempt.previous)
        recovery = asyncio.ensure_future(
            self.host.lean.recover(self.host.document.text, edits, self.host.recover_timeout)
        )
        self.current = recovery
        try:
            status = await recovery
        except asyncio.CancelledError:
            await self.host.lean.drop_session()
            status = "Lean was stopped and starts again with the next cell"
        except (LeanUnavailable, ServerExited, WorkerCrashed, LeanRequestError) as exc:
            await self.host.lean.drop_session()
            status = f"Lean could not be brought back ({exc}); it starts again with the next cell"
        finally:
            self.current = None
        undone = (
            "its text was taken out of the Lean document"
            if attempt.previous is None
            else "the Lean document holds the cell's previous text again"
        )
        summary = what.split("\n", 1)[0].split("; last stderr lines")[0].rstrip(":;. ")
        return plain_error(
            ename,
            f"{what}.\nThe cell was abandoned and {undone}; {status}.",
            f"{summary}; the cell was abandoned ({status})",
        )
