"""The `lean4` kernel under a real Jupyter server with this project's extension loaded, as
JupyterLab uses it: started over REST, driven over the kernel WebSocket with cell ids."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from kernel_harness import process_gone, standin_env
from support import LeanServerUnderTest

from lean_kernel.install import write_kernelspec

Fetch = Any


def request(msg_type: str, content: dict[str, Any], cell_id: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": "lab",
            "username": "teacher",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {"cellId": cell_id, "deletedCells": []},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


async def run_cell(ws: Any, code: str, cell_id: str) -> tuple[dict[str, Any], list[Any]]:
    msg = request(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        cell_id,
    )
    await ws.write_message(json.dumps(msg))
    reply, outputs, idle = None, [], False
    while reply is None or not idle:
        frame = json.loads(await asyncio.wait_for(ws.read_message(), 30))
        if frame["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        if frame["msg_type"] == "execute_reply":
            reply = frame["content"]
        elif frame["msg_type"] == "status":
            idle = frame["content"]["execution_state"] == "idle"
        elif frame["msg_type"] in ("stream", "error", "display_data"):
            outputs.append(frame["content"])
    return reply, outputs


async def test_kernel_under_jupyter_server(
    jp_fetch: Fetch, jp_ws_fetch: Fetch, jp_data_dir: Path, lean_server: LeanServerUnderTest
) -> None:
    write_kernelspec(
        Path(jp_data_dir) / "kernels" / "lean4",
        executable=sys.executable,
        env=standin_env(lean_server),
    )
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)
    assert specs["kernelspecs"]["lean4"]["spec"]["display_name"] == "Lean 4"
    assert specs["kernelspecs"]["lean4"]["resources"]["logo-64x64"]
    created = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "lean4"}))
    kernel_id = json.loads(created.body)["id"]
    ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels")
    try:
        reply, outputs = await run_cell(ws, "def v : Nat := 1", "cell-a")
        assert reply["status"] == "ok"
        reply, outputs = await run_cell(ws, "#eval v + 1", "cell-b")
        assert outputs == [{"name": "stdout", "text": "2\n"}]
        # JupyterLab sends the cell id again when the cell is re-run: replaced in place.
        reply, _ = await run_cell(ws, "def v : Nat := 10", "cell-a")
        assert reply["status"] == "ok"
        _, outputs = await run_cell(ws, "#eval v + 1", "cell-b")
        assert outputs == [{"name": "stdout", "text": "11\n"}]
        _, outputs = await run_cell(ws, "%env", "cell-c")
        pid = int(outputs[0]["text"].split("(pid ")[1].split(")")[0])
    finally:
        ws.close()
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    assert process_gone(pid, timeout=10)
