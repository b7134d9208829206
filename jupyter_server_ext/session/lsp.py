"""Content-Length framing of LSP messages over asyncio streams, and JSON-RPC checks.

Reads are event-driven (``readuntil``/``readexactly``), never polled: a header or body split at any
byte boundary simply waits for the rest.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import orjson

JsonObject = dict[str, Any]

# JSON-RPC 2.0 / LSP error codes used by this package.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801
# Not a Lean code: the whole Lean server (not one file worker) is gone or did not answer in time.
LEAN_SERVER_EXITED = -32099
REQUEST_TIMED_OUT = -32098

_MAX_HEADER_BLOCK = 8192


class LspProtocolError(Exception):
    """The peer broke the framing; the stream cannot be trusted after this."""


class MessageTooLarge(LspProtocolError):
    """A message body exceeded the configured size. The body was skipped, the stream is in sync;
    ``head`` holds its first bytes (enough for the id Lean writes first in a response)."""

    def __init__(self, message: str, size: int = 0, head: bytes = b"") -> None:
        super().__init__(message)
        self.size = size
        self.head = head


_RESPONSE_ID = re.compile(rb'^\{"id":(-?\d{1,20}|"(?:[^"\\]|\\.){0,200}")')


def response_id(head: bytes) -> int | str | None:
    """The id of a response whose text starts with ``head``, when it starts with its id (Lean
    writes keys sorted: ``{"id":...,"jsonrpc":...,"result":...}``); else None."""
    found = _RESPONSE_ID.match(head)
    if found is None:
        return None
    value = json.loads(found[1])
    return value if isinstance(value, (int, str)) else None


def _dump_bytes(message: Any) -> bytes:
    try:
        return orjson.dumps(message)
    except TypeError:
        # orjson stops at 64-bit integers; JSON (and Lean) have no such limit.
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def dumps(message: Any) -> str:
    """Compact JSON text, non-ASCII kept as is."""
    return _dump_bytes(message).decode()


def encode_message(message: JsonObject) -> bytes:
    body = _dump_bytes(message)
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode_body(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def read_message_body(reader: asyncio.StreamReader, max_size: int) -> bytes | None:
    """Return the next message body, or None on a clean EOF between messages.

    Raises LspProtocolError on a malformed header or EOF inside a message, and MessageTooLarge
    (after discarding the body) when Content-Length exceeds ``max_size``.
    """
    try:
        # One read for the whole header block: Lean sends a single Content-Length line.
        header = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise LspProtocolError("end of stream inside a message header") from exc
    except asyncio.LimitOverrunError as exc:
        raise LspProtocolError("message header too long") from exc
    if len(header) > _MAX_HEADER_BLOCK:
        raise LspProtocolError("message header too long")
    content_length: int | None = None
    for line in header[:-4].split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            raise LspProtocolError(f"invalid header line {line[:80]!r}")
        if name.strip().lower() == b"content-length":
            text = value.strip()
            if not text.isdigit():
                raise LspProtocolError(f"invalid Content-Length {text[:40]!r}")
            content_length = int(text)
    if content_length is None:
        raise LspProtocolError("message header without Content-Length")
    if content_length > max_size:
        head = await _discard(reader, content_length)
        raise MessageTooLarge(
            f"message of {content_length} bytes exceeds the limit of {max_size}",
            content_length,
            head,
        )
    try:
        return await reader.readexactly(content_length)
    except asyncio.IncompleteReadError as exc:
        raise LspProtocolError("end of stream inside a message body") from exc


async def _discard(reader: asyncio.StreamReader, count: int) -> bytes:
    """Skip ``count`` bytes; return the first few hundred of them."""
    remaining, head = count, b""
    while remaining:
        chunk = await reader.read(min(remaining, 1 << 20))
        if not chunk:
            raise LspProtocolError("end of stream inside a message body")
        if len(head) < 256:
            head += chunk[: 256 - len(head)]
        remaining -= len(chunk)
    return head


def error_response(request_id: Any, code: int, message: str, data: Any = None) -> JsonObject:
    error: JsonObject = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def result_response(request_id: Any, result: Any) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def notification(method: str, params: Any) -> JsonObject:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, (int, str)) and not isinstance(value, bool))


def json_rpc_problem(message: Any) -> str | None:
    """Why ``message`` is not a JSON-RPC 2.0 request, notification or response; None if it is."""
    if not isinstance(message, dict):
        return "a JSON-RPC message must be a JSON object"
    if message.get("jsonrpc") != "2.0":
        return 'missing "jsonrpc": "2.0"'
    if "method" in message:
        if not isinstance(message["method"], str) or not message["method"]:
            return '"method" must be a non-empty string'
        if "id" in message and (message["id"] is None or not _valid_id(message["id"])):
            return '"id" must be a number or a string'
        params = message.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return '"params" must be an object or an array'
        return None
    if "id" in message:
        if not _valid_id(message["id"]):
            return '"id" must be a number, a string or null'
        if ("result" in message) == ("error" in message):
            return 'a response needs exactly one of "result" and "error"'
        if "error" in message and not isinstance(message["error"], dict):
            return '"error" must be an object'
        return None
    return 'neither a request ("method", "id"), a notification ("method") nor a response ("id")'
