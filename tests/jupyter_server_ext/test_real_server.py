"""The server extension on the real Lean (the real tier), with the product's default settings:
`lean` found through elan's proxy, sandbox "auto" (bwrap here), default limits. Documents start
with ``prelude``: this Lean has no library."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import LspSocket

from jupyter_server_ext.session.process import descendants

Fetch = Any
pytestmark = pytest.mark.timeout(120)

PRELUDE_N = """prelude
inductive N where
  | z : N
  | s : N → N
"""
DOCUMENT = (
    PRELUDE_N
    + """#check N.s
theorem t (P : Prop) (p : P) : P := by
  skip
"""
)


async def _json(jp_fetch: Fetch, *path: str) -> Any:
    return json.loads((await jp_fetch(*path)).body)


async def _new_session(open_socket: Any) -> tuple[LspSocket, str]:
    socket = await open_socket()
    first = await socket.recv()
    assert first is not None and first["method"] == "$/jupyterLean/session"
    return socket, first["params"]["id"]


def _messages(diagnostics: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return sorted((d["severity"], d["message"].split("\n")[0]) for d in diagnostics)


async def test_health_checks_real_lean_through_the_sandbox(real_lean: Any, jp_fetch: Fetch) -> None:
    health = await _json(jp_fetch, "lean", "health")
    assert health["status"] == "ok", health
    assert health["check"]["ok"] is True and health["check"]["problem"] is None
    assert health["sandbox"] == "bwrap" or not os.path.exists("/usr/bin/bwrap")
    assert "4.35.0" in (health["lean"]["version"] or "")


async def test_relay_and_resume_on_real_lean(
    real_lean: Any, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    socket, session_id = await _new_session(open_socket)
    first_init = await socket.initialize()
    assert first_init["result"]["serverInfo"]["name"] == "Lean 4 Server"
    uri = (jp_root_dir / "Doc.lean").as_uri()
    await socket.open_document(uri, DOCUMENT)
    before = await socket.diagnostics_for(uri, 1, timeout=60)
    # (Without Init, `skip` is an unknown tactic: the goal stays unsolved.)
    assert _messages(before) == [(1, "unknown tactic"), (1, "unsolved goals"), (3, "N.s : N → N")]
    goal = await socket.request(
        "$/lean/plainGoal", {"textDocument": {"uri": uri}, "position": {"line": 6, "character": 2}}
    )
    assert goal["result"]["goals"] == ["P : Prop\np : P\n⊢ P"]
    pid = (await _json(jp_fetch, "lean", "sessions", session_id))["pid"]
    socket.close()
    await socket.wait_closed()

    again = await open_socket(f"/lean/sessions/{session_id}/lsp")
    second_init = await again.initialize()
    assert second_init["result"] == first_init["result"], "answered from the cached result"
    fixed = DOCUMENT.replace(":= by\n  skip\n", ":= p\n")
    await again.open_document(uri, DOCUMENT, version=1)
    resent = await again.wait_notification(
        "textDocument/publishDiagnostics", lambda m: m["params"]["uri"] == uri, timeout=60
    )
    assert _messages(resent["params"]["diagnostics"]) == _messages(before)
    await again.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]},
    )
    after = await again.diagnostics_for(uri, 2, timeout=60)
    assert _messages(after) == [(3, "N.s : N → N")]
    assert (await _json(jp_fetch, "lean", "sessions", session_id))["pid"] == pid


def _mounts(pid: int) -> dict[str, tuple[str, str]]:
    """Mount point -> (options, filesystem type) as process ``pid`` sees them."""
    found = {}
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        left, right = line.split(" - ")
        fields = left.split()
        found[fields[4]] = (fields[5], right.split()[0])
    return found


async def test_sandboxed_real_lean_sees_its_toolchain_read_only_and_no_network(
    real_lean: Any, open_socket: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    """Looked at from outside, in the running Lean's own mount and network namespaces."""
    socket, session_id = await _new_session(open_socket)
    await socket.initialize()
    uri = (jp_root_dir / "Doc.lean").as_uri()
    await socket.open_document(uri, DOCUMENT)
    await socket.diagnostics_for(uri, 1, timeout=60)
    session = await _json(jp_fetch, "lean", "sessions", session_id)
    lean_pids = [
        pid
        for pid in descendants(session["pid"])
        if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "lean"
    ]
    assert len(lean_pids) >= 2, "the watchdog and the document's worker"
    mounts = _mounts(lean_pids[0])
    toolchain = os.path.realpath(real_lean.prefix)
    assert mounts[toolchain][0].startswith("ro"), "the toolchain is read-only"
    assert mounts[str(jp_root_dir.resolve())][0].startswith("ro"), "the project is read-only"
    workspace = [m for m, (_, fs) in mounts.items() if fs == "tmpfs" and session_id in m]
    assert workspace and mounts[workspace[0]][0].startswith("rw"), "a private writable workspace"
    assert mounts["/dev"][0].startswith("ro")
    # elan's home is not there: only the toolchain it resolved.
    assert not os.path.exists(f"/proc/{lean_pids[0]}/root{os.path.expanduser('~/.elan')}")
    assert os.readlink(f"/proc/{lean_pids[0]}/ns/net") != os.readlink("/proc/self/ns/net")
    environ = Path(f"/proc/{lean_pids[0]}/environ").read_bytes().split(b"\0")
    assert f"HOME={workspace[0]}".encode() in environ


@pytest.mark.skipif(os.geteuid() != 0, reason="Lean runs as another user only when root")
@pytest.mark.parametrize("lean_config", [{"process_limit": 64}])
async def test_an_unprivileged_lean_that_cannot_reach_the_toolchain_is_reported(
    real_lean: Any, jp_fetch: Fetch, lean_config: dict[str, Any]
) -> None:
    """As root, a process limit runs Lean as nobody; a toolchain under /root is out of its
    reach: health says so, with what to do, instead of "ok" and sessions that die at once."""
    if not real_lean.prefix.startswith("/root"):
        pytest.skip(f"the toolchain ({real_lean.prefix}) is reachable by other users here")
    health = await _json(jp_fetch, "lean", "health")
    assert health["status"] == "degraded"
    assert "cannot reach the toolchain" in health["lean"]["message"]
    assert "lean_uid" in health["lean"]["message"]


async def test_a_lake_project_on_a_toolchain_without_lake_is_a_clear_error(
    real_lean: Any, jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    """A Lake project needs the toolchain's `lake`; this toolchain has none (the real tier's
    Lean is only `lean`): creating a session says so instead of starting a Lean that dies."""
    if os.path.exists(os.path.join(real_lean.prefix, "bin", "lake")):
        pytest.skip("this toolchain has lake")
    (jp_root_dir / "lakefile.toml").write_text('name = "course"\n')
    with pytest.raises(Exception) as refused:
        await jp_fetch("lean", "sessions", method="POST", body="{}")
    assert refused.value.code == 503  # type: ignore[attr-defined]
    message = json.loads(refused.value.response.body)["message"]  # type: ignore[attr-defined]
    assert "has no `lake`" in message
    assert await _json(jp_fetch, "lean", "sessions") == []


@pytest.mark.parametrize("lean_config", [{"max_message_size": 8 * 1024}])
async def test_an_answer_over_max_message_size_fails_its_request_at_once(
    real_lean: Any, open_socket: Any, jp_root_dir: Path, lean_config: dict[str, Any]
) -> None:
    """Lean's answer is dropped (it would stall the relay), but its request is answered with an
    error saying why, instead of waiting for request_timeout."""
    socket, _ = await _new_session(open_socket)
    await socket.initialize()
    uri = (jp_root_dir / "Many.lean").as_uri()
    text = PRELUDE_N + "".join(f"def d{index} : N := N.z\n" for index in range(300)) + "#check d"
    await socket.open_document(uri, text)
    await socket.diagnostics_for(uri, 1, timeout=60)
    answer = await socket.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": text.count("\n"), "character": 8}},
        timeout=30,
    )
    assert "max_message_size" in answer["error"]["message"]
    hover = await socket.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 5}},
    )
    assert "d0 : N" in hover["result"]["contents"]["value"], "the session goes on"
