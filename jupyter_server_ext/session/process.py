"""One Lean server child process: start in its own process group under limits, read its stderr,
notice its exit at once, stop it politely then firmly."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import resource
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .sandbox import bwrap_argv, sandbox_env

STDERR_TAIL_LINES = 40
_STREAM_LIMIT = 1 << 20


@dataclass(frozen=True)
class ResourceLimits:
    """rlimits for the Lean server and everything it starts; 0 means no limit."""

    memory_bytes: int = 0
    cpu_seconds: int = 0
    max_processes: int = 0
    max_file_bytes: int = 0

    def apply(self) -> None:
        """Runs in the child between fork and exec."""
        for limit, value in (
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_NPROC, self.max_processes),
            (resource.RLIMIT_FSIZE, self.max_file_bytes),
        ):
            if value:
                resource.setrlimit(limit, (value, value))


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    cwd: str
    env: Mapping[str, str]
    sandbox: str  # "bwrap" or "none": already resolved, never "auto"
    workspace_dir: str
    limits: ResourceLimits


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hints = {"SIGKILL": " (killed: out of memory, a limit, or by hand)",
                 "SIGXCPU": " (the CPU time limit was reached)",
                 "SIGSEGV": " (crashed)"}
        return f"killed by {name}{hints.get(name, '')}"
    return f"exited with code {returncode}"


class LeanProcess:
    """The OS side of a Lean server: pipes, stderr tail, exit detection, stopping."""

    def __init__(self, spec: LaunchSpec, on_exit: Callable[[int], None]) -> None:
        self.spec = spec
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._tasks: list[asyncio.Task[None]] = []
        self.returncode: int | None = None
        self.exited = asyncio.Event()

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
            argv = bwrap_argv(argv, project_dir=spec.cwd, workspace_dir=spec.workspace_dir)
            env = sandbox_env(env, spec.workspace_dir)
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=spec.cwd,
            env=env,
            # Own session and process group: Lean's watchdog starts one worker per file, and a stop
            # must reach all of them.
            start_new_session=True,
            preexec_fn=spec.limits.apply,
            limit=_STREAM_LIMIT,
        )
        self._tasks = [
            asyncio.create_task(self._read_stderr()),
            asyncio.create_task(self._wait()),
        ]

    def write(self, data: bytes) -> None:
        """Queue bytes for Lean's stdin; a closed pipe is ignored (the exit is reported)."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            proc.stdin.write(data)

    def stdin_buffered_bytes(self) -> int:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return 0
        return proc.stdin.transport.get_write_buffer_size()

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        stderr = self._proc.stderr
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
        returncode = await self._proc.wait()
        self.returncode = returncode
        # Workers (and anything #eval started) may outlive the watchdog: take the group down too.
        self._kill_group(signal.SIGKILL)
        self.exited.set()
        self._on_exit(returncode)

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def terminate(self, grace: float) -> None:
        """EOF on stdin, then SIGTERM to the group, then SIGKILL, ``grace`` seconds apart;
        returns once the process is reaped."""
        if self._proc is None:
            return
        if not self.exited.is_set():
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), grace)
        if not self.exited.is_set():
            self._kill_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
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

    def kill_now(self) -> None:
        """Synchronous last resort (interpreter exit): SIGKILL the whole group."""
        if self._proc is not None and self.returncode is None:
            self._kill_group(signal.SIGKILL)
