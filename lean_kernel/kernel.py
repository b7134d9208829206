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
import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ipykernel._version import kernel_protocol_version
from ipykernel.kernelbase import Kernel
from traitlets import Bool, Float, Int, Unicode
from traitlets.config import Config

from jupyter_server_ext._version import __version__
from jupyter_server_ext.session import LeanRequestError, LeanSessionManager, LeanUnavailable

from .config import LiveManagerConfig, default_project_dir, load_server_config
from .connection import LeanConnection, ServerExited, WorkerCrashed
from .cursor import at_cursor, describe_completions
from .document import NotebookDocument
from .execution import CellExecutor, CellRun
from .history import History
from .interactive import COMM_TARGET, RpcRelay
from .magics import split_magics
from .render import (
    choose_completions,
    completion_reply,
    hover_bundle,
    plain_error,
)
from .syntax import completeness, identifier_start, is_ident_char

T = TypeVar("T")

# What a completion or inspection can come to besides Lean's answer: the reply is then empty.
LEAN_REQUEST_FAILURES = (
    LeanUnavailable,
    ServerExited,
    WorkerCrashed,
    LeanRequestError,
    asyncio.TimeoutError,
)


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
        help="Give goal outputs Lean's interactive goals, and errors that show terms an "
        "interactive messages output, as well (JupyterLab shows the type of a subterm on "
        "hover, asked through the comm jupyter_lean.rpc); off: text and Markdown only.",
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
        # in_kernel: the kernel culls its one Lean itself, between requests (see
        # _cull_idle_lean), with the manager's idle_timeout; Lean reports at once (a cell
        # reaches Lean whole); no warm pool.
        self.manager = LeanSessionManager(
            config=manager_config, root_dir=root, log=self.log, in_kernel=True
        )
        # %project may switch only to these, or to a folder inside the default project.
        self.configured_projects = dict(self.manager.projects)
        if self.project not in self.manager.projects:
            self.manager.add_project(self.project, root)
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
            has_widgets=lambda: self.interactive_goals,
        )
        self.history = History()
        self.rpc = RpcRelay(self.lean, lambda: self.request_timeout)
        self._rpc_comms: set[str] = set()  # open comms of COMM_TARGET
        self._keep_alive: asyncio.Future[None] | None = None
        for msg_type in ("comm_open", "comm_msg", "comm_close"):
            self.shell_handlers[msg_type] = getattr(self, f"_{msg_type}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self.executor = CellExecutor(self)
        self._startup: asyncio.Future[None] | None = None
        self._culler: asyncio.Future[None] | None = None
        self._busy = False  # a shell request is being handled
        # If the kernel goes without a shutdown_request, Lean goes with it.
        atexit.register(self.manager.kill_now)

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
        if self.manager.idle_timeout > 0:
            self._culler = asyncio.ensure_future(self._cull_idle_lean())
        self._keep_alive = asyncio.ensure_future(self.rpc.keep_alive_forever())
        if self.start_lean == "startup":
            self._startup = asyncio.ensure_future(self._start_lean_quietly())

    async def _cull_idle_lean(self) -> None:
        """LeanSessionManager.idle_timeout, applied by the kernel rather than the manager's own
        culler, so that Lean is never stopped under a running request."""
        while True:
            await asyncio.sleep(self.manager.cull_interval)
            if not self._busy:
                await self.lean.cull_if_idle(self.manager.idle_timeout)

    async def _start_lean_quietly(self) -> None:
        try:
            await self.lean.ensure_open(self.document.text)
        except LeanUnavailable as exc:
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
        current = self.executor.current
        if current is not None and not current.done():
            current.cancel()

    # -- execution -------------------------------------------------------------------------

    async def do_execute(
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
        run = CellRun(self._publish, self.get_parent("shell"), silent)
        try:
            error = await self.executor.execute(
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

    def _publish(self, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.send(
                self.iopub_socket, msg_type, content, parent, ident=self._topic(msg_type)
            )

    def _parent_metadata(self) -> dict[str, Any]:
        metadata = self.get_parent().get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    # -- the comm of interactive outputs ---------------------------------------------------

    def _comm_open(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        content = parent.get("content") or {}
        comm_id = content.get("comm_id")
        if not isinstance(comm_id, str):
            return
        if content.get("target_name") == COMM_TARGET:
            self._rpc_comms.add(comm_id)
        else:  # as ipykernel does for a target nobody registered
            self._publish("comm_close", {"comm_id": comm_id, "data": {}}, parent)

    async def _comm_msg(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        content = parent.get("content") or {}
        comm_id = content.get("comm_id")
        if comm_id not in self._rpc_comms:
            return
        self._loop = asyncio.get_running_loop()
        reply = await self.rpc.answer(content.get("data"))
        self._publish("comm_msg", {"comm_id": comm_id, "data": reply}, parent)

    def _comm_close(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        self._rpc_comms.discard((parent.get("content") or {}).get("comm_id"))

    # -- completion, inspection, is_complete, history --------------------------------------

    async def _at_cursor(
        self,
        code: str,
        index: int,
        method: str,
        then: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> Any:
        self._loop = asyncio.get_running_loop()
        _, lean_code = split_magics(code)
        return await at_cursor(
            self.lean,
            self.document,
            lean_code,
            index,
            method,
            self.request_timeout,
            self._startup,
            then,
        )

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
            await describe_completions(
                self.lean, chosen, self.completion_details, self.completion_detail_timeout
            )
            return chosen

        try:
            chosen = await self._at_cursor(code, cursor, "textDocument/completion", described)
        except LEAN_REQUEST_FAILURES as exc:
            self.log.info("Lean completion failed: %s", exc)
            return reply
        reply.update(completion_reply(chosen, start, cursor))
        return reply

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
        except LEAN_REQUEST_FAILURES as exc:
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
