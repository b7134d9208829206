"""What a client may send towards Lean: strict frame parsing and per-method parameter checks.

Lean's watchdog is not a forgiving peer: a message it cannot decode is often fatal to the whole
server, not just an error for that message (docs/lean-protocol.md 2.2, 3.1, 7). A request or
notification without ``params``, a ``didOpen`` whose ``version`` is not a natural number, a
``didChange`` with a range that is not a range: each can make ``lean --server`` exit, and with it
every open document of the session. So everything a client sends is checked here first, and
what fails is refused with a JSON-RPC error (requests) or a ``window/showMessage`` (notifications)
instead of being forwarded.

Two layers:

- ``parse_client_frame``: one WebSocket frame -> a JSON-RPC message, refusing JSON that Python
  accepts but Lean's parser would not (``NaN``, ``Infinity``), numbers whose exponent would make
  Lean build a gigantic integer, lone UTF-16 surrogates (they cannot be re-encoded as UTF-8) and
  nesting deeper than ``MAX_DEPTH``.
- ``params_problem``: the parameters of a method Lean decodes strictly (its notifications, and
  the fields the session itself reads) have the types Lean expects.

Duplicate object keys need no check: Python's parser and Lean's (an ordered tree insert) both keep
the last value, so a raw frame forwarded as is means the same to both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from .lsp import (
    INVALID_REQUEST,
    PARSE_ERROR,
    JsonObject,
    error_response,
    json_rpc_problem,
)

# Deeper nesting is refused: no LSP message Lean takes comes close, and recursive parsers (Lean's
# included) spend stack on every level.
MAX_DEPTH = 100
# Arrays and objects in one frame, past which they must be a small share of the frame (as
# brackets inside source text are): each costs a microsecond or so to build and check on the
# event loop, so 8 MiB of `[]` would hold every user up for seconds. LSP messages have few (a
# didChange at max_edits_per_message has some 4,000).
MAX_CONTAINERS = 20_000
# Lean keeps JSON numbers as mantissa * 10^exponent with arbitrary precision: "0e999999999" is a
# few bytes on the wire but a billion-digit integer once Lean normalises it.
MAX_EXPONENT_DIGITS = 3
# LSP's `integer`/`uinteger` range; Lean decodes versions, lines and columns as naturals.
MAX_LSP_INT = 2**31 - 1
MAX_UINT64 = 2**64 - 1

_EXPONENT = re.compile(r"[eE][+-]?0*(\d+)$")
# An RPC session id as Lean 4.35 writes it: a 64-bit natural number in decimal, in a string.
_SESSION_ID = re.compile(r"0|[1-9][0-9]{0,19}")


class FrameRefused(ValueError):
    """The frame is JSON Lean would not accept the same way."""


def _reject_constant(name: str) -> Any:
    raise FrameRefused(f"{name} is not JSON")


def _parse_float(text: str) -> float:
    match = _EXPONENT.search(text)
    if match and len(match.group(1)) > MAX_EXPONENT_DIGITS:
        raise FrameRefused(f"number {text[:40]} has an exponent out of range")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise FrameRefused(f"number {text[:40]} is out of range")
    return value


def _scan(value: Any, depth_limit: int) -> tuple[bool, bool]:
    """(holds a float, nested deeper than ``depth_limit`` containers), in one iterative walk.

    orjson gives a float exactly for a number with a fraction or an exponent, and for an integer
    past 64 bits: the numbers the exact path must see (a huge exponent; an integer Lean, and the
    exact path, keep whole: a request id must come back exactly as it was sent). Looking at the
    parsed values instead of searching the text keeps the cost off string lengths: a regex over
    a 64 MiB frame held the event loop for 1.5 s."""
    has_float = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > depth_limit:
            return has_float, True
        children = item.values() if type(item) is dict else item
        kinds = set(map(type, children))  # C speed, whatever the number of children
        has_float = has_float or float in kinds
        if dict in kinds or list in kinds:
            stack.extend(
                (child, depth + 1)
                for child in children
                if type(child) is dict or type(child) is list
            )
    return has_float, False


def _has_lone_surrogate(message: Any) -> bool:
    try:
        json.dumps(message, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


# One decoder for all frames: json.loads with hooks would build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_float)


def _loads_checked(text: str) -> Any:
    """The slow, exact path: the stdlib decoder with hooks that see each number's text."""
    message = _DECODER.decode(text)
    if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(message):
        raise FrameRefused("a string holds a lone UTF-16 surrogate")
    return message


def loads_strict(frame: str | bytes) -> Any:
    """``json.loads`` minus what Lean would read differently or choke on (see module doc).

    orjson parses every frame (the relay's hot path) and itself refuses NaN, Infinity, overflowing
    numbers and lone surrogates; the exact decoder runs only for frames orjson refuses (to name
    the reason) or that hold a number with a fraction or an exponent (which may be huge) or an
    integer past 64 bits: orjson parses those as floats.
    """
    text = frame if isinstance(frame, str) else frame.decode()
    containers = text.count("[") + text.count("{")
    if containers > MAX_CONTAINERS and containers * 8 > len(text):
        raise FrameRefused(
            f"{containers} arrays and objects in one frame (at most "
            f"{MAX_CONTAINERS}, unless they are a small share of the frame)"
        )
    try:
        message = orjson.loads(text)
        exact = False
    except orjson.JSONDecodeError:
        message = _loads_checked(text)
        exact = True
    if not isinstance(message, (dict, list)):
        return _loads_checked(text) if isinstance(message, float) and not exact else message
    # Cheap pre-check (C-speed substring counts): the depth is looked at only when it could be
    # too deep.
    deep = containers > MAX_DEPTH
    has_float, too_deep = _scan(message, MAX_DEPTH if deep else len(text))
    if too_deep:
        raise FrameRefused(f"nested deeper than {MAX_DEPTH} levels")
    if has_float and not exact:
        message = _loads_checked(text)
    return message


def parse_client_frame(frame: str | bytes) -> tuple[JsonObject | None, JsonObject | None]:
    """One WebSocket frame -> (message, None), or (None, JSON-RPC error response to send)."""
    try:
        message = loads_strict(frame)
    except FrameRefused as exc:
        return None, error_response(None, INVALID_REQUEST, f"Invalid request: {exc}")
    except (ValueError, RecursionError):
        return None, error_response(None, PARSE_ERROR, "Parse error: the frame is not valid JSON")
    problem = json_rpc_problem(message)
    if problem is not None:
        request_id = message.get("id") if isinstance(message, dict) else None
        if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
            request_id = None
        return None, error_response(request_id, INVALID_REQUEST, f"Invalid request: {problem}")
    return message, None


# -- parameter checks -----------------------------------------------------------------------


def is_int(value: Any, low: int = 0, high: int = MAX_LSP_INT) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _position_problem(value: Any, name: str) -> str | None:
    if not isinstance(value, dict):
        return f"{name} must be an object {{line, character}}"
    if not (is_int(value.get("line")) and is_int(value.get("character"))):
        return f"{name}.line and {name}.character must be integers from 0 to {MAX_LSP_INT}"
    return None


def _range_problem(value: Any, name: str) -> str | None:
    if not isinstance(value, dict):
        return f"{name} must be an object {{start, end}}"
    return _position_problem(value.get("start"), f"{name}.start") or _position_problem(
        value.get("end"), f"{name}.end"
    )


def _text_document_problem(params: JsonObject, *, version: str) -> str | None:
    """``version``: "required", "optional" (int or absent/null) or "ignored"."""
    document = params.get("textDocument")
    if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
        return "textDocument.uri must be a string"
    value = document.get("version")
    if version == "required" and not is_int(value):
        return f"textDocument.version must be an integer from 0 to {MAX_LSP_INT}"
    if version == "optional" and value is not None and not is_int(value):
        return f"textDocument.version must be an integer from 0 to {MAX_LSP_INT}"
    return None


def _did_open_problem(params: JsonObject) -> str | None:
    problem = _text_document_problem(params, version="required")
    if problem is None and not isinstance(params["textDocument"].get("text"), str):
        problem = "textDocument.text must be a string"
    return problem


def _did_change_problem(params: JsonObject) -> str | None:
    problem = _text_document_problem(params, version="optional")
    if problem is not None:
        return problem
    changes = params.get("contentChanges")
    if not isinstance(changes, list):
        return "contentChanges must be an array"
    for index, change in enumerate(changes):
        if not isinstance(change, dict) or not isinstance(change.get("text"), str):
            return f"contentChanges[{index}].text must be a string"
        if change.get("range") is not None:
            problem = _range_problem(change["range"], f"contentChanges[{index}].range")
            if problem is not None:
                return problem
    return None


def _watched_files_problem(params: JsonObject) -> str | None:
    changes = params.get("changes")
    if not isinstance(changes, list) or not all(
        isinstance(c, dict) and isinstance(c.get("uri"), str) and is_int(c.get("type"), 1, 3)
        for c in changes
    ):
        return "changes must be an array of {uri: string, type: 1, 2 or 3}"
    return None


def is_session_id(value: Any) -> bool:
    """Is ``value`` an RPC session id in the form Lean 4.35 sends it (``"1580..."``) and decodes?
    Its watchdog exits when ``keepAlive`` or ``release`` carries anything else, a JSON number
    included (``RpcReleaseParams.sessionId: String expected``)."""
    return (
        isinstance(value, str)
        and _SESSION_ID.fullmatch(value) is not None
        and int(value) <= MAX_UINT64
    )


SESSION_ID_PROBLEM = "sessionId must be a string holding a 64-bit natural number, as Lean sends it"


def _rpc_problem(params: JsonObject, *, refs: bool) -> str | None:
    if not isinstance(params.get("uri"), str):
        return "uri must be a string"
    if not is_session_id(params.get("sessionId")):
        return SESSION_ID_PROBLEM
    if refs and not (
        isinstance(params.get("refs"), list)
        and all(isinstance(ref, dict) for ref in params["refs"])
    ):
        return "refs must be an array of objects"
    return None


def _cancel_problem(params: JsonObject) -> str | None:
    request_id = params.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        return "id must be a number or a string"
    return None


def _wait_problem(params: JsonObject) -> str | None:
    if not isinstance(params.get("uri"), str):
        return "uri must be a string"
    if not is_int(params.get("version")):
        return f"version must be an integer from 0 to {MAX_LSP_INT}"
    return None


# Notifications Lean decodes strictly (a failure is fatal to the watchdog or the file worker).
_NOTIFICATION_CHECKS = {
    "textDocument/didOpen": _did_open_problem,
    "textDocument/didChange": _did_change_problem,
    "textDocument/didClose": lambda p: _text_document_problem(p, version="ignored"),
    "textDocument/didSave": lambda p: (
        _text_document_problem(p, version="ignored")
        or (
            None if p.get("text") is None or isinstance(p["text"], str) else "text must be a string"
        )
    ),
    "workspace/didChangeWatchedFiles": _watched_files_problem,
    "$/cancelRequest": _cancel_problem,
    "$/lean/rpc/release": lambda p: _rpc_problem(p, refs=True),
    "$/lean/rpc/keepAlive": lambda p: _rpc_problem(p, refs=False),
}


def _rpc_call_problem(params: JsonObject) -> str | None:
    if not is_session_id(params.get("sessionId")):
        return SESSION_ID_PROBLEM
    if not isinstance(params.get("method"), str):
        return "method must be a string"
    return _request_problem(params)


# Requests with fields beyond the shared ones (see _request_problem) that are checked here:
# the session reads them itself (version mapping), or they identify Lean-side state.
_REQUEST_CHECKS = {
    "textDocument/waitForDiagnostics": _wait_problem,
    "$/lean/rpc/call": _rpc_call_problem,
}


def _request_problem(params: JsonObject) -> str | None:
    """Shared fields of document requests: Lean would answer -32602, but the session reads
    ``textDocument`` itself (confinement, versions), so they must be what they claim."""
    document = params.get("textDocument")
    if document is not None:
        if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
            return "textDocument.uri must be a string"
        if document.get("version") is not None and not is_int(document["version"]):
            return f"textDocument.version must be an integer from 0 to {MAX_LSP_INT}"
    if "uri" in params and not isinstance(params["uri"], str):
        return "uri must be a string"
    if params.get("position") is not None:
        return _position_problem(params["position"], "position")
    if params.get("range") is not None:
        return _range_problem(params["range"], "range")
    return None


def params_problem(method: str, params: Any, *, is_request: bool) -> str | None:
    """Why ``params`` must not reach Lean for ``method``; None when they may."""
    if not isinstance(params, dict):
        # JSON-RPC allows arrays, but no method Lean implements takes one.
        return f"params of '{method}' must be an object"
    check: Callable[[JsonObject], str | None] | None
    if is_request:
        check = _REQUEST_CHECKS.get(method, _request_problem)
    else:
        check = _NOTIFICATION_CHECKS.get(method)
    if check is None:
        return None
    problem = check(params)
    return None if problem is None else f"Invalid params of '{method}': {problem}"


def sanitize_client_error(error: Any) -> JsonObject:
    """A client's error reply to one of Lean's requests, in the shape Lean decodes (an
    undecodable message is fatal to the watchdog)."""
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    message = error.get("message")
    clean: JsonObject = {
        "code": code if is_int(code, -(2**31), MAX_LSP_INT) else -32603,
        "message": message if isinstance(message, str) else "client error",
    }
    if "data" in error:
        clean["data"] = error["data"]
    return clean


def rebuilt_params(method: str, params: JsonObject) -> JsonObject | None:
    """The checked params of a notification Lean decodes strictly, rebuilt with only the fields
    it reads; None for a method whose params pass as they came (rpc keep-alives, unknown `$/`
    methods)."""
    if method == "textDocument/didSave":
        saved: JsonObject = {"textDocument": {"uri": params["textDocument"]["uri"]}}
        if isinstance(params.get("text"), str):
            saved["text"] = params["text"]
        return saved
    if method == "workspace/didChangeWatchedFiles":
        return {"changes": [{"uri": c["uri"], "type": c["type"]} for c in params["changes"]]}
    return None
