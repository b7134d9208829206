"""One Lean server child process: start in its own process group under limits, read its stderr,
notice its exit at once, stop it politely then firmly."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import resource
import shutil
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from .coalesce import TurnCoalescer
from .sandbox import bwrap_argv, run_as_kwargs, sandbox_env

STDERR_TAIL_LINES = 40
_STREAM_LIMIT = 1 << 20
MiB = 1 << 20
# RLIMIT_CPU: SIGXCPU at the soft limit (the reason is then plain in the exit status), SIGKILL
# this many seconds later for a process that ignores SIGXCPU.
_CPU_KILL_GRACE = 5
# Lines in a dying process's stderr that say it ran out of memory: Python's MemoryError, Lean's
# "INTERNAL PANIC: out of memory", C++'s std::bad_alloc, strerror(ENOMEM).
_OUT_OF_MEMORY_MARKERS = ("MemoryError", "out of memory", "bad_alloc", "Cannot allocate memory")
# bwrap exits with 128 + N when the sandboxed program was killed by signal N.
_SIGNAL_EXIT_BASE = 128
NOTE_PREFIX = "jupyter-lean: "
# How long a stop waits for the killed processes of a Lean tree to be gone.
STOP_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class ResourceLimits:
    """rlimits for the Lean server and everything it starts; 0 means no limit.

    Each applies to every process of the Lean server on its own (the watchdog and each file
    worker), since rlimits are per process; ``max_processes`` (RLIMIT_NPROC) is the exception:
    the kernel counts all processes and threads of the user the Lean server runs as, and ignores
    the limit for root (see ``LaunchSpec.run_as_uid``). Memory is not among them: a Lean worker
    reserves over 10 GiB of address space for any file, so RLIMIT_AS kills it, and RLIMIT_RSS does
    nothing on Linux. Memory is measured per session instead (usage.py, the manager's monitor).
    """

    cpu_seconds: int = 0
    max_processes: int = 0
    max_file_bytes: int = 0

    def apply(self) -> None:
        """Runs in the child between fork and exec."""
        # A core dump of a multi-gigabyte Lean worker (SIGXCPU dumps core) helps nobody.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        for limit, soft, hard in (
            (resource.RLIMIT_CPU, self.cpu_seconds, self.cpu_seconds + _CPU_KILL_GRACE),
            (resource.RLIMIT_NPROC, self.max_processes, self.max_processes),
            (resource.RLIMIT_FSIZE, self.max_file_bytes, self.max_file_bytes),
        ):
            if soft:
                resource.setrlimit(limit, _within_hard_limit(limit, soft, hard))

    def prlimit_argv(self, prlimit: str) -> list[str]:
        """The same limits as apply(), as a ``prlimit ... --`` command prefix."""
        args = [prlimit, "--core=0"]
        for option, limit, soft, hard in (
            ("--cpu", resource.RLIMIT_CPU, self.cpu_seconds, self.cpu_seconds + _CPU_KILL_GRACE),
            ("--nproc", resource.RLIMIT_NPROC, self.max_processes, self.max_processes),
            ("--fsize", resource.RLIMIT_FSIZE, self.max_file_bytes, self.max_file_bytes),
        ):
            if soft:
                soft, hard = _within_hard_limit(limit, soft, hard)
                args.append(f"{option}={soft}:{hard}")
        return [*args, "--"]

    def explain(self, returncode: int, stderr_lines: Iterable[str]) -> str | None:
        """A sentence naming the limit that ended a process, when one evidently did."""
        if returncode == -signal.SIGXCPU and self.cpu_seconds:
            return (
                f"the CPU time limit was reached ({self.cpu_seconds} s of CPU per process, "
                "cpu_time_limit)"
            )
        if returncode == -signal.SIGXFSZ and self.max_file_bytes:
            return (
                f"the file size limit was reached ({self.max_file_bytes // MiB} MiB per "
                "file, file_size_limit)"
            )
        if returncode != 0 and any(
            marker in line for line in stderr_lines for marker in _OUT_OF_MEMORY_MARKERS
        ):
            return (
                "Lean ran out of memory (its own -M limit, set from memory_limit, or the machine's)"
            )
        return None


def _within_hard_limit(limit: int, soft: int, hard: int) -> tuple[int, int]:
    """(soft, hard) lowered to the hard limit already in force: an unprivileged server cannot
    raise it, and a failing setrlimit between fork and exec would fail the whole start."""
    _, current_hard = resource.getrlimit(limit)
    if current_hard == resource.RLIM_INFINITY:
        return soft, hard
    return min(soft, current_hard), min(hard, current_hard)


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    cwd: str
    env: Mapping[str, str]
    sandbox: str  # "bwrap" or "none": already resolved, never "auto"
    workspace_dir: str
    limits: ResourceLimits
    # Run Lean as this uid (and the same gid), set when the Jupyter server runs as root: the
    # kernel ignores RLIMIT_NPROC for root, so a process limit binds only an unprivileged user.
    # The workspace is handed to that user; project and toolchain must be readable by it.
    run_as_uid: int | None = None
    # Cap of each memory-backed folder of the sandbox (/tmp, /dev/shm, the workspace); 0 = none.
    tmpfs_size: int = 0


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hints = {
            "SIGKILL": " (killed: out of memory, a limit, or by hand)",
            "SIGXCPU": " (the CPU time limit was reached)",
            "SIGXFSZ": " (the file size limit was reached)",
            "SIGSEGV": " (crashed)",
        }
        return f"killed by {name}{hints.get(name, '')}"
    return f"exited with code {returncode}"


def add_lean_flags(argv: list[str], flags: list[str]) -> list[str]:
    """``argv`` with Lean command-line ``flags`` (``-M``, ``-T``) added where Lean reads them:
    after ``lean --server``, or after the ``--`` of ``lake serve --`` (added when missing).
    Commands that are neither (wrappers, test stand-ins) are returned unchanged."""
    if not argv or not flags:
        return list(argv)
    program = os.path.basename(argv[0]).removesuffix(".exe")
    if program == "lean" and "--server" in argv:
        return [*argv, *flags]
    if program == "lake" and "serve" in argv:
        after_serve = argv[argv.index("serve") + 1 :]
        return [*argv, *flags] if "--" in after_serve else [*argv, "--", *flags]
    return list(argv)


class ProcStat(NamedTuple):
    parent: int
    group: int
    state: str  # "R", "S", ... ; "Z" for a zombie awaiting its reaper
    cpu_ticks: int  # user + system time so far, in clock ticks
    children_cpu_ticks: int  # the same for its children that exited and were reaped


def proc_stat(pid: int) -> ProcStat | None:
    """What /proc says of ``pid``; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return ProcStat(
        int(fields[1]),
        int(fields[2]),
        fields[0].decode(),
        int(fields[11]) + int(fields[12]),
        int(fields[13]) + int(fields[14]),
    )


def process_table() -> dict[int, ProcStat]:
    table: dict[int, ProcStat] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and (stat := proc_stat(int(entry.name))) is not None:
                table[int(entry.name)] = stat
    return table


def children_map(table: Mapping[int, ProcStat]) -> dict[int, list[int]]:
    """Parent pid -> child pids, from one /proc snapshot."""
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.parent, []).append(pid)
    return children


def descendants(
    root: int,
    table: Mapping[int, ProcStat] | None = None,
    children: Mapping[int, list[int]] | None = None,
) -> set[int]:
    """Every process below ``root`` in the process tree (read from /proc)."""
    if children is None:
        children = children_map(process_table() if table is None else table)
    found: set[int] = set()
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.add(pid)
        pending.extend(children.get(pid, []))
    return found


def descendant_groups(root: int) -> tuple[set[int], set[int]]:
    """``root``'s descendants, and their process groups other than its own."""
    table = process_table()
    below = descendants(root, table)
    return below, {table[pid].group for pid in below if table[pid].group != root}


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def wait_exited(pids: Iterable[int], timeout: float) -> None:
    """Return once every process in ``pids`` has exited (a zombie counts), or after
    ``timeout`` s. Event-driven through pidfds, which also work for processes that are not our
    children (Lean's workers, re-parented once their watchdog is gone)."""
    loop = asyncio.get_running_loop()
    fds: list[int] = []
    waiters: list[asyncio.Future[None]] = []
    try:
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except OSError:  # already gone (or pidfds unsupported: nothing to wait on)
                continue
            fds.append(fd)
            waiter: asyncio.Future[None] = loop.create_future()
            loop.add_reader(fd, _resolve, waiter)
            waiters.append(waiter)
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
    finally:
        for fd in fds:
            loop.remove_reader(fd)
            os.close(fd)


class LeanProcess:
    """The OS side of a Lean server: pipes, stderr tail, exit detection, stopping."""

    def __init__(
        self,
        spec: LaunchSpec,
        on_exit: Callable[[int], None],
        on_stdin_backlog: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self._on_exit = on_exit
        self._on_stdin_backlog = on_stdin_backlog
        self._proc: asyncio.subprocess.Process | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._tasks: list[asyncio.Task[None]] = []
        self._stderr_reader: asyncio.Task[None] | None = None
        self._stderr = asyncio.StreamReader()
        self._stderr_transport: asyncio.ReadTransport | None = None
        self.returncode: int | None = None
        self.exited = asyncio.Event()
        self._stdin = TurnCoalescer(self._write_stdin)
        self._worker_groups: set[int] = set()
        self._tree_pids: set[int] = set()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self._proc is not None and self._proc.stdout is not None
        return self._proc.stdout

    async def start(self) -> None:
        spec = self.spec
        argv, env = list(spec.argv), dict(spec.env)
        if spec.sandbox == "bwrap":
            argv = bwrap_argv(
                argv,
                project_dir=spec.cwd,
                workspace_dir=spec.workspace_dir,
                tmpfs_size=spec.tmpfs_size,
                run_as_uid=spec.run_as_uid,
            )
            env = sandbox_env(env, spec.workspace_dir)
        user = run_as_kwargs(spec.run_as_uid)
        if user and spec.run_as_uid is not None:
            # The workspace is the one place the unprivileged Lean may write.
            os.chown(spec.workspace_dir, spec.run_as_uid, spec.run_as_uid)
        # Limits through util-linux's prlimit rather than a preexec_fn: without preexec_fn (and
        # without a user switch) Python spawns with vfork, so starting Lean does not copy the
        # whole Jupyter server's memory on the event loop (which stalled every client for
        # milliseconds, more as the server grows).
        # stderr on a pipe of our own, outside asyncio's subprocess transport: Lean's file workers
        # (and whatever #eval starts) inherit it, and the transport would report the watchdog's
        # exit only once every holder of its pipes is gone.
        stderr_read, stderr_write = os.pipe()
        prlimit = shutil.which("prlimit")
        preexec: Callable[[], None] | None = spec.limits.apply
        if prlimit is not None and not user:
            argv, preexec = [*spec.limits.prlimit_argv(prlimit), *argv], None
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr_write,
            cwd=spec.cwd,
            env=env,
            # Own session and process group: Lean's watchdog starts one worker per file, and a stop
            # must reach all of them.
            start_new_session=True,
            preexec_fn=preexec,
            limit=_STREAM_LIMIT,
            **user,  # type: ignore[arg-type]
        )
        os.close(stderr_write)
        self._stderr = asyncio.StreamReader(limit=_STREAM_LIMIT)
        self._stderr_transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self._stderr), os.fdopen(stderr_read, "rb", 0)
        )
        self._stderr_reader = asyncio.create_task(self._read_stderr())
        self._tasks = [self._stderr_reader, asyncio.create_task(self._wait())]

    def write(self, data: bytes) -> None:
        """Queue bytes for Lean's stdin (coalesced per turn of the event loop); a closed pipe is
        ignored (the exit is reported)."""
        self._stdin.push(data)

    def flush_stdin(self) -> None:
        """Hand what ``write`` queued to the pipe now."""
        self._stdin.flush()

    def _write_stdin(self, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            proc.stdin.write(data)
        if self._on_stdin_backlog is not None and proc.stdin.transport.get_write_buffer_size():
            self._on_stdin_backlog()  # the pipe is full: Lean is not keeping up (or stuck)

    def stdin_buffered_bytes(self) -> int:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return 0
        return self._stdin.queued_bytes + proc.stdin.transport.get_write_buffer_size()

    async def drain(self) -> None:
        """Return once Lean has taken what was queued for it (or its stdin is gone)."""
        self.flush_stdin()
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError, AssertionError):
            await proc.stdin.drain()

    async def _read_stderr(self) -> None:
        stderr = self._stderr
        while True:
            try:
                line = await stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                # A line longer than the stream limit: keep the start, skip the rest.
                chunk = await stderr.read(_STREAM_LIMIT)
                line = chunk[:500] + b"..."
            if not line:
                return
            self.stderr_tail.append(line.decode(errors="replace").rstrip("\n"))

    async def _wait(self) -> None:
        assert self._proc is not None
        returncode = self._normalize(await self._proc.wait())
        self.returncode = returncode
        # Workers (and anything #eval started) may outlive the watchdog: take the group down too.
        self._kill_group(signal.SIGKILL)
        await self._drain_stderr()
        note = self.spec.limits.explain(returncode, self.stderr_tail)
        if note is not None:
            self.stderr_tail.append(NOTE_PREFIX + note)
        self.exited.set()
        self._on_exit(returncode)

    def _normalize(self, returncode: int) -> int:
        """Under bwrap, "killed by signal N" arrives as exit code 128 + N: report it as -N, the
        way a direct child's signal death is reported, so describe_exit names the signal."""
        if self.spec.sandbox == "bwrap" and _SIGNAL_EXIT_BASE < returncode < _SIGNAL_EXIT_BASE + 65:
            return _SIGNAL_EXIT_BASE - returncode
        return returncode

    async def _drain_stderr(self) -> None:
        """Let the stderr reader take the dying process's last lines (the traceback or panic that
        says why), bounded: a stray holder of the pipe must not delay the exit report."""
        reader = self._stderr_reader
        if reader is not None and not reader.done():
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 2.0)

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def note_worker_groups(self) -> None:
        """Remember the process groups below the watchdog now: once it has exited, its workers
        are re-parented and can no longer be found (call before sending ``exit``)."""
        if self._proc is not None and not self.exited.is_set():
            below, groups = descendant_groups(self._proc.pid)
            self._tree_pids |= below
            self._worker_groups |= groups

    async def terminate(self, grace: float) -> None:
        """EOF on stdin, then SIGTERM to the group, then SIGKILL, ``grace`` seconds apart;
        returns once the process is reaped."""
        if self._proc is None:
            return
        # Lean's file workers setsid into process groups of their own: note them while the
        # watchdog still holds them as children, to stop them with it.
        self.note_worker_groups()
        worker_groups = self._worker_groups
        try:
            await self._terminate_watchdog(grace)
        finally:
            for group in worker_groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
            # A SIGKILL is delivered, not yet done, when kill() returns: "stopped" means every
            # process of the tree is gone (the contract of DELETE).
            await wait_exited(self._tree_pids, STOP_WAIT_SECONDS)
            if self._stderr_transport is not None:
                self._stderr_transport.close()

    async def _terminate_watchdog(self, grace: float) -> None:
        assert self._proc is not None
        if not self.exited.is_set():
            self.flush_stdin()
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self.exited.wait(), grace)
        if not self.exited.is_set():
            self._kill_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self.exited.wait(), grace)
        if not self.exited.is_set():
            self._kill_group(signal.SIGKILL)
            await self.exited.wait()
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._proc.stdin is not None:
            self._proc.stdin.close()
