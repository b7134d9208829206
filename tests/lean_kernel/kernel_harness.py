"""Helpers for Lean kernel tests: private Jupyter directories with a `lean4` kernel spec that runs
this checkout, and a jupyter_client harness that passes JupyterLab's cell ids."""

from __future__ import annotations

import os
import queue
import re
import select
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from support import LeanServerUnderTest

from lean_kernel.install import write_kernelspec

KERNEL_TIMEOUT = 30.0

# Tags that would be live in the page if Lean's text became markup.
LIVE_TAG = re.compile(r"</?(img|script|svg|iframe|b|code|pre)\b", re.IGNORECASE)


def rendered(markdown: str) -> str:
    """HTML as a CommonMark renderer makes it (JupyterLab uses marked; mistune reads the same
    fences, code spans and HTML blocks)."""
    mistune = pytest.importorskip("mistune")
    return str(mistune.create_markdown(escape=False)(markdown))


def live_markup(markdown: str) -> list[str]:
    """The tags Lean's text would add to the page: any outside the code blocks and spans the
    Markdown itself makes (inside them the renderer escapes the text)."""
    html = rendered(markdown)
    outside_code = re.sub(
        r"<pre><code[^>]*>.*?</code></pre>|<code>.*?</code>", "", html, flags=re.DOTALL
    )
    return LIVE_TAG.findall(outside_code)


@dataclass(frozen=True)
class JupyterDirs:
    """A private Jupyter installation: data path (with kernels/), config dir, runtime dir."""

    data: Path
    config: Path
    runtime: Path

    @property
    def kernels(self) -> Path:
        return self.data / "kernels"

    def env(self) -> dict[str, str]:
        return {
            "JUPYTER_PATH": str(self.data),
            "JUPYTER_CONFIG_DIR": str(self.config),
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "JUPYTER_PLATFORM_DIRS": "1",
        }

    def add_kernel(
        self, name: str, *, env: dict[str, str] | None = None, extra: dict[str, Any] | None = None
    ) -> Path:
        return write_kernelspec(
            self.kernels / name, executable=sys.executable, env=env, extra=extra
        )


def standin_env(lean_server: LeanServerUnderTest) -> dict[str, str]:
    return {"JUPYTER_LEAN_COMMAND": shlex.join(lean_server.argv)}


def make_dirs(root: Path) -> JupyterDirs:
    dirs = JupyterDirs(root / "data", root / "config", root / "runtime")
    for path in (dirs.kernels, dirs.config, dirs.runtime):
        path.mkdir(parents=True, exist_ok=True)
    return dirs


@dataclass
class Execution:
    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)  # IOPub messages of the cell

    @property
    def status(self) -> str:
        return str(self.reply["content"]["status"])

    @property
    def content(self) -> dict[str, Any]:
        return self.reply["content"]

    def stream(self, name: str) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.outputs
            if m["msg_type"] == "stream" and m["content"]["name"] == name
        )

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.outputs if m["msg_type"] == msg_type]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.of_type("error")

    @property
    def error_text(self) -> str:
        return "\n".join("\n".join(e["traceback"]) for e in self.errors)


class KernelHarness:
    """A running Lean kernel and a blocking client, with execute helpers that pass cell ids."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km = km
        self.kc = kc

    def send_execute(
        self,
        code: str,
        *,
        cell_id: str | None = None,
        deleted: list[str] | None = None,
        silent: bool = False,
    ) -> str:
        metadata: dict[str, Any] = {}
        if cell_id is not None:
            metadata["cellId"] = cell_id
        if deleted:
            metadata["deletedCells"] = deleted
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        msg = self.kc.session.msg("execute_request", content, metadata=metadata)
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def next_output(self, msg_id: str, timeout: float = KERNEL_TIMEOUT) -> dict[str, Any]:
        """The next IOPub message of request ``msg_id`` (status messages included)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no IOPub message for {msg_id} within {timeout} s")
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def finish(
        self, msg_id: str, timeout: float = KERNEL_TIMEOUT, seen: list[dict[str, Any]] | None = None
    ) -> Execution:
        """Collect the outputs of ``msg_id`` up to its idle status, then its reply."""
        outputs = list(seen or [])
        while True:
            msg = self.next_output(msg_id, timeout)
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    break
                continue
            if msg["msg_type"] != "execute_input":
                outputs.append(msg)
        return Execution(self.reply(msg_id, timeout), outputs)

    def reply(self, msg_id: str, timeout: float = KERNEL_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def execute(
        self,
        code: str,
        *,
        cell_id: str | None = None,
        deleted: list[str] | None = None,
        timeout: float = KERNEL_TIMEOUT,
    ) -> Execution:
        return self.finish(self.send_execute(code, cell_id=cell_id, deleted=deleted), timeout)

    def ok(self, code: str, **kwargs: Any) -> Execution:
        result = self.execute(code, **kwargs)
        assert result.status == "ok", result.error_text or result.content
        return result

    def fresh_document(self) -> None:
        """An empty Lean document, no time limit, no goal tables: a module's shared kernel made
        ready for its next test."""
        self.ok("%reset\n%timeout off\n%goals off")

    def request(self, method: str, **content: Any) -> dict[str, Any]:
        msg_id = getattr(self.kc, method)(**content)
        return self.reply(msg_id)["content"]

    def complete(self, code: str, cursor_pos: int | None = None) -> dict[str, Any]:
        return self.request("complete", code=code, cursor_pos=cursor_pos)

    def inspect(self, code: str, cursor_pos: int | None = None) -> dict[str, Any]:
        return self.request("inspect", code=code, cursor_pos=cursor_pos)

    def document(self) -> str:
        return self.ok("%document").stdout

    def lean_pid(self) -> int:
        match = re.search(r"\(pid (\d+)\)", self.ok("%env").stdout)
        assert match, "no Lean pid in %env"
        return int(match.group(1))

    def shutdown(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=False)


def start_kernel(
    dirs: JupyterDirs,
    cwd: Path,
    *,
    name: str = "lean4",
    extra_arguments: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> KernelHarness:
    km = KernelManager(
        kernel_name=name, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(dirs.kernels)])
    )
    kernel_env = {**os.environ, **dirs.env(), **(env or {})}
    kernel_env.pop("JUPYTER_LEAN_COMMAND", None)  # only what the kernel spec says
    km.start_kernel(cwd=str(cwd), env=kernel_env, extra_arguments=extra_arguments or [])
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=KERNEL_TIMEOUT)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return KernelHarness(km, kc)


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` exits within ``timeout`` seconds: a pidfd becomes readable when
    the process terminates, so this waits on the event itself, not on a polling loop."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)
