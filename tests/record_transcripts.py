#!/usr/bin/env python3
"""Record what the real Lean 4 server says on the wire, one JSON transcript per scenario.

The transcripts in ``tests/transcripts/`` are the ground truth the stand-in
(``tests/lean_standin.py``) is held to by ``tests/test_transcripts.py``; its real-tier test replays
these same scenarios against the live Lean to notice when a new Lean changes the wire.

Re-recording (for example after a Lean upgrade)::

    python tests/real_lean.py --elan          # or any Lean 4 found as `lean` on PATH
    python tests/record_transcripts.py        # all scenarios -> tests/transcripts/<name>.json
    python tests/record_transcripts.py --only rpc --lean "lean --server"
    git diff tests/transcripts/               # review what changed, then run test_transcripts.py

Every document is a ``prelude`` document, so a Lean without its library (no ``Init``) can
elaborate it. Lean runs with its default settings (``server.reportDelayMs`` 200 ms included), in a
temporary folder that stands in for a project. Each scenario starts its own server, sends one
request at a time and waits for what it expects (no sleeps), then kills the server.

A transcript holds:

- ``messages``: both directions in order (``"->"`` client to Lean, ``"<-"`` Lean to client);
- ``observations``: the named facts a scenario takes note of (a reply, the diagnostics of a
  version, the notifications seen between two points); these are what the test compares;
- ``server_requests``: the methods of the requests Lean sent to the client. The client answers
  each with ``null``. Lean sends ``workspace/inlayHint/refresh`` and
  ``workspace/semanticTokens/refresh`` a timing-dependent number of times with ids from one
  counter, so those requests (and the client's answers) are left out of ``messages``;
- ``stderr`` and ``exit_code`` when the scenario ends the server itself.

Normalized, so that a transcript does not change from one run or machine to the next: the
project folder (``file:///PROJECT/...``, ``/PROJECT``), Lean's prefix (``/TOOLCHAIN``), the home
folder (``/HOME``), ``processId`` (0), RPC session ids (``"SESSION-1"``... when Lean sends strings,
1... when integers: the type is kept, it is part of the wire). Timing is not recorded at all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = Any

TRANSCRIPTS_DIR = Path(__file__).parent / "transcripts"
WAIT_SECONDS = 30.0
REFRESH_METHODS = frozenset({"workspace/inlayHint/refresh", "workspace/semanticTokens/refresh"})

# The documents every scenario works on; positions below refer to these lines.
DOC = (
    "prelude\n"
    "inductive N | z | s (n : N)\n"
    "#check N\n"
    "#print N\n"
    "def bad : N := N\n"
    "def good : N := N.z\n"
    "theorem t (a : N) : N := by\n"
    "#check N.z\n"
)
BY_LINE, BY_COLUMN = 6, 25  # the `by` whose goal stays unsolved
CHECK_N = (2, 7)  # the `N` of `#check N`
GOOD_BODY = (5, 17)  # inside `N.z` of `def good`
BAD_BODY = (4, 15, 16)  # line, start and end of the ill-typed `N` of `def bad`


class ScenarioFailed(Exception):
    """Lean did not answer as the scenario expected, in time."""


def frame(message: Json) -> bytes:
    body = json.dumps(message, ensure_ascii=False).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@dataclass
class Target:
    """A Lean server to drive: its command line and how to kill one of its file workers."""

    argv: list[str]
    kill_worker: Callable[[subprocess.Popen[bytes], str], None]
    env: dict[str, str] | None = None


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (from /proc's children lists)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as children:
                    kids = [int(child) for child in children.read().split()]
            except FileNotFoundError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def kill_lean_worker(server: subprocess.Popen[bytes], uri: str) -> None:
    """SIGKILL the ``lean --worker <uri>`` process below the watchdog."""
    for pid in descendants(server.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                args = cmdline.read().decode().split("\0")
        except FileNotFoundError:
            continue
        if "--worker" in args and uri in args:
            os.kill(pid, signal.SIGKILL)
            return
    raise ScenarioFailed(f"no file worker for {uri} below pid {server.pid}")


def real_lean_target(command: str = "lean --server") -> Target:
    return Target(shlex.split(command), kill_lean_worker)


class Normalizer:
    """Rewrites machine- and run-specific values (see the module docstring)."""

    def __init__(self, project: Path) -> None:
        self.replacements = [(project.as_uri(), "file:///PROJECT"), (str(project), "/PROJECT")]
        prefix = lean_prefix()
        if prefix:
            self.replacements.append((prefix, "/TOOLCHAIN"))
        self.replacements.append((str(Path.home()), "/HOME"))
        self.sessions: dict[str, int] = {}

    def text(self, value: str) -> str:
        for old, new in self.replacements:
            value = value.replace(old, new)
        return value

    def session(self, value: Json) -> Json:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return value
        number = self.sessions.setdefault(json.dumps(value), len(self.sessions) + 1)
        return f"SESSION-{number}" if isinstance(value, str) else number

    def __call__(self, value: Json, key: str | None = None) -> Json:
        if key == "sessionId":
            return self.session(value)
        if key == "processId" and isinstance(value, int):
            return 0
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def lean_prefix() -> str | None:
    try:
        done = subprocess.run(
            ["lean", "--print-prefix"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    prefix = done.stdout.strip()
    return os.path.realpath(prefix) if done.returncode == 0 and prefix else None


class Peer:
    """One Lean server on stdio; everything sent and received is logged in order."""

    def __init__(self, target: Target, project: Path, normalize: Normalizer) -> None:
        self.normalize = normalize
        self.process = subprocess.Popen(
            target.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=project,
            env=target.env,
        )
        self.target = target
        self.inbox: queue.Queue[Json] = queue.Queue()
        self.log: list[dict[str, Json]] = []
        self.server_requests: set[str] = set()
        self.stderr_chunks: list[bytes] = []
        self.next_id = 0
        self.threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _read_stdout(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # closed by stop()
            self._read_frames()
        self.inbox.put(None)

    def _read_frames(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if not line or length is None:
                return
            self.inbox.put(json.loads(stream.read(length)))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        with contextlib.suppress(OSError, ValueError):  # closed by stop()
            while chunk := self.process.stderr.read1(1 << 16):
                self.stderr_chunks.append(chunk)

    # --- sending ---------------------------------------------------------------------------

    def send(self, message: Json, *, logged: bool = True) -> None:
        message = {"jsonrpc": "2.0", **message}
        if logged:
            self.log.append({"dir": "->", "message": self.normalize(message)})
        assert self.process.stdin is not None
        self.process.stdin.write(frame(message))
        self.process.stdin.flush()

    def notify(self, method: str, params: Json) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Json) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    # --- receiving -------------------------------------------------------------------------

    def expect(self, wanted: Callable[[Json], bool], what: str) -> Json:
        """Read until a message ``wanted`` accepts; answers Lean's requests on the way."""
        while True:
            try:
                message = self.inbox.get(timeout=WAIT_SECONDS)
            except queue.Empty:
                raise ScenarioFailed(f"no {what} within {WAIT_SECONDS} s") from None
            if message is None:
                raise ScenarioFailed(f"Lean closed its output while waiting for {what}")
            method = message.get("method")
            is_request = method is not None and "id" in message
            if is_request:
                self.server_requests.add(method)
            if method not in REFRESH_METHODS:
                self.log.append({"dir": "<-", "message": self.normalize(message)})
            if is_request:
                self.send(
                    {"id": message["id"], "result": None}, logged=method not in REFRESH_METHODS
                )
            if wanted(message):
                return self.normalize(message)

    def response(self, request_id: int) -> Json:
        return self.expect(
            lambda m: "method" not in m and m.get("id") == request_id,
            f"response to request {request_id}",
        )

    def call(self, method: str, params: Json) -> Json:
        return self.response(self.request(method, params))

    def notification(self, method: str, test: Callable[[Json], bool] = lambda p: True) -> Json:
        return self.expect(
            lambda m: m.get("method") == method and "id" not in m and test(m.get("params")), method
        )

    def received_since(self, mark: int) -> list[Json]:
        return [entry["message"] for entry in self.log[mark:] if entry["dir"] == "<-"]

    def stop(self) -> int | None:
        """Kill the server unless it already exited; its exit code if it exited by itself."""
        code = self.process.poll()
        if code is None:
            self.process.kill()
        self.process.wait(timeout=WAIT_SECONDS)
        # The readers end at EOF, once Lean's file workers (which share its pipes) are gone too.
        for thread in self.threads:
            thread.join(timeout=WAIT_SECONDS)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return code

    @property
    def stderr(self) -> str:
        return self.normalize.text(b"".join(self.stderr_chunks).decode(errors="replace"))


@dataclass
class Scenario:
    """What a scenario function gets: the peer, the project, and a place for observations."""

    peer: Peer
    project: Path
    observations: dict[str, Json] = field(default_factory=dict)
    exit_code: int | None = None

    def uri(self, name: str = "Doc.lean") -> str:
        return (self.project / name).as_uri()

    def observe(self, name: str, value: Json) -> None:
        """Note a fact; ``value`` comes from the peer, so it is normalized already."""
        self.observations[name] = value

    def handshake(self, has_widgets: bool | None = None) -> Json:
        """initialize (with ``initializationOptions.hasWidgets`` when given), then initialized."""
        params: Json = {
            "processId": os.getpid(),
            "rootUri": self.project.as_uri(),
            "capabilities": {},
            "clientInfo": {"name": "record_transcripts"},
        }
        if has_widgets is not None:
            params["initializationOptions"] = {"hasWidgets": has_widgets}
        result = self.peer.call("initialize", params)
        self.peer.notify("initialized", {})
        return result

    def open_and_wait(self, uri: str, text: str = DOC, version: int = 1) -> Json:
        """didOpen, then waitForDiagnostics; the last diagnostics Lean published before the reply
        (the ones a client shows)."""
        self.peer.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "lean4", "version": version, "text": text}},
        )
        return self.wait_diagnostics(uri, version)

    def wait_diagnostics(self, uri: str, version: int, mark: int | None = None) -> Json:
        """waitForDiagnostics; with what Lean sent since ``mark`` (default: since the request)."""
        mark = len(self.peer.log) if mark is None else mark
        reply = self.peer.call("textDocument/waitForDiagnostics", {"uri": uri, "version": version})
        published = [
            m["params"]
            for m in self.peer.received_since(mark)
            if m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == self.peer.normalize.text(uri)
            and m["params"].get("version") == version
        ]
        if not published:
            raise ScenarioFailed(f"no diagnostics for {uri} v{version} before the reply")
        return {
            "reply": reply,
            "diagnostics": published[-1],
            "progress": progress_of(self.peer.received_since(mark), version),
        }

    def position(self, uri: str, line: int, character: int) -> Json:
        return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def progress_of(messages: list[Json], version: int) -> list[Json]:
    """The fileProgress ``processing`` lists of one version, consecutive repeats collapsed (how
    often Lean repeats one depends on timing)."""
    sequence: list[Json] = []
    for message in messages:
        if (
            message.get("method") == "$/lean/fileProgress"
            and message["params"]["textDocument"].get("version") == version
            and (not sequence or sequence[-1] != message["params"]["processing"])
        ):
            sequence.append(message["params"]["processing"])
    return sequence


# --- scenarios -------------------------------------------------------------------------------


def handshake(s: Scenario) -> None:
    """initialize's result, then the registerCapability request that follows `initialized`."""
    s.observe("initialize", s.handshake())
    s.observe(
        "register_capability",
        s.peer.expect(
            lambda m: m.get("method") == "client/registerCapability", "registerCapability"
        ),
    )


def diagnostics(s: Scenario) -> None:
    """didOpen of #check, #print, a type error and an unsolved `by`: progress, diagnostics and the
    waitForDiagnostics reply."""
    s.handshake()
    mark = len(s.peer.log)
    seen = s.open_and_wait(s.uri())
    first = next(m for m in s.peer.received_since(mark) if m.get("method"))
    s.observe("first_after_initialized", first)
    s.observe("wait_reply", seen["reply"])
    s.observe("diagnostics", seen["diagnostics"])
    s.observe("progress", seen["progress"])


def did_change(s: Scenario) -> None:
    """A range edit that fixes the type error: the new version's progress and diagnostics."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    line, start, end = BAD_BODY
    mark = len(s.peer.log)
    s.peer.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {
                    "range": {
                        "start": {"line": line, "character": start},
                        "end": {"line": line, "character": end},
                    },
                    "text": "N.z",
                }
            ],
        },
    )
    seen = s.wait_diagnostics(uri, 2, mark)
    s.observe("wait_reply", seen["reply"])
    s.observe("diagnostics", seen["diagnostics"])
    s.observe("progress", seen["progress"])


def hover(s: Scenario) -> None:
    """Hover on a name and on blank space."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    s.observe("hover_name", s.peer.call("textDocument/hover", s.position(uri, *CHECK_N)))
    s.observe("hover_nothing", s.peer.call("textDocument/hover", s.position(uri, 0, 7)))


def goals(s: Scenario) -> None:
    """$/lean/plainGoal at an unsolved `by` and outside one; plainTermGoal in a term body and
    outside one."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    s.observe("plain_goal", s.peer.call("$/lean/plainGoal", s.position(uri, BY_LINE, BY_COLUMN)))
    s.observe("plain_goal_outside", s.peer.call("$/lean/plainGoal", s.position(uri, *CHECK_N)))
    s.observe("plain_term_goal", s.peer.call("$/lean/plainTermGoal", s.position(uri, *GOOD_BODY)))
    s.observe("plain_term_goal_outside", s.peer.call("$/lean/plainTermGoal", s.position(uri, 0, 3)))


def completion(s: Scenario) -> None:
    """Completion after `#check N`, then completionItem/resolve of its first item."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    line, column = CHECK_N
    listed = s.peer.call("textDocument/completion", s.position(uri, line, column + 1))
    s.observe("completion", listed)
    items = (listed.get("result") or {}).get("items") or []
    if not items:
        raise ScenarioFailed(f"no completion items: {listed}")
    # Sent back as Lean gave it (not normalized): the item's data holds the real URI.
    raw_item = json.loads(
        s.peer.normalize.text(json.dumps(items[0])).replace("file:///PROJECT", s.project.as_uri())
    )
    s.observe("resolve", s.peer.call("completionItem/resolve", raw_item))


def closed_file(s: Scenario) -> None:
    """Requests on a file never opened and on one opened and closed again."""
    s.handshake()
    never = s.uri("Never.lean")
    s.observe("hover_unopened", s.peer.call("textDocument/hover", s.position(never, 0, 0)))
    s.observe("goal_unopened", s.peer.call("$/lean/plainGoal", s.position(never, 0, 0)))
    uri = s.uri()
    s.open_and_wait(uri)
    mark = len(s.peer.log)
    s.peer.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    s.observe(
        "cleared",
        s.peer.notification(
            "textDocument/publishDiagnostics", lambda p: p["uri"] == uri and not p["diagnostics"]
        ),
    )
    s.observe("after_close", [m.get("method") for m in s.peer.received_since(mark)])
    s.observe("hover_closed", s.peer.call("textDocument/hover", s.position(uri, 0, 0)))


def unknown_method(s: Scenario) -> None:
    """A request no handler exists for, with and without a document."""
    s.handshake()
    s.observe("unknown", s.peer.call("jupyterLean/noSuchMethod", {}))
    uri = s.uri()
    s.open_and_wait(uri)
    s.observe(
        "unknown_with_document", s.peer.call("textDocument/noSuchMethod", s.position(uri, 0, 0))
    )


def rpc(s: Scenario) -> None:
    """$/lean/rpc/connect, rpc/call getInteractiveGoals at the `by`, keepAlive, release, and a call
    with a session id Lean never gave out."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    connected = s.peer.call("$/lean/rpc/connect", {"uri": uri})
    s.observe("connect", connected)
    # The raw id goes back to Lean (observations hold normalized copies).
    session = s.peer.normalize.sessions and next(
        json.loads(raw) for raw, n in s.peer.normalize.sessions.items() if n == 1
    )
    position = s.position(uri, BY_LINE, BY_COLUMN)
    call = {
        **position,
        "sessionId": session,
        "method": "Lean.Widget.getInteractiveGoals",
        "params": position,
    }
    s.observe("call_goals", s.peer.call("$/lean/rpc/call", call))
    s.peer.notify("$/lean/rpc/keepAlive", {"uri": uri, "sessionId": session})
    s.observe("call_after_keep_alive", s.peer.call("$/lean/rpc/call", call))
    s.peer.notify("$/lean/rpc/release", {"uri": uri, "sessionId": session, "refs": []})
    s.observe("call_after_release", s.peer.call("$/lean/rpc/call", call))
    stranger: Json = (int(session) + 1) % 2**64  # never given out: ids are random 64-bit
    stranger = str(stranger) if isinstance(session, str) else stranger
    s.observe(
        "call_unknown_session", s.peer.call("$/lean/rpc/call", {**call, "sessionId": stranger})
    )
    s.observe(
        "call_unknown_method", s.peer.call("$/lean/rpc/call", {**call, "method": "No.such.method"})
    )


def rpc_faults(s: Scenario) -> None:
    """What a hover in a goal asks (infoToInteractive on a reference from getInteractiveGoals),
    then the file worker restarts (didClose, didOpen): the old session's calls and references
    are refused as outdated, and a new session answers."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    s.peer.call("$/lean/rpc/connect", {"uri": uri})
    session = next(json.loads(raw) for raw, n in s.peer.normalize.sessions.items() if n == 1)
    position = s.position(uri, BY_LINE, BY_COLUMN)
    call = {
        **position,
        "sessionId": session,
        "method": "Lean.Widget.getInteractiveGoals",
        "params": position,
    }
    goals = s.peer.call("$/lean/rpc/call", call)
    s.observe("goals", goals)
    ref = goals["result"]["goals"][0]["type"]["tag"][0]["info"]
    info = {**call, "method": "Lean.Widget.InteractiveDiagnostics.infoToInteractive", "params": ref}
    s.observe("info", s.peer.call("$/lean/rpc/call", info))
    s.peer.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    s.open_and_wait(uri, version=2)
    s.observe("goals_after_restart", s.peer.call("$/lean/rpc/call", call))
    s.observe("info_after_restart", s.peer.call("$/lean/rpc/call", info))
    s.peer.call("$/lean/rpc/connect", {"uri": uri})
    renewed = next(json.loads(raw) for raw, n in s.peer.normalize.sessions.items() if n == 2)
    s.observe(
        "goals_in_new_session", s.peer.call("$/lean/rpc/call", {**call, "sessionId": renewed})
    )


def rpc_messages(s: Scenario) -> None:
    """What an interactive message asks, from a client that said hasWidgets (without it Lean
    strips every tag): getInteractiveDiagnostics for the document's lines (expressions carry
    references, goals come embedded), then infoToInteractive on the first expression of the type
    error (a hover in the message)."""
    s.handshake(has_widgets=True)
    uri = s.uri()
    s.observe("published", s.open_and_wait(uri)["diagnostics"])
    s.peer.call("$/lean/rpc/connect", {"uri": uri})
    session = next(json.loads(raw) for raw, n in s.peer.normalize.sessions.items() if n == 1)
    line = BAD_BODY[0]
    call = {
        **s.position(uri, line, 0),
        "sessionId": session,
        "method": "Lean.Widget.getInteractiveDiagnostics",
        "params": {"lineRange": {"start": line, "end": line + 1}},
    }
    answer = s.peer.call("$/lean/rpc/call", call)
    s.observe("diagnostics", answer)
    type_error = next(d for d in answer["result"] if d["range"]["start"]["line"] == line)
    ref = first_expr_info(type_error["message"])
    info = {**call, "method": "Lean.Widget.InteractiveDiagnostics.infoToInteractive", "params": ref}
    s.observe("info", s.peer.call("$/lean/rpc/call", info))


def first_expr_info(text: Json) -> Json:
    """The RPC reference of the first expression subterm in a message's tagged text."""
    if "append" in text:
        for part in text["append"]:
            found = first_expr_info(part)
            if found is not None:
                return found
        return None
    if "tag" in text:
        embed, inner = text["tag"]
        if isinstance(embed, dict) and "info" in embed:
            return embed["info"]
        expr = embed.get("expr") if isinstance(embed, dict) else None
        return first_expr_info(expr if expr is not None else inner)
    return None


def worker_killed(s: Scenario) -> None:
    """SIGKILL the file worker while a request waits on it; then a request while it is down,
    and the didChange that restarts it."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    pending = s.peer.request("textDocument/waitForDiagnostics", {"uri": uri, "version": 3})
    # The request must have reached the worker before it is killed: a hover sent after it is
    # answered by the same worker, in order.
    s.peer.call("textDocument/hover", s.position(uri, *CHECK_N))
    mark = len(s.peer.log)
    s.peer.target.kill_worker(s.peer.process, uri)
    s.observe("pending_reply", s.peer.response(pending))
    s.observe(
        "crash_progress",
        s.peer.notification(
            "$/lean/fileProgress", lambda p: any(r["kind"] == 2 for r in p["processing"])
        ),
    )
    s.observe("after_kill", [m.get("method") or "response" for m in s.peer.received_since(mark)])
    mark = len(s.peer.log)
    queued = s.peer.request("textDocument/hover", s.position(uri, *CHECK_N))
    s.peer.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": DOC}]},
    )
    s.observe("queued_reply", s.peer.response(queued))
    seen = s.wait_diagnostics(uri, 2, mark)
    s.observe("recovered_diagnostics", seen["diagnostics"])
    s.observe("recovered_progress", seen["progress"])
    s.observe("stderr", s.peer.stderr)


def shutdown(s: Scenario) -> None:
    """shutdown with a document open, a request after it, then exit and Lean's exit code."""
    s.handshake()
    uri = s.uri()
    s.open_and_wait(uri)
    mark = len(s.peer.log)
    s.observe("reply", s.peer.call("shutdown", None))
    s.observe("before_reply", [m.get("method") or "response" for m in s.peer.received_since(mark)])
    s.observe("request_after", s.peer.call("textDocument/hover", s.position(uri, 0, 0)))
    s.peer.notify("exit", None)
    s.exit_code = s.peer.process.wait(timeout=WAIT_SECONDS)
    s.observe("exit_code", s.exit_code)


SCENARIOS: dict[str, Callable[[Scenario], None]] = {
    function.__name__: function
    for function in (
        handshake,
        diagnostics,
        did_change,
        hover,
        goals,
        completion,
        closed_file,
        unknown_method,
        rpc,
        rpc_faults,
        rpc_messages,
        worker_killed,
        shutdown,
    )
}


def run_scenario(name: str, target: Target) -> dict[str, Json]:
    """Run one scenario against a fresh server; its transcript."""
    with tempfile.TemporaryDirectory(prefix="jupyter-lean-transcript-") as folder:
        project = Path(folder).resolve()
        normalize = Normalizer(project)
        peer = Peer(target, project, normalize)
        scenario = Scenario(peer, project)
        try:
            SCENARIOS[name](scenario)
        finally:
            code = peer.stop()
        return {
            "scenario": name,
            "description": " ".join((SCENARIOS[name].__doc__ or "").split()),
            "observations": scenario.observations,
            "server_requests": sorted(peer.server_requests),
            "exit_code": code if scenario.exit_code is not None else None,
            "messages": peer.log,
        }


def lean_version(argv: list[str]) -> str:
    done = subprocess.run(
        [argv[0], "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip()


def dump_transcript(transcript: dict[str, Json]) -> str:
    """JSON with one message and one observation per line: small, and diffs stay readable."""

    def compact(value: Json) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    fields = []
    for key, value in transcript.items():
        if key == "messages":
            body = ",\n".join(f"  {compact(message)}" for message in value)
            fields.append(f" {compact(key)}: [\n{body}\n ]")
        elif key == "observations":
            body = ",\n".join(f"  {compact(name)}: {compact(seen)}" for name, seen in value.items())
            fields.append(f" {compact(key)}: {{\n{body}\n }}")
        else:
            fields.append(f" {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lean", default="lean --server", help="command line of the server")
    parser.add_argument("--out", type=Path, default=TRANSCRIPTS_DIR)
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    target = real_lean_target(args.lean)
    args.out.mkdir(parents=True, exist_ok=True)
    version = lean_version(target.argv)
    for name in args.only or SCENARIOS:
        transcript = {"lean": version, **run_scenario(name, target)}
        path = args.out / f"{name}.json"
        path.write_text(dump_transcript(transcript))
        print(f"{path}: {len(transcript['messages'])} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
