"""The sandbox and the resource limits, shown with a probe started in place of Lean.

``tests/sandbox_probe.py`` answers ``initialize`` with what it managed to do: read secrets, write
outside its workspace, reach the network, see other processes, read the environment, hold
capabilities, and (per ``initializationOptions.probe``) use memory, CPU, processes or disk. Each
protection is shown both ways where the machine allows: with the sandbox the attempt fails, with
``sandbox = "none"`` the same probe succeeds, so these tests fail if a protection goes missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import LspSocket, connect, connect_status, free_port, ws_url
from tornado.httpclient import HTTPClientError

from jupyter_server_ext.session import InProcessClient, LeanSessionManager
from jupyter_server_ext.session.process import add_lean_flags
from jupyter_server_ext.session.sandbox import check_bwrap

Fetch = Any
PROBE = Path(__file__).resolve().parent.parent / "sandbox_probe.py"
SECRET_ENV = "SECRET_TOKEN"
MiB = 1 << 20
# What the probe must not manage inside the sandbox (and manages without it).
ESCAPES = (
    "read_secret",
    "write_project",
    "write_lake",
    "write_outside",
    "write_toolchain",
    "sees_host_tmp",
    "network",
    "sees_test_process",
    "env_secret",
)


def _bwrap_problem() -> str | None:
    return check_bwrap().problem


needs_bwrap = pytest.mark.skipif(
    _bwrap_problem() is not None,
    reason=f"bubblewrap cannot run here ({_bwrap_problem()}); .ci/system-deps installs it",
)


@pytest.fixture
def loopback_port() -> Iterator[int]:
    """A listening loopback socket: a connect succeeds from the kernel's backlog alone."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the project and the workspace, holding a secret."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.txt").write_text("the secret\n")
    return folder


@pytest.fixture
def host_tmp_file() -> Iterator[str]:
    """A file in the host's /tmp, which a private /tmp does not show."""
    handle, path = tempfile.mkstemp(prefix="jupyter-lean-host-", dir="/tmp")
    os.close(handle)
    yield path
    os.unlink(path)


@pytest.fixture
def probe_argv(
    elsewhere: Path, loopback_port: int, host_tmp_file: str, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    monkeypatch.setenv(SECRET_ENV, "hunter2")
    return [
        sys.executable,
        str(PROBE),
        f"--secret={elsewhere / 'secret.txt'}",
        f"--outside={elsewhere}",
        f"--port={loopback_port}",
        f"--pid={os.getpid()}",
        f"--env={SECRET_ENV}",
        f"--host_tmp={host_tmp_file}",
        f"--started={elsewhere / 'started'}",
    ]


@pytest.fixture
def sandbox_mode() -> str:
    return "bwrap"


@pytest.fixture
def lean_config(probe_argv: list[str], sandbox_mode: str, jp_root_dir: Path) -> dict[str, object]:
    # A built project: its .lake must stay read-only too (no planting build products).
    (jp_root_dir / ".lake").mkdir(exist_ok=True)
    return {
        "lean_command": probe_argv,
        "sandbox": sandbox_mode,
        "memory_limit": 200 * MiB,
        "cpu_time_limit": 1,
        "file_size_limit": 1 * MiB,
        "tmpfs_size": 1 * MiB,
        "usage_interval": 0.25,
    }


@pytest.fixture
def open_socket(
    jp_fetch: Fetch,
    jp_http_port: int,
    jp_base_url: str,  # jp_fetch: HTTP listens
    jp_auth_header: dict[str, str],
) -> Iterator[Any]:
    sockets: list[LspSocket] = []

    async def _open() -> tuple[LspSocket, str]:
        url = ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default")
        lsp = await connect(url, jp_auth_header)
        sockets.append(lsp)
        first = await lsp.recv()
        assert first is not None and first["method"] == "$/jupyterLean/session", first
        return lsp, first["params"]["id"]

    yield _open
    for lsp in sockets:
        lsp.close()


async def _initialize(
    lsp: LspSocket, mode: str = "confine", timeout: float = 20
) -> dict[str, Any] | None:
    """The probe's report, or None when the session ended before answering."""
    params = {"processId": None, "capabilities": {}, "initializationOptions": {"probe": mode}}
    try:
        response = await lsp.request("initialize", params, timeout)
    except ConnectionError:
        return None
    return response["result"]["probe"] if "result" in response else None


async def _json(
    jp_fetch: Fetch, *path: str, method: str = "GET", body: str | None = None
) -> tuple[int, Any]:
    try:
        response = await jp_fetch(*path, method=method, body=body)
    except HTTPClientError as exc:
        raw = exc.response.body if exc.response is not None else b""
        return exc.code, json.loads(raw) if raw else None
    return response.code, json.loads(response.body) if response.body else None


# -- confinement -------------------------------------------------------------------------------


def _host_view() -> dict[str, Any]:
    """What the probe reports of its namespaces and session, as this test process sees its own."""
    return {
        "ipc_ns": os.readlink("/proc/self/ns/ipc"),
        "uts_ns": os.readlink("/proc/self/ns/uts"),
        "sid": os.getsid(0),
    }


@needs_bwrap
async def test_sandboxed_probe_cannot_escape(open_socket: Any, jp_fetch: Fetch) -> None:
    lsp, _ = await open_socket()
    probe = await _initialize(lsp)
    assert probe is not None
    assert {name: probe[name] for name in ESCAPES} == dict.fromkeys(ESCAPES, False)
    assert probe["read_shadow"] is False
    assert probe["write_workspace"] is True, "the private workspace must stay writable"
    assert probe["write_tmp"] is True, "a private /tmp must stay writable"
    assert probe["capabilities"] is False and probe["remount_project"] is False
    assert probe["pids_visible"] <= 3, "a new pid namespace shows only the sandbox itself"
    if check_bwrap().disable_userns:
        assert probe["new_userns"] is False
    host = _host_view()
    assert probe["ipc_ns"] != host["ipc_ns"], "the host's IPC namespace (--unshare-ipc)"
    assert probe["uts_ns"] != host["uts_ns"], "the host's UTS namespace (--unshare-uts)"
    assert probe["sid"] != host["sid"]
    assert probe["sid_visible"] is True, "a session led from outside the sandbox (--new-session)"
    assert (await _json(jp_fetch, "lean", "health"))[1]["sandbox"] == "bwrap"


@pytest.mark.parametrize("sandbox_mode", ["none"])
async def test_unsandboxed_probe_escapes(open_socket: Any, jp_fetch: Fetch) -> None:
    """The control: without the sandbox the same probe gets everywhere, so the test above
    measures the sandbox and not a broken probe."""
    lsp, _ = await open_socket()
    probe = await _initialize(lsp)
    assert probe is not None
    assert {name: probe[name] for name in ESCAPES} == dict.fromkeys(ESCAPES, True)
    assert probe["write_workspace"] is True and probe["write_tmp"] is True
    host = _host_view()
    assert (probe["ipc_ns"], probe["uts_ns"]) == (host["ipc_ns"], host["uts_ns"])
    assert (await _json(jp_fetch, "lean", "health"))[1]["sandbox"] == "none"


@needs_bwrap
async def test_kernel_path_is_sandboxed_too(probe_argv: list[str], tmp_path: Path) -> None:
    """The kernel starts Lean through LeanSessionManager in its own process, without a Jupyter
    server: the same sandbox applies."""
    project = tmp_path / "project"
    (project / ".lake").mkdir(parents=True)
    manager = LeanSessionManager(
        lean_command=probe_argv,
        sandbox="bwrap",
        projects={"default": str(project)},
        workspace_root=str(tmp_path / "ws"),
        idle_timeout=0,
    )
    try:
        session = await manager.create("kernel-user")
        client = InProcessClient(session)
        result = await client.request(
            "initialize", {"processId": None, "capabilities": {}}, timeout=20
        )
        probe = result["probe"]
        assert {name: probe[name] for name in ESCAPES} == dict.fromkeys(ESCAPES, False)
        assert probe["write_workspace"] is True
    finally:
        await manager.shutdown()


def _probe_pids(marker: str) -> list[int]:
    """Probe processes (not their bwrap) whose command line carries ``marker``."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if (
            PROBE.name in " ".join(args)
            and any(marker in arg for arg in args)
            and os.path.basename(args[0]) != "bwrap"
        ):
            pids.append(int(entry))
    return pids


async def _poll(condition: Any, what: str, deadline: float = 15) -> Any:
    """Poll a condition the OS offers no event for (a port opening, a process vanishing)."""
    end = asyncio.get_running_loop().time() + deadline
    while asyncio.get_running_loop().time() < end:
        result = condition()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {deadline} s")


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@needs_bwrap
async def test_sandboxed_lean_dies_with_a_killed_jupyter_server(
    tmp_path: Path, probe_argv: list[str], elsewhere: Path
) -> None:
    """--die-with-parent: a Jupyter server killed with SIGKILL (no chance to clean up) takes
    its Lean servers along, even one busy and deaf to stdin closing."""
    root, token, port = tmp_path / "root", secrets.token_hex(16), free_port()
    root.mkdir()
    env = dict(
        os.environ,
        JUPYTER_LEAN_COMMAND=shlex.join(probe_argv),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LeanSessionManager.sandbox=bwrap",
            f"--LeanSessionManager.workspace_root={tmp_path / 'workspaces'}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marker = str(elsewhere)
    try:
        await _poll(lambda: _port_open(port), "the Jupyter server listening")
        lsp = await connect(ws_url(port, "/", "/lean/lsp", project="default", token=token))
        assert await lsp.recv() is not None
        await lsp.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "processId": None,
                    "capabilities": {},
                    "initializationOptions": {"probe": "hang"},
                },
            }
        )
        # Killed before it hangs, the probe would end on its own at EOF of stdin, flag or not.
        said = await lsp.wait_notification("window/logMessage", timeout=20)
        assert said["params"]["message"] == "hanging"
        assert _probe_pids(marker), "the probe is not running"
        server.kill()
        server.wait(10)
        await _poll(lambda: not _probe_pids(marker), "the probe ending with its parent")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        for pid in _probe_pids(marker):
            os.kill(pid, signal.SIGKILL)


# -- fail closed -------------------------------------------------------------------------------


def _fake_bwrap_folder(tmp_path: Path, kind: str) -> Path:
    """A PATH folder without bwrap, or with a bwrap that cannot create namespaces."""
    folder = tmp_path / f"bin-{kind}"
    folder.mkdir()
    if kind == "broken":
        fake = folder / "bwrap"
        fake.write_text(
            "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
        )
        fake.chmod(0o755)
    return folder


@pytest.mark.parametrize("kind", ["missing", "broken"])
async def test_required_sandbox_that_cannot_run_is_503_and_starts_nothing(
    kind: str,
    jp_fetch: Fetch,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    elsewhere: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(_fake_bwrap_folder(tmp_path, kind)))
    status, body = await _json(jp_fetch, "lean", "sessions", method="POST", body="{}")
    assert status == 503
    assert "sandbox = 'bwrap'" in body["message"] and "bwrap" in body["message"]
    url = ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default")
    assert await connect_status(url, jp_auth_header) == 503
    assert not (elsewhere / "started").exists(), "no Lean server may run unsandboxed"
    assert (await _json(jp_fetch, "lean", "sessions"))[1] == []
    health = (await _json(jp_fetch, "lean", "health"))[1]
    assert health["status"] == "degraded" and health["sandbox"].startswith("unavailable")


@pytest.mark.parametrize("sandbox_mode", ["auto"])
async def test_auto_without_working_bwrap_says_none(
    jp_fetch: Fetch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "auto" falls back, but never silently: /lean/health names the sandbox in force."""
    monkeypatch.setenv("PATH", str(_fake_bwrap_folder(tmp_path, "broken")))
    health = (await _json(jp_fetch, "lean", "health"))[1]
    assert health["sandbox"] == "none" and health["status"] == "ok"


# -- resource limits ---------------------------------------------------------------------------


async def _ended_session(jp_fetch: Fetch, lsp: LspSocket, session_id: str) -> dict[str, Any]:
    """The session's JSON once its client was told that it ended (closed with 4410)."""
    if lsp.close_code is None:  # not yet seen closing while waiting for the answer
        await lsp.wait_closed(timeout=20)
    assert lsp.close_code == 4410
    return (await _json(jp_fetch, "lean", "sessions", session_id))[1]


async def _server_still_serves(open_socket: Any, jp_fetch: Fetch) -> None:
    assert (await _json(jp_fetch, "lean", "health"))[0] == 200
    lsp, _ = await open_socket()
    assert await _initialize(lsp) is not None, "a new session must work after the limit hit"


@pytest.mark.parametrize("sandbox_mode", [pytest.param("bwrap", marks=needs_bwrap), "none"])
async def test_memory_limit_ends_the_session_with_a_readable_reason(
    open_socket: Any, jp_fetch: Fetch
) -> None:
    lsp, session_id = await open_socket()
    assert await _initialize(lsp, "memory") is None, "the probe held 1 GiB past the limit"
    session = await _ended_session(jp_fetch, lsp, session_id)
    assert session["state"] == "exited"
    assert "the memory limit was reached" in session["exit_reason"]
    assert "memory_limit is 200 MiB per session" in session["exit_reason"]
    await _server_still_serves(open_socket, jp_fetch)


@pytest.mark.parametrize("sandbox_mode", [pytest.param("bwrap", marks=needs_bwrap), "none"])
async def test_cpu_limit_ends_the_session_with_a_readable_reason(
    open_socket: Any, jp_fetch: Fetch
) -> None:
    lsp, session_id = await open_socket()
    assert await _initialize(lsp, "cpu") is None, "the probe spun for 10 s of CPU"
    session = await _ended_session(jp_fetch, lsp, session_id)
    assert session["state"] == "exited"
    # Whichever comes first: the session's measured CPU time, or RLIMIT_CPU of the process
    # (SIGXCPU, also when bwrap relays it as 128 + 24).
    assert "the CPU time limit was reached" in session["exit_reason"]
    assert (
        session["exit_code"] == -24 or "cpu_time_limit is 1 s per session" in session["exit_reason"]
    )
    await _server_still_serves(open_socket, jp_fetch)


@pytest.mark.parametrize("sandbox_mode", [pytest.param("bwrap", marks=needs_bwrap), "none"])
async def test_file_size_limit_caps_writes(open_socket: Any, sandbox_mode: str) -> None:
    lsp, _ = await open_socket()
    probe = await _initialize(lsp, "fsize")
    assert probe is not None
    assert probe["written"] <= 1 * MiB, "a 2 MiB file was written past the 1 MiB limit"
    if sandbox_mode == "bwrap" and check_bwrap().tmpfs_size:
        # The private /tmp lives in memory: it is capped as a whole, not only file by file.
        assert probe["tmp_written"] <= 1 * MiB, "2.25 MiB went into a /tmp capped at 1 MiB"


# -- process count -----------------------------------------------------------------------------


@pytest.fixture
def world_readable_probe() -> Iterator[tuple[list[str], Path, Path]]:
    """The probe, a project and a workspace root that an unprivileged uid can use: as root the
    process limit runs Lean as nobody, who cannot enter pytest's 0700 temporary folders or run
    an interpreter installed under /root."""
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if os.geteuid() == 0 and python is None:
        pytest.skip("no system python3 for the unprivileged probe")
    base = Path(tempfile.mkdtemp(prefix="jupyter-lean-nproc-"))
    try:
        base.chmod(0o755)
        for name in ("probe", "project", "workspaces"):
            (base / name).mkdir(mode=0o755)
        shutil.copy(PROBE, base / "probe" / PROBE.name)
        argv = [python or sys.executable, str(base / "probe" / PROBE.name)]
        yield argv, base / "project", base / "workspaces"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("sandbox", [pytest.param("bwrap", marks=needs_bwrap), "none"])
async def test_process_limit_stops_a_fork_bomb(
    sandbox: str, world_readable_probe: tuple[list[str], Path, Path]
) -> None:
    """RLIMIT_NPROC binds only a non-root user: as root, Lean runs as nobody to make it real."""
    argv, project, workspaces = world_readable_probe
    limit = 24
    manager = LeanSessionManager(
        lean_command=argv,
        sandbox=sandbox,
        process_limit=limit,
        projects={"default": str(project)},
        workspace_root=str(workspaces),
        idle_timeout=0,
    )
    try:
        session = await manager.create("forker")
        client = InProcessClient(session)
        params = {"processId": None, "capabilities": {}, "initializationOptions": {"probe": "fork"}}
        probe = (await client.request("initialize", params, timeout=20))["probe"]
        assert probe["forked"] < limit, f"{probe['forked']} processes started past the limit"
        if os.geteuid() == 0:
            assert session.to_json()["state"] == "ready"
    finally:
        await manager.shutdown()


# -- Lean's own limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lean", "--server"], ["lean", "--server", "-M150", "-T500"]),
        (["/x/bin/lake", "serve", "--"], ["/x/bin/lake", "serve", "--", "-M150", "-T500"]),
        (["lake", "serve"], ["lake", "serve", "--", "-M150", "-T500"]),
        (["python", "standin.py"], ["python", "standin.py"]),
    ],
)
def test_lean_flags_go_where_lean_reads_them(argv: list[str], expected: list[str]) -> None:
    assert add_lean_flags(argv, ["-M150", "-T500"]) == expected


def _fake_toolchain(prefix: Path, version: str, refuses: str = "", tool: str = "lean") -> Path:
    """A toolchain folder whose `lean` answers --print-prefix/--version like Lean, refuses
    ``--stdin`` with a flag starting with ``refuses`` (as an old Lean refuses an unknown -D
    option), and otherwise runs the probe."""
    lean = prefix / "bin" / "lean"
    lean.parent.mkdir(parents=True)
    lean.write_text(
        f"#!{sys.executable}\nimport os, sys\nargs = sys.argv[1:]\n"
        f"if args == ['--print-prefix']: print({str(prefix)!r}); sys.exit(0)\n"
        f"if args == ['--version']: print({version!r}); sys.exit(0)\n"
        "if '--stdin' in args:\n"
        f"    sys.exit(1 if {refuses!r} and any(a.startswith({refuses!r}) for a in args) else 0)\n"
        f"os.execv(sys.executable, [sys.executable, {str(PROBE)!r}, *args])\n"
    )
    lean.chmod(0o755)
    if tool == "lake":  # `lake` of the same toolchain: runs the probe
        lake = prefix / "bin" / "lake"
        lake.write_text(
            f"#!{sys.executable}\nimport os, sys\n"
            f"os.execv(sys.executable, [sys.executable, {str(PROBE)!r}, "
            "*sys.argv[1:]])\n"
        )
        lake.chmod(0o755)
        return lake
    return lean


@pytest.mark.parametrize(
    ("version", "refuses", "expected"),
    [
        (
            "Lean (version 4.35.0, x86_64-unknown-linux-gnu, Release)",
            "",
            ["--server", "-M300", "-DmaxHeartbeats=500", "-Dserver.reportDelayMs=0"],
        ),
        # lean4 issue 9879: -M breaks Lean 4.22's server.
        (
            "Lean (version 4.22.0, x86_64-unknown-linux-gnu, Release)",
            "",
            ["--server", "-DmaxHeartbeats=500", "-Dserver.reportDelayMs=0"],
        ),
        # A Lean that does not know server.reportDelayMs would report an error in every file.
        (
            "Lean (version 4.3.0, x86_64-unknown-linux-gnu, Release)",
            "-Dserver.",
            ["--server", "-M300", "-DmaxHeartbeats=500"],
        ),
    ],
)
async def test_lean_receives_the_flags_it_accepts(
    tmp_path: Path, version: str, refuses: str, expected: list[str]
) -> None:
    """`lean --server` runs as its toolchain's binary with -M (3/4 of memory_limit, in MB),
    -DmaxHeartbeats (heartbeat_limit) and -Dserver.reportDelayMs (report_delay_ms): each only
    where that Lean accepts it."""
    lean = _fake_toolchain(tmp_path / "toolchain", version, refuses)
    manager = LeanSessionManager(
        lean_command=[str(lean), "--server"],
        sandbox="none",
        memory_limit=400 * MiB,
        heartbeat_limit=500,
        report_delay_ms=0,
        projects={"default": str(tmp_path)},
        workspace_root=str(tmp_path / "ws"),
        idle_timeout=0,
    )
    try:
        client = InProcessClient(await manager.create("someone"))
        params = {
            "processId": None,
            "capabilities": {},
            "initializationOptions": {"probe": "fsize"},
        }
        probe = (await client.request("initialize", params, timeout=20))["probe"]
    finally:
        await manager.shutdown()
    assert probe["argv"] == expected


async def test_lake_serve_runs_the_lake_of_the_toolchain_lean_names(tmp_path: Path) -> None:
    """`lake serve` is resolved like `lean`: through the `lean` beside it (elan's proxies sit
    side by side), to the toolchain's own `lake`, with Lean's flags after `--`."""
    lake = _fake_toolchain(
        tmp_path / "toolchain",
        "Lean (version 4.35.0, x86_64-unknown-linux-gnu, Release)",
        tool="lake",
    )
    manager = LeanSessionManager(
        lean_command=[str(lake), "serve", "--"],
        sandbox="none",
        memory_limit=400 * MiB,
        report_delay_ms=-1,
        projects={"default": str(tmp_path)},
        workspace_root=str(tmp_path / "ws"),
        idle_timeout=0,
    )
    try:
        client = InProcessClient(await manager.create("someone"))
        params = {
            "processId": None,
            "capabilities": {},
            "initializationOptions": {"probe": "fsize"},
        }
        probe = (await client.request("initialize", params, timeout=20))["probe"]
    finally:
        await manager.shutdown()
    assert probe["argv"] == ["serve", "--", "-M300"]
