"""Completion and inspection: Lean asked at a cursor in code that may not have been run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server_ext.session import LeanRequestError, LeanUnavailable

from .connection import LeanConnection, WorkerCrashed
from .document import NotebookDocument
from .goals import position_params

SCRATCH_KEY = "\x00scratch"  # the temporary cell of completion and inspection requests


async def at_cursor(
    lean: LeanConnection,
    document: NotebookDocument,
    code: str,
    index: int,
    method: str,
    timeout: float,
    startup: asyncio.Future[None] | None,
    then: Callable[[Any], Awaitable[Any]] | None = None,
) -> Any:
    """Ask Lean ``method`` at character ``index`` of ``code`` (magic lines blanked), which may
    not have been run: a cell already in the document is asked in place, other code is appended
    for the request (at the end, so Lean re-checks nothing else) and taken out again. ``then``
    runs on the answer while the code is still in Lean's document (requests that refer back to
    that position, like completionItem/resolve) and its result is returned. ``startup`` is a
    start of Lean under way, waited for; Lean is never started for this."""

    async def ask(params: dict[str, Any]) -> Any:
        result = await lean.request(method, params, timeout)
        return await then(result) if then is not None else result

    if not lean.ready:
        # Never start Lean for a completion (a broken Lean could hold the shell channel up
        # to startup_timeout); wait only for a start already under way.
        if startup is None or startup.done():
            raise LeanUnavailable("Lean is not running")
        await asyncio.wait_for(asyncio.shield(startup), timeout)
        if not lean.ready:
            raise LeanUnavailable("Lean is not running")
    for cell in document.cells:
        if cell.source == code:
            return await ask(position_params(lean, document, cell.key, code, index))
    # The code's `prelude`/`import` lines stay out of the header, since a header change
    # restarts Lean's file worker (re-importing everything), unless the document is empty:
    # then there is nothing to re-check, and the first cell of a notebook, not run yet,
    # needs its own header (without `prelude` a Lean without library cannot check it).
    edits = document.set_cell(SCRATCH_KEY, code, hoist=not document.cells)
    version = lean.change(edits)
    try:
        # Position requests may be answered from an older snapshot until Lean has caught up
        # with the edit: waitForDiagnostics is the barrier.
        await asyncio.wait_for(lean.barrier(version), timeout)
        return await ask(position_params(lean, document, SCRATCH_KEY, code, index))
    finally:
        edits = document.remove_cells([SCRATCH_KEY])
        if lean.ready:
            lean.change(edits)


async def describe_completions(
    lean: LeanConnection, items: list[dict[str, Any]], count: int, timeout: float
) -> None:
    """Fill in the signature (``detail``) of the first ``count`` items: Lean leaves it out of
    the completion list and gives it on completionItem/resolve. Asked in parallel, bounded by
    ``timeout``; a failed one stays without."""
    wanted = [
        index
        for index, item in enumerate(items[: max(0, count)])
        if not item.get("detail") and "data" in item
    ]
    if not wanted or timeout <= 0:
        return
    answers = await asyncio.gather(
        *(lean.request("completionItem/resolve", items[index], timeout) for index in wanted),
        return_exceptions=True,
    )
    for index, answer in zip(wanted, answers, strict=True):
        if isinstance(answer, dict) and isinstance(answer.get("detail"), str):
            items[index] = {**items[index], "detail": answer["detail"]}
        elif isinstance(answer, BaseException) and not isinstance(
            answer, (LeanRequestError, asyncio.TimeoutError, WorkerCrashed)
        ):
            raise answer
