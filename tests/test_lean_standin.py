"""Tests of the scripted Lean stand-in ``tests/lean_standin.py``, driven over real pipes.

The client below is deliberately minimal and written here (not imported from the project), so
these tests check the stand-in against docs/lean-protocol.md and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

STANDIN = Path(__file__).with_name("lean_standin.py")
URI = "file:///work/project/Test.lean"
TIMEOUT = 10.0

Message = dict[str, Any]
Predicate = Callable[[Message], bool]


def is_response(request_id: Any) -> Predicate:
    return lambda m: "method" not in m and m.get("id") == request_id


def is_method(method: str) -> Predicate:
    return lambda m: m.get("method") == method and "id" not in m


def versions_of(message: Message) -> int | None:
    params = message.get("params") or {}
    if "version" in params:
        return params["version"]
    return (params.get("textDocument") or {}).get("version")


def publishes(batch: list[Message]) -> list[Message]:
    return [m for m in batch if m.get("method") == "textDocument/publishDiagnostics"]


def progresses(batch: list[Message]) -> list[Message]:
    return [m for m in batch if m.get("method") == "$/lean/fileProgress"]


def lsp_range(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {
        "start": {"line": start[0], "character": start[1]},
        "end": {"line": end[0], "character": end[1]},
    }


def messages(diagnostics: list[dict[str, Any]]) -> list[str]:
    return [d["message"] for d in diagnostics]


class Client:
    """A minimal LSP client over the stand-in's stdio, recording every frame it reads."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[Message] = []
        self.raw: list[tuple[bytes, bytes]] = []
        self.cursor = 0
        self.next_id = 0
        self.init_result: Message = {}
        self.registration: Message = {}

    # --- writing -----------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    def send(self, message: Message) -> None:
        body = json.dumps(message).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": {} if params is None else params})

    def request(self, method: str, params: Any = None, request_id: Any = None) -> Any:
        if request_id is None:
            self.next_id += 1
            request_id = self.next_id
        self.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": method,
                "params": {} if params is None else params,
            }
        )
        return request_id

    # --- reading -----------------------------------------------------------------------------

    async def _read_frame(self) -> Message:
        assert self.proc.stdout is not None
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            line = await self.proc.stdout.readline()
            if not line:
                raise EOFError("the stand-in closed stdout")
            header += line
        length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = await self.proc.stdout.readexactly(length)
        self.raw.append((header, body))
        return json.loads(body)

    async def until(self, predicate: Predicate, timeout: float = TIMEOUT) -> list[Message]:
        """Messages from the read cursor up to and including the first one matching."""
        batch: list[Message] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self.cursor < len(self.log):
                message = self.log[self.cursor]
                self.cursor += 1
                batch.append(message)
                if predicate(message):
                    return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching message; got {batch}")
            self.log.append(await asyncio.wait_for(self._read_frame(), remaining))

    async def call(
        self, method: str, params: Any = None, request_id: Any = None, timeout: float = TIMEOUT
    ) -> Message:
        request_id = self.request(method, params, request_id)
        return (await self.until(is_response(request_id), timeout))[-1]

    async def exit_code(self, timeout: float = TIMEOUT) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stderr_text(self, timeout: float = TIMEOUT) -> str:
        assert self.proc.stderr is not None
        return (await asyncio.wait_for(self.proc.stderr.read(), timeout)).decode()

    async def stderr_line(self, timeout: float = TIMEOUT) -> str:
        assert self.proc.stderr is not None
        return (await asyncio.wait_for(self.proc.stderr.readline(), timeout)).decode()

    # --- LSP conveniences --------------------------------------------------------------------

    async def initialize(self) -> None:
        response = await self.call("initialize", {"processId": None, "capabilities": {}})
        self.init_result = response["result"]
        self.notify("initialized", {})
        self.registration = (await self.until(is_method_request("client/registerCapability")))[-1]

    def open(self, text: str, version: int = 1, uri: str = URI) -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "lean4", "version": version, "text": text}},
        )

    def change(self, version: int, changes: list[Message], uri: str = URI) -> None:
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )

    async def settle(self, version: int, uri: str = URI) -> list[Message]:
        """Everything up to the waitForDiagnostics barrier for ``version``."""
        request_id = self.request(
            "textDocument/waitForDiagnostics", {"uri": uri, "version": version}
        )
        batch = await self.until(is_response(request_id))
        assert batch[-1]["result"] == {}, batch[-1]
        return batch

    async def diagnostics(self, version: int, uri: str = URI) -> list[dict[str, Any]]:
        published = [
            m
            for m in publishes(await self.settle(version, uri))
            if m["params"]["uri"] == uri and m["params"]["version"] == version
        ]
        assert published, f"no diagnostics for version {version}"
        return published[-1]["params"]["diagnostics"]

    async def call_result(self, method: str, params: Any = None) -> Any:
        if params is None:
            params = {"textDocument": {"uri": URI}}
        response = await self.call(method, params)
        assert "result" in response, response
        return response["result"]

    async def at(self, method: str, line: int, character: int, uri: str = URI) -> Any:
        response = await self.call(
            method,
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        assert "result" in response, response
        return response["result"]


def is_method_request(method: str) -> Predicate:
    return lambda m: m.get("method") == method and "id" in m


Start = Callable[..., Awaitable[Client]]


@pytest.fixture
def start() -> Iterator[Start]:
    """Starts stand-ins (initialized unless told otherwise); kills and reaps them afterwards.

    Synchronous on purpose: the project's async tests run on pytest-jupyter's event loop, which
    does not drive async fixtures.
    """
    clients: list[tuple[Client, asyncio.AbstractEventLoop]] = []

    async def _start(
        *args: str,
        env: dict[str, str] | None = None,
        delay_ms: str | None = "5",
        initialize: bool = True,
    ) -> Client:
        argv = [sys.executable, str(STANDIN), "--server", *args]
        if delay_ms is not None:
            argv.append(f"-Dserver.reportDelayMs={delay_ms}")
        environment = {k: v for k, v in os.environ.items() if k != "LEAN_STANDIN_REPORT_DELAY_MS"}
        environment.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
        client = Client(proc)
        clients.append((client, asyncio.get_running_loop()))
        if initialize:
            await client.initialize()
        return client

    yield _start
    for client, loop in clients:
        if client.proc.returncode is None:
            client.proc.kill()
        if not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(asyncio.wait_for(client.proc.wait(), TIMEOUT))
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(client.proc.pid, 0)


# --------------------------------------------------------------------------------------------
# Framing and handshake
# --------------------------------------------------------------------------------------------


async def test_frames_are_compact_sorted_json_with_utf8_byte_counts(start: Start) -> None:
    client = await start()
    client.open('#eval "αβ𝔽"\n#check Nat.add\n')
    await client.settle(1)
    assert len(client.raw) > 4
    for header, body in client.raw:
        assert header == b"Content-Length: %d\r\n\r\n" % len(body)
        decoded = json.loads(body)
        assert decoded["jsonrpc"] == "2.0"
        canonical = json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert body == canonical.encode("utf-8"), "keys sorted, compact, raw UTF-8"
    assert any('"\\"αβ𝔽\\""'.encode() in body for _, body in client.raw)
    assert any("Nat → Nat → Nat".encode() in body for _, body in client.raw)


async def test_initialize_result_and_watcher_registration(start: Start) -> None:
    client = await start()
    result = client.init_result
    assert result["serverInfo"] == {"name": "Lean 4 Server", "version": "0.3.0"}
    capabilities = result["capabilities"]
    assert capabilities["textDocumentSync"] == {
        "change": 2,
        "openClose": True,
        "save": {"includeText": True},
        "willSave": False,
        "willSaveWaitUntil": False,
    }
    assert capabilities["completionProvider"] == {
        "resolveProvider": True,
        "triggerCharacters": ["."],
    }
    legend = capabilities["semanticTokensProvider"]["legend"]
    assert len(legend["tokenTypes"]) == 24 and legend["tokenTypes"][-1] == "leanSorryLike"
    assert legend["tokenModifiers"][0] == "declaration"
    registration = client.registration
    assert registration["id"] == "register_lean_watcher"
    (entry,) = registration["params"]["registrations"]
    assert entry["method"] == "workspace/didChangeWatchedFiles"
    assert [w["globPattern"] for w in entry["registerOptions"]["watchers"]] == [
        "**/*.lean",
        "**/*.ilean",
    ]


async def test_first_message_must_be_initialize(start: Start) -> None:
    client = await start(initialize=False)
    client.notify("initialized", {})
    assert await client.exit_code() == 1
    assert (
        "Watchdog error: Expected method 'initialize', got method 'initialized'"
        in await client.stderr_text()
    )


async def test_messages_sent_with_initialize_in_one_write_are_all_handled(start: Start) -> None:
    # The stand-in answers initialize before it loads its main loop: whatever arrived in the
    # same read must survive that hand-over.
    client = await start(initialize=False)
    frames = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": URI,
                    "languageId": "lean4",
                    "version": 1,
                    "text": "#eval 6 * 7\n",
                }
            },
        },
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "textDocument/waitForDiagnostics",
            "params": {"uri": URI, "version": 1},
        },
    ]
    bodies = [json.dumps(frame).encode() for frame in frames]
    client.send_bytes(b"".join(b"Content-Length: %d\r\n\r\n" % len(b) + b for b in bodies))
    batch = await client.until(is_response(2))
    assert "capabilities" in batch[0]["result"]
    assert batch[-1]["result"] == {}
    (published,) = [m for m in publishes(batch) if m["params"]["version"] == 1]
    assert [d["message"] for d in published["params"]["diagnostics"]] == ["42"]


async def test_malformed_first_header_is_fatal_before_initialize(start: Start) -> None:
    client = await start(initialize=False)
    client.send_bytes(b"Content-Length: twelve\r\n\r\n")
    assert await client.exit_code() == 1
    assert (
        'Watchdog error: Invalid header field: "Content-Length: twelve\\r\\n"'
        in await client.stderr_text()
    )


async def test_did_open_before_initialized_is_fatal(start: Start) -> None:
    client = await start(initialize=False)
    response = await client.call("initialize", {"processId": None})
    assert "capabilities" in response["result"]
    client.open("#eval 1\n")
    assert await client.exit_code() == 1
    assert "got method 'textDocument/didOpen'" in await client.stderr_text()


@pytest.mark.parametrize("params", ["missing", None])
async def test_request_without_params_is_fatal(start: Start, params: Any) -> None:
    client = await start()
    message: Message = {"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover"}
    if params != "missing":
        message["params"] = params
    client.send(message)
    assert await client.exit_code() == 1
    assert "Watchdog error: Got invalid JSON-RPC message" in await client.stderr_text()


async def test_exit_without_params_before_shutdown_is_fatal(start: Start) -> None:
    client = await start()
    client.send({"jsonrpc": "2.0", "method": "exit"})
    assert await client.exit_code() == 1


async def test_message_without_jsonrpc_field_is_fatal(start: Start) -> None:
    client = await start()
    client.send({"id": 1, "method": "shutdown", "params": {}})
    assert await client.exit_code() == 1
    assert "did not have the format of a JSON-RPC message" in await client.stderr_text()


async def test_malformed_header_is_fatal(start: Start) -> None:
    client = await start()
    client.send_bytes(b"Content-Length 2\r\n\r\n{}")
    assert await client.exit_code() == 1
    assert "Watchdog error: Invalid header field" in await client.stderr_text()


async def test_other_headers_are_ignored(start: Start) -> None:
    client = await start()
    body = json.dumps({"jsonrpc": "2.0", "id": "x", "method": "shutdown"}).encode()
    client.send_bytes(
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    response = (await client.until(is_response("x")))[-1]
    assert response == {"id": "x", "jsonrpc": "2.0", "result": None}


async def test_shutdown_then_requests_are_refused_and_exit_is_clean(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n")
    await client.settle(1)
    assert (await client.call("shutdown", None)) == {
        "id": client.next_id,
        "jsonrpc": "2.0",
        "result": None,
    }
    refused = await client.call(
        "textDocument/hover",
        {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}},
    )
    assert refused["error"] == {
        "code": -32600,
        "message": "Request received after 'shutdown' request.",
    }
    client.notify("exit", {})
    assert await client.exit_code() == 0


async def test_eof_on_stdin_exits_zero(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n-- standin: delay 5\n")
    assert client.proc.stdin is not None
    client.proc.stdin.close()
    assert await client.exit_code() == 0


# --------------------------------------------------------------------------------------------
# Document lifecycle and reporting order
# --------------------------------------------------------------------------------------------


async def test_fast_file_progress_then_done_then_diagnostics_then_barrier(start: Start) -> None:
    client = await start()
    client.open("def x := 20\n#eval x + 22\n")
    batch = await client.settle(1)
    reports = [
        m
        for m in batch
        if m.get("method") in ("$/lean/fileProgress", "textDocument/publishDiagnostics")
    ]
    assert [m["method"] for m in reports] == [
        "$/lean/fileProgress",
        "$/lean/fileProgress",
        "textDocument/publishDiagnostics",
    ]
    first, done, published = reports
    assert first["params"] == {
        "processing": [{"kind": 1, "range": lsp_range((0, 0), (2, 0))}],
        "textDocument": {"uri": URI, "version": 1},
    }
    assert done["params"]["processing"] == []
    assert published["params"]["version"] == 1 and published["params"]["uri"] == URI
    (diagnostic,) = published["params"]["diagnostics"]
    assert diagnostic == {
        "source": "Lean 4",
        "severity": 3,
        "message": "42",
        "range": lsp_range((1, 0), (1, 5)),
        "fullRange": lsp_range((1, 0), (1, 5)),
    }
    assert batch[-1]["result"] == {}


async def test_slow_file_publishes_partial_then_progress_then_final_then_done(
    start: Start,
) -> None:
    client = await start()
    client.open("#eval 1\n-- standin: delay 0.3\n#eval 2\n")
    batch = await client.settle(1)
    reports = [
        (m["method"].rsplit("/", 1)[-1], m["params"])
        for m in batch
        if m.get("method") in ("$/lean/fileProgress", "textDocument/publishDiagnostics")
    ]
    kinds = [kind for kind, _ in reports]
    assert kinds == [
        "fileProgress",
        "publishDiagnostics",
        "fileProgress",
        "publishDiagnostics",
        "fileProgress",
    ]
    assert reports[0][1]["processing"][0]["range"] == lsp_range((0, 0), (3, 0))
    assert messages(reports[1][1]["diagnostics"]) == ["1"]
    assert reports[2][1]["processing"] == [{"kind": 1, "range": lsp_range((1, 0), (3, 0))}]
    assert messages(reports[3][1]["diagnostics"]) == ["1", "2"]
    assert reports[4][1]["processing"] == []


async def test_wait_for_diagnostics_waits_for_a_version_not_yet_seen(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n")
    early = client.request("textDocument/waitForDiagnostics", {"uri": URI, "version": 2})
    await client.settle(1)
    # A round trip proves the request for version 2 is still pending.
    roundtrip = await client.until(is_response(client.request("no/such", {})))
    assert not any(is_response(early)(m) for m in roundtrip)
    client.change(2, [{"text": "#eval 2\n"}])
    batch = await client.until(is_response(early))
    assert batch[-1]["result"] == {}
    (last,) = publishes(batch)
    assert last["params"]["version"] == 2 and messages(last["params"]["diagnostics"]) == ["2"]
    assert progresses(batch)[-1]["params"]["processing"] == []
    # An older version is answered at once.
    assert (await client.call("textDocument/waitForDiagnostics", {"uri": URI, "version": 1}))[
        "result"
    ] == {}


async def test_old_version_output_is_dropped_after_a_change_during_delay(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n-- standin: delay 0.3\n#eval 2\n")
    # Wait until elaboration of version 1 sits in the delay (its intermediate progress).
    await client.until(
        lambda m: (
            is_method("$/lean/fileProgress")(m)
            and m["params"]["processing"]
            and m["params"]["processing"][0]["range"]["start"]["line"] == 1
        )
    )
    client.change(2, [{"text": "#eval 3\n-- standin: delay 0.5\n#eval 4\n"}])
    batch = await client.settle(2)
    reported = [
        m
        for m in batch
        if m.get("method") in ("$/lean/fileProgress", "textDocument/publishDiagnostics")
    ]
    assert reported and all(versions_of(m) == 2 for m in reported), reported
    assert messages(publishes(batch)[-1]["params"]["diagnostics"]) == ["3", "4"]


async def test_did_close_fails_pending_requests_and_clears_diagnostics(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n-- standin: delay 5\n")
    pending = client.request("textDocument/waitForDiagnostics", {"uri": URI, "version": 1})
    client.notify("textDocument/didClose", {"textDocument": {"uri": URI}})
    batch = await client.until(
        lambda m: (
            is_method("textDocument/publishDiagnostics")(m) and m["params"]["diagnostics"] == []
        )
    )
    (failed,) = [m for m in batch if is_response(pending)(m)]
    assert failed["error"] == {
        "code": -32801,
        "message": f"The file worker for {URI} has been terminated.",
    }
    assert batch.index(failed) < len(batch) - 1
    assert batch[-1]["params"] == {"diagnostics": [], "uri": URI, "version": 1}
    closed = await client.call(
        "$/lean/plainGoal", {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}}
    )
    assert closed["error"] == {
        "code": -32801,
        "message": f"Cannot process request to closed file '{URI}'",
    }


async def test_did_change_for_unknown_uri_is_ignored(start: Start) -> None:
    client = await start()
    client.change(3, [{"text": "#eval 1\n"}], uri="file:///elsewhere.lean")
    batch = await client.until(is_response(client.request("no/such", {})))
    assert len(batch) == 1


async def test_header_change_restarts_the_worker(start: Start) -> None:
    client = await start()
    client.open("import Foo\n#eval 1\n")
    await client.settle(1)
    client.change(2, [{"range": lsp_range((0, 7), (0, 10)), "text": "Bar"}])
    batch = await client.settle(2)
    assert progresses(batch)[0]["params"] == {
        "processing": [{"kind": 1, "range": lsp_range((0, 0), (2, 0))}],
        "textDocument": {"uri": URI, "version": 2},
    }
    client.change(3, [{"range": lsp_range((1, 6), (1, 7)), "text": "5"}])
    batch = await client.settle(3)
    assert [m["params"]["processing"] for m in progresses(batch)] == [[]], "no restart"
    assert messages(publishes(batch)[-1]["params"]["diagnostics"]) == ["5"]


async def test_crlf_is_normalised(start: Start) -> None:
    client = await start()
    client.open("def x := 1\r\n#eval x\r\n")
    (diagnostic,) = await client.diagnostics(1)
    assert diagnostic["message"] == "1" and diagnostic["range"] == lsp_range((1, 0), (1, 5))


# --------------------------------------------------------------------------------------------
# The tiny Lean: messages and ranges
# --------------------------------------------------------------------------------------------


async def test_eval_check_print_messages_and_keyword_ranges(start: Start) -> None:
    client = await start()
    client.open(
        "def x := 20\n"
        "#eval x + 22 * 2 - 100\n"
        "#eval (x + 1) % 4\n"
        '#eval IO.println "hello"\n'
        '#eval IO.print "no newline"\n'
        '#eval "a\\"b"\n'
        "#check x\n"
        "#check Nat.add\n"
        "#print x\n"
        "def double (n : Nat) : Nat := 2 * n\n"
        "#eval double x\n"
        "#check double\n"
        '#eval "ab" ++ "c"\n'
        "#check 1 + 1\n"
    )
    diagnostics = await client.diagnostics(1)
    assert [(d["range"]["start"]["line"], d["message"], d["severity"]) for d in diagnostics] == [
        (1, "0", 3),
        (2, "1", 3),
        (3, "hello\n", 3),
        (4, "no newline", 3),
        (5, '"a\\"b"', 3),
        (6, "x : Nat", 3),
        (7, "Nat.add : Nat → Nat → Nat", 3),
        (8, "def x : Nat :=\n20", 3),
        (10, "40", 3),
        (11, "double : Nat → Nat", 3),
        (12, '"abc"', 3),
        (13, "1 + 1 : Nat", 3),
    ]
    by_line = {d["range"]["start"]["line"]: d for d in diagnostics}
    assert by_line[1]["range"] == by_line[1]["fullRange"] == lsp_range((1, 0), (1, 5))
    assert by_line[6]["range"] == lsp_range((6, 0), (6, 6))
    assert by_line[8]["range"] == lsp_range((8, 0), (8, 6))


async def test_unknown_identifier_ranges_count_utf16_units(start: Start) -> None:
    client = await start()
    client.open("def 𝔽 := 2\ndef α := 3\n#eval 𝔽 + α + β\n#check γ\n")
    diagnostics = await client.diagnostics(1)
    assert [(d["message"], d["severity"], d["range"]) for d in diagnostics] == [
        ("unknown identifier 'β'", 1, lsp_range((2, 15), (2, 16))),
        ("unknown identifier 'γ'", 1, lsp_range((3, 7), (3, 8))),
    ]


async def test_sorry_warnings_on_the_declaration_name(start: Start) -> None:
    client = await start()
    client.open(
        "theorem t1 : 1 = 1 := sorry\n"
        "def d : Nat := sorry\n"
        "theorem t2 (n : Nat) : n = n := by\n"
        "  sorry\n"
        "example : True := by sorry\n"
    )
    diagnostics = await client.diagnostics(1)
    assert [(d["message"], d["severity"], d["range"]) for d in diagnostics] == [
        ("declaration uses `sorry`", 2, lsp_range((0, 8), (0, 10))),
        ("declaration uses `sorry`", 2, lsp_range((1, 4), (1, 5))),
        ("declaration uses `sorry`", 2, lsp_range((2, 8), (2, 10))),
        ("declaration uses `sorry`", 2, lsp_range((4, 0), (4, 7))),
    ]


async def test_unsolved_goals_message_tags_and_truncated_range(start: Start) -> None:
    client = await start()
    header = "theorem swap (a b : Nat) (h : a = b) : b = a := "
    client.open(header + "by\n  intro\n  skip\nexample : 2 + 2 = 5 := by skip\n")
    multi, single = await client.diagnostics(1)
    column = len(header)
    assert multi["message"] == "unsolved goals\na b : Nat\nh : a = b\n⊢ b = a"
    assert multi["leanTags"] == [1] and multi["severity"] == 1
    assert multi["fullRange"] == lsp_range((0, column), (2, 6))
    assert multi["range"] == lsp_range((0, column), (1, 0))
    assert single["message"] == "unsolved goals\n⊢ 2 + 2 = 5"
    assert single["range"] == single["fullRange"] == lsp_range((3, 23), (3, 30))


async def test_closed_proofs_have_no_errors_and_extra_tactics_do(start: Start) -> None:
    client = await start()
    client.open(
        "theorem a : 1 + 1 = 2 := by\n  rfl\n"
        "theorem b (n : Nat) : n + 0 = n := by simp\n"
        "theorem c : True := by\n  trivial\n  rfl\n"
    )
    (diagnostic,) = await client.diagnostics(1)
    assert diagnostic["message"] == "no goals to be proved"
    assert diagnostic["range"] == lsp_range((5, 2), (5, 5))


async def test_redeclaration_is_an_error(start: Start) -> None:
    client = await start()
    client.open("def x := 1\ndef x := 2\ndef Nat.add := 3\n#eval x\n")
    diagnostics = await client.diagnostics(1)
    assert [(d["message"], d["range"]) for d in diagnostics] == [
        ("'x' has already been declared", lsp_range((1, 4), (1, 5))),
        ("'Nat.add' has already been declared", lsp_range((2, 4), (2, 11))),
        ("1", lsp_range((3, 0), (3, 5))),
    ]


async def test_parse_errors_at_column_zero(start: Start) -> None:
    client = await start()
    client.open("foo bar\nbaz\n#eval 1\n42\n-- a comment\n/- block\ncomment -/\n")
    diagnostics = await client.diagnostics(1)
    assert [(d["message"], d["range"]) for d in diagnostics] == [
        ("unexpected identifier; expected command", lsp_range((0, 0), (0, 3))),
        ("1", lsp_range((2, 0), (2, 5))),
        ("unexpected token '42'; expected command", lsp_range((3, 0), (3, 2))),
    ]


async def test_namespaces_open_and_type_mismatch(start: Start) -> None:
    client = await start()
    client.open(
        "namespace Foo\ndef a := 1\ndef b := a + 1\nend Foo\n#eval Foo.b\n"
        'open Foo\n#check b\ndef bad : Nat := "NotANat"\n'
    )
    diagnostics = await client.diagnostics(1)
    assert messages(diagnostics) == [
        "2",
        "Foo.b : Nat",
        'Type mismatch\n  "NotANat"\nhas type\n  String : Type\n'
        "but is expected to have type\n  Nat : Type",
    ]
    assert diagnostics[2]["range"] == lsp_range((7, 17), (7, 26))


async def test_incremental_utf16_edits(start: Start) -> None:
    client = await start()
    client.open("def 𝔽 := 1\n#eval 𝔽 + 𝔽\n")
    assert messages(await client.diagnostics(1)) == ["2"]
    # "#eval " is 6 units, each 𝔽 two: the second 𝔽 spans units 11-13.
    client.change(2, [{"range": lsp_range((1, 11), (1, 13)), "text": "α"}])
    (unknown,) = await client.diagnostics(2)
    assert unknown["message"] == "unknown identifier 'α'"
    assert unknown["range"] == lsp_range((1, 11), (1, 12))
    # Two edits applied in order; the second uses positions in the text after the first.
    client.change(
        3,
        [
            {"range": lsp_range((1, 12), (1, 12)), "text": "y"},
            {"range": lsp_range((0, 10), (0, 11)), "text": "41"},
        ],
    )
    (unknown,) = await client.diagnostics(3)
    assert unknown["message"] == "unknown identifier 'αy'"
    assert unknown["range"] == lsp_range((1, 11), (1, 13))
    client.change(4, [{"range": lsp_range((1, 11), (1, 13)), "text": "1"}])
    assert messages(await client.diagnostics(4)) == ["42"]
    hover = await client.at("textDocument/hover", 1, 7)
    assert hover == {
        "contents": {"kind": "markdown", "value": "```lean\n𝔽 : Nat\n```"},
        "range": lsp_range((1, 6), (1, 8)),
    }
    client.change(5, [])  # ignored
    client.change(5, [{"text": "#eval 7\n"}])
    assert messages(await client.diagnostics(5)) == ["7"]


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------

PROOF = (
    "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n"
    "  constructor\n"
    "  exact hp\n"
    "  exact hq\n"
    "#eval 1\n"
)
HYPS = "p q : Prop\nhp : p\nhq : q\n"


async def test_plain_goal_inside_after_and_outside_a_proof(start: Start) -> None:
    client = await start()
    client.open(PROOF)
    assert messages(await client.diagnostics(1)) == ["1"]
    assert await client.at("$/lean/plainGoal", 0, 0) is None
    assert await client.at("$/lean/plainGoal", 4, 0) is None
    initial = HYPS + "⊢ p ∧ q"
    assert await client.at("$/lean/plainGoal", 1, 2) == {
        "goals": [initial],
        "rendered": f"```lean\n{initial}\n```",
    }
    left, right = f"case left\n{HYPS}⊢ p", f"case right\n{HYPS}⊢ q"
    assert await client.at("$/lean/plainGoal", 1, 5) == {
        "goals": [left, right],
        "rendered": f"```lean\n{left}\n```\n---\n```lean\n{right}\n```",
    }
    assert (await client.at("$/lean/plainGoal", 2, 4))["goals"] == [right]
    assert await client.at("$/lean/plainGoal", 3, 4) == {"goals": [], "rendered": "no goals"}
    assert await client.at("$/lean/plainGoal", 3, 10) == {"goals": [], "rendered": "no goals"}


async def test_plain_term_goal(start: Start) -> None:
    client = await start()
    client.open("def n : Nat := 1 + 2\n" + PROOF)
    await client.settle(1)
    assert await client.at("$/lean/plainTermGoal", 0, 17) == {
        "goal": "⊢ Nat",
        "range": lsp_range((0, 15), (0, 20)),
    }
    assert await client.at("$/lean/plainTermGoal", 0, 2) is None
    assert await client.at("$/lean/plainTermGoal", 3, 9) == {
        "goal": f"case left\n{HYPS}⊢ p",
        "range": lsp_range((3, 8), (3, 10)),
    }


async def test_hover_completion_and_resolve(start: Start) -> None:
    client = await start()
    client.open(
        "def double (n : Nat) : Nat := 2 * n\n#eval double 21\n#check Nat.su\n#eval dou\n#eval 1\n"
    )
    await client.settle(1)
    assert await client.at("textDocument/hover", 1, 8) == {
        "contents": {"kind": "markdown", "value": "```lean\ndouble : Nat → Nat\n```"},
        "range": lsp_range((1, 6), (1, 12)),
    }
    assert (await client.at("textDocument/hover", 0, 34))["contents"]["value"] == (
        "```lean\nn : Nat\n```"
    )
    assert (await client.at("textDocument/hover", 1, 13))["contents"]["value"] == (
        "```lean\n21 : Nat\n```"
    )
    assert await client.at("textDocument/hover", 1, 5) is None
    completion = await client.at("textDocument/completion", 2, 13)
    assert completion["isIncomplete"] is True
    assert [item["label"] for item in completion["items"]] == ["sub", "succ"]
    succ = completion["items"][1]
    assert succ["data"][0] == URI, "Lean's data: [uri, line, character, 0, 'c' + name]"
    resolved = await client.call("completionItem/resolve", succ)
    assert resolved["result"]["detail"] == "Nat → Nat"
    assert resolved["result"]["label"] == "succ"
    assert [i["label"] for i in (await client.at("textDocument/completion", 3, 9))["items"]] == [
        "double"
    ]
    assert await client.at("textDocument/completion", 4, 7) == {"isIncomplete": True, "items": []}
    (link,) = await client.at("textDocument/definition", 1, 8)
    assert link["targetUri"] == URI
    assert link["targetSelectionRange"] == lsp_range((0, 4), (0, 10))


async def test_document_symbols_semantic_tokens_and_colors(start: Start) -> None:
    client = await start()
    client.open("namespace Foo\ndef a := 1\ntheorem b : a = 1 := by\n  sorry\nend Foo\n")
    await client.settle(1)
    (namespace,) = await client.call_result("textDocument/documentSymbol")
    assert (namespace["name"], namespace["kind"]) == ("Foo", 3)
    assert namespace["range"] == lsp_range((0, 0), (4, 7))
    assert [(c["name"], c["kind"]) for c in namespace["children"]] == [("a", 6), ("b", 6)]
    tokens = (await client.call_result("textDocument/semanticTokens/full"))["data"]
    assert tokens[:5] == [0, 0, 9, 0, 0]
    assert tokens[-10:-5] == [1, 2, 5, 23, 0], "sorry: one line below `by`"
    assert await client.call_result("textDocument/documentColor") == []


async def test_unknown_method_and_closed_file(start: Start) -> None:
    client = await start()
    unknown = await client.call("textDocument/frobnicate", {}, request_id="abc")
    assert unknown == {
        "id": "abc",
        "jsonrpc": "2.0",
        "error": {
            "code": -32601,
            "message": "No request handler found for 'textDocument/frobnicate'",
        },
    }
    closed = await client.call(
        "textDocument/hover",
        {"textDocument": {"uri": "file:///n.lean"}, "position": {"line": 0, "character": 0}},
    )
    assert closed["error"] == {
        "code": -32801,
        "message": "Cannot process request to closed file 'file:///n.lean'",
    }


async def test_cancel_request_answers_once_with_request_cancelled(start: Start) -> None:
    client = await start()
    client.open("-- standin: delay 5\n")
    pending = client.request("textDocument/waitForDiagnostics", {"uri": URI, "version": 1})
    client.notify("$/cancelRequest", {"id": pending})
    cancelled = (await client.until(is_response(pending)))[-1]
    assert cancelled["error"] == {"code": -32800, "message": ""}
    client.notify("$/cancelRequest", {"id": pending})
    batch = await client.until(is_response(client.request("no/such", {})))
    assert not any(is_response(pending)(m) for m in batch)


async def test_rpc_connect_and_call(start: Start) -> None:
    client = await start()
    client.open("#eval 1\ntheorem t (a b : Nat) : a = b := by\n  skip\n")
    session = (await client.call("$/lean/rpc/connect", {"uri": URI}))["result"]["sessionId"]
    assert isinstance(session, str) and 0 <= int(session) < 2**64, "a decimal string, as Lean's"
    position = {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 35}}
    params = {**position, "method": "Lean.Widget.getInteractiveGoals", "params": position}
    outdated = await client.call(
        "$/lean/rpc/call", {**params, "sessionId": str((int(session) + 1) % 2**64)}
    )
    assert outdated["error"] == {"code": -32900, "message": "Outdated RPC session"}
    (goal,) = (await client.call("$/lean/rpc/call", {**params, "sessionId": session}))["result"][
        "goals"
    ]
    assert goal["type"]["tag"][1] == {"text": "a = b"}
    assert [(h["names"], h["type"]["tag"][1]["text"]) for h in goal["hyps"]] == [
        (["a", "b"], "Nat")
    ]
    outside = {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}}
    assert (
        await client.call(
            "$/lean/rpc/call", {**params, **outside, "params": outside, "sessionId": session}
        )
    )["result"] is None
    missing = await client.call(
        "$/lean/rpc/call", {**params, "method": "No.such", "sessionId": session}
    )
    assert missing["error"] == {"code": -32601, "message": "No RPC method 'No.such' found"}


@pytest.mark.parametrize(
    ("method", "session"),
    [("$/lean/rpc/keepAlive", 7), ("$/lean/rpc/release", "x1"), ("$/lean/rpc/release", None)],
)
async def test_rpc_notification_with_an_undecodable_session_id_is_fatal(
    start: Start, method: str, session: Any
) -> None:
    """As Lean 4.35's watchdog: a numeric id in keepAlive/release ends it (the guard's reason)."""
    client = await start()
    client.open("#eval 1\n")
    client.notify(method, {"uri": URI, "sessionId": session, "refs": []})
    assert await client.exit_code() == 1
    assert "Watchdog error: Got param with wrong structure" in await client.stderr_text()


async def test_rpc_notifications_with_a_string_session_id_are_accepted(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n")
    session = (await client.call("$/lean/rpc/connect", {"uri": URI}))["result"]["sessionId"]
    client.notify("$/lean/rpc/keepAlive", {"uri": URI, "sessionId": session})
    client.notify("$/lean/rpc/release", {"uri": URI, "sessionId": session, "refs": []})
    await client.settle(1)
    assert (await client.call("$/lean/rpc/connect", {"uri": URI}))["result"]["sessionId"]


# --------------------------------------------------------------------------------------------
# Directives and faults
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,error",
    [
        (
            "",
            (-32902, f"Server process for {URI} crashed, likely due to a stack overflow or a bug."),
        ),
        (" 1", (-32901, f"Server process for {URI} crashed, see stderr for exception.")),
    ],
)
async def test_crash_fails_pending_then_recovers_on_did_change(
    start: Start, code: str, error: tuple[int, str]
) -> None:
    client = await start()
    client.open(f"#eval 1\n-- standin: delay 0.2\n-- standin: crash{code}\n#eval 2\n")
    pending = client.request("textDocument/waitForDiagnostics", {"uri": URI, "version": 1})
    batch = await client.until(
        lambda m: (
            is_method("$/lean/fileProgress")(m)
            and any(p["kind"] == 2 for p in m["params"]["processing"])
        )
    )
    (failed,) = [m for m in batch if is_response(pending)(m)]
    assert failed["error"] == {"code": error[0], "message": error[1]}
    assert batch[-1]["params"] == {
        "processing": [{"kind": 2, "range": lsp_range((0, 0), (4, 0))}],
        "textDocument": {"uri": URI, "version": 1},
    }
    # While crashed, requests are queued, not answered.
    queued = client.request(
        "textDocument/hover",
        {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 6}},
    )
    batch = await client.until(is_response(client.request("no/such", {})))
    assert not any(is_response(queued)(m) for m in batch)
    client.change(2, [{"text": "#eval 2\n"}])
    batch = await client.settle(2)
    assert progresses(batch)[0]["params"]["processing"] == [
        {"kind": 1, "range": lsp_range((0, 0), (1, 0))}
    ]
    (answered,) = [m for m in batch if is_response(queued)(m)]
    assert answered["result"]["contents"]["value"] == "```lean\n2 : Nat\n```"
    assert messages(publishes(batch)[-1]["params"]["diagnostics"]) == ["2"]
    expected = "Stack overflow" if not code else f"[{URI}] uncaught exception"
    assert expected in await client.stderr_line()


async def test_exit_directive_exits_the_process_with_its_code(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n-- standin: exit 3\n")
    assert await client.exit_code() == 3
    assert "Watchdog error: standin exit" in await client.stderr_text()


@pytest.mark.parametrize(
    "args,env,expected",
    [
        (("-Dserver.reportDelayMs=5",), {}, 5),
        (("-D", "server.reportDelayMs=7", "-Dother.option=1"), {}, 7),
        (("-Dserver.reportDelayMs=5",), {"LEAN_STANDIN_REPORT_DELAY_MS": "40"}, 40),
        (("-Dserver.reportDelayMs=oops",), {}, 200),
    ],
)
async def test_report_delay_from_command_line_and_environment(
    start: Start, args: tuple[str, ...], env: dict[str, str], expected: int
) -> None:
    client = await start(*args, env=env, delay_ms=None)
    client.open("-- standin: config\n")
    (diagnostic,) = await client.diagnostics(1)
    config = json.loads(diagnostic["message"])
    assert config["reportDelayMs"] == expected
    assert config["argv"][0] == "--server" and config["cwd"] == os.getcwd()


async def test_report_delay_defaults_to_200_and_is_waited_for(start: Start) -> None:
    client = await start(delay_ms=None)
    client.open("-- standin: config\n")
    loop = asyncio.get_running_loop()
    began = loop.time()
    (diagnostic,) = await client.diagnostics(1)
    assert json.loads(diagnostic["message"])["reportDelayMs"] == 200
    assert loop.time() - began >= 0.2


async def test_unsupported_notifications_go_to_stderr_but_dollar_ones_are_silent(
    start: Start,
) -> None:
    client = await start()
    client.notify("$/setTrace", {"value": "off"})
    client.notify("workspace/didChangeConfiguration", {"settings": {}})
    line = await client.stderr_line()
    assert line == "Got unsupported notification: workspace/didChangeConfiguration\n"
    assert (await client.call("no/such", {}))["error"]["code"] == -32601


async def test_stderr_echo_env_and_unknown_directives(start: Start) -> None:
    client = await start(env={"STANDIN_PROBE": "xyz"})
    client.open(
        "-- standin: stderr hello worker\n-- standin: echo-env STANDIN_PROBE\n"
        "-- standin: echo-env STANDIN_NOT_SET\n-- standin: bogus\n"
        "-- standin: delay soon\n"
    )
    diagnostics = await client.diagnostics(1)
    assert [(d["severity"], d["message"]) for d in diagnostics] == [
        (3, "xyz"),
        (3, "<unset STANDIN_NOT_SET>"),
        (1, "standin: unknown directive 'bogus'"),
        (1, "standin: bad argument for directive 'delay': 'soon'"),
    ]
    assert diagnostics[0]["range"] == lsp_range((1, 0), (1, 34))
    assert await client.stderr_line() == f"[{URI}] hello worker\n"


async def test_refresh_requests_and_recorded_replies(start: Start) -> None:
    client = await start()
    client.send({"jsonrpc": "2.0", "id": "register_lean_watcher", "result": None})
    client.open("-- standin: refresh\n-- standin: refresh\n")
    first = (await client.until(is_method_request("workspace/semanticTokens/refresh")))[-1]
    second = (await client.until(is_method_request("workspace/semanticTokens/refresh")))[-1]
    assert (first["id"], second["id"]) == (0, 1) and "params" not in first
    client.send({"jsonrpc": "2.0", "id": 0, "result": None})
    client.change(2, [{"text": "-- standin: replies\n"}])
    (diagnostic,) = await client.diagnostics(2)
    assert json.loads(diagnostic["message"]) == {'"register_lean_watcher"': None, "0": None}


async def test_flood_sends_back_to_back_progress(start: Start) -> None:
    client = await start()
    client.open("-- standin: flood 300\n#eval 1\n")
    batch = await client.settle(1)
    assert len(progresses(batch)) == 1 + 300 + 1
    assert len(publishes(batch)) == 1


async def test_hang_stops_reading_and_answering(start: Start) -> None:
    client = await start()
    client.open("-- standin: stderr about to hang\n-- standin: hang\n")
    assert "about to hang" in await client.stderr_line()
    request_id = client.request("no/such", {})
    with pytest.raises(TimeoutError):
        await client.until(is_response(request_id), timeout=0.5)
    assert client.proc.returncode is None


async def test_spin_blocks_the_document_but_not_the_server(start: Start) -> None:
    client = await start()
    client.open("#eval 1\n-- standin: spin\n")
    batch = await client.until(
        lambda m: (
            is_method("$/lean/fileProgress")(m)
            and m["params"]["processing"]
            and m["params"]["processing"][0]["range"]["start"]["line"] == 1
        )
    )
    assert messages(publishes(batch)[-1]["params"]["diagnostics"]) == ["1"]
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})
    assert (await client.call("no/such", {}))["error"]["code"] == -32601
    client.notify("$/cancelRequest", {"id": symbols})
    assert (await client.until(is_response(symbols)))[-1]["error"]["code"] == -32800


async def test_memory_directive_holds_memory_or_dies_like_lean(start: Start) -> None:
    client = await start()
    client.open("-- standin: memory 16\n#eval 1\n")
    assert messages(await client.diagnostics(1)) == ["1"]
    resource = pytest.importorskip("resource")
    limited = await start(initialize=False)
    assert limited.proc.pid
    limit = 1 << 30
    resource.prlimit(limited.proc.pid, resource.RLIMIT_AS, (limit, limit))
    await limited.initialize()
    limited.open("-- standin: delay 0.1\n-- standin: memory 2048\n")
    pending = limited.request("textDocument/waitForDiagnostics", {"uri": URI, "version": 1})
    failed = (await limited.until(is_response(pending)))[-1]
    assert failed["error"]["code"] == -32901
    assert "INTERNAL PANIC: out of memory" in await limited.stderr_line()
