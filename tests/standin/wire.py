"""The wire of tests/lean_standin.py: framing, JSON-RPC shapes, the capabilities, the command line.

Only light standard modules, so the stand-in can answer ``initialize`` before it loads the rest
(its rules are in the docstring of ``tests/lean_standin.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Json = Any

DEFAULT_REPORT_DELAY_MS = 200
REPORT_DELAY_OPTION = "server.reportDelayMs"
REPORT_DELAY_ENV = "LEAN_STANDIN_REPORT_DELAY_MS"
VERSION_LINE = "Lean (version 4.99.0-standin, x86_64-unknown-linux-gnu, commit standin, Release)"

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801
RPC_NEEDS_RECONNECT = -32900
WORKER_EXITED = -32901
WORKER_CRASHED = -32902

SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO = 1, 2, 3
LEAN_TAG_UNSOLVED_GOALS = 1

TOKEN_TYPES = [
    "keyword",
    "variable",
    "property",
    "function",
    "namespace",
    "type",
    "class",
    "enum",
    "interface",
    "struct",
    "typeParameter",
    "parameter",
    "enumMember",
    "event",
    "method",
    "macro",
    "modifier",
    "comment",
    "string",
    "number",
    "regexp",
    "operator",
    "decorator",
    "leanSorryLike",
]
TOKEN_MODIFIERS = [
    "declaration",
    "definition",
    "readonly",
    "static",
    "deprecated",
    "abstract",
    "async",
    "modification",
    "documentation",
    "defaultLibrary",
]
KEYWORD_TOKEN, SORRY_TOKEN = 0, TOKEN_TYPES.index("leanSorryLike")

# Lean 4.35's, as recorded in tests/transcripts/handshake.json.
CAPABILITIES: Json = {
    "callHierarchyProvider": True,
    "codeActionProvider": {
        "codeActionKinds": ["quickfix", "refactor", "source.organizeImports"],
        "resolveProvider": True,
        "workDoneProgress": False,
    },
    "colorProvider": {"workDoneProgress": False},
    "completionProvider": {"resolveProvider": True, "triggerCharacters": ["."]},
    "declarationProvider": True,
    "definitionProvider": True,
    "documentHighlightProvider": True,
    "documentSymbolProvider": True,
    "experimental": {
        "moduleHierarchyProvider": {},
        "rpcProvider": {"highlightMatchesProvider": {}, "rpcWireFormat": "v1"},
    },
    "foldingRangeProvider": True,
    "hoverProvider": True,
    "inlayHintProvider": {"resolveProvider": False, "workDoneProgress": False},
    "referencesProvider": True,
    "renameProvider": {"prepareProvider": True},
    "semanticTokensProvider": {
        "full": True,
        "legend": {"tokenModifiers": TOKEN_MODIFIERS, "tokenTypes": TOKEN_TYPES},
        "range": True,
    },
    "signatureHelpProvider": {"triggerCharacters": [" "], "workDoneProgress": False},
    "textDocumentSync": {
        "change": 2,
        "openClose": True,
        "save": {"includeText": True},
        "willSave": False,
        "willSaveWaitUntil": False,
    },
    "typeDefinitionProvider": True,
    "workspaceSymbolProvider": True,
}
SERVER_INFO: Json = {"name": "Lean 4 Server", "version": "0.3.0"}
REGISTER_WATCHER_ID = "register_lean_watcher"
REGISTER_WATCHER_PARAMS: Json = {
    "registrations": [
        {
            "id": "lean_watcher",
            "method": "workspace/didChangeWatchedFiles",
            "registerOptions": {
                "watchers": [{"globPattern": "**/*.lean"}, {"globPattern": "**/*.ilean"}]
            },
        }
    ],
}


class Fatal(Exception):
    """A protocol violation that makes the watchdog exit 1."""


def compact(value: Json) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_frame(message: Json) -> bytes:
    body = compact(message).encode("utf-8", "replace")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


MAX_HEADER_LINE = 1 << 20


class FrameParser:
    """Cuts Content-Length framed JSON messages out of the bytes read from stdin so far.

    One parser serves both the blocking handshake and the asyncio main loop, so the bytes that
    arrive together with ``initialize`` are never lost and the header rules exist once.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.content_length: int | None = None
        self.in_body = False

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def pop(self) -> tuple[bool, Json]:
        """``(True, message)`` for the next complete message, ``(False, None)`` if it has not
        fully arrived yet; Fatal for a malformed header or body."""
        while not self.in_body:
            end = self.buffer.find(b"\n")
            if end < 0 and len(self.buffer) <= MAX_HEADER_LINE:
                return False, None
            if end < 0 or end >= MAX_HEADER_LINE:
                raise Fatal("Invalid header field: <header line too long>")
            line = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            if line == b"\r\n":
                if self.content_length is None:
                    raise Fatal("Invalid header field: missing Content-Length")
                self.in_body = True
                break
            text = line.decode("utf-8", "replace")
            name, sep, value = text[:-2].partition(": ")
            if not line.endswith(b"\r\n") or not sep:
                raise Fatal(f"Invalid header field: {json.dumps(text, ensure_ascii=False)}")
            if name == "Content-Length":
                if not (value.isascii() and value.isdigit()):
                    raise Fatal(f"Invalid header field: {json.dumps(text, ensure_ascii=False)}")
                self.content_length = int(value)
        length = self.content_length or 0
        if len(self.buffer) < length:
            return False, None
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        self.in_body, self.content_length = False, None
        try:
            return True, json.loads(body.decode("utf-8"))
        except ValueError as exc:  # includes UnicodeDecodeError
            raise Fatal(f"Cannot parse JSON: {exc}") from exc


def classify(message: Json) -> str:
    """ "request", "notification", "response" or "error", or Fatal."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise Fatal(f"JSON '{compact(message)}' did not have the format of a JSON-RPC message.")
    params = message.get("params")
    method = message.get("method")
    ident = message.get("id")
    valid_id = (
        "id" in message and not isinstance(ident, bool) and isinstance(ident, int | float | str)
    )
    if params is not None and not isinstance(params, dict | list):
        raise Fatal(f"JSON '{compact(message)}' did not have the format of a JSON-RPC message.")
    if isinstance(method, str) and "id" not in message:
        return "notification"
    if isinstance(method, str) and valid_id:
        return "request"
    if method is None and (valid_id or ident is None) and "id" in message:
        if "result" in message:
            return "response"
        if isinstance(message.get("error"), dict):
            return "error"
    raise Fatal(f"JSON '{compact(message)}' did not have the format of a JSON-RPC message.")


def id_key(ident: Json) -> str:
    return compact(ident)


def parse_ms(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


class Config:
    """What the command line and the environment set (a plain class: see the module docstring)."""

    def __init__(self, report_delay_ms: int, argv: tuple[str, ...]) -> None:
        self.report_delay_ms = report_delay_ms
        self.argv = argv

    @classmethod
    def from_args(cls, argv: list[str], env: Mapping[str, str]) -> Config:
        delay = DEFAULT_REPORT_DELAY_MS
        for index, arg in enumerate(argv):
            option = None
            if arg.startswith("-D") and len(arg) > 2:
                option = arg[2:]
            elif arg == "-D" and index + 1 < len(argv):
                option = argv[index + 1]
            if option is not None:
                name, _, value = option.partition("=")
                parsed = parse_ms(value) if name == REPORT_DELAY_OPTION else None
                delay = parsed if parsed is not None else delay
        from_env = parse_ms(env.get(REPORT_DELAY_ENV))
        return cls(from_env if from_env is not None else delay, tuple(argv))
