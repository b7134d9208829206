"""The kernel on the real Lean, with the product's default settings (the `real_lean` tier): no
JUPYTER_LEAN_COMMAND, no lean_command, the default sandbox and limits; Lean is found as a user's
is. That Lean has no library, so every document begins with `prelude` and uses its own types."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import JupyterDirs, KernelHarness, live_markup, make_dirs

pytestmark = pytest.mark.timeout(180)

PRELUDE = """\
prelude
universe u
inductive N | z | s (n : N)
inductive Same {α : Sort u} (a : α) : α → Prop | refl : Same a a
noncomputable def N.add (a b : N) : N := N.rec a (fun _ r => N.s r) b
noncomputable def N.mul (a b : N) : N := N.rec N.z (fun _ r => N.add r a) b
noncomputable def N.pow (a b : N) : N := N.rec (N.s N.z) (fun _ r => N.mul r a) b
set_option maxRecDepth 100000"""


def unary(n: int) -> str:
    return "N.z" if n == 0 else f"(N.s {unary(n - 1)})"


def slow_theorem(name: str, exponent: int = 14) -> str:
    """A theorem whose proof Lean checks by unfolding 2^exponent + 2^exponent and 2 * 2^exponent
    into unary numerals: with exponent 14, 6 s of elaboration on the 2-core test machine (2.5 s
    for `lean` on the command line), at about 200 MB; the recursion depth doubles with each step,
    so 15 exceeds maxRecDepth 100000."""
    two, power = unary(2), f"(N.pow {unary(2)} {unary(exponent)})"
    return f"theorem {name} : Same (N.add {power} {power}) (N.mul {two} {power}) := Same.refl"


HOSTILE = "«```<img src=x onerror=alert(1)>»"
# A name holding a line that is a bare fence: it would close a ```lean fence around a goal.
HOSTILE_LINES = "«x\n```\n<img src=x onerror=alert(1)>\n»"


@pytest.fixture
def kernel(real_kernel: KernelHarness) -> KernelHarness:
    """The module's kernel with an empty document, then the prelude cell run."""
    real_kernel.fresh_document()
    real_kernel.ok(PRELUDE, cell_id="prelude")
    return real_kernel


def all_markdown(outputs: list[dict[str, Any]]) -> list[str]:
    return [
        m["content"]["data"]["text/markdown"]
        for m in outputs
        if m["msg_type"] in ("display_data", "update_display_data")
        and "text/markdown" in m["content"]["data"]
    ]


def test_prelude_is_the_first_token_of_the_document(kernel: KernelHarness) -> None:
    assert kernel.document().startswith("prelude\n")
    # `prelude` below a comment in the first cell: hoisted above everything all the same.
    kernel.ok("%reset")
    result = kernel.ok("-- my first cell\nprelude\ninductive M | m\n#check M.m", cell_id="first")
    assert result.stdout == "M.m : M\n"
    assert kernel.document().startswith("prelude\n-- my first cell\n")


def test_definitions_check_and_print_are_stdout(kernel: KernelHarness) -> None:
    result = kernel.ok("def one : N := N.s N.z\n#check N.s\n#check one\n#print N")
    assert result.stdout == (
        "N.s (n : N) : N\none : N\n"
        "inductive N : Type\nnumber of parameters: 0\nconstructors:\n"
        "N.z : N\nN.s : N → N\n"
    )
    assert result.stderr == ""


def test_a_type_error_fails_the_cell(kernel: KernelHarness) -> None:
    result = kernel.execute("def fine : N := N.z\ndef bad : N := N")
    assert result.status == "error"
    assert result.content["ename"] == "LeanError"
    assert result.content["evalue"].startswith("2:15: Type mismatch")
    assert len(result.errors) == 1
    assert "has type\n  Type" in result.error_text
    # The good definition of the cell stands.
    assert kernel.ok("#check fine").stdout == "fine : N\n"


def test_unsolved_goals_are_shown(kernel: KernelHarness) -> None:
    code = "theorem open_goal (a : N) : N := by\n  skip"
    result = kernel.execute(code)
    assert result.status == "error"
    (goals,) = result.of_type("display_data")
    at_by = code.index("by")  # Lean puts the message on the `by`
    assert goals["data"]["text/plain"] == f"Unsolved goals at 1:{at_by}:\na : N\n⊢ N"
    assert "⊢ N" in goals["data"]["text/markdown"]
    assert "unsolved goals" in result.error_text


def test_goals_after_each_line_and_inspection_at_by(kernel: KernelHarness) -> None:
    code = "theorem g (a : N) : N → N := by\n  skip"
    result = kernel.execute("%goals\n" + code)
    table = [
        d
        for d in result.of_type("display_data")
        if d["data"]["text/plain"].startswith("Goals after each line")
    ]
    assert len(table) == 1
    assert (
        "2: theorem g (a : N) : N → N := by\n    a : N\n    ⊢ N → N"
        in table[0]["data"]["text/plain"]
    )
    inspected = kernel.inspect(code, code.index("by") + 2)
    assert inspected["found"]
    assert "constructs a term of the expected type" in inspected["data"]["text/plain"]


def test_rerunning_a_cell_replaces_it(kernel: KernelHarness) -> None:
    first = kernel.ok("def two : N := N.s (N.s N.z)\n#print two", cell_id="R")
    assert first.stdout == "def two : N :=\nN.z.s.s\n"  # Lean prints `N.s k` as `k.s`
    again = kernel.ok("def two : N := N.s N.z\n#print two", cell_id="R")
    assert again.stdout == "def two : N :=\nN.z.s\n"
    assert "already declared" not in again.error_text
    assert kernel.document().count("def two") == 1


def test_completion_shows_signatures(kernel: KernelHarness) -> None:
    reply = kernel.complete("#check N.")
    assert {"add", "mul", "pow", "s", "z"} <= set(reply["matches"])
    types = {t["text"]: t for t in reply["metadata"]["_jupyter_types_experimental"]}
    assert types["s"]["signature"] == "N → N"
    assert types["s"]["type"] == "constructor"
    assert types["z"]["signature"] == "N"
    assert types["add"]["signature"] == "N → N → N"
    narrowed = kernel.complete("#check N.a")
    assert narrowed["matches"] == ["add"]
    assert narrowed["cursor_start"] == len("#check N.")


def test_completion_and_inspection_in_a_first_cell_not_run_yet(kernel: KernelHarness) -> None:
    kernel.ok("%reset")  # an empty document: the cell's own `prelude` must be used
    code = "prelude\ninductive M | here | there (m : M)\n#check M."
    reply = kernel.complete(code)
    assert set(reply["matches"]) == {"here", "there"}
    types = {t["text"]: t["signature"] for t in reply["metadata"]["_jupyter_types_experimental"]}
    assert types == {"here": "M", "there": "M → M"}
    inspected = kernel.inspect(code + "there", len(code) + 2)
    assert inspected["found"] and inspected["data"]["text/plain"] == "M.there (m : M) : M"
    assert kernel.document() == "(the document is empty)\n"  # nothing of it was left behind


def test_inspection_shows_the_signature(kernel: KernelHarness) -> None:
    code = "#check N.add"
    reply = kernel.inspect(code, len(code))
    assert reply["found"]
    assert reply["data"]["text/plain"] == "N.add (a b : N) : N"
    assert "N.add (a b : N) : N" in reply["data"]["text/markdown"]


def test_hostile_names_carry_no_live_markup(kernel: KernelHarness) -> None:
    result = kernel.execute(
        f"def {HOSTILE} : N := N.z\n#check {HOSTILE}\n"
        f"theorem trap ({HOSTILE_LINES} : N) : N := by\n  skip"
    )
    assert result.status == "error"
    assert result.stdout == f"{HOSTILE} : N\n"
    (goals,) = result.of_type("display_data")
    assert "<img src=x onerror=alert(1)>" in goals["data"]["text/plain"]  # shown, as text
    for markdown in all_markdown(result.outputs):
        assert live_markup(markdown) == [], markdown
    hover = kernel.inspect(f"#check {HOSTILE}", len("#check ") + 3)
    assert hover["found"]
    assert HOSTILE in hover["data"]["text/plain"]
    assert live_markup(hover["data"]["text/markdown"]) == []
    table = kernel.execute(f"%goals\ntheorem trap2 ({HOSTILE_LINES} : N) : N := by\n  skip")
    markdowns = all_markdown(table.outputs)
    assert any("Goals after each line" in m for m in markdowns)
    for markdown in markdowns:
        assert live_markup(markdown) == [], markdown


def wait_until_busy(kernel: KernelHarness, msg_id: str, where: str) -> list[dict[str, Any]]:
    """Read the cell's outputs until its progress display (progress_delay=0) says Lean is at
    ``where``: from then on Lean is elaborating the slow theorem."""
    seen = []
    while True:
        msg = kernel.next_output(msg_id, timeout=120)
        if msg["msg_type"] not in ("status", "execute_input"):
            seen.append(msg)
        text = msg["content"].get("data", {}).get("text/plain", "")
        if msg["msg_type"] in ("display_data", "update_display_data") and where in text:
            return seen


@pytest.fixture
def busy_kernel(kernel_factory: Any, real_dirs: JupyterDirs, tmp_path: Path) -> KernelHarness:
    kernel = kernel_factory(
        dirs=real_dirs, cwd=tmp_path, extra_arguments=["--LeanKernel.progress_delay=0"]
    )
    kernel.ok(PRELUDE, cell_id="prelude")
    kernel.ok("def kept : N := N.z", cell_id="kept")
    return kernel


def test_interrupt_while_real_lean_is_busy(busy_kernel: KernelHarness) -> None:
    kernel = busy_kernel
    pid = kernel.lean_pid()
    msg_id = kernel.send_execute("#check kept\n" + slow_theorem("slow"), cell_id="slow")
    seen = wait_until_busy(kernel, msg_id, "line 2 of this cell")
    kernel.km.interrupt_kernel()
    result = kernel.finish(msg_id, timeout=120, seen=seen)
    assert result.status == "error"
    assert result.content["ename"] == "LeanInterrupted"
    assert "taken out of the Lean document" in result.error_text
    # Recovered: the next cell works, the slow theorem is gone, the same Lean goes on.
    assert kernel.ok("#check kept").stdout == "kept : N\n"
    assert "theorem slow" not in kernel.document()
    assert "unknown" in kernel.execute("#check slow").error_text.lower()
    assert kernel.lean_pid() == pid


def test_cell_timeout_while_real_lean_is_busy(busy_kernel: KernelHarness) -> None:
    kernel = busy_kernel
    result = kernel.execute("%timeout 1\n" + slow_theorem("slow"), cell_id="slow", timeout=120)
    assert result.status == "error"
    assert result.content["ename"] == "LeanTimeout"
    assert "longer than 1 s" in result.error_text
    assert re.search(
        r"Lean is ready|file worker was restarted|server was restarted", result.error_text
    )
    kernel.ok("%timeout off")
    assert kernel.ok("#check kept").stdout == "kept : N\n"
    assert "theorem slow" not in kernel.document()
    # The same cell, made cheap, runs in its place.
    assert kernel.ok(slow_theorem("slow", exponent=3), cell_id="slow").status == "ok"


def test_a_cell_running_past_idle_timeout_keeps_real_lean(
    kernel_factory: Any, real_dirs: JupyterDirs, tmp_path: Path
) -> None:
    """The kernel culls an idle Lean itself, never one checking a cell: seconds of elaboration
    past an idle_timeout of 1 s, without a message between the kernel and Lean, must finish."""
    kernel = kernel_factory(
        dirs=real_dirs,
        cwd=tmp_path,
        extra_arguments=[
            "--LeanSessionManager.idle_timeout=1",
            "--LeanSessionManager.cull_interval=0.1",
        ],
    )
    result = kernel.execute(f"{PRELUDE}\n{slow_theorem('slow')}\n#check @slow", timeout=120)
    assert result.status == "ok", result.error_text
    assert "slow : Same" in result.stdout


def lean_command_lines(pid: int) -> list[str]:
    """The command lines of the Lean server's process group (bwrap, then Lean under it)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pid:
                    lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
    return lines


def test_lean_reports_without_delay_unless_configured(
    kernel: KernelHarness, kernel_factory: Any, tmp_path: Path, real_dirs: JupyterDirs
) -> None:
    lines = lean_command_lines(kernel.lean_pid())
    assert any("-Dserver.reportDelayMs=0" in line for line in lines), lines
    dirs = make_dirs(tmp_path / "jupyter")
    for spec in real_dirs.kernels.iterdir():
        shutil.copytree(spec, dirs.kernels / spec.name)
    (dirs.config / "jupyter_server_config.py").write_text(
        "c.LeanSessionManager.report_delay_ms = 150\n"
    )
    configured = kernel_factory(dirs=dirs, cwd=tmp_path)
    lines = lean_command_lines(configured.lean_pid())
    assert any("-Dserver.reportDelayMs=150" in line for line in lines), lines
    assert not any("-Dserver.reportDelayMs=0" in line for line in lines)
