"""The watchdog of tests/lean_standin.py after the handshake: stdio transport, documents,
elaboration tasks, requests and directives (rules in the docstring of ``tests/lean_standin.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from standin.tinylean import (
    INF,
    SEVERITY_ERROR,
    SEVERITY_INFO,
    Analysis,
    BadParams,
    Diag,
    Directive,
    Pos,
    RequestError,
    SourceText,
    Step,
    analyze,
    parse_position,
)
from standin.wire import (
    CONTENT_MODIFIED,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    REGISTER_WATCHER_ID,
    REGISTER_WATCHER_PARAMS,
    REQUEST_CANCELLED,
    RPC_NEEDS_RECONNECT,
    WORKER_CRASHED,
    WORKER_EXITED,
    Config,
    Fatal,
    FrameParser,
    Json,
    classify,
    compact,
    encode_frame,
    id_key,
)


def is_pipe(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _WriteProtocol(asyncio.BaseProtocol):
    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = False

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.writable.set()


class Output:
    """LSP frames to stdout: ``send`` never blocks the event loop, ``drain`` waits for room."""

    def __init__(
        self,
        transport: asyncio.WriteTransport | None,
        protocol: _WriteProtocol | None,
        fallback: Any = None,
    ) -> None:
        self.transport = transport
        self.protocol = protocol
        self.fallback = fallback
        self.frozen = False

    @classmethod
    async def open(cls) -> Output:
        stdout = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
        if not is_pipe(stdout.fileno()):  # a file or a terminal: plain blocking writes
            return cls(None, None, stdout)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.connect_write_pipe(_WriteProtocol, stdout)
        return cls(transport, protocol)

    def send(self, message: Json) -> None:
        if self.frozen:
            return
        data = encode_frame({**message, "jsonrpc": "2.0"})
        if self.transport is not None and self.protocol is not None:
            if not self.protocol.lost:
                self.transport.write(data)
            return
        try:
            self.fallback.write(data)
        except OSError:
            self.frozen = True

    async def drain(self) -> None:
        if self.protocol is not None:
            await self.protocol.writable.wait()

    async def flush(self, timeout: float) -> None:
        if self.transport is None or self.protocol is None or self.protocol.lost:
            return
        self.transport.set_write_buffer_limits(high=0, low=0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drain(), timeout)

    def freeze(self) -> None:
        self.frozen = True


async def open_input() -> tuple[asyncio.StreamReader, Callable[[], None]]:
    """An asyncio reader on stdin and a function that stops reading it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    stdin = os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    if is_pipe(stdin.fileno()):
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), stdin
        )
        return reader, transport.pause_reading

    def pump() -> None:  # a file, a terminal, /dev/null: blocking reads in a thread
        while data := stdin.read(1 << 16):
            loop.call_soon_threadsafe(reader.feed_data, data)
        loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="standin-stdin", daemon=True).start()
    return reader, lambda: None


class FrameReader:
    """Reads Content-Length framed JSON messages; None means EOF."""

    def __init__(self, stream: asyncio.StreamReader, parser: FrameParser) -> None:
        self.stream = stream
        self.parser = parser

    async def read(self) -> Json:
        while True:
            complete, message = self.parser.pop()
            if complete:
                return message
            data = await self.stream.read(1 << 16)
            if not data:
                return None
            self.parser.feed(data)


def get_path(params: Json, *path: str | int) -> Json:
    value = params
    for key in path:
        found = (isinstance(key, int) and isinstance(value, list) and key < len(value)) or (
            isinstance(key, str) and isinstance(value, dict) and key in value
        )
        if not found:
            raise BadParams(f"missing field '{key}'")
        value = value[key]
    return value


def get_str(params: Json, *path: str | int) -> str:
    value = get_path(params, *path)
    if not isinstance(value, str):
        raise BadParams(f"field '{path[-1]}' must be a string")
    return value


# --------------------------------------------------------------------------------------------
# Documents, elaboration and requests
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Elaboration:
    version: int
    analysis: Analysis
    started: float
    done_through: int = 0
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class PendingRequest:
    ident: Json
    method: str
    uri: str
    params: Json
    wait: str  # "now" | "position" | "file" | "diagnostics"
    lsp_pos: tuple[int, int] = (0, 0)
    version: int = 0
    elab: Elaboration | None = None
    line: int = 0

    @property
    def key(self) -> str:
        return id_key(self.ident)


@dataclass(eq=False)
class Document:
    uri: str
    version: int
    text: SourceText
    max_version: int
    elab: Elaboration | None = None
    completed: int | None = None
    crashed: bool = False
    pending: list[PendingRequest] = field(default_factory=list)
    rpc_sessions: set[str] = field(default_factory=set)
    # The text each RPC reference handed out stands for (what infoToInteractive describes).
    rpc_refs: dict[str, str] = field(default_factory=dict)


@dataclass
class ReportState:
    report_at: float
    blocked: bool = False
    diags: list[Diag] = field(default_factory=list)


Handler = Callable[["Server", PendingRequest, Analysis], Json]


@dataclass(frozen=True)
class RequestSpec:
    wait: str
    handler: Handler
    uri_path: tuple[str | int, ...] = ("textDocument", "uri")


def _semantic_range(server: Server, req: PendingRequest, a: Analysis) -> Json:
    try:
        start = parse_position(get_path(req.params, "range", "start"))
        end = parse_position(get_path(req.params, "range", "end"))
    except BadParams as exc:
        raise RequestError(
            INVALID_PARAMS, f"Cannot parse request params: {compact(req.params)}\n{exc}"
        ) from exc
    return a.semantic_tokens((start[0], end[0]))


def _selection_range(server: Server, req: PendingRequest, a: Analysis) -> Json:
    positions = req.params.get("positions") if isinstance(req.params, dict) else None
    return [{"range": {"end": p, "start": p}} for p in positions or []]


def _rpc_connect(server: Server, req: PendingRequest, a: Analysis) -> Json:
    session = str(random.getrandbits(64))  # Lean sends the 64-bit id as a decimal string
    server.docs[req.uri].rpc_sessions.add(session)
    return {"sessionId": session}


def _rpc_call(server: Server, req: PendingRequest, a: Analysis) -> Json:
    session = req.params.get("sessionId")
    if not isinstance(session, str):
        raise RequestError(
            INVALID_PARAMS,
            f"Cannot parse request params: {compact(req.params)}"
            "\nLean.Lsp.RpcCallParams.sessionId: String expected",
        )
    if session not in server.docs[req.uri].rpc_sessions:
        raise RequestError(RPC_NEEDS_RECONNECT, "Outdated RPC session")
    method = req.params.get("method")
    if method == "Lean.Widget.getInteractiveGoals":
        try:
            position = parse_position(get_path(req.params, "params", "position"))
        except BadParams as exc:
            raise RequestError(
                INVALID_PARAMS, f"Cannot parse request params: {compact(req.params)}\n{exc}"
            ) from exc
        goals = a.interactive_goals(a.text.from_lsp(*position))
        _remember_refs(server.docs[req.uri].rpc_refs, goals)
        return goals
    if method == "Lean.Widget.InteractiveDiagnostics.infoToInteractive":
        ref = req.params.get("params")
        refs = server.docs[req.uri].rpc_refs
        key = ref.get("p") if isinstance(ref, dict) else None
        if key not in refs:
            raise RequestError(
                INVALID_PARAMS,
                f"Cannot parse request params: {compact(ref)}\nRPC reference is not valid",
            )
        fresh = str(len(refs) + 1_000_000)
        refs[fresh] = "Type"
        return {
            "doc": None,
            "exprExplicit": {"text": refs[key]},
            "type": {"tag": [{"info": {"p": fresh}, "subexprPos": "/"}, {"text": "Type"}]},
        }
    if method == "Lean.Widget.getInteractiveDiagnostics":
        answer = _interactive_diagnostics(
            a, req.params.get("params"), server.docs[req.uri].rpc_refs
        )
        _remember_refs(server.docs[req.uri].rpc_refs, answer)
        return answer
    raise RequestError(METHOD_NOT_FOUND, f"No RPC method '{method}' found")


def _interactive_diagnostics(a: Analysis, params: Json, refs: dict[str, str]) -> Json:
    """The document's diagnostics within ``params.lineRange`` (all without one) as Lean sends
    them to a client that said ``hasWidgets``: each piece of the message an embed
    ``{"tag":[{"expr":...},{"text":""}]}``; a line indented by two spaces is an expression (Lean
    indents the terms of its messages so) and gets an RPC reference (``rpc_messages``)."""
    span = params.get("lineRange") if isinstance(params, dict) else None
    first, last = (
        (span.get("start", 0), span.get("end", INF)) if isinstance(span, dict) else (0, INF)
    )
    counter = iter(range(2_000_000 + len(refs), 1 << 40))

    def embed(text: Json) -> Json:
        return {"tag": [{"expr": text}, {"text": ""}]}

    answer = []
    for step in a.steps:
        for diag in step.diagnostics:
            if not first <= diag.start[0] < last:
                continue
            lines = diag.message.split("\n")
            pieces = [embed({"text": lines[0]})]
            for line in lines[1:]:
                if line.startswith("  "):
                    ref = {"info": {"p": str(next(counter))}, "subexprPos": "/"}
                    pieces += [embed({"text": "\n  "}), embed({"tag": [ref, {"text": line[2:]}]})]
                else:
                    pieces += [embed({"text": "\n"}), embed({"text": line})]
            answer.append({**diag.to_lsp(a.text), "message": {"append": pieces}})
    return answer


def _remember_refs(refs: dict[str, str], tagged: Json) -> None:
    """Note the text of every ``{"tag": [{"info": {"p": ref}}, text]}`` in an answer."""
    if isinstance(tagged, list):
        for item in tagged:
            _remember_refs(refs, item)
    elif isinstance(tagged, dict):
        tag = tagged.get("tag")
        if isinstance(tag, list) and len(tag) == 2 and isinstance(tag[0], dict):
            info = tag[0].get("info")
            if isinstance(info, dict) and isinstance(tag[1], dict) and "text" in tag[1]:
                refs[str(info.get("p"))] = str(tag[1]["text"])
        for value in tagged.values():
            _remember_refs(refs, value)


def _pos(req: PendingRequest, a: Analysis) -> Pos:
    return a.text.from_lsp(*req.lsp_pos)


DOCUMENT_REQUESTS: dict[str, RequestSpec] = {
    "textDocument/waitForDiagnostics": RequestSpec("diagnostics", lambda s, r, a: {}, ("uri",)),
    "textDocument/hover": RequestSpec("position", lambda s, r, a: a.hover(_pos(r, a))),
    "textDocument/completion": RequestSpec(
        "position", lambda s, r, a: a.completion(r.uri, _pos(r, a))
    ),
    "completionItem/resolve": RequestSpec(
        "now", lambda s, r, a: a.resolve_completion(r.params), ("data", 0)
    ),
    "$/lean/plainGoal": RequestSpec("position", lambda s, r, a: a.plain_goal(_pos(r, a))),
    "$/lean/plainTermGoal": RequestSpec("position", lambda s, r, a: a.plain_term_goal(_pos(r, a))),
    "textDocument/definition": RequestSpec(
        "position", lambda s, r, a: a.definition(r.uri, _pos(r, a))
    ),
    "textDocument/declaration": RequestSpec(
        "position", lambda s, r, a: a.definition(r.uri, _pos(r, a))
    ),
    "textDocument/typeDefinition": RequestSpec("position", lambda s, r, a: []),
    "textDocument/documentHighlight": RequestSpec("position", lambda s, r, a: []),
    "textDocument/signatureHelp": RequestSpec("position", lambda s, r, a: None),
    "textDocument/documentSymbol": RequestSpec("file", lambda s, r, a: a.document_symbols()),
    "textDocument/foldingRange": RequestSpec("file", lambda s, r, a: []),
    "textDocument/semanticTokens/full": RequestSpec("now", lambda s, r, a: a.semantic_tokens()),
    "textDocument/semanticTokens/range": RequestSpec("now", _semantic_range),
    "textDocument/documentColor": RequestSpec("now", lambda s, r, a: []),
    "textDocument/codeAction": RequestSpec("now", lambda s, r, a: []),
    "textDocument/inlayHint": RequestSpec("now", lambda s, r, a: []),
    "textDocument/selectionRange": RequestSpec("now", _selection_range),
    "$/lean/rpc/connect": RequestSpec("now", _rpc_connect, ("uri",)),
    "$/lean/rpc/call": RequestSpec("position", _rpc_call),
}
WATCHDOG_REQUESTS: dict[str, Json] = {
    "textDocument/references": [],
    "workspace/symbol": [],
    "textDocument/prepareRename": None,
    "textDocument/rename": None,
    "textDocument/prepareCallHierarchy": None,
    "callHierarchy/incomingCalls": [],
    "callHierarchy/outgoingCalls": [],
}


def check_session_id(method: str, params: Json) -> None:
    """Lean's watchdog exits on a keepAlive or release it cannot decode (as recorded)."""
    session = params.get("sessionId") if isinstance(params, dict) else None
    name = "RpcKeepAliveParams" if method.endswith("keepAlive") else "RpcReleaseParams"
    problem = (
        "String expected"
        if not isinstance(session, str)
        else (
            None
            if session.isascii() and session.isdigit() and int(session) < 2**64
            else "a 64-bit natural number expected"
        )
    )
    if problem is not None:
        raise Fatal(
            f"Got param with wrong structure: {compact(params)}\n"
            f"Lean.Lsp.{name}.sessionId: {problem}"
        )


def _burn_cpu() -> NoReturn:
    counter = 0
    while True:
        counter = (counter * 31 + 7) & 0xFFFF


class Server:
    """The watchdog after ``initialize``: routing, documents, elaboration tasks, directives."""

    def __init__(self, config: Config, output: Output, pause_input: Callable[[], None]) -> None:
        self.config = config
        self.out = output
        self.pause_input = pause_input
        self.phase = "initialized"  # -> "running" -> "shutdown" (lean_standin.py did "initialize")
        self.docs: dict[str, Document] = {}
        self.requests: dict[str, PendingRequest] = {}
        self.replies: dict[str, Json] = {}
        self.next_request_id = 0
        self.hung = False
        self.spinning = False
        self.memory: list[bytearray] = []

    # --- main loop ---------------------------------------------------------------------------

    async def run(self, reader: FrameReader) -> int:
        try:
            while True:
                message = await reader.read()
                if self.hung:
                    await asyncio.get_running_loop().create_future()
                if message is None:
                    return 0
                code = self.handle(message)
                if code is not None:
                    return code
        except Fatal as exc:
            self.stderr(f"Watchdog error: {exc}")
            return 1

    def handle(self, message: Json) -> int | None:
        kind = classify(message)
        method = message.get("method", "")
        if self.phase == "initialized":
            if kind != "notification" or method != "initialized":
                raise Fatal(f"Expected method 'initialized', got method '{method}'")
            self.phase = "running"
            self.out.send(
                {
                    "id": REGISTER_WATCHER_ID,
                    "method": "client/registerCapability",
                    "params": REGISTER_WATCHER_PARAMS,
                }
            )
            return None
        if kind in ("response", "error"):
            self.replies[id_key(message["id"])] = message.get("result", message.get("error"))
            return None
        params = message.get("params")
        if self.phase == "shutdown":
            if kind == "request":
                self.error(
                    message["id"], INVALID_REQUEST, "Request received after 'shutdown' request."
                )
            return 0 if kind == "notification" and method == "exit" else None
        if kind == "request" and method == "shutdown":
            self.shutdown(message["id"])
        elif params is None:
            raise Fatal("Got invalid JSON-RPC message")
        elif kind == "request":
            self.request(message["id"], method, params)
        else:
            self.notification(method, params)
        return None

    # --- output helpers ----------------------------------------------------------------------

    def result(self, ident: Json, result: Json) -> None:
        self.out.send({"id": ident, "result": result})

    def error(self, ident: Json, code: int, message: str) -> None:
        self.out.send({"error": {"code": code, "message": message}, "id": ident})

    def notify(self, method: str, params: Json) -> None:
        self.out.send({"method": method, "params": params})

    @staticmethod
    def stderr(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def live(self, doc: Document, elab: Elaboration) -> bool:
        """May ``elab`` still emit? (Current, not crashed, not an outdated version.)"""
        return (
            self.docs.get(doc.uri) is doc
            and doc.elab is elab
            and not doc.crashed
            and elab.version >= doc.max_version
            and self.phase == "running"
        )

    def progress(self, doc: Document, version: int, line: int | None, kind: int = 1) -> None:
        processing = (
            []
            if line is None
            else [{"kind": kind, "range": doc.text.lsp_range((line, 0), doc.text.eof())}]
        )
        self.notify(
            "$/lean/fileProgress",
            {"processing": processing, "textDocument": {"uri": doc.uri, "version": version}},
        )

    def publish(self, doc: Document, elab: Elaboration, diags: list[Diag]) -> None:
        if self.live(doc, elab):
            self.notify(
                "textDocument/publishDiagnostics",
                {
                    "diagnostics": [d.to_lsp(elab.analysis.text) for d in diags],
                    "uri": doc.uri,
                    "version": elab.version,
                },
            )

    def elab_progress(self, doc: Document, elab: Elaboration, line: int | None) -> None:
        if self.live(doc, elab):
            self.progress(doc, elab.version, line)

    # --- notifications -----------------------------------------------------------------------

    def notification(self, method: str, params: Json) -> None:
        if method in ("$/lean/rpc/keepAlive", "$/lean/rpc/release"):
            check_session_id(method, params)
        try:
            if method == "textDocument/didOpen":
                self.did_open(params)
            elif method == "textDocument/didChange":
                self.did_change(params)
            elif method == "textDocument/didClose":
                self.did_close(get_str(params, "textDocument", "uri"))
            elif method == "$/cancelRequest":
                self.cancel(params.get("id") if isinstance(params, dict) else None)
            elif method in ("textDocument/didSave", "workspace/didChangeWatchedFiles"):
                pass
            elif not method.startswith("$/"):
                self.stderr(f"Got unsupported notification: {method}")
        except BadParams as exc:
            raise Fatal(f"Cannot parse request params: {compact(params)}\n{exc}") from exc

    def did_open(self, params: Json) -> None:
        uri = get_str(params, "textDocument", "uri")
        text = get_str(params, "textDocument", "text")
        version = get_path(params, "textDocument", "version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BadParams("field 'version' must be an integer")
        if uri in self.docs:
            return
        doc = Document(uri, version, SourceText(text), version)
        self.docs[uri] = doc
        self.progress(doc, version, 0)
        self.start_elaboration(doc, analyze(doc.text))

    def did_change(self, params: Json) -> None:
        uri = get_str(params, "textDocument", "uri")
        version = get_path(params, "textDocument").get("version")
        version = version if isinstance(version, int) and not isinstance(version, bool) else 0
        changes = get_path(params, "contentChanges")
        if not isinstance(changes, list):
            raise BadParams("field 'contentChanges' must be an array")
        doc = self.docs.get(uri)
        if doc is None or not changes:
            return
        text = doc.text
        for change in changes:
            text = text.apply(change)
        doc.text, doc.version = text, version
        doc.max_version = max(doc.max_version, version)
        old = doc.elab
        self.stop_elaboration(doc)
        analysis = analyze(text)
        restart = doc.crashed or (old is not None and old.analysis.header != analysis.header)
        doc.crashed = False
        if restart:
            doc.rpc_sessions.clear()
            doc.rpc_refs.clear()
        self.start_elaboration(doc, analysis)
        if restart and doc.elab is not None:
            self.elab_progress(doc, doc.elab, 0)
        self.poll(doc)

    def did_close(self, uri: str) -> None:
        doc = self.docs.pop(uri, None)
        if doc is None:
            return
        self.stop_elaboration(doc)
        self.fail_pending(doc, CONTENT_MODIFIED, f"The file worker for {uri} has been terminated.")
        self.notify(
            "textDocument/publishDiagnostics",
            {"diagnostics": [], "uri": uri, "version": doc.version},
        )

    def cancel(self, ident: Json) -> None:
        request = self.requests.get(id_key(ident))
        if request is not None:
            self.finish(request)
            self.error(request.ident, REQUEST_CANCELLED, "")

    # --- requests ----------------------------------------------------------------------------

    def request(self, ident: Json, method: str, params: Json) -> None:
        if method in WATCHDOG_REQUESTS:
            self.result(ident, WATCHDOG_REQUESTS[method])
            return
        if method == "$/lean/waitForILeans":
            uri = params.get("uri") if isinstance(params, dict) else None
            if uri in self.docs:
                self.result(ident, {})
            else:
                self.error(
                    ident,
                    CONTENT_MODIFIED,
                    f"Cannot process '$/lean/waitForILeans' request to closed file '{uri}'",
                )
            return
        spec = DOCUMENT_REQUESTS.get(method)
        if spec is None:
            self.error(ident, METHOD_NOT_FOUND, f"No request handler found for '{method}'")
            return
        try:
            uri = get_str(params, *spec.uri_path)
            request = PendingRequest(ident, method, uri, params, spec.wait)
            if spec.wait == "position":
                request.lsp_pos = parse_position(get_path(params, "position"))
            elif spec.wait == "diagnostics":
                version = get_path(params, "version")
                if not isinstance(version, int):
                    raise BadParams("field 'version' must be an integer")
                request.version = version
        except BadParams as exc:
            self.error(
                ident, INVALID_PARAMS, f"Cannot parse request params: {compact(params)}\n{exc}"
            )
            return
        doc = self.docs.get(uri)
        if doc is None:
            self.error(ident, CONTENT_MODIFIED, f"Cannot process request to closed file '{uri}'")
            return
        self.requests[request.key] = request
        doc.pending.append(request)
        self.poll(doc)

    def poll(self, doc: Document) -> None:
        """Answer the pending requests of ``doc`` whose wait is over, in arrival order."""
        if doc.crashed:
            return
        for request in list(doc.pending):
            if request.elab is None and doc.elab is not None:
                request.elab = doc.elab
                request.line = doc.elab.analysis.needed_line(request.lsp_pos[0])
            if self.ready(doc, request):
                self.answer(request)

    def ready(self, doc: Document, request: PendingRequest) -> bool:
        if request.wait == "diagnostics":
            return doc.completed is not None and doc.completed >= request.version
        elab = request.elab
        if elab is None:
            return False
        if request.wait == "now" or elab is not doc.elab:
            return True
        if request.wait == "position":
            return elab.done_through > request.line
        return elab.done_through >= INF

    def finish(self, request: PendingRequest) -> None:
        self.requests.pop(request.key, None)
        doc = self.docs.get(request.uri)
        if doc is not None and request in doc.pending:
            doc.pending.remove(request)

    def answer(self, request: PendingRequest) -> None:
        self.finish(request)
        assert request.elab is not None  # poll() binds every request before answering it
        try:
            result = DOCUMENT_REQUESTS[request.method].handler(self, request, request.elab.analysis)
        except RequestError as exc:
            self.error(request.ident, exc.code, exc.message)
        else:
            self.result(request.ident, result)

    def fail_pending(self, doc: Document, code: int, message: str) -> None:
        for request in list(doc.pending):
            self.requests.pop(request.key, None)
            self.error(request.ident, code, message)
        doc.pending.clear()

    def shutdown(self, ident: Json) -> None:
        for doc in list(self.docs.values()):
            self.stop_elaboration(doc)
            self.fail_pending(
                doc, CONTENT_MODIFIED, f"The file worker for {doc.uri} has been terminated."
            )
            self.notify(
                "textDocument/publishDiagnostics",
                {"diagnostics": [], "uri": doc.uri, "version": doc.version},
            )
        self.docs.clear()
        self.phase = "shutdown"
        self.result(ident, None)

    # --- elaboration -------------------------------------------------------------------------

    def start_elaboration(self, doc: Document, analysis: Analysis) -> None:
        loop = asyncio.get_running_loop()
        elab = Elaboration(doc.version, analysis, loop.time())
        elab.done_through = analysis.steps[0].line if analysis.steps else INF
        doc.elab = elab
        elab.task = loop.create_task(self.elaborate(doc, elab))
        elab.task.add_done_callback(self.task_done)

    @staticmethod
    def stop_elaboration(doc: Document) -> None:
        if doc.elab is not None and doc.elab.task is not None:
            doc.elab.task.cancel()

    def task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.stderr(f"Watchdog error: standin internal error\n{text}")
        os._exit(1)

    @staticmethod
    async def sleep_until(deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def elaborate(self, doc: Document, elab: Elaboration) -> None:
        state = ReportState(elab.started + self.config.report_delay_ms / 1000)
        steps = elab.analysis.steps
        for index, step in enumerate(steps):
            new = list(step.diagnostics)
            if step.directive is not None:
                extra = await self.directive(doc, elab, step, state)
                if extra is None:
                    return
                new.extend(extra)
            state.diags.extend(new)
            elab.done_through = steps[index + 1].line if index + 1 < len(steps) else INF
            self.poll(doc)
            if state.blocked and new:
                self.publish(doc, elab, state.diags)
        elab.done_through = INF
        self.poll(doc)
        await self.sleep_until(state.report_at)
        if state.blocked:
            self.elab_progress(doc, elab, None)
        else:
            self.elab_progress(doc, elab, None)
            self.publish(doc, elab, state.diags)
        if self.live(doc, elab):
            doc.completed = elab.version
            self.poll(doc)

    async def block(
        self, doc: Document, elab: Elaboration, state: ReportState, seconds: float | None, line: int
    ) -> None:
        """Elaboration waits here; the reporter notices if it wakes up meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        if deadline is None or deadline > state.report_at:
            await self.sleep_until(state.report_at)
            if not state.blocked:
                state.blocked = True
                self.publish(doc, elab, state.diags)
            self.elab_progress(doc, elab, line)
        if deadline is None:
            await loop.create_future()
        else:
            await self.sleep_until(deadline)

    async def directive(
        self, doc: Document, elab: Elaboration, step: Step, state: ReportState
    ) -> list[Diag] | None:
        """Run a directive; the diagnostics it adds, or None if the worker is gone."""
        directive = step.directive
        assert directive is not None
        try:
            return await self.run_directive(doc, elab, step, directive, state)
        except ValueError:
            return [
                self.directive_diag(
                    directive,
                    SEVERITY_ERROR,
                    f"standin: bad argument for directive '{directive.name}': {directive.arg!r}",
                )
            ]

    @staticmethod
    def directive_diag(directive: Directive, severity: int, message: str) -> Diag:
        return Diag(
            severity, message, (directive.line, directive.col), (directive.line, directive.end)
        )

    async def run_directive(
        self, doc: Document, elab: Elaboration, step: Step, directive: Directive, state: ReportState
    ) -> list[Diag] | None:
        name, arg = directive.name, directive.arg
        if name == "delay":
            await self.block(doc, elab, state, float(arg), step.progress_line)
        elif name == "spin":
            self.start_spinning()
            await self.block(doc, elab, state, None, step.progress_line)
        elif name == "crash":
            self.crash(doc, int(arg) if arg else 139)
            return None
        elif name == "exit":
            await self.exit_process(int(arg))
        elif name == "hang":
            self.hung = True
            self.out.freeze()
            self.pause_input()
            await asyncio.get_running_loop().create_future()
        elif name == "memory":
            if not self.allocate(int(arg)):
                self.crash(doc, 1, "INTERNAL PANIC: out of memory")
                return None
        elif name == "flood":
            await self.flood(doc, elab, state, arg, step.progress_line)
        elif name == "stderr":
            self.stderr(f"[{doc.uri}] {arg}")
        elif name == "refresh":
            self.out.send(
                {"id": self.next_request_id, "method": "workspace/semanticTokens/refresh"}
            )
            self.next_request_id += 1
        elif name in ("echo-env", "config", "replies"):
            return [self.directive_diag(directive, SEVERITY_INFO, self.report(name, arg))]
        else:
            return [
                self.directive_diag(
                    directive, SEVERITY_ERROR, f"standin: unknown directive '{name}'"
                )
            ]
        return []

    def report(self, name: str, arg: str) -> str:
        if name == "echo-env":
            value = os.environ.get(arg)
            return value if value is not None else f"<unset {arg}>"
        if name == "config":
            return compact(
                {
                    "argv": list(self.config.argv),
                    "cwd": os.getcwd(),
                    "reportDelayMs": self.config.report_delay_ms,
                }
            )
        return compact(self.replies)

    async def flood(
        self, doc: Document, elab: Elaboration, state: ReportState, arg: str, line: int
    ) -> None:
        count, _, what = arg.partition(" ")
        if what.strip() not in ("", "diagnostics"):
            raise ValueError(arg)
        for _ in range(int(count)):
            if what.strip() == "diagnostics":
                self.publish(doc, elab, state.diags)
            else:
                self.elab_progress(doc, elab, line)
            await self.out.drain()

    def kill_workers(self) -> None:
        """SIGUSR1: every open document's worker dies as a SIGKILLed Lean worker does."""
        for doc in list(self.docs.values()):
            if not doc.crashed and self.phase == "running":
                self.stop_elaboration(doc)
                self.crash(doc, 128 + 9)

    def crash(self, doc: Document, code: int, note: str | None = None) -> None:
        if code == 1:
            self.stderr(note or f"[{doc.uri}] uncaught exception: standin crash")
            error = (
                WORKER_EXITED,
                f"Server process for {doc.uri} crashed, see stderr for exception.",
            )
        else:
            if code != 128 + 9:  # a killed process writes nothing
                self.stderr("Stack overflow detected. Aborting.")
            error = (
                WORKER_CRASHED,
                f"Server process for {doc.uri} crashed, likely due to a stack overflow or a bug.",
            )
        doc.crashed = True
        doc.rpc_sessions.clear()
        doc.rpc_refs.clear()
        self.fail_pending(doc, *error)
        self.progress(doc, doc.version, 0, kind=2)

    async def exit_process(self, code: int) -> NoReturn:
        self.stderr("Watchdog error: standin exit")
        await self.out.flush(timeout=5.0)
        os._exit(code)

    def start_spinning(self) -> None:
        if not self.spinning:
            self.spinning = True
            threading.Thread(target=_burn_cpu, name="standin-spin", daemon=True).start()

    def allocate(self, megabytes: int) -> bool:
        try:
            block = bytearray(megabytes << 20)
            block[::4096] = b"\x01" * len(range(0, len(block), 4096))
        except MemoryError:
            return False
        self.memory.append(block)
        return True


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


async def serve(config: Config, parser: FrameParser) -> int:
    """The main loop, from the ``initialized`` notification on; ``parser`` holds what the
    handshake read beyond ``initialize``."""
    stream, pause = await open_input()
    output = await Output.open()
    server = Server(config, output, pause)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, server.kill_workers)
    code = await server.run(FrameReader(stream, parser))
    await output.flush(timeout=5.0)
    return code


def run(config: Config, parser: FrameParser) -> int:
    return asyncio.run(serve(config, parser))
