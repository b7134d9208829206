#!/usr/bin/env python3
"""A fixed LSP peer for the relay benchmark: the cheapest server that still speaks the protocol.

    python bench/echo_lsp.py

Reads LSP messages (``Content-Length`` framing) from stdin and answers on stdout:

* ``initialize``: ``{"capabilities": {}}``;
* ``shutdown``: ``null``;
* any other request: ``{"echo": <its params>}``, at once;
* notifications: ignored; ``exit`` (or the end of stdin) ends the process.

Blocking I/O, the standard library's json and one flushed write per answer, on purpose: every path
the benchmark compares ends here, so this peer's cost is the same constant in each of them.
"""

from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message, or None at the end of the input."""
    length: int | None = None
    while True:
        line = stream.readline()
        if not line:
            return None
        header = line.strip()
        if not header:
            break
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ValueError("LSP message without Content-Length")
    body = stream.read(length)
    if len(body) < length:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    stream.flush()


def answer(request: dict[str, Any]) -> Any:
    method = request["method"]
    if method == "initialize":
        return {"capabilities": {}}
    if method == "shutdown":
        return None
    return {"echo": request.get("params")}


def serve(incoming: BinaryIO, outgoing: BinaryIO) -> None:
    while (message := read_message(incoming)) is not None:
        method = message.get("method")
        if method == "exit":
            return
        if method is not None and "id" in message:
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer(message)}
            write_message(outgoing, reply)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
