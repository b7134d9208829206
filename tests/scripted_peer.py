#!/usr/bin/env python3
"""A tiny stdio LSP peer for session-layer tests (not a Lean stand-in: see lean_standin.py).

- ``initialize`` -> ``{"capabilities": {}, "serverInfo": {"name": "peer"}, "pid": <its pid>}``
- request ``test/echo`` -> ``{"echo": params}`` at once
- request ``test/hold`` -> answered with ``{"held": params}`` only after notification
  ``test/release``
- notification ``test/ask`` -> the peer sends the request ``workspace/semanticTokens/refresh``
  (numeric id) to its client; with params ``{"chain": true}`` it sends one more such request as
  soon as the first one is answered
- request ``test/answers`` -> the replies the peer got to its own requests, in order
- request ``test/received`` -> every method it received, in order
- request ``test/stop-reading`` -> ``{}``, then the peer never reads its input again (a stuck
  Lean)
- ``shutdown`` -> null; ``exit`` or EOF -> exit 0
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

stdin = sys.stdin.buffer
stdout = sys.stdout.buffer


def read() -> dict[str, Any] | None:
    length = 0
    while True:
        line = stdin.readline()
        if not line:
            return None
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(stdin.read(length))


def send(message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}, sort_keys=True).encode()
    stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stdout.flush()


def main() -> None:
    held: list[dict[str, Any]] = []
    answers: list[Any] = []
    received: list[str] = []
    next_id = 0
    chained = False
    while (message := read()) is not None:
        method = message.get("method")
        received.append(method or f"response:{message.get('id')}")
        if method is None:
            answers.append(message.get("result", message.get("error")))
            if chained:
                chained = False
                send({"id": next_id, "method": "workspace/semanticTokens/refresh"})
                next_id += 1
        elif method == "initialize":
            send(
                {
                    "id": message["id"],
                    "result": {
                        "capabilities": {},
                        "serverInfo": {"name": "peer"},
                        "pid": os.getpid(),
                    },
                }
            )
        elif method == "test/echo":
            send({"id": message["id"], "result": {"echo": message.get("params")}})
        elif method == "test/hold":
            held.append(message)
        elif method == "test/release":
            for request in held:
                send({"id": request["id"], "result": {"held": request.get("params")}})
            held.clear()
        elif method == "test/ask":
            chained = bool((message.get("params") or {}).get("chain"))
            send({"id": next_id, "method": "workspace/semanticTokens/refresh"})
            next_id += 1
        elif method == "test/answers":
            send({"id": message["id"], "result": answers})
        elif method == "test/received":
            send({"id": message["id"], "result": received})
        elif method == "test/stop-reading":
            send({"id": message["id"], "result": {}})
            time.sleep(3600)
        elif method == "shutdown":
            send({"id": message["id"], "result": None})
        elif method == "exit":
            return


if __name__ == "__main__":
    main()
