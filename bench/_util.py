"""Helpers shared by the benchmarks: child processes in their own process groups, free ports,
readiness polling with a deadline, leftover-process checks, percentiles and Markdown tables.

Standard library only, so a benchmark runs wherever the project's own dependencies are installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Every process a benchmark starts inherits this variable (value: one id per run), so that
# leftovers can be found afterwards even when they were re-parented to init.
RUN_MARKER_VAR = "JUPYTER_LEAN_BENCH_RUN"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile_ms(samples: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) of millisecond samples, with ws_rtt.py's rule: median, and sorted[int(n*0.99)]."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Child:
    """A child process in its own session and process group, with its output in a log file.

    ``stop()`` asks politely (``stop_signal`` to the leader), waits ``grace`` seconds, then
    SIGKILLs the whole group; it is safe to call more than once.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_path: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
        grace: float = 15.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.grace = grace
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(text[-lines:])
        return ""

    def stop(self) -> int | None:
        """Stop the process and everything left in its process group; returns the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(self.grace)
        # The leader is gone (or did not go in time): nothing of its group may outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def run_captured(
    argv: Sequence[str], *, env: dict[str, str], timeout: float
) -> tuple[int | None, str, str]:
    """Run to completion in its own process group; on timeout the whole group is killed.

    Returns (exit code or None on timeout, stdout, stderr)."""
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """(status, body) of one HTTP request; HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(
    what: str,
    check: Callable[[], Any],
    *,
    deadline_s: float,
    alive: Callable[[], bool] | None = None,
    interval_s: float = 0.02,
    on_fail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy; TimeoutError after ``deadline_s``
    (RuntimeError at once if ``alive`` says the process behind it died)."""
    end = time.monotonic() + deadline_s
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError) as exc:  # connection refused, reset, half-written JSON
            last_error = exc
        if alive is not None and not alive():
            detail = on_fail() if on_fail else ""
            raise RuntimeError(f"{what}: the process exited before it was ready\n{detail}")
        if time.monotonic() > end:
            detail = on_fail() if on_fail else ""
            raise TimeoutError(
                f"{what}: not ready after {deadline_s:.0f} s (last error: {last_error})\n{detail}"
            )
        time.sleep(interval_s)


def http_answers(url: str, token: str | None = None) -> bool:
    """True once anything answers HTTP at ``url`` (any status counts: the server is up)."""
    status, _ = http("GET", url, token=token, timeout=2.0)
    return status > 0


def _read_proc(pid: str, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return b""


def pids() -> set[int]:
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


def leftovers(marker: str, before: Iterable[int], needles: Sequence[str] = ()) -> list[str]:
    """Processes started since ``before`` that carry the run marker in their environment or one
    of ``needles`` (e.g. the run's temporary folder) in their command line, as "pid cmdline".
    Ourselves and our ancestors excluded."""
    skip = set(before) | {os.getpid()}
    marker_bytes = f"{RUN_MARKER_VAR}={marker}".encode()
    found = []
    for pid in sorted(pids() - skip):
        environ = _read_proc(str(pid), "environ").split(b"\0")
        cmdline = _read_proc(str(pid), "cmdline").replace(b"\0", b" ").decode(errors="replace")
        stat = _read_proc(str(pid), "stat")
        if b") Z " in stat:  # a zombie waiting for its parent: already dead
            continue
        if marker_bytes in environ or any(n and n in cmdline for n in needles):
            found.append(f"{pid} {cmdline.strip()}")
    return found


def kill_pids(lines: Iterable[str]) -> None:
    for line in lines:
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None
) -> str:
    """A GitHub Markdown table; ``align`` holds "l" or "r" per column."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
