"""What the sandbox binds and how much memory it hands out, shown with the probe
(``tests/sandbox_probe.py``) started in place of Lean through the session layer.

- Every memory-backed folder (/dev, /dev/shm, /tmp, the workspace) is capped, and what they hold
  counts toward the session's memory limit.
- Only the toolchain is bound, never the folder around it when that holds secrets (a Lean
  installed into ``~/.local``), and a project that contains the home folder has its secrets
  masked.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_server_ext.session import InProcessClient, LeanSessionManager
from jupyter_server_ext.session.sandbox import check_bwrap

PROBE = Path(__file__).resolve().parent.parent / "sandbox_probe.py"
MiB = 1 << 20
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")

needs_bwrap = pytest.mark.skipif(
    check_bwrap().problem is not None or not check_bwrap().tmpfs_size,
    reason=f"needs bubblewrap with --size ({check_bwrap().problem}); .ci/system-deps installs it",
)
pytestmark = [needs_bwrap, pytest.mark.timeout(60)]


async def _probe(manager: LeanSessionManager, mode: str) -> tuple[Any, dict[str, Any]]:
    """The probe's report (None when the session ended first) and the session's JSON."""
    try:
        session = await manager.create("someone")
        client = InProcessClient(session)
        params = {"processId": None, "capabilities": {}, "initializationOptions": {"probe": mode}}
        try:
            report = (await client.request("initialize", params, timeout=30))["probe"]
        except Exception as exc:
            print("the probe did not answer:", exc, session.stderr_tail)
            report = None
        return report, session.to_json()
    finally:
        await manager.shutdown()


def _confine_args(secret: Path, tmp_path: Path) -> list[str]:
    """The probe's confinement options, aimed at ``secret`` (the rest point nowhere)."""
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    return [
        f"--secret={secret}",
        f"--outside={tmp_path / 'elsewhere'}",
        "--port=9",
        f"--pid={os.getpid()}",
        "--env=JUPYTER_LEAN_NO_SUCH_VARIABLE",
        "--host_tmp=/nonexistent",
    ]


def _manager(tmp_path: Path, argv: list[str], project: Path, **settings: Any) -> LeanSessionManager:
    return LeanSessionManager(
        lean_command=argv,
        projects={"default": str(project)},
        root_dir=str(project),
        workspace_root=str(tmp_path / "ws"),
        idle_timeout=0,
        **settings,
    )


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
async def test_every_memory_backed_folder_is_capped(tmp_path: Path, sandbox: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    manager = _manager(
        tmp_path,
        [sys.executable, str(PROBE)],
        project,
        sandbox=sandbox,
        tmpfs_size=1 * MiB,
        file_size_limit=0,
    )
    report, _ = await _probe(manager, "fill")
    written = report["written"]
    if sandbox == "bwrap":
        assert written["dev"] == 0, "/dev is read-only inside the sandbox"
        for folder in ("shm", "tmp", "workspace"):
            assert written[folder] <= 1 * MiB, f"{folder}: {written[folder]} bytes past 1 MiB"
    else:  # the control: the same probe fills them all without the sandbox
        assert written["tmp"] == written["workspace"] == 4 * MiB


async def test_what_the_sandbox_folders_hold_counts_as_the_sessions_memory(tmp_path: Path) -> None:
    """300 MiB in /dev/shm belong to no process, yet end a session limited to 200 MiB."""
    project = tmp_path / "project"
    project.mkdir()
    manager = _manager(
        tmp_path,
        [sys.executable, str(PROBE)],
        project,
        sandbox="bwrap",
        tmpfs_size=512 * MiB,
        memory_limit=200 * MiB,
        usage_interval=0.25,
    )
    report, session = await _probe(manager, "shm")
    assert report is None, "the probe held 300 MiB of /dev/shm past the limit"
    assert "the memory limit was reached" in session["exit_reason"]


def _toolchain_in_local(home: Path) -> Path:
    """A Lean installed as ~/.local/bin/lean with ~/.local/lib/lean (``pip install --user``
    style): its prefix is ~/.local, which also holds the Jupyter runtime folder."""
    prefix = home / ".local"
    lean = prefix / "bin" / "lean"
    (prefix / "lib" / "lean").mkdir(parents=True)
    lean.parent.mkdir(parents=True)
    probe = prefix / "lib" / "lean" / PROBE.name
    shutil.copy(PROBE, probe)
    lean.write_text(
        f"#!{SYSTEM_PYTHON}\nimport os, sys\nargs = sys.argv[1:]\n"
        f"if args == ['--print-prefix']: print({str(prefix)!r}); sys.exit(0)\n"
        "if args == ['--version']: print('Lean (version 4.35.0, x86_64, Release)'); sys.exit(0)\n"
        "if '--stdin' in args: sys.exit(0)\n"
        f"os.execv(sys.executable, [sys.executable, {str(probe)!r}, *args])\n"
    )
    lean.chmod(0o755)
    return lean


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="needs a system python3 in /usr/bin")
@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
async def test_a_toolchain_in_home_local_exposes_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str
) -> None:
    home = tmp_path / "home"
    runtime = home / ".local" / "share" / "jupyter" / "runtime"
    runtime.mkdir(parents=True)
    secret = runtime / "jpserver-1.json"
    secret.write_text('{"token": "the server token"}')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    lean = _toolchain_in_local(home)
    project = tmp_path / "project"
    project.mkdir()
    manager = _manager(
        tmp_path,
        [str(lean), "--server", *_confine_args(secret, tmp_path)],
        project,
        sandbox=sandbox,
    )
    report, _ = await _probe(manager, "confine")
    assert report is not None, "the toolchain's own files must be there to run"
    assert report["read_secret"] is (sandbox == "none")


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
async def test_a_project_that_is_the_home_folder_has_its_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_ed25519"
    key.write_text("PRIVATE KEY")
    (home / "Course.lean").write_text("prelude\n")
    monkeypatch.setenv("HOME", str(home))
    manager = _manager(
        tmp_path, [sys.executable, str(PROBE), *_confine_args(key, tmp_path)], home, sandbox=sandbox
    )
    report, _ = await _probe(manager, "confine")
    assert report["read_secret"] is (sandbox == "none")
