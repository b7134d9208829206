"""LeanSessionManager: who owns which Lean session, limits, idle culling, the warm pool.

A traitlets Configurable, so ``c.LeanSessionManager.idle_timeout = 600`` in a Jupyter config file
configures the server extension and the kernel alike.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from . import metrics, toolchain
from .command import LeanCommand, executable_exists, resolve_command
from .documents import DocumentBudget
from .errors import LeanUnavailable, ServerFull, TooManySessions, UnknownProject
from .monitor import UsageMonitor
from .process import LaunchSpec, ResourceLimits
from .projects import UnsafeProject, check_project_dir
from .sandbox import (
    SANDBOX_MODES,
    SandboxUnavailable,
    bwrap_problem,
    effective_mode,
)
from .session import LeanSession
from .smoke import HealthCheck, SmokeResult
from .state import SessionState
from .warmpool import REFILL_AFTER_TAKE_S, WarmPool

GiB = 1 << 30
MiB = 1 << 20
NOBODY_UID = 65534


class LeanSessionManager(LoggingConfigurable):
    """Creates, tracks, limits, culls and stops Lean sessions."""

    lean_command = List(
        Unicode(),
        default_value=[],
        help="Command that starts a Lean server. Empty: `lake serve --` in a Lake project, "
        "else `lean --server`. The environment variable JUPYTER_LEAN_COMMAND overrides it.",
    ).tag(config=True)

    root_dir = Unicode(help="Folder of the default project (the Jupyter server's root_dir).")

    projects = Dict(
        value_trait=Unicode(),
        help="Named Lean projects (Lake packages or plain folders): name -> path.",
    ).tag(config=True)

    idle_timeout = Float(
        1800, help="Seconds without client activity after which a session is stopped; 0 = never."
    ).tag(config=True)
    cull_interval = Float(60, help="Seconds between idle checks.").tag(config=True)
    max_sessions_per_user = Int(4, help="Sessions one user may hold (429 past it).").tag(
        config=True
    )
    max_sessions = Int(32, help="Sessions in all (503 past it).").tag(config=True)
    sandbox = Unicode(
        "auto",
        help='"bwrap" (fail closed if bwrap cannot run), "none", or "auto" (bwrap when it works).',
    ).tag(config=True)
    memory_limit = Int(
        8 * GiB,
        help="Memory per session in bytes; 0 = none: the resident memory of the session's whole "
        "Lean process tree (watchdog, file workers, whatever #eval starts; pages they share, "
        "such as imported .olean files, counted once) plus what its "
        "sandbox's memory-backed folders hold (/tmp, /dev/shm, the workspace). Measured every "
        "usage_interval seconds; over it the session ends with a reason naming the limit. Lean "
        "also gets -M (3/4 of it, per process) so it stops an elaboration gracefully first.",
    ).tag(config=True)
    cpu_time_limit = Int(
        3600, help="CPU seconds per session (all its Lean processes together); 0 = none."
    ).tag(config=True)
    usage_interval = Float(
        2.0, help="Seconds between measurements of each session's memory and CPU time."
    ).tag(config=True)
    tmpfs_size = Int(
        512 * MiB,
        help="Largest size of each memory-backed folder in the sandbox (/tmp, /dev/shm, the "
        "workspace), in bytes; 0 = no cap. What they hold counts toward memory_limit too.",
    ).tag(config=True)
    process_limit = Int(
        0,
        help="RLIMIT_NPROC for each Lean server; 0 = none. The kernel counts every process and "
        "thread of the user Lean runs as (all sessions together, and the Jupyter server itself "
        "when Lean runs as the server's user), so this is a brake on fork bombs, not a quota. "
        "The kernel ignores it for root: a server running as root then runs Lean as `lean_uid`.",
    ).tag(config=True)
    file_size_limit = Int(
        4 * GiB, help="Largest file a Lean server may write, in bytes; 0 = none."
    ).tag(config=True)
    warm_pool_size = Int(
        0, help="Lean servers started and initialized ahead per project, handed out at once."
    ).tag(config=True)
    max_message_size = Int(
        8 * 1024 * 1024,
        help="Largest WebSocket frame or LSP message accepted, in bytes. Each one is received "
        "and parsed on the server's event loop (5-8 ms per MiB), so this bounds how long one "
        "frame holds up every other user. 8 MiB: a didOpen of the largest document "
        "(max_document_size) even if JSON escaping doubles it.",
    ).tag(config=True)
    # -- what sessions keep of their clients' documents (documents.py; 0 = no limit) ---------
    max_document_size = Int(
        4 * 1024 * 1024,
        help="Largest document a client may open or edit into, in bytes of UTF-8. Mathlib's "
        "largest files are a few hundred KB (its linter stops files at 1500 lines).",
    ).tag(config=True)
    max_open_documents = Int(64, help="Documents open at once in one session.").tag(config=True)
    max_user_document_bytes = Int(
        64 * 1024 * 1024,
        help="Bytes of UTF-8 that all open documents of one user, in all sessions, may hold.",
    ).tag(config=True)
    max_edits_per_message = Int(
        1000,
        help="Edits (contentChanges) in one didChange; a client with more sends the "
        "whole text as one change.",
    ).tag(config=True)
    # -----------------------------------------------------------------------------------------
    request_timeout = Float(
        300,
        help="Seconds after which a client request Lean has not answered fails with error "
        "-32098 (and is cancelled in Lean); 0 = wait for ever. The barriers "
        "textDocument/waitForDiagnostics and $/lean/waitForILeans are exempt: on a large file "
        "they legitimately take minutes.",
    ).tag(config=True)
    rate_limit = Float(
        200,
        help="Client requests per second each session lets through to Lean (a token bucket; "
        "bursts up to rate_burst); over it a request is answered with JSON-RPC error -32003 "
        "'rate limit exceeded' and never reaches Lean. Notifications (didChange...) are never "
        "limited. 0 = no limit.",
    ).tag(config=True)
    rate_burst = Int(
        1000, help="Requests a session may send at once above rate_limit (the bucket's size)."
    ).tag(config=True)
    workspace_root = Unicode(
        help="Folder under which each session gets its private writable workspace."
    ).tag(config=True)
    pass_lean_limits = Bool(
        True,
        help="Also pass Lean's own -M (memory, MB; 3/4 of memory_limit) and -T (heartbeat_limit) "
        "to `lean --server` / `lake serve --`, so Lean stops an elaboration gracefully before "
        "the hard rlimit kills the process.",
    ).tag(config=True)
    heartbeat_limit = Int(
        0,
        help="Lean's `maxHeartbeats` option for every elaboration, in thousands of heartbeats "
        "(the unit of `set_option maxHeartbeats`), passed as -DmaxHeartbeats=N; 0 = Lean's own "
        "default (200000). Passed only when pass_lean_limits is on and the command is "
        "`lean --server` or `lake serve`. A file can still raise it with set_option.",
    ).tag(config=True)
    report_delay_ms = Int(
        -1,
        help="Lean's `server.reportDelayMs`: how long a file worker waits before it reports "
        "what it elaborated (Lean's default is 200 ms). -1 = Lean's default; the kernel uses 0 "
        "unless this is set, since a cell is run only once it is complete. Passed only to "
        "`lean --server` / `lake serve`.",
    ).tag(config=True)
    health_check_interval = Float(
        300,
        help="Seconds /lean/health reuses the result of its check that Lean works as configured "
        "(a Lean started with the sessions' sandbox and limits elaborates a one-line document).",
    ).tag(config=True)
    lean_uid = Int(
        -1,
        help="Only when the Jupyter server runs as root: the uid (and gid) Lean servers run as. "
        "-1 = 65534 (nobody) when process_limit is set, since the kernel does not apply it to "
        "root, else root. That user must be able to read the toolchain and the project, and to "
        "enter workspace_root.",
    ).tag(config=True)

    in_kernel = Bool(
        False,
        help="Set by the kernel (not a setting): the manager serves one in-process client that "
        "culls its own Lean between cells, so there is no culler here (it could stop Lean under "
        "a running cell) and no warm pool (its servers would go unused); and Lean reports at "
        "once unless report_delay_ms is set (a cell reaches Lean whole).",
    )

    @default("projects")
    def _default_projects(self) -> dict[str, str]:
        return {"default": self.root_dir or os.getcwd()}

    @default("workspace_root")
    def _default_workspace_root(self) -> str:
        root = tempfile.mkdtemp(prefix="jupyter-lean-")
        # Enterable (not listable) by a lean_uid that is not ours; each workspace inside is 0700.
        os.chmod(root, 0o711)
        # Also when the process ends without the extension's shutdown (some spawners' stops).
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        return root

    @validate("sandbox")
    def _check_sandbox(self, proposal: Any) -> str:
        if proposal["value"] not in SANDBOX_MODES:
            raise ValueError(f"sandbox must be one of {SANDBOX_MODES}")
        return str(proposal["value"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: dict[str, LeanSession] = {}
        self._warm = WarmPool(
            self._new_session,
            self._stop,
            lambda: 0 if self.in_kernel else self.warm_pool_size,
            self.log,
        )
        self._cull_task: asyncio.Task[None] | None = None
        self._usage = UsageMonitor(
            self.live_sessions, lambda: (self.memory_limit, self.cpu_time_limit)
        )
        self.activity_listeners: list[Callable[[datetime], None]] = []
        self._closing = False
        self._started = False
        self._health = HealthCheck(
            lambda: self._new_session("default"), lambda: self.health_check_interval
        )
        self.document_budget = DocumentBudget(
            max_document_bytes=self.max_document_size,
            max_open_documents=self.max_open_documents,
            max_owner_bytes=self.max_user_document_bytes,
            max_edits_per_message=self.max_edits_per_message,
        )
        metrics.SESSION_STATES.add_source(self)

    def session_states(self) -> list[str]:
        """One state name per session, "warm" for the warm pool (read by /metrics)."""
        warm = self._warm.states()
        return [s.state.value for s in self.sessions.values()] + warm

    # -- configuration views ---------------------------------------------------------------

    def project_dir(self, project: str) -> str:
        """The real path of a configured project; UnknownProject when there is no such project
        or its folder may not be served (projects.py)."""
        if project not in self.projects:
            names = ", ".join(sorted(self.projects))
            raise UnknownProject(f"unknown Lean project {project!r}; known projects: {names}")
        path = self.projects[project]
        try:
            return check_project_dir(path, root_dir=self.root_dir or os.getcwd(), configured=[path])
        except UnsafeProject as exc:
            raise UnknownProject(f"Lean project {project!r}: {exc}") from exc

    def add_project(self, name: str, path: str) -> None:
        """Serve ``path`` as project ``name`` too (the kernel's %project, checked there)."""
        self.projects = {**self.projects, name: path}

    def command_for(self, project: str) -> LeanCommand:
        return resolve_command(self.lean_command, self.project_dir(project))

    def sandbox_in_force(self) -> str:
        """ "bwrap" or "none", or "unavailable: <why>" when bwrap is required but cannot run."""
        try:
            return effective_mode(self.sandbox, self.run_as_uid())
        except SandboxUnavailable:
            return f"unavailable: {bwrap_problem(self.run_as_uid())}"

    def run_as_uid(self) -> int | None:
        """The uid Lean servers run as, when it is not the Jupyter server's own (root only)."""
        if os.geteuid() != 0:
            return None
        if self.lean_uid >= 0:
            return self.lean_uid or None
        return NOBODY_UID if self.process_limit > 0 else None

    def limits(self) -> ResourceLimits:
        return ResourceLimits(
            cpu_seconds=self.cpu_time_limit,
            max_processes=self.process_limit,
            max_file_bytes=self.file_size_limit,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start background work (culling, warm pool); needs a running event loop.

        Idempotent: called by the server extension at startup and by every create()."""
        if self._started:
            return
        self._started = True
        if self.idle_timeout > 0 and not self.in_kernel:
            self._cull_task = asyncio.create_task(self._cull_loop())
        self._usage.start(self.usage_interval)
        if self.warm_pool_size > 0 and not self.in_kernel:
            for project in self.projects:
                self._warm.schedule_refill(project)

    async def shutdown(self) -> None:
        """Stop every Lean server; returns when all are reaped."""
        self._closing = True
        if self._cull_task is not None:
            self._cull_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cull_task
        await self._usage.stop()
        everything = list(self.sessions.values()) + await self._warm.close()
        await asyncio.gather(
            *(self._stop(session, "server shutting down") for session in everything),
            return_exceptions=True,
        )
        shutil.rmtree(self.workspace_root, ignore_errors=True)

    # -- sessions --------------------------------------------------------------------------

    def live_sessions(self) -> list[LeanSession]:
        return [s for s in self.sessions.values() if s.state is not SessionState.EXITED]

    def sessions_of(self, owner: str) -> list[LeanSession]:
        return [s for s in self.sessions.values() if s.owner == owner]

    def get(self, session_id: str, owner: str) -> LeanSession | None:
        """The session, or None when it does not exist or belongs to someone else."""
        session = self.sessions.get(session_id)
        return session if session is not None and session.owner == owner else None

    async def create(self, owner: str, project: str | None = None) -> LeanSession:
        self.start()
        project = project or "default"
        self.project_dir(project)
        mine = [s for s in self.live_sessions() if s.owner == owner]
        if len(mine) >= self.max_sessions_per_user:
            raise TooManySessions(
                f"{owner} already has {len(mine)} Lean sessions (the limit is "
                f"{self.max_sessions_per_user}); close one first"
            )
        if len(self.live_sessions()) >= self.max_sessions:
            raise ServerFull(
                f"this server runs {self.max_sessions} Lean sessions, its limit; try again later"
            )
        session = self._warm.take(project)
        if session is None:
            session = await self._new_session(project)
            self.sessions[session.id] = session
            session.owner = owner
            try:
                await session.start()
            except OSError as exc:
                del self.sessions[session.id]
                raise LeanUnavailable(f"could not start Lean: {exc}") from exc
        else:
            session.owner = owner
            self.sessions[session.id] = session
            session.touch()
        self._warm.schedule_refill(project, delay=REFILL_AFTER_TAKE_S)
        return session

    async def _new_session(self, project: str) -> LeanSession:
        project_dir = self.project_dir(project)
        try:
            command = self.command_for(project)
            sandbox = effective_mode(self.sandbox, self.run_as_uid())
        except SandboxUnavailable as exc:
            raise LeanUnavailable(str(exc)) from exc
        if not executable_exists(command.argv):
            raise LeanUnavailable(f"the Lean command {command.argv[0]!r} was not found")
        argv, env = await toolchain.launch_command(command, self.lean_flags(), self.run_as_uid())
        session_id = secrets.token_urlsafe(16)
        workspace = os.path.join(self.workspace_root, session_id)
        os.makedirs(workspace, mode=0o700, exist_ok=True)
        spec = LaunchSpec(
            argv=argv,
            cwd=project_dir,
            env=env,
            sandbox=sandbox,
            workspace_dir=workspace,
            limits=self.limits(),
            run_as_uid=self.run_as_uid(),
            tmpfs_size=self.tmpfs_size,
        )
        return LeanSession(
            session_id=session_id,
            owner=None,
            project=project,
            project_dir=project_dir,
            spec=spec,
            max_message_size=self.max_message_size,
            request_timeout=self.request_timeout,
            on_activity=self._activity,
            on_exit=self._session_exited,
            document_budget=self.document_budget,
            rate_limit=self.rate_limit,
            rate_burst=self.rate_burst,
        )

    def lean_flags(self) -> list[str]:
        """Lean command-line flags the settings ask for (before checking what Lean accepts)."""
        flags: list[str] = []
        if self.pass_lean_limits and self.memory_limit:
            # Lean's -M is in MB, per process: it stops an elaboration before the session's
            # whole tree reaches memory_limit.
            flags.append(f"-M{max(256, int(self.memory_limit * 0.75) >> 20)}")
        if self.pass_lean_limits and self.heartbeat_limit:
            flags.append(f"-DmaxHeartbeats={self.heartbeat_limit}")
        delay = 0 if self.in_kernel and self.report_delay_ms < 0 else self.report_delay_ms
        if delay >= 0:
            flags.append(f"-Dserver.reportDelayMs={delay}")
        return flags

    def kill_now(self) -> None:
        """SIGKILL every session's Lean (its whole process group) without waiting: for a
        process ending without shutdown() (the kernel's atexit)."""
        for session in list(self.sessions.values()):
            session.kill_now()

    async def delete(self, session_id: str, owner: str) -> bool:
        session = self.get(session_id, owner)
        if session is None:
            return False
        await self._stop(session, "deleted")
        return True

    async def _stop(self, session: LeanSession, reason: str) -> None:
        try:
            await session.stop(reason)
        finally:
            self.sessions.pop(session.id, None)
            shutil.rmtree(session.workspace_dir, ignore_errors=True)

    def _session_exited(self, session: LeanSession) -> None:
        self._warm.session_exited(session)

    def _activity(self, session: LeanSession) -> None:
        for listener in self.activity_listeners:
            listener(session.last_activity)

    # -- culling ---------------------------------------------------------------------------

    async def _cull_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cull_interval)
            await self.cull_idle()

    async def cull_idle(self) -> list[str]:
        """Stop sessions idle longer than idle_timeout (exited ones are removed the same way)."""
        if self.idle_timeout <= 0:
            return []
        idle = [s for s in self.sessions.values() if s.idle_seconds > self.idle_timeout]
        for session in idle:
            if session.state is not SessionState.EXITED:
                metrics.SESSIONS_CULLED.inc()
            self.log.info("Culling idle Lean session %s of %s", session.id, session.owner)
        await asyncio.gather(
            *(self._stop(s, "culled after being idle") for s in idle), return_exceptions=True
        )
        return [s.id for s in idle]

    # -- health ----------------------------------------------------------------------------

    async def check_lean(self, refresh: bool = False) -> SmokeResult:
        """Whether Lean works as configured (smoke.py); reused for ``health_check_interval``
        seconds, and one check at a time however many ask."""
        return await self._health.result(refresh)

    # -- resource usage and the warm pool ---------------------------------------------------

    async def measure_usage(self) -> None:
        """Measure every live session now, and end those over a limit (monitor.py)."""
        await self._usage.measure()

    async def wait_for_warm_pool(self) -> None:
        """Return once every refill of the warm pool that is under way has finished."""
        await self._warm.wait()
