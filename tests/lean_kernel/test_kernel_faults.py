"""Interrupts, timeouts, crashes, a missing or broken Lean, and no Lean process left behind: all
through jupyter_client, against kernels of their own. The faults are scripted with the stand-in's
directives (`-- standin: delay|crash|exit|hang`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import (
    Execution,
    JupyterDirs,
    KernelHarness,
    make_dirs,
    process_gone,
)
from support import LeanServerUnderTest, time_limit

SLOW_SECONDS = 60
SLOW_CELL = f"def gone : Nat := 2\n-- standin: delay {SLOW_SECONDS}"


def pace(kernel: KernelHarness, samples: int = 3) -> float:
    """The slowest of a few kernel_info round trips: how slow this machine is right now."""
    slowest = 0.0
    for _ in range(samples):
        started = time.monotonic()
        kernel.request("kernel_info")
        slowest = max(slowest, time.monotonic() - started)
    return slowest


def wait_until_lean_is_busy(kernel: KernelHarness, msg_id: str) -> list[dict[str, Any]]:
    """Read the cell's outputs until its progress display says Lean waits at line 2 (needs
    progress_delay=0): from then on an interrupt or timeout hits a cell Lean is checking."""
    seen = []
    while True:
        msg = kernel.next_output(msg_id)
        if msg["msg_type"] not in ("status", "execute_input"):
            seen.append(msg)
        text = msg["content"].get("data", {}).get("text/plain", "")
        if msg["msg_type"] == "update_display_data" and "line 2 of this cell" in text:
            return seen


@pytest.fixture(scope="module")
def fault_dirs(jupyter_dirs: JupyterDirs, tmp_path_factory: pytest.TempPathFactory) -> JupyterDirs:
    """Kernel specs for the faults: interrupt by message, and Lean commands that cannot work."""
    dirs = make_dirs(tmp_path_factory.mktemp("faults"))
    standin = (jupyter_dirs.kernels / "lean4" / "kernel.json").read_text()
    (dirs.kernels / "lean4").mkdir(parents=True)
    (dirs.kernels / "lean4" / "kernel.json").write_text(standin)
    env = json.loads(standin)["env"]
    dirs.add_kernel("lean4-message", env=env, extra={"interrupt_mode": "message"})
    python = shlex.quote(sys.executable)
    broken = {
        "missing-command": "/nonexistent/bin/lean --server",
        "exits": f"{python} -c \"import sys; sys.stderr.write('lean: boom\\n'); sys.exit(5)\"",
        "silent": f'{python} -c "import time; time.sleep(600)"',
    }
    for name, command in broken.items():
        dirs.add_kernel(f"lean4-{name}", env={"JUPYTER_LEAN_COMMAND": command})
    dirs.add_kernel("lean4-nothing")  # no command: auto-detection, with no Lean installed
    return dirs


@pytest.mark.parametrize("name", ["lean4", "lean4-message"])
def test_interrupt_abandons_the_cell(
    kernel_factory: Any, fault_dirs: JupyterDirs, name: str, standin_only: None
) -> None:
    kernel = kernel_factory(
        dirs=fault_dirs, name=name, extra_arguments=["--LeanKernel.progress_delay=0"]
    )
    kernel.ok("def kept : Nat := 1", cell_id="A")
    pid = kernel.lean_pid()
    msg_id = kernel.send_execute(SLOW_CELL, cell_id="B")
    seen = wait_until_lean_is_busy(kernel, msg_id)
    started = time.monotonic()
    kernel.km.interrupt_kernel()
    result = kernel.finish(msg_id, seen=seen)
    assert time.monotonic() - started < SLOW_SECONDS / 2  # abandoned, not waited for
    assert result.status == "error"
    assert result.content["ename"] == "LeanInterrupted"
    assert "taken out of the Lean document" in result.error_text
    assert "clear_output" in [m["msg_type"] for m in result.outputs]
    # Lean is usable, the cell is gone, the same Lean server goes on.
    assert kernel.ok("#eval kept").stdout == "1\n"
    assert "gone" not in kernel.document()
    assert kernel.lean_pid() == pid
    assert kernel.ok("def gone : Nat := 3\n#eval gone", cell_id="B").stdout == "3\n"


def test_interrupting_a_rerun_restores_the_previous_text(
    kernel_factory: Any, standin_only: None
) -> None:
    kernel = kernel_factory(extra_arguments=["--LeanKernel.progress_delay=0"])
    kernel.ok("def value : Nat := 1", cell_id="A")
    msg_id = kernel.send_execute("def value : Nat := 2\n-- standin: delay 60", cell_id="A")
    seen = wait_until_lean_is_busy(kernel, msg_id)
    kernel.km.interrupt_kernel()
    result = kernel.finish(msg_id, seen=seen)
    assert result.content["ename"] == "LeanInterrupted"
    assert "previous text" in result.error_text
    assert kernel.ok("#eval value", cell_id="B").stdout == "1\n"


def test_interrupt_when_idle_changes_nothing(kernel_factory: Any) -> None:
    kernel = kernel_factory()
    kernel.ok("def still : Nat := 1")
    kernel.km.interrupt_kernel()
    assert kernel.ok("#eval still").stdout == "1\n"


@pytest.mark.parametrize("how", ["magic", "trait"])
def test_timeout_abandons_the_cell(kernel_factory: Any, how: str, standin_only: None) -> None:
    arguments = ["--LeanKernel.cell_timeout=1"] if how == "trait" else []
    kernel = kernel_factory(extra_arguments=arguments)
    kernel.ok("def kept : Nat := 1")
    code = SLOW_CELL if how == "trait" else "%timeout 1\n" + SLOW_CELL
    started = time.monotonic()
    result = kernel.execute(code)
    assert time.monotonic() - started < SLOW_SECONDS / 2  # abandoned, not waited for
    assert result.content["ename"] == "LeanTimeout"
    assert "longer than 1 s" in result.error_text
    assert kernel.ok("#eval kept").stdout == "1\n"
    assert "gone" not in kernel.document()


def test_worker_crash(kernel_factory: Any, standin_only: None) -> None:
    kernel = kernel_factory()
    kernel.ok("def kept : Nat := 1")
    pid = kernel.lean_pid()
    result = kernel.execute("def boom : Nat := 2\n-- standin: crash")
    assert result.content["ename"] == "LeanCrashed"
    assert "crashed" in result.error_text
    assert kernel.ok("#eval kept").stdout == "1\n"
    assert "boom" not in kernel.document()
    assert kernel.lean_pid() == pid  # only the file worker was restarted


def test_server_exit_restarts_lean(kernel_factory: Any, standin_only: None) -> None:
    kernel = kernel_factory()
    kernel.ok("def kept : Nat := 1")
    pid = kernel.lean_pid()
    result = kernel.execute("def boom : Nat := 2\n-- standin: exit 3")
    assert result.content["ename"] == "LeanCrashed"
    assert "exited with code 3" in result.error_text
    assert "Watchdog error: standin exit" in result.error_text  # Lean's last stderr lines
    assert process_gone(pid)
    assert kernel.ok("#eval kept").stdout == "1\n"  # the document came back with the new Lean
    assert kernel.lean_pid() != pid


def test_hung_server_is_replaced(kernel_factory: Any, standin_only: None) -> None:
    kernel = kernel_factory(extra_arguments=["--LeanKernel.recover_timeout=1"])
    kernel.ok("def kept : Nat := 1")
    pid = kernel.lean_pid()
    limit = time_limit(20, pace(kernel))
    started = time.monotonic()
    result = kernel.execute(
        "%timeout 1\ndef stuck : Nat := 2\n-- standin: hang", timeout=limit + 10
    )
    assert time.monotonic() - started < limit  # the hang is for ever
    assert result.content["ename"] == "LeanTimeout"
    assert "Lean server was restarted" in result.error_text
    assert process_gone(pid)
    assert kernel.ok("#eval kept").stdout == "1\n"


def test_culled_lean_comes_back(kernel_factory: Any) -> None:
    kernel = kernel_factory(
        extra_arguments=[
            "--LeanSessionManager.idle_timeout=0.5",
            "--LeanSessionManager.cull_interval=0.1",
        ]
    )
    kernel.ok("def kept : Nat := 1")
    pid = kernel.lean_pid()
    assert process_gone(pid, timeout=10)  # culled after half a second without activity
    result = kernel.ok("#eval kept")
    assert result.stdout == "1\n"
    assert "Lean had been stopped after 0.5 s without use" in result.stderr


def test_a_cell_running_past_idle_timeout_keeps_its_lean(
    kernel_factory: Any, standin_only: None
) -> None:
    """The kernel's idle culler must not stop Lean under a running cell (test above: it does
    stop an idle one with the same settings)."""
    kernel = kernel_factory(
        extra_arguments=[
            "--LeanSessionManager.idle_timeout=0.5",
            "--LeanSessionManager.cull_interval=0.1",
        ]
    )
    # Six idle timeouts of elaboration, with no message between the kernel and Lean. (One cell:
    # Lean may well be culled before it, idle, and started again for it.)
    result = kernel.execute(
        "def kept : Nat := 1\ndef slow : Nat := 2\n-- standin: delay 3\n#eval slow + kept"
    )
    assert result.status == "ok", result.error_text
    assert result.stdout == "3\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "lean4-missing-command",
            ["/nonexistent/bin/lean", "https://lean-lang.org/install/", "JUPYTER_LEAN_COMMAND"],
        ),
        ("lean4-nothing", ["Lean 4 was not found", "elan", "Tried: lean"]),
        ("lean4-exits", ["exited with code 5", "lean: boom"]),
        ("lean4-silent", ["did not answer `initialize` within 1 s"]),
    ],
)
def test_missing_or_broken_lean_is_a_clear_error(
    kernel_factory: Any, fault_dirs: JupyterDirs, tmp_path: Path, name: str, expected: list[str]
) -> None:
    # No Lean anywhere: a PATH with only this Python, an empty elan home.
    env = {"PATH": os.path.dirname(sys.executable), "ELAN_HOME": str(tmp_path / "no-elan")}
    kernel = kernel_factory(
        dirs=fault_dirs, name=name, env=env, extra_arguments=["--LeanKernel.startup_timeout=1"]
    )
    baseline = pace(kernel)
    for _ in range(2):  # every cell says it again (Lean may be installed meanwhile)
        started = time.monotonic()
        result = kernel.execute("#eval 1")
        assert time.monotonic() - started < time_limit(15, baseline)
        assert result.status == "error"
        assert result.content["ename"] == "LeanUnavailable"
        for text in expected:
            assert text in result.error_text
    started = time.monotonic()
    assert kernel.complete("#eval Nat.su")["matches"] == []  # no new start for a completion
    assert time.monotonic() - started < time_limit(5, baseline)
    assert kernel.km.is_alive()


def test_shutdown_leaves_no_lean_process(kernel_factory: Any) -> None:
    kernel: KernelHarness = kernel_factory()
    kernel.ok("def x : Nat := 1")
    pid = kernel.lean_pid()
    kernel.shutdown()
    assert process_gone(pid, timeout=5)


def test_restart_leaves_no_lean_process(kernel_factory: Any) -> None:
    kernel: KernelHarness = kernel_factory()
    kernel.ok("def x : Nat := 1")
    pid = kernel.lean_pid()
    kernel.km.restart_kernel(now=False)
    kernel.kc.wait_for_ready(timeout=30)
    assert process_gone(pid, timeout=5)
    fresh: Execution = kernel.execute("#eval x")
    assert "unknown identifier 'x'" in fresh.error_text  # a new kernel, an empty document
    assert kernel.lean_pid() != pid


def test_killed_kernel_takes_lean_with_it(kernel_factory: Any) -> None:
    kernel: KernelHarness = kernel_factory()
    kernel.ok("def x : Nat := 1")
    pid = kernel.lean_pid()
    kernel_pid = kernel.km.provisioner.pid  # type: ignore[union-attr]
    os.kill(kernel_pid, signal.SIGKILL)
    assert process_gone(kernel_pid, timeout=5)
    assert process_gone(pid, timeout=10)  # Lean sees EOF on stdin (and bwrap dies with it)


def dying_lean(starts: Path) -> str:
    """A Lean command that dies at start as a broken toolchain does: a message on stderr, exit
    code 1. Each start adds a line to ``starts`` (so it runs outside the sandbox: NO_SANDBOX)."""
    script = (
        f"import sys; open({str(starts)!r}, 'a').write('start\\n'); "
        "sys.stderr.write('error: no default toolchain configured\\n'); sys.exit(1)"
    )
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"


NO_SANDBOX = "--LeanSessionManager.sandbox=none"


def start_count(starts: Path) -> int:
    return len(starts.read_text().splitlines()) if starts.exists() else 0


@pytest.mark.parametrize("start_lean", ["startup", "lazy"])
def test_lean_dying_at_start_shows_its_stderr_and_is_not_restarted_for_every_cell(
    kernel_factory: Any, tmp_path: Path, start_lean: str
) -> None:
    starts = tmp_path / "starts"
    dirs = make_dirs(tmp_path / "jupyter")
    dirs.add_kernel("lean4", env={"JUPYTER_LEAN_COMMAND": dying_lean(starts)})
    kernel = kernel_factory(
        dirs=dirs,
        extra_arguments=[
            f"--LeanKernel.start_lean={start_lean}",
            "--LeanKernel.restart_backoff=600",
            NO_SANDBOX,
        ],
    )
    first = kernel.execute("def x : Nat := 1")
    assert first.content["ename"] == "LeanUnavailable"
    # The one-line summary (what papermill and nbclient print) carries Lean's stderr too.
    assert "exited with code 1" in first.content["evalue"]
    assert "error: no default toolchain configured" in first.content["evalue"]
    assert "error: no default toolchain configured" in first.error_text
    assert start_count(starts) == 1
    for _ in range(3):
        again = kernel.execute("def x : Nat := 1")
        assert again.content["ename"] == "LeanUnavailable"
        assert "error: no default toolchain configured" in again.content["evalue"]
        assert re.search(r"started again in \d+ s at the earliest", again.error_text)
        assert "%reset" in again.error_text
    assert start_count(starts) == 1  # no new Lean for those cells
    assert kernel.complete("#check Nat.su")["matches"] == []
    # %reset tries again at once (and Lean dies again: one more start, a new pause).
    reset = kernel.execute("%reset\ndef x : Nat := 1")
    assert reset.content["ename"] == "LeanUnavailable"
    assert start_count(starts) == 2
    assert "failed to start 2 times in a row" in kernel.execute("def x : Nat := 1").error_text
    assert start_count(starts) == 2


def test_a_fixed_configuration_ends_the_pause_at_once(
    kernel_factory: Any, tmp_path: Path, lean_server: LeanServerUnderTest
) -> None:
    starts = tmp_path / "starts"
    dirs = make_dirs(tmp_path / "jupyter")
    dirs.add_kernel("lean4")  # Lean's command comes from the config file
    config = dirs.config / "jupyter_server_config.py"
    config.write_text(f"c.LeanSessionManager.lean_command = {shlex.split(dying_lean(starts))!r}\n")
    kernel = kernel_factory(
        dirs=dirs, extra_arguments=["--LeanKernel.restart_backoff=600", NO_SANDBOX]
    )
    assert kernel.execute("def x : Nat := 1").content["ename"] == "LeanUnavailable"
    assert kernel.execute("def x : Nat := 1").content["ename"] == "LeanUnavailable"
    assert start_count(starts) == 1
    config.write_text(f"c.LeanSessionManager.lean_command = {lean_server.argv!r}\n")
    assert kernel.ok("def x : Nat := 1\n#check x").stdout == "x : Nat\n"
    assert start_count(starts) == 1
    assert lean_server.argv[-1] in kernel.ok("%env").stdout
