"""The Lean 4 Jupyter kernel: notebook cells as one Lean document.

Each execute_request puts its cell into the document (``document.py``), sends Lean the edit,
waits on Lean's ``waitForDiagnostics`` barrier (``connection.py``) and shows the messages that lie
in the cell (``render.py``). Completion and inspection ask Lean at the cursor; is_complete looks at
comments and brackets (``syntax.py``). Interrupts and timeouts abandon the cell and revert its
text; crashes do the same and bring Lean back.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import getpass
import itertools
import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ipykernel._version import kernel_protocol_version
from ipykernel.kernelbase import Kernel
from traitlets import Bool, Float, Int, Unicode
from traitlets.config import Config

from jupyter_server_ext._version import __version__
from jupyter_server_ext.session import LeanRequestError, LeanSessionManager
from jupyter_server_ext.session.projects import UnsafeProject, check_project_dir

from . import environment
from .config import LiveManagerConfig, default_project_dir, load_server_config
from .connection import LeanConnection, LeanUnavailableError, ServerExited, WorkerCrashed
from .document import NotebookDocument
from .goals import GoalAsker, position_params
from .history import History
from .interactive import COMM_TARGET, RpcRelay
from .magics import MagicCall, UsageError, lsmagic_text, parse_switch, parse_timeout, split_magics
from .progress import ProgressDisplay
from .render import (
    ERROR,
    CellMessage,
    ErrorContent,
    Output,
    choose_completions,
    completion_reply,
    hover_bundle,
    message_from_diagnostic,
    plain_error,
    render_messages,
)
from .syntax import completeness, identifier_start, is_ident_char

T = TypeVar("T")

SCRATCH_KEY = "\x00scratch"  # the temporary cell of completion and inspection requests


@dataclass
class Attempt:
    """One execution of a cell, enough to undo it."""

    key: str
    previous: str | None  # the cell's source before, None if the cell is new
    applied: bool = False


class CellRun:
    """Publishes one cell's outputs (nothing when the request is silent)."""

    def __init__(self, kernel: LeanKernel, silent: bool) -> None:
        self.kernel = kernel
        self.silent = silent
        self.published = 0
        # Captured now: progress updates are sent from Lean's reader task, whose context does
        # not carry ipykernel's current parent header.
        self.parent = kernel.get_parent("shell")

    def send(self, msg_type: str, content: dict[str, Any]) -> None:
        if self.silent or self.kernel.session is None:
            return
        self.published += msg_type in ("stream", "display_data", "error")
        self.kernel.session.send(
            self.kernel.iopub_socket,
            msg_type,
            content,
            self.parent,
            ident=self.kernel._topic(msg_type),
        )

    def send_all(self, outputs: list[Output]) -> None:
        for msg_type, content in outputs:
            self.send(msg_type, content)

    def text(self, name: str, text: str) -> None:
        self.send("stream", {"name": name, "text": text if text.endswith("\n") else text + "\n"})


class LeanKernel(Kernel):
    implementation = "lean_kernel"
    implementation_version = __version__
    language = "lean4"
    language_version = "4"
    language_info = {
        "name": "lean4",
        "version": "4",
        "mimetype": "text/x-lean4",
        "file_extension": ".lean",
        "pygments_lexer": "lean4",
        "codemirror_mode": "lean4",
    }
    banner = (
        "Lean 4 kernel (jupyter-lean): the cells you run form one Lean document. "
        "%lsmagic lists the magics."
    )
    help_links = [
        {"text": "Lean documentation", "url": "https://lean-lang.org/documentation/"},
        {
            "text": "Theorem Proving in Lean 4",
            "url": "https://lean-lang.org/theorem_proving_in_lean4/",
        },
        {
            "text": "Functional Programming in Lean",
            "url": "https://lean-lang.org/functional_programming_in_lean/",
        },
        {
            "text": "Mathlib documentation",
            "url": "https://leanprover-community.github.io/mathlib4_docs/",
        },
    ]

    cell_timeout = Float(
        0,
        help="Seconds a cell may take before it is abandoned (like an interrupt); 0 = no limit. "
        "%timeout changes it for the session.",
    ).tag(config=True)
    startup_timeout = Float(
        120, help="Seconds Lean may take to answer `initialize` before it counts as broken."
    ).tag(config=True)
    recover_timeout = Float(
        10,
        help="Seconds Lean may take to settle after an interrupt, timeout or crash before its "
        "file worker, then the whole server, is restarted.",
    ).tag(config=True)
    request_timeout = Float(
        20, help="Seconds a completion, inspection or goal request may take."
    ).tag(config=True)
    start_lean = Unicode(
        "startup", help='"startup": start Lean when the kernel starts; "lazy": with the first cell.'
    ).tag(config=True)
    project = Unicode(
        "default", help="The LeanSessionManager project the kernel starts in (%project switches)."
    ).tag(config=True)
    progress_delay = Float(1.0, help="Seconds a cell runs before Lean's progress is shown.").tag(
        config=True
    )
    goals_after_tactics = Bool(
        False, help="Show the goals after every tactic line (as %goals on does)."
    ).tag(config=True)
    max_completions = Int(500, help="Most completion matches returned.").tag(config=True)
    restart_backoff = Float(
        10,
        help="Seconds before a Lean that failed to start (it exited, or did not answer "
        "`initialize`) is started again; the pause doubles with each failure in a row, up to "
        "5 minutes. %reset, %project or a change of the LeanSessionManager settings in the "
        "config files retries at once.",
    ).tag(config=True)
    completion_details = Int(
        50,
        help="How many of the completion matches (the first ones) get their signature from "
        "Lean (completionItem/resolve, asked in parallel); 0 = none.",
    ).tag(config=True)
    interactive_goals = Bool(
        True,
        help="Give goal outputs Lean's interactive goals as well (JupyterLab shows the "
        "type of a subterm on hover, asked through the comm jupyter_lean.rpc); off: text and "
        "Markdown only.",
    ).tag(config=True)
    completion_detail_timeout = Float(
        2.0,
        help="Seconds the signatures of completion matches may take; matches Lean has not "
        "described by then are offered without one.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        server_config = load_server_config(self.log)
        self._take_kernel_settings(server_config)
        manager_config = Config()
        manager_config.merge(server_config)
        manager_config.merge(self.config)  # the kernel's command line wins
        root = default_project_dir(os.getcwd())
        self.manager = LeanSessionManager(config=manager_config, root_dir=root, log=self.log)
        if "report_delay_ms" not in manager_config.get("LeanSessionManager", {}):
            # A cell reaches Lean whole and the kernel waits for all of it: Lean's pause before
            # reporting (200 ms, made for typing in an editor) would only delay every cell.
            self.manager.report_delay_ms = 0
        # The kernel culls its one Lean itself, between requests (see _cull_idle_lean): the
        # manager's own culler could stop Lean under a running cell. A warm pool would only
        # start Lean servers this kernel never uses.
        self.idle_timeout = self.manager.idle_timeout
        self.cull_interval = self.manager.cull_interval
        self.manager.idle_timeout = 0
        self.manager.warm_pool_size = 0
        # %project may switch only to these, or to a folder inside the default project.
        self.configured_projects = dict(self.manager.projects)
        if self.project not in self.manager.projects:
            self.manager.projects = {**self.manager.projects, self.project: root}
        self.live_config = LiveManagerConfig(
            self.manager,
            self.log,
            server_config,
            fixed=set(self.config.get("LeanSessionManager", {})),
        )
        self.document = NotebookDocument()
        self.lean = LeanConnection(
            self.manager,
            owner=_user(),
            project=self.project,
            document_name=f"kernel-{uuid.uuid4().hex[:12]}",
            startup_timeout=self.startup_timeout,
            log=self.log,
            backoff=self.restart_backoff,
            settings=self._lean_settings,
        )
        self.history = History()
        self.rpc = RpcRelay(self.lean, lambda: self.request_timeout)
        self._rpc_comms: set[str] = set()  # open comms of COMM_TARGET
        self._keep_alive: asyncio.Future[None] | None = None
        for msg_type in ("comm_open", "comm_msg", "comm_close"):
            self.shell_handlers[msg_type] = getattr(self, f"_{msg_type}")
        self._anonymous = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._current: asyncio.Future[Any] | None = None
        self._startup: asyncio.Future[None] | None = None
        self._culler: asyncio.Future[None] | None = None
        self._busy = False  # a shell request is being handled
        atexit.register(self._kill_lean_now)

    def _lean_settings(self) -> tuple[str, str, str]:
        """What starting Lean depends on; a change ends the pause after failed starts."""
        files = self.live_config.refresh()
        return self.lean.project, files, self.lean.describe_command()

    def _take_kernel_settings(self, server_config: Config) -> None:
        given = self.config.get("LeanKernel", {})
        settings = server_config.get("LeanKernel", {})
        for name, value in settings.items():
            if name not in given and self.has_trait(name):
                setattr(self, name, value)

    @property
    def kernel_info(self) -> dict[str, Any]:
        # Not ipykernel's: it advertises (and imports) its Python debugger, and subshells;
        # neither applies to Lean.
        return {
            "protocol_version": kernel_protocol_version,
            "implementation": self.implementation,
            "implementation_version": self.implementation_version,
            "language_info": self.language_info,
            "banner": self.banner,
            "help_links": self.help_links,
            "supported_features": [],
        }

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        self._loop = self.io_loop.asyncio_loop  # type: ignore[attr-defined]
        self.io_loop.add_callback(self._start_background)

    def _start_background(self) -> None:
        if self.idle_timeout > 0:
            self._culler = asyncio.ensure_future(self._cull_idle_lean())
        self._keep_alive = asyncio.ensure_future(self.rpc.keep_alive_forever())
        if self.start_lean == "startup":
            self._startup = asyncio.ensure_future(self._start_lean_quietly())

    async def _cull_idle_lean(self) -> None:
        """LeanSessionManager.idle_timeout, applied by the kernel rather than the manager's own
        culler, so that Lean is never stopped under a running request."""
        while True:
            await asyncio.sleep(self.cull_interval)
            if not self._busy:
                await self.lean.cull_if_idle(self.idle_timeout)

    async def _start_lean_quietly(self) -> None:
        try:
            await self.lean.ensure_open(self.document.text)
        except LeanUnavailableError as exc:
            # Reported (after a new try) by the first cell, where the user will see it.
            self.log.warning("Lean did not start: %s", exc)

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        await self._on_main_loop(self._stop_lean)
        return {"status": "ok", "restart": restart}

    async def _stop_lean(self) -> None:
        for task in (self._startup, self._culler, self._keep_alive):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.lean.close()
        await self.manager.shutdown()

    async def _on_main_loop(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run on the loop that owns Lean: control-channel handlers (shutdown) run on another
        thread's loop in ipykernel >= 6."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return await make()
        if asyncio.get_running_loop() is loop:
            return await make()

        async def run() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        return await asyncio.wrap_future(future)

    def _kill_lean_now(self) -> None:
        """atexit: if the kernel goes without a shutdown_request, take Lean down with it (the
        session layer starts each Lean server in a process group of its own)."""
        for session in list(self.manager.sessions.values()):
            if session.pid is not None and session.exit_code is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(session.pid, signal.SIGKILL)

    # -- interrupts ------------------------------------------------------------------------

    def pre_handler_hook(self) -> None:
        # Interrupts (SIGINT from jupyter_client, or from ipykernel itself for an
        # interrupt_request) cancel the running cell's task instead of raising KeyboardInterrupt
        # wherever the event loop happens to be.
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._on_sigint)
        self._busy = True

    def post_handler_hook(self) -> None:
        self._busy = False
        signal.signal(signal.SIGINT, self.saved_sigint_handler)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._interrupt)

    def _interrupt(self) -> None:
        if self._current is not None and not self._current.done():
            self._current.cancel()

    # -- execution -------------------------------------------------------------------------

    async def do_execute(  # type: ignore[override]
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        self._loop = asyncio.get_running_loop()
        metadata = cell_meta if isinstance(cell_meta, dict) else self._parent_metadata()
        key = cell_id or metadata.get("cellId")
        if store_history and not silent:
            self.history.add(self.execution_count, code)
        run = CellRun(self, silent)
        try:
            error = await self._execute(
                code, key if isinstance(key, str) and key else None, metadata, run
            )
        except Exception as exc:  # a kernel bug must fail the cell, not the kernel
            self.log.exception("Lean kernel: executing a cell failed")
            error = plain_error("KernelError", f"{type(exc).__name__}: {exc}")
        if error is not None:
            run.send("error", error.to_content())
            return {
                "status": "error",
                "execution_count": self.execution_count,
                **error.to_content(),
            }
        return {
            "status": "ok",
            "execution_count": self.execution_count,
            "payload": [],
            "user_expressions": {},
        }

    def _parent_metadata(self) -> dict[str, Any]:
        metadata = self.get_parent().get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    async def _execute(
        self, code: str, key: str | None, metadata: dict[str, Any], run: CellRun
    ) -> ErrorContent | None:
        calls, lean_code = split_magics(code)
        goals = self.goals_after_tactics
        for call in calls:
            try:
                goals = await self._magic(call, run) or goals
            except UsageError as exc:
                return plain_error("UsageError", str(exc))
            except LeanUnavailableError as exc:
                return plain_error("LeanUnavailable", str(exc))
        deleted = [
            k
            for k in metadata.get("deletedCells") or []
            if isinstance(k, str) and k in self.document
        ]
        if key is None:
            if not lean_code.strip():
                return None
            key = f"execution-{next(self._anonymous)}"
        elif not lean_code.strip() and key not in self.document and not deleted:
            return None
        existing = self.document.cell(key)
        attempt = Attempt(key, existing.source if existing is not None else None)
        return await self._run_guarded(attempt, lean_code, deleted, goals, run)

    async def _run_guarded(
        self, attempt: Attempt, lean_code: str, deleted: list[str], goals: bool, run: CellRun
    ) -> ErrorContent | None:
        """Check the cell under the timeout and interrupts; abandon it when either strikes."""
        timeout = self.cell_timeout
        task = asyncio.ensure_future(self._check_cell(attempt, lean_code, deleted, goals, run))
        self._current = task
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout if timeout > 0 else None)
        finally:
            self._current = None
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
        if isinstance(exc, LeanUnavailableError):
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
        lean, document = self.lean, self.document
        await lean.ensure_open(document.text)
        for notice in lean.notices:
            run.text("stderr", notice)
        lean.notices.clear()
        edits = document.remove_cells(deleted) if deleted else []
        edits += document.set_cell(attempt.key, lean_code)
        attempt.applied = True
        version = lean.change(edits) if edits else lean.version
        progress = ProgressDisplay(
            run.send, lambda line: self._describe_line(attempt.key, line), self.progress_delay
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
        messages = self._messages_of(attempt.key, diagnostics)
        asker = GoalAsker(
            lean, document, self.request_timeout, self.rpc if self.interactive_goals else None
        )
        messages = await asker.with_interactive(messages)
        views = await asker.at_sorries(attempt.key, lean_code)
        outputs, error = render_messages(messages, views)
        run.send_all(outputs)
        if goals:
            table = await asker.after_each_line(attempt.key, lean_code)
            if table is not None:
                run.send(*table)
        return error

    def _messages_of(self, key: str, diagnostics: list[dict[str, Any]]) -> list[CellMessage]:
        """The diagnostics that lie in cell ``key``, plus errors of imports hoisted from other
        cells: Lean checks nothing after a broken header, so every cell must say so."""
        document = self.document
        header = document.header_line_count
        first = document.start_line(key)
        cell = document.cell(key)
        # Lean sends every diagnostic of the document each time: skip most by line alone.
        last = first + (cell.line_count if cell is not None else 0)
        messages = []
        for diagnostic in diagnostics:
            where = (diagnostic.get("fullRange") or diagnostic.get("range") or {}).get("start")
            if not isinstance(where, dict):
                continue
            line, character = int(where.get("line", 0)), int(where.get("character", 0))
            if header <= line < first or line > last:
                continue
            located = document.locate(line, character)
            if located is None:
                continue
            if located.key == key:
                messages.append(message_from_diagnostic(diagnostic, located.line, located.column))
            elif line < header and diagnostic.get("severity") == ERROR:
                messages.append(
                    message_from_diagnostic(
                        diagnostic,
                        -1,
                        0,
                        place=f"imports (line {located.line + 1} of another cell)",
                    )
                )
        return messages

    def _describe_line(self, key: str, line: int) -> str:
        if line < self.document.header_line_count:
            return "the imports"
        located = self.document.locate(line, 0)
        if located is None:
            return "the document"
        if located.key == key:
            return f"line {located.line + 1} of this cell"
        return "an earlier cell"

    async def _abandon(self, attempt: Attempt, ename: str, what: str, run: CellRun) -> ErrorContent:
        """Take the cell's text back out of the document and make Lean answer again."""
        if not attempt.applied:
            return plain_error(ename, f"{what}. Lean had not started checking the cell.")
        edits = self.document.restore(attempt.key, attempt.previous)
        recovery = asyncio.ensure_future(
            self.lean.recover(self.document.text, edits, self.recover_timeout)
        )
        self._current = recovery
        try:
            status = await recovery
        except asyncio.CancelledError:
            await self.lean.drop_session()
            status = "Lean was stopped and starts again with the next cell"
        except (LeanUnavailableError, ServerExited, WorkerCrashed, LeanRequestError) as exc:
            await self.lean.drop_session()
            status = f"Lean could not be brought back ({exc}); it starts again with the next cell"
        finally:
            self._current = None
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

    # -- the comm of interactive outputs ---------------------------------------------------

    def _comm_open(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        content = parent.get("content") or {}
        comm_id = content.get("comm_id")
        if not isinstance(comm_id, str):
            return
        if content.get("target_name") == COMM_TARGET:
            self._rpc_comms.add(comm_id)
        else:  # as ipykernel does for a target nobody registered
            self._send_comm("comm_close", {"comm_id": comm_id, "data": {}}, parent)

    async def _comm_msg(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        content = parent.get("content") or {}
        comm_id = content.get("comm_id")
        if comm_id not in self._rpc_comms:
            return
        self._loop = asyncio.get_running_loop()
        reply = await self.rpc.answer(content.get("data"))
        self._send_comm("comm_msg", {"comm_id": comm_id, "data": reply}, parent)

    def _comm_close(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        self._rpc_comms.discard((parent.get("content") or {}).get("comm_id"))

    def _send_comm(self, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.send(
                self.iopub_socket, msg_type, content, parent, ident=self._topic(msg_type)
            )

    # -- magics ----------------------------------------------------------------------------

    async def _magic(self, call: MagicCall, run: CellRun) -> bool:
        """Run one magic; True when it asks for the goals after each tactic line of this cell."""
        name, argument = call.name, call.argument
        if name == "lsmagic":
            run.text("stdout", lsmagic_text())
        elif name == "timeout":
            if argument:
                self.cell_timeout = parse_timeout(argument)
            limit = f"{self.cell_timeout:g} s" if self.cell_timeout > 0 else "none"
            run.text("stdout", f"Time limit per cell: {limit}")
        elif name == "reset":
            await self._reset()
            run.text("stdout", "The Lean document is empty: every cell is forgotten.")
        elif name == "project":
            run.text("stdout", await self._project(argument))
        elif name == "env":
            run.text("stdout", await environment.describe(self))
        elif name == "goals":
            if not argument:
                return True
            self.goals_after_tactics = parse_switch("goals", argument)
            run.text(
                "stdout",
                "Goals after each tactic line: " + ("on" if self.goals_after_tactics else "off"),
            )
        elif name == "document":
            run.text("stdout", self.document.text or "(the document is empty)")
        else:
            raise UsageError(f"unknown magic %{name}; %lsmagic lists the magics")
        return False

    async def _reset(self) -> None:
        self.lean.backoff.forget()  # the user asks for a fresh start: try Lean again at once
        edits = self.document.clear()
        if edits and self.lean.ready:
            self.lean.change(edits)

    async def _project(self, argument: str) -> str:
        projects = self.manager.projects
        if not argument:
            rows = [
                f"{'*' if name == self.lean.project else ' '} {name}: {path}"
                for name, path in sorted(projects.items())
            ]
            return "Lean projects (* = this kernel's):\n" + "\n".join(rows)
        if argument in projects:
            name = argument
        else:
            # Lean code reads its project (#eval can): a folder must be one the administrator
            # configured, or inside the kernel's default project, and hold no secrets.
            try:
                path = check_project_dir(
                    argument,
                    root_dir=self.manager.root_dir,
                    configured=self.configured_projects.values(),
                )
            except UnsafeProject as exc:
                names = ", ".join(sorted(self.configured_projects))
                raise UsageError(f"%project: {exc}. Configured projects: {names}") from None
            name = path
            self.manager.projects = {**projects, name: path}
        self.lean.backoff.forget()
        await self.lean.drop_session()
        self.document.clear()
        self.lean.project = name
        await self.lean.ensure_open(self.document.text)
        return (
            f"Lean project: {name} ({self.lean.project_dir}). The document is empty: run the "
            "cells you need again."
        )

    # -- completion, inspection, is_complete, history --------------------------------------

    async def _at_cursor(
        self,
        code: str,
        index: int,
        method: str,
        then: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> Any:
        """Ask Lean ``method`` at character ``index`` of ``code``, which may not have been run:
        a cell already in the document is asked in place, other code is appended for the
        request (at the end, so Lean re-checks nothing else) and taken out again. ``then`` runs
        on the answer while the code is still in Lean's document (requests that refer back to
        that position, like completionItem/resolve) and its result is returned."""

        async def ask(params: dict[str, Any]) -> Any:
            result = await self.lean.request(method, params, self.request_timeout)
            return await then(result) if then is not None else result

        self._loop = asyncio.get_running_loop()
        _, lean_code = split_magics(code)
        if not self.lean.ready:
            # Never start Lean for a completion (a broken Lean could hold the shell channel up
            # to startup_timeout); wait only for a start already under way.
            if self._startup is None or self._startup.done():
                raise LeanUnavailableError("Lean is not running")
            await asyncio.wait_for(asyncio.shield(self._startup), self.request_timeout)
            if not self.lean.ready:
                raise LeanUnavailableError("Lean is not running")
        for cell in self.document.cells:
            if cell.source == lean_code:
                return await ask(
                    position_params(self.lean, self.document, cell.key, lean_code, index)
                )
        # The code's `prelude`/`import` lines stay out of the header, since a header change
        # restarts Lean's file worker (re-importing everything), unless the document is empty:
        # then there is nothing to re-check, and the first cell of a notebook, not run yet,
        # needs its own header (without `prelude` a Lean without library cannot check it).
        edits = self.document.set_cell(SCRATCH_KEY, lean_code, hoist=not self.document.cells)
        version = self.lean.change(edits)
        try:
            # Position requests may be answered from an older snapshot until Lean has caught up
            # with the edit: waitForDiagnostics is the barrier.
            await asyncio.wait_for(self.lean.barrier(version), self.request_timeout)
            return await ask(
                position_params(self.lean, self.document, SCRATCH_KEY, lean_code, index)
            )
        finally:
            edits = self.document.remove_cells([SCRATCH_KEY])
            if self.lean.ready:
                self.lean.change(edits)

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:
        cursor = len(code) if cursor_pos is None else cursor_pos
        start = identifier_start(code, cursor)
        reply: dict[str, Any] = {
            "status": "ok",
            "matches": [],
            "cursor_start": start,
            "cursor_end": cursor,
            "metadata": {},
        }

        async def described(result: Any) -> list[dict[str, Any]]:
            items = result.get("items") if isinstance(result, dict) else result
            if not isinstance(items, list):
                return []
            chosen = choose_completions(items, code[start:cursor], self.max_completions)
            await self._describe_completions(chosen)
            return chosen

        try:
            chosen = await self._at_cursor(code, cursor, "textDocument/completion", described)
        except (
            LeanUnavailableError,
            ServerExited,
            WorkerCrashed,
            LeanRequestError,
            asyncio.TimeoutError,
        ) as exc:
            self.log.info("Lean completion failed: %s", exc)
            return reply
        reply.update(completion_reply(chosen, start, cursor))
        return reply

    async def _describe_completions(self, items: list[dict[str, Any]]) -> None:
        """Fill in the signature (``detail``) of the first completion_details items: Lean leaves
        it out of the completion list and gives it on completionItem/resolve. Asked in
        parallel, bounded by completion_detail_timeout; a failed one stays without."""
        wanted = [
            index
            for index, item in enumerate(items[: max(0, self.completion_details)])
            if not item.get("detail") and "data" in item
        ]
        timeout = self.completion_detail_timeout
        if not wanted or timeout <= 0:
            return
        answers = await asyncio.gather(
            *(
                self.lean.request("completionItem/resolve", items[index], timeout)
                for index in wanted
            ),
            return_exceptions=True,
        )
        for index, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, dict) and isinstance(answer.get("detail"), str):
                items[index] = {**items[index], "detail": answer["detail"]}
            elif isinstance(answer, BaseException) and not isinstance(
                answer, (LeanRequestError, asyncio.TimeoutError, WorkerCrashed)
            ):
                raise answer

    async def do_inspect(
        self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()
    ) -> dict[str, Any]:
        reply: dict[str, Any] = {"status": "ok", "found": False, "data": {}, "metadata": {}}
        # Jupyter puts the cursor at the end of the name (Shift+Tab after typing it); Lean's
        # hover wants a position on the name.
        at = cursor_pos
        if (
            not (at < len(code) and is_ident_char(code[at]))
            and at > 0
            and is_ident_char(code[at - 1])
        ):
            at -= 1
        try:
            result = await self._at_cursor(code, at, "textDocument/hover")
        except (
            LeanUnavailableError,
            ServerExited,
            WorkerCrashed,
            LeanRequestError,
            asyncio.TimeoutError,
        ) as exc:
            self.log.info("Lean hover failed: %s", exc)
            return reply
        bundle = hover_bundle(result.get("contents")) if isinstance(result, dict) else None
        if bundle:
            reply.update(found=True, data=bundle)
        return reply

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        _, lean_code = split_magics(code)
        status, indent = completeness(lean_code)
        return (
            {"status": status, "indent": indent} if status == "incomplete" else {"status": status}
        )

    async def do_history(
        self,
        hist_access_type: str,
        output: bool,
        raw: bool,
        session: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        n: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
    ) -> dict[str, Any]:
        entries = self.history.reply(
            hist_access_type,
            output=output,
            session=session,
            start=start or 0,
            stop=stop,
            n=n,
            pattern=pattern,
            unique=unique,
        )
        return {"status": "ok", "history": entries}


def _user() -> str:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "kernel"
