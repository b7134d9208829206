"""Hostile WebSocket frames: the server and Lean survive, and other sessions do not notice.

A property-based test (hypothesis) sends thousands of random, truncated, non-UTF-8, deeply
nested, oversized, binary and wrong-typed frames to ``/lean/lsp`` and ``/lean/sessions/{id}/lsp``.
After every frame a sync request goes through Lean and back, so each frame is judged on its own:

- a frame that is not a valid JSON-RPC message is answered with a JSON-RPC error at once;
- a request (valid id) gets exactly one response, from Lean or the session (refusals, timeouts);
- a frame over ``max_message_size`` closes the socket with 1009 and the session survives;
- nothing ends the Lean server behind it (Lean's watchdog exits on some malformed input: the
  session must never forward such input) and nothing drops the connection otherwise.

Meanwhile a well-behaved client on another session keeps asking the same hover question and
must get the same correct answer every time, promptly.

The fuzzing client runs in a thread (hypothesis drives plain functions) with a synchronous
``websockets`` client, while the Jupyter server and the well-behaved client share the test's
event loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import json
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from support import LspSocket, connect, slowest_round_trip, time_limit, ws_url
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from jupyter_server_ext.session import guard

MAX_MESSAGE = 64 * 1024
MAX_DEPTH_REFUSED = 101  # guard.MAX_DEPTH + 1
REQUEST_TIMEOUT = 2.0
# Wall-clock cap on the fuzzing whatever max_examples says (about 1,500 frames here), once at
# least MIN_FRAMES were sent: a busy machine takes longer instead of testing less.
FUZZ_BUDGET_S = 20.0
MIN_FRAMES = 500
MAX_EXAMPLES = 450
UNTIMED = {"textDocument/waitForDiagnostics", "$/lean/waitForILeans"}
BYSTANDER_TEXT = "def answer := 42\n#eval answer\n"
HOVER_AT = {"line": 1, "character": 7}  # on `answer` in `#eval answer`

Json = Any


# -- what the server must answer (an oracle independent of the server's own checks) ---------


@dataclass(frozen=True)
class Expect:
    kind: str  # "error" (at once), "response" (eventually), "none", "close1009"
    request_id: Json = None


def _valid_id(value: Json) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def expectation(message: Json) -> Expect:
    """What a structurally parsed frame must get back, by JSON-RPC 2.0 rules alone."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return Expect("error", message.get("id") if isinstance(message, dict) else None)
    params = message.get("params")
    if "method" in message:
        method = message["method"]
        if not isinstance(method, str) or not method:
            return Expect("error", message.get("id"))
        if params is not None and not isinstance(params, (dict, list)):
            return Expect("error", message.get("id"))
        if "id" not in message:
            return Expect("none")
        if not _valid_id(message["id"]):
            return Expect("error", None)
        # Barriers may wait for a version that never comes: they are exempt from timeouts.
        return Expect("none") if method in UNTIMED else Expect("response", message["id"])
    if (
        "id" in message
        and (message["id"] is None or _valid_id(message["id"]))
        and (("result" in message) != ("error" in message))
        and isinstance(message.get("error", {}), dict)
    ):
        return Expect("none")
    return Expect("error", message.get("id"))


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    expect: Expect
    binary: bool = False


def _text_frame(message: Json) -> Frame:
    text = json.dumps(message)
    if len(text.encode()) > MAX_MESSAGE:
        return Frame(text, Expect("close1009"))
    return Frame(text, expectation(message))


# -- strategies ------------------------------------------------------------------------------

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
# Ids the fuzzer may use; never "sync-..." (the checker's own).
ids = st.integers(-(2**64), 2**64) | st.text(alphabet="abxyz019", max_size=6)
bad_ids = (
    st.floats(allow_nan=False)
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | (st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
)

METHODS = [
    "initialize",
    "initialized",
    "shutdown",
    "exit",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeWatchedFiles",
    "$/cancelRequest",
    "$/lean/rpc/connect",
    "$/lean/rpc/call",
    "$/lean/rpc/release",
    "$/lean/rpc/keepAlive",
    "textDocument/hover",
    "textDocument/completion",
    "completionItem/resolve",
    "$/lean/plainGoal",
    "$/lean/plainTermGoal",
    "textDocument/definition",
    "textDocument/documentSymbol",
    "textDocument/semanticTokens/range",
    "textDocument/semanticTokens/full",
    "textDocument/waitForDiagnostics",
    "$/lean/waitForILeans",
    "textDocument/codeAction",
    "textDocument/references",
    "workspace/symbol",
    "$/lean/unknown",
    "no/such/method",
]


def templates(uri: str) -> dict[str, Json]:
    """Well-formed params per method: the starting point of the mutations."""
    position = {"line": 1, "character": 3}
    document = {"uri": uri}
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 2}}
    return {
        "initialize": {"processId": None, "capabilities": {}, "rootUri": None},
        "textDocument/didOpen": {
            "textDocument": {
                "uri": uri,
                "languageId": "lean4",
                "version": 1,
                "text": "def a := 1\n#eval a\n",
            }
        },
        "textDocument/didChange": {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": rng, "text": "x"}],
        },
        "textDocument/didClose": {"textDocument": document},
        "textDocument/didSave": {"textDocument": document, "text": "#eval 1\n"},
        "workspace/didChangeWatchedFiles": {"changes": [{"uri": uri, "type": 2}]},
        "$/cancelRequest": {"id": 1},
        "$/lean/rpc/connect": {"uri": uri},
        "$/lean/rpc/call": {
            "textDocument": document,
            "position": position,
            "sessionId": "7",
            "method": "Lean.Widget.getWidgets",
            "params": position,
        },
        "$/lean/rpc/release": {"uri": uri, "sessionId": "7", "refs": [{"p": "1"}]},
        "$/lean/rpc/keepAlive": {"uri": uri, "sessionId": "7"},
        "completionItem/resolve": {
            "label": "a",
            "data": {"params": {"textDocument": document, "position": position}},
        },
        "textDocument/semanticTokens/range": {"textDocument": document, "range": rng},
        "textDocument/codeAction": {
            "textDocument": document,
            "range": rng,
            "context": {"diagnostics": []},
        },
        "textDocument/waitForDiagnostics": {"uri": uri, "version": 1},
        "$/lean/waitForILeans": {"uri": uri, "version": 1},
        "workspace/symbol": {"query": "a"},
    }


def _paths(value: Json, prefix: tuple[Json, ...] = ()) -> list[tuple[Json, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Json, path: tuple[Json, ...], new: Json) -> Json:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def mutated_params(draw: st.DrawFn, template: Json) -> Json:
    """``template`` with a few leaves or subtrees replaced by wrong-typed or extreme values."""
    value = template
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(value)))
        new = draw(
            json_values
            | st.sampled_from(
                [-1, 2**31, 2**63, 2**64, 10**30, 1.5, "", "file:///etc/passwd", None, [], {}]
            )
        )
        value = _replace(value, path, new)
    return value


# Methods whose params Lean decodes strictly (a decoding failure can be fatal to it), and values
# of every JSON type, for swapping in where another type belongs.
STRICT = [
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeWatchedFiles",
    "$/cancelRequest",
    "$/lean/rpc/release",
    "$/lean/rpc/keepAlive",
    "textDocument/waitForDiagnostics",
    "$/lean/rpc/call",
    "completionItem/resolve",
    "textDocument/semanticTokens/range",
]
REQUESTS = {
    "textDocument/waitForDiagnostics",
    "$/lean/rpc/call",
    "completionItem/resolve",
    "textDocument/semanticTokens/range",
}
WRONG_TYPES = [
    5,
    -1,
    0,
    1.5,
    -0.0,
    "",
    "x",
    None,
    True,
    False,
    [],
    [1],
    {},
    {"a": 1},
    2**31,
    2**53 + 1,
    2**64,
    -(2**63) - 1,
    10**30,
]


@st.composite
def wrong_typed(draw: st.DrawFn, uri: str) -> Frame:
    """Well-formed JSON-RPC whose params have one or two fields of the wrong type or range:
    what a buggy client sends, and what must never reach (and kill) Lean."""
    method = draw(st.sampled_from(STRICT))
    params = templates(uri)[method]
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(_paths(params)))
        params = _replace(params, path, draw(st.sampled_from(WRONG_TYPES) | json_values))
    message: dict[str, Json] = {"jsonrpc": "2.0", "method": method, "params": params}
    if method in REQUESTS:
        message["id"] = draw(ids)
    return _text_frame(message)


@st.composite
def lsp_messages(draw: st.DrawFn, uri: str) -> Frame:
    """Structurally plausible JSON-RPC messages with mutated envelopes and params."""
    known = templates(uri)
    method = draw(st.sampled_from(METHODS) | st.text(max_size=20))
    params = draw(
        mutated_params(
            known.get(
                method, {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}
            )
        )
    )
    message: dict[str, Json] = {"jsonrpc": "2.0", "method": method}
    if draw(st.booleans()):
        message["params"] = params
    kind = draw(st.sampled_from(["request", "notification", "response", "bad-envelope"]))
    if kind == "request":
        message["id"] = draw(ids)
    elif kind == "response":
        del message["method"]
        message.pop("params", None)
        message["id"] = draw(ids | st.just("register_lean_watcher") | st.none())
        message[draw(st.sampled_from(["result", "error"]))] = draw(json_values)
    elif kind == "bad-envelope":
        field_name = draw(st.sampled_from(["id", "jsonrpc", "method", "params"]))
        message[field_name] = draw(bad_ids | json_values)
        if draw(st.booleans()):
            message.pop(draw(st.sampled_from(["jsonrpc", "method"])), None)
    return _text_frame(message)


@st.composite
def raw_frames(draw: st.DrawFn, uri: str) -> Frame:
    """Frames that are not valid JSON-RPC text, or that Lean would read differently."""
    sample = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
        }
    )
    # Oversized frames cost a reconnection (and for /lean/lsp a new Lean): fewer of them.
    choice = draw(
        st.sampled_from(
            ["text", "binary", "truncated", "deep", "constant", "surrogate", "big-valid"] * 3
            + ["huge"]
        )
    )
    if choice == "text":
        text = draw(st.text(max_size=200))
        try:
            parsed: Json = json.loads(text)
        except ValueError:
            return Frame(text, Expect("error"))
        return Frame(text, expectation(parsed))
    if choice == "binary":
        data = draw(st.binary(max_size=200))
        try:
            return Frame(data, expectation(json.loads(data)), binary=True)
        except ValueError:  # includes UnicodeDecodeError
            return Frame(data, Expect("error"), binary=True)
    if choice == "truncated":
        return Frame(sample[: draw(st.integers(0, len(sample) - 1))], Expect("error"))
    if choice == "deep":
        # Past MAX_DEPTH the session refuses it; past ~1000 Python's parser gives up too.
        depth = draw(st.integers(MAX_DEPTH_REFUSED, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        body = opener * depth + "1" + closer * depth
        frame = f'{{"jsonrpc":"2.0","id":5,"method":"textDocument/hover","params":{{"x":{body}}}}}'
        if len(frame) > MAX_MESSAGE:
            return Frame(frame, Expect("close1009"))
        return Frame(frame, Expect("error", 5))
    if choice == "constant":
        # Valid for Python's json module, fatal or gigantic for Lean's parser.
        token = draw(
            st.sampled_from(
                ["NaN", "Infinity", "-Infinity", "1e999", "0e999999999", "1E+1000", "-2.5e-99999"]
            )
        )
        return Frame(sample.replace('"line": 0', f'"line": {token}'), Expect("error", 1))
    if choice == "surrogate":
        return Frame(
            sample.replace("textDocument/hover", "textDocument/hover\\ud800"), Expect("error", 1)
        )
    if choice == "huge":
        size = draw(st.integers(MAX_MESSAGE + 1, 2 * MAX_MESSAGE))
        return Frame("x" * size, Expect("close1009"), binary=draw(st.booleans()))
    # Just under the limit and valid: an ordinary (large) document.
    text = "-- " + "y" * (MAX_MESSAGE - 400) + "\n#eval 1\n"
    return _text_frame(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}
            },
        }
    )


# -- the fuzzing client (runs in a thread) ---------------------------------------------------


class FuzzFailure(AssertionError):
    pass


@dataclass
class Victim:
    """One fuzzed connection: ``new`` ones come from /lean/lsp, ``attach`` ones reattach."""

    mode: str
    session_id: str = ""
    ws: ClientConnection | None = None
    outstanding: collections.Counter[Json] = field(default_factory=collections.Counter)


@dataclass
class Fuzzer:
    port: int
    base_url: str
    headers: dict[str, str]
    root_uri: str
    # Starts one round trip of the well-behaved client on the server's loop; its result is the
    # latency (an exception if the answer was wrong).
    bystander: Callable[[], concurrent.futures.Future[float]]
    bystander_latencies: list[float] = field(default_factory=list)
    deadline: float = 0.0
    frames_sent: int = 0
    closes_1009: int = 0
    sessions_seen: dict[str, int] = field(default_factory=dict)  # session id -> Lean pid
    deleted: set[str] = field(default_factory=set)
    sync_counter: int = 0
    victims: list[Victim] = field(default_factory=list)

    # HTTP and connections

    def http(self, method: str, path: str, body: bytes | None = None) -> Json:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{self.base_url.rstrip('/')}{path}",
            data=body,
            method=method,
            headers=self.headers,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def open(self, victim: Victim) -> None:
        if victim.mode == "new":
            path = "/lean/lsp?project=default"
        else:
            if not victim.session_id:
                victim.session_id = self.http("POST", "/lean/sessions", b"{}")["id"]
            path = f"/lean/sessions/{victim.session_id}/lsp"
        url = f"ws://127.0.0.1:{self.port}{self.base_url.rstrip('/')}{path}"
        victim.ws = ws_connect(
            url,
            additional_headers=self.headers,
            max_size=None,
            compression=None,
            ping_interval=None,
            open_timeout=10,
        )
        # The sync request follows each frame at once: no Nagle delay on this side either.
        victim.ws.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        victim.outstanding.clear()
        if victim.mode == "new":
            first = json.loads(victim.ws.recv(timeout=10))
            assert first["method"] == "$/jupyterLean/session", first
            victim.session_id = first["params"]["id"]
        self.send(
            victim,
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": {"processId": None, "capabilities": {}},
                }
            ),
        )
        while "result" not in (reply := self.receive(victim, timeout=10)) or reply["id"] != "init":
            pass
        self.send(victim, json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        self.sync(victim)
        pid = self.http("GET", f"/lean/sessions/{victim.session_id}")["pid"]
        assert self.sessions_seen.setdefault(victim.session_id, pid) == pid, "Lean restarted"

    def send(self, victim: Victim, data: str | bytes, binary: bool = False) -> None:
        assert victim.ws is not None
        victim.ws.send(data, text=not binary)

    def receive(self, victim: Victim, timeout: float) -> Json:
        assert victim.ws is not None
        try:
            frame = victim.ws.recv(timeout=timeout)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            raise FuzzFailure(f"connection closed unexpectedly ({code})") from exc
        except TimeoutError as exc:
            raise FuzzFailure(f"no answer within {timeout} s") from exc
        message = json.loads(frame)
        if message.get("method") == "$/jupyterLean/exited":
            raise FuzzFailure(f"Lean exited: {message['params']}")
        return message

    def sync(self, victim: Victim) -> list[Json]:
        """Send a request that goes through Lean; return everything received before its
        answer. Lean answering it proves Lean is alive and reading."""
        self.sync_counter += 1
        sync_id = f"sync-{self.sync_counter}"
        self.send(
            victim,
            json.dumps({"jsonrpc": "2.0", "id": sync_id, "method": "$/fuzz/ping", "params": {}}),
        )
        received: list[Json] = []
        while True:
            message = self.receive(victim, timeout=10)
            if message.get("id") == sync_id and "method" not in message:
                assert message["error"]["code"] == -32601, message  # Lean's "no handler"
                return received
            received.append(message)
            self._settle(victim, message)

    @staticmethod
    def _settle(victim: Victim, message: Json) -> None:
        if "method" not in message and victim.outstanding[message.get("id")] > 0:
            victim.outstanding[message.get("id")] -= 1

    # One frame

    def fuzz(self, victim: Victim, frame: Frame) -> None:
        if victim.ws is None:
            self.open(victim)
        self.frames_sent += 1
        # The well-behaved client's question is in flight while this frame is handled.
        asked = self.bystander()
        if frame.expect.kind == "close1009":
            self.expect_1009(victim, frame)
            self.bystander_latencies.append(asked.result(timeout=10))
            return
        if frame.expect.kind == "response":
            victim.outstanding[frame.expect.request_id] += 1
        self.send(victim, frame.data, frame.binary)
        received = self.sync(victim)
        self.bystander_latencies.append(asked.result(timeout=10))
        if frame.expect.kind == "error":
            errors = [
                m
                for m in received
                if "error" in m
                and "method" not in m
                and m.get("id") in (None, frame.expect.request_id)
            ]
            if not errors:
                raise FuzzFailure(f"no JSON-RPC error for {frame.data[:300]!r}: {received}")

    def expect_1009(self, victim: Victim, frame: Frame) -> None:
        assert victim.ws is not None
        self.send(victim, frame.data, frame.binary)
        try:
            while True:
                self._settle(victim, json.loads(victim.ws.recv(timeout=10)))
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code != 1009:
                raise FuzzFailure(f"oversized frame closed with {code}, not 1009") from exc
        self.closes_1009 += 1
        victim.ws = None
        state = self.http("GET", f"/lean/sessions/{victim.session_id}")
        assert state["state"] == "ready", state  # the session outlives its connection
        if victim.mode == "new":  # a fresh /lean/lsp next time; this one is done
            self.http("DELETE", f"/lean/sessions/{victim.session_id}")
            self.deleted.add(victim.session_id)
            victim.session_id = ""

    def finish(self) -> None:
        """Every request must have had its answer (request_timeout bounds the wait), and every
        Lean the fuzzer talked to is the one it started with, still running."""
        for victim in self.victims:
            if victim.ws is None:
                continue
            end = time.monotonic() + REQUEST_TIMEOUT + 5
            while +victim.outstanding and time.monotonic() < end:
                self._settle(victim, self.receive(victim, timeout=end - time.monotonic()))
            assert not +victim.outstanding, f"requests never answered: {+victim.outstanding}"
            self.sync(victim)
            victim.ws.close()
        for session_id, pid in self.sessions_seen.items():
            if session_id not in self.deleted:
                state = self.http("GET", f"/lean/sessions/{session_id}")
                assert state["state"] == "ready" and state["pid"] == pid, state

    def run(self) -> None:
        uri = f"{self.root_uri}/Fuzz.lean"
        self.victims = [Victim("new"), Victim("attach")]
        self.deadline = time.monotonic() + FUZZ_BUDGET_S
        frames = st.one_of(wrong_typed(uri), lsp_messages(uri), raw_frames(uri))

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            print_blob=False,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(st.tuples(st.integers(0, 1), frames), min_size=1, max_size=16))
        def fuzz_frames(batch: list[tuple[int, Frame]]) -> None:
            if time.monotonic() > self.deadline and self.frames_sent >= MIN_FRAMES:
                return  # the time budget is spent: the remaining examples pass unrun
            for index, frame in batch:
                note(f"victim {index}: {frame.expect} {frame.data[:500]!r}")
                self.fuzz(self.victims[index], frame)

        fuzz_frames()
        self.finish()


# -- the test --------------------------------------------------------------------------------


@pytest.fixture
def lean_config() -> dict[str, object]:
    return {
        "max_message_size": MAX_MESSAGE,
        "request_timeout": REQUEST_TIMEOUT,
        "max_sessions_per_user": 200,
        "max_sessions": 200,
    }


async def _bystander(
    port: int, base_url: str, headers: dict[str, str], root: Path
) -> tuple[LspSocket, dict[str, Json]]:
    socket = await connect(ws_url(port, base_url, "/lean/lsp", project="default"), headers)
    assert (await socket.recv() or {}).get("method") == "$/jupyterLean/session"
    await socket.initialize()
    uri = (root / "Bystander.lean").as_uri()
    await socket.open_document(uri, BYSTANDER_TEXT)
    assert [d["message"].strip() for d in await socket.diagnostics_for(uri, 1)] == ["42"]
    params = {"textDocument": {"uri": uri}, "position": HOVER_AT}
    return socket, params


@pytest.mark.usefixtures("standin_only")
async def test_hostile_frames_never_hurt_lean_or_other_sessions(
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
) -> None:
    bystander, hover = await _bystander(jp_http_port, jp_base_url, jp_auth_header, jp_root_dir)
    expected = (await bystander.request("textDocument/hover", hover))["result"]
    assert "answer : Nat" in expected["contents"]["value"]
    # How long a hover takes on this machine right now, before any hostile frame.
    pace = await slowest_round_trip(
        lambda: bystander.request("textDocument/hover", hover), samples=10
    )
    loop = asyncio.get_running_loop()

    async def ask() -> float:
        started = loop.time()
        reply = await bystander.request("textDocument/hover", hover, timeout=10)
        assert reply.get("result") == expected, reply
        return loop.time() - started

    fuzzer = Fuzzer(
        jp_http_port,
        jp_base_url,
        jp_auth_header,
        jp_root_dir.as_uri(),
        bystander=lambda: asyncio.run_coroutine_threadsafe(ask(), loop),
    )
    try:
        await asyncio.to_thread(fuzzer.run)
    finally:
        bystander.close()
    latencies = fuzzer.bystander_latencies
    # Hundreds, else the fuzzing means little (max_examples ran out first).
    assert fuzzer.frames_sent >= MIN_FRAMES, f"only {fuzzer.frames_sent} frames"
    assert fuzzer.closes_1009 >= 1
    # The well-behaved client got its answer all along, one round trip per hostile frame.
    assert len(latencies) == fuzzer.frames_sent
    assert max(latencies) < time_limit(2.0, pace, factor=50), (max(latencies), pace)


# -- the rules behind the refusals, one by one -----------------------------------------------
# The stand-in is written in Python, so it reads NaN, 1e999 or a lone surrogate as Python does
# and cannot show that Lean would not: these checks are shown on the frame parser directly.

HOVER = '{"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {"x": %s}}'


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "Infinity",
        "-Infinity",  # not JSON at all; Python accepts them
        "1e999",
        "-1e400",  # infinite as a double
        "0e999999999",
        "1.5E-1000",  # a billion-digit number for Lean's arbitrary precision
        '"\\ud800"',
        '"a\\udc00b"',  # lone surrogates: not encodable as UTF-8
        "[" * 99 + "]" * 99,  # with the message and its params: nested deeper than MAX_DEPTH
    ],
)
def test_frames_lean_would_read_differently_are_refused(value: str) -> None:
    message, error = guard.parse_client_frame(HOVER % value)
    assert message is None and error is not None
    assert error["error"]["code"] in (-32700, -32600)


@pytest.mark.parametrize(
    "value",
    [
        "1e308",
        "-2.5e-300",
        "12345678901234567890123",
        '"\\ud83d\\ude00"',
        "[" * 98 + "]" * 98,  # with the message and its params: 100 levels, the limit
    ],
)
def test_unusual_but_faithful_frames_pass(value: str) -> None:
    message, error = guard.parse_client_frame(HOVER % value)
    assert error is None and message is not None


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("textDocument/didOpen", {"textDocument": {"uri": "u", "version": 1, "text": 5}}),
        ("textDocument/didOpen", {"textDocument": {"uri": "u", "version": -1, "text": ""}}),
        ("textDocument/didOpen", {"textDocument": {"uri": "u", "version": True, "text": ""}}),
        ("textDocument/didOpen", {"textDocument": {"uri": ["u"], "version": 1, "text": ""}}),
        (
            "textDocument/didChange",
            {
                "textDocument": {"uri": "u", "version": 2},
                "contentChanges": [{"range": {"start": 1}, "text": ""}],
            },
        ),
        (
            "textDocument/didChange",
            {
                "textDocument": {"uri": "u", "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": -1, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "",
                    }
                ],
            },
        ),
        (
            "textDocument/didChange",
            {"textDocument": {"uri": "u", "version": 2.0}, "contentChanges": []},
        ),
        ("textDocument/didChange", {"textDocument": "u", "contentChanges": []}),
        ("textDocument/didClose", {"textDocument": {}}),
        ("textDocument/didClose", []),
        ("$/cancelRequest", {"id": 1.5}),
        ("$/lean/rpc/keepAlive", {"uri": "u", "sessionId": 2**64}),
        # Lean 4.35's watchdog exits on a numeric session id (it sends and decodes strings).
        ("$/lean/rpc/keepAlive", {"uri": "u", "sessionId": 7}),
        ("$/lean/rpc/release", {"uri": "u", "sessionId": 7, "refs": []}),
        ("$/lean/rpc/keepAlive", {"uri": "u", "sessionId": str(2**64)}),
        ("$/lean/rpc/release", {"uri": "u", "sessionId": "-1", "refs": []}),
        ("$/lean/rpc/keepAlive", {"uri": "u", "sessionId": " 7"}),
        ("$/lean/rpc/keepAlive", {"uri": "u", "sessionId": "1e3"}),
        ("workspace/didChangeWatchedFiles", {"changes": [{"uri": "u", "type": 4}]}),
    ],
)
def test_wrong_typed_notifications_are_refused(method: str, params: Any) -> None:
    assert guard.params_problem(method, params, is_request=False) is not None


@pytest.mark.parametrize("session", ["15808482204400039236", "0", str(2**64 - 1)])
def test_rpc_session_ids_as_lean_sends_them_are_accepted(session: str) -> None:
    """Real Lean 4.35 sends ``{"sessionId": "15808482204400039236"}`` (tests/transcripts/rpc.json
    holds its shape); calls, keepAlive and release must carry it back unchanged."""
    position = {"line": 0, "character": 0}
    call = {
        "textDocument": {"uri": "u"},
        "position": position,
        "sessionId": session,
        "method": "Lean.Widget.getInteractiveGoals",
        "params": position,
    }
    assert guard.params_problem("$/lean/rpc/call", call, is_request=True) is None
    assert (
        guard.params_problem(
            "$/lean/rpc/keepAlive", {"uri": "u", "sessionId": session}, is_request=False
        )
        is None
    )
    assert (
        guard.params_problem(
            "$/lean/rpc/release",
            {"uri": "u", "sessionId": session, "refs": [{"p": "1"}]},
            is_request=False,
        )
        is None
    )


@pytest.mark.parametrize(
    ("method", "params"),
    [
        (
            "textDocument/hover",
            {"textDocument": {"uri": 5}, "position": {"line": 0, "character": 0}},
        ),
        (
            "textDocument/hover",
            {"textDocument": {"uri": "u"}, "position": {"line": 10**30, "character": 0}},
        ),
        ("textDocument/waitForDiagnostics", {"uri": "u", "version": "1"}),
        (
            "$/lean/rpc/call",
            {
                "textDocument": {"uri": "u"},
                "position": {"line": 0, "character": 0},
                "sessionId": [1],
                "method": "m",
            },
        ),
        (
            "$/lean/rpc/call",
            {
                "textDocument": {"uri": "u"},
                "position": {"line": 0, "character": 0},
                "sessionId": 7,
                "method": "m",
            },
        ),
        ("initialize", [1, 2]),
    ],
)
def test_wrong_typed_requests_are_refused(method: str, params: Any) -> None:
    assert guard.params_problem(method, params, is_request=True) is not None


async def test_edits_lean_could_place_differently_are_sent_as_full_text(
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
) -> None:
    """A column inside a surrogate pair, or past the end of a line or of the text: LSP leaves the
    result to each implementation. The session applies the edit its way and sends Lean the
    resulting text, so Lean, the session (which replays documents on resume) and the client
    agree."""
    socket = await connect(
        ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default"), jp_auth_header
    )
    assert await socket.recv() is not None
    await socket.initialize()
    uri = (jp_root_dir / "Edits.lean").as_uri()
    await socket.open_document(uri, '#eval "😀"\n')
    edits = [
        ({"line": 0, "character": 8}, "1"),  # inside the pair of 😀 (UTF-16 columns 7-8)
        ({"line": 0, "character": 99}, ' ++ "!"'),  # past the end of the line
        ({"line": 9, "character": 0}, "#eval 2\n"),  # past the end of the text
    ]
    for version, (position, text) in enumerate(edits, start=2):
        await socket.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": position, "end": position}, "text": text}],
            },
        )
    messages = sorted(d["message"].strip() for d in await socket.diagnostics_for(uri, 4))
    assert messages == ['"😀1!"', "2"]
    socket.close()


async def test_a_text_frame_that_is_not_utf8_drops_only_that_connection(
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
) -> None:
    """RFC 6455 8.1: invalid UTF-8 in a text frame fails the WebSocket connection (Tornado drops
    it without a close frame). Binary frames are the way to send bytes: those get -32700. The
    session behind the connection is untouched and can be resumed."""
    socket = await connect(
        ws_url(jp_http_port, jp_base_url, "/lean/lsp", project="default"), jp_auth_header
    )
    first = await socket.recv()
    assert first is not None
    session_id = first["params"]["id"]
    await socket.initialize()
    url = ws_url(jp_http_port, jp_base_url, f"/lean/sessions/{session_id}/lsp")

    def send_bad_text_frame() -> None:
        with ws_connect(url, additional_headers=jp_auth_header, open_timeout=10) as raw:
            raw.send(b"\xff\xfe{}", text=True)
            with pytest.raises(ConnectionClosed) as closed:
                raw.recv(timeout=10)
            assert closed.value.rcvd is None or closed.value.rcvd.code == 1007

    await asyncio.to_thread(send_bad_text_frame)
    again = await connect(url, jp_auth_header)
    await again.initialize()
    uri = (jp_root_dir / "After.lean").as_uri()
    await again.open_document(uri, "#eval 40 + 2\n")
    assert [d["message"].strip() for d in await again.diagnostics_for(uri, 1)] == ["42"]
    again.close()
    socket.close()


# A `prelude` document (the real tier's Lean has no Init) with an unsolved goal at the `by`.
RPC_DOCUMENT = "prelude\ninductive N | z | s (n : N)\ntheorem t (a : N) : N := by\n#check N\n"
BY_POSITION = {"line": 2, "character": 25}


def _tagged_text(tagged: Json) -> str:
    """The plain text of Lean's widget TaggedText."""
    if "text" in tagged:
        return str(tagged["text"])
    if "tag" in tagged:
        return _tagged_text(tagged["tag"][1])
    return "".join(_tagged_text(part) for part in tagged.get("append", []))


async def test_rpc_with_real_lean_session_ids_is_relayed(
    real_lean: Any, open_socket: Any, jp_root_dir: Path
) -> None:
    """Issue #13.8: Lean 4.35 hands out RPC session ids as strings; the guard refused every call,
    keepAlive and release that carried one back."""
    socket = await open_socket()
    first = await socket.recv(timeout=60)
    assert first is not None and first["method"] == "$/jupyterLean/session"
    await socket.request("initialize", {"processId": None, "capabilities": {}}, timeout=60)
    await socket.notify("initialized", {})
    uri = (jp_root_dir / "Rpc.lean").as_uri()
    await socket.open_document(uri, RPC_DOCUMENT)
    await socket.diagnostics_for(uri, 1, timeout=60)

    session = (await socket.request("$/lean/rpc/connect", {"uri": uri}, timeout=30))["result"][
        "sessionId"
    ]
    assert isinstance(session, str)
    position = {"textDocument": {"uri": uri}, "position": BY_POSITION}
    call = {
        **position,
        "sessionId": session,
        "method": "Lean.Widget.getInteractiveGoals",
        "params": position,
    }
    reply = await socket.request("$/lean/rpc/call", call, timeout=30)
    assert "result" in reply, reply
    (goal,) = reply["result"]["goals"]
    assert _tagged_text(goal["type"]) == "N"
    assert [(h["names"], _tagged_text(h["type"])) for h in goal["hyps"]] == [(["a"], "N")]

    await socket.notify("$/lean/rpc/keepAlive", {"uri": uri, "sessionId": session})
    await socket.notify(
        "$/lean/rpc/release", {"uri": uri, "sessionId": session, "refs": [goal["ctx"]]}
    )
    again = await socket.request("$/lean/rpc/call", call, timeout=30)
    assert [_tagged_text(g["type"]) for g in again["result"]["goals"]] == ["N"], again
    refusals = [m for m in socket.notifications if m["method"] == "window/showMessage"]
    assert not refusals, "keepAlive and release reach Lean"
