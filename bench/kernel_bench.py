#!/usr/bin/env python3
"""Lean kernel benchmark: what the kernel adds to each cell, and what a re-run sends to Lean.

    python bench/kernel_bench.py [--samples N] [--cells N] [--delay-ms MS] [--json FILE]

With tests/lean_standin.py as the Lean server (report delay ``--delay-ms``, default 0):

1. Lean's own time per cell: the session layer alone, in this process, sends each cell as the
   kernel does (a didChange that appends it) and waits on ``textDocument/waitForDiagnostics``.
2. The kernel's time per cell: execute_request to execute_reply through jupyter_client, for the
   same cells in the same order; the kernel's overhead is the difference of the medians. An empty
   cell (nothing sent to Lean) shows the floor of Jupyter's own messaging.
3. A notebook of ``--cells`` cells (and one a tenth of its size) is run top to bottom, then its
   last cell is changed and run again; a proxy between the session and the stand-in counts the
   bytes written to Lean's stdin, which must not depend on the notebook's size.

Prints Markdown tables; ``--check`` exits 1 when the overhead p50 is not under 10 ms or the
re-run bytes grow with the notebook (beyond the digits of line and version numbers).

    python bench/kernel_bench.py --real [--samples N]

With the real Lean found as a user's is, and the product's default settings: execute_request
to execute_reply for ``prelude`` cells (`#check` of a constructor), once with the kernel's
default report delay (0 ms) and once with Lean's own (``report_delay_ms = -1``, 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _util import REPO, markdown_table, percentile_ms  # bench/_util.py, beside this file

STANDIN = REPO / "tests" / "lean_standin.py"
sys.path.insert(0, str(REPO))

OVERHEAD_TARGET_MS = 10.0


def standin_argv(delay_ms: int) -> list[str]:
    return [sys.executable, str(STANDIN), f"-Dserver.reportDelayMs={delay_ms}"]


def count_stdin_proxy(log_path: str, argv: list[str]) -> int:
    """Run ``argv`` with our stdin copied to it, appending each chunk's size to ``log_path``."""
    child = subprocess.Popen(argv, stdin=subprocess.PIPE)
    assert child.stdin is not None
    with open(log_path, "a", buffering=1) as log:
        while chunk := os.read(0, 1 << 16):
            log.write(f"{len(chunk)}\n")
            child.stdin.write(chunk)
            child.stdin.flush()
    child.stdin.close()
    return child.wait()


def bytes_logged(log_path: Path) -> int:
    return sum(int(line) for line in log_path.read_text().split()) if log_path.exists() else 0


# -- 1. Lean's own time, through the session layer --------------------------------------------


async def lean_alone(cells: list[str], delay_ms: int, workdir: Path) -> list[float]:
    from jupyter_server_ext.session import InProcessClient, LeanSessionManager

    manager = LeanSessionManager(
        lean_command=standin_argv(delay_ms),
        root_dir=str(workdir),
        workspace_root=str(workdir / "workspaces"),
        idle_timeout=0,
    )
    try:
        session = await manager.create("bench")
        client = InProcessClient(session)
        await client.request("initialize", {"processId": os.getpid(), "capabilities": {}})
        client.notify("initialized", {})
        uri = (workdir / ".jupyter-lean" / "bench.lean").as_uri()
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": ""}},
        )
        await client.request("textDocument/waitForDiagnostics", {"uri": uri, "version": 1})
        samples = []
        for index, cell in enumerate(cells):
            version = index + 2
            started = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [
                        {
                            "range": {
                                "start": {"line": index, "character": 0},
                                "end": {"line": index, "character": 0},
                            },
                            "text": cell + "\n",
                        }
                    ],
                },
            )
            await client.request(
                "textDocument/waitForDiagnostics", {"uri": uri, "version": version}
            )
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        await manager.shutdown()


# -- 2. and 3. the kernel, through jupyter_client ---------------------------------------------


@contextmanager
def kernel(workdir: Path, env: dict[str, str], arguments: Sequence[str] = ()) -> Iterator[Any]:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    from lean_kernel.install import write_kernelspec

    kernels = workdir / "kernels"
    write_kernelspec(kernels / "lean4-bench", executable=sys.executable, env=env)
    manager = KernelManager(
        kernel_name="lean4-bench", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    kernel_env = {key: value for key, value in os.environ.items() if key != "JUPYTER_LEAN_COMMAND"}
    kernel_env["JUPYTER_CONFIG_DIR"] = str(workdir / "config")
    manager.start_kernel(cwd=str(workdir), env=kernel_env, extra_arguments=list(arguments))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)


def execute(
    client: Any, code: str, cell_id: str | None = None, status: str = "ok"
) -> tuple[float, dict[str, Any]]:
    """Milliseconds from sending execute_request to receiving its execute_reply (whose status
    must be ``status``)."""
    metadata = {"cellId": cell_id} if cell_id else {}
    msg = client.session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        },
        metadata=metadata,
    )
    started = time.perf_counter()
    client.shell_channel.send(msg)
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            elapsed = (time.perf_counter() - started) * 1000
            break
    # Drain this cell's IOPub messages so they do not pile up.
    while True:
        out = client.get_iopub_msg(timeout=60)
        if (
            out["parent_header"].get("msg_id") == msg["header"]["msg_id"]
            and out["msg_type"] == "status"
            and out["content"]["execution_state"] == "idle"
        ):
            break
    if reply["content"]["status"] != status:
        raise RuntimeError(f"cell {code!r}: {status} expected, got {reply['content']}")
    return elapsed, reply


def kernel_cells(
    cells: list[str], samples: int, delay_ms: int, workdir: Path
) -> tuple[list[float], list[float]]:
    env = {"JUPYTER_LEAN_COMMAND": shlex.join(standin_argv(delay_ms))}
    with kernel(workdir, env) as client:
        execute(client, "#eval 0", "warm-up")
        empty = [execute(client, "", "empty")[0] for _ in range(samples)]
        timed = [execute(client, cell, f"cell-{index}")[0] for index, cell in enumerate(cells)]
    return timed, empty


def notebook_run(size: int, delay_ms: int, workdir: Path) -> dict[str, Any]:
    """Run a notebook of ``size`` cells, then re-run its changed last cell; count Lean's bytes."""
    log = workdir / f"stdin-{size}.log"
    proxy = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--count-stdin",
        str(log),
        "--",
        *standin_argv(delay_ms),
    ]
    # No sandbox here: the proxy writes its log outside any sandbox (bytes do not depend on it).
    with kernel(
        workdir, {"JUPYTER_LEAN_COMMAND": shlex.join(proxy)}, ["--LeanSessionManager.sandbox=none"]
    ) as client:
        started = time.perf_counter()
        for index in range(size):
            code = (
                f"def value{index} : Nat := {index}"
                if index % 2 == 0
                else f"#eval value{index - 1} + {index}"
            )
            execute(client, code, f"cell-{index}")
        total = time.perf_counter() - started
        before = bytes_logged(log)
        rerun_ms, _ = execute(client, f"#eval value{size - 2} * 2", f"cell-{size - 1}")
        rerun_bytes = bytes_logged(log) - before
    return {
        "cells": size,
        "run_s": total,
        "per_cell_ms": total * 1000 / size,
        "rerun_ms": rerun_ms,
        "rerun_bytes": rerun_bytes,
    }


REAL_PRELUDE = "prelude\ninductive N | z | s (n : N)"


def real_cells(samples: int, report_delay_ms: int | None, workdir: Path) -> list[float]:
    """Per-cell milliseconds on the real Lean; ``report_delay_ms`` None: the kernel's default."""
    config = workdir / "config"
    config.mkdir(exist_ok=True)
    settings = (
        f"c.LeanSessionManager.report_delay_ms = {report_delay_ms}\n"
        if report_delay_ms is not None
        else ""
    )
    (config / "jupyter_server_config.py").write_text(settings)
    with kernel(workdir, {}) as client:
        execute(client, REAL_PRELUDE, "prelude")
        return [execute(client, "#check N.s", f"cell-{index}")[0] for index in range(samples)]


def real_main(samples: int, json_path: str | None) -> int:
    results: dict[str, list[float]] = {}
    for label, delay in (("kernel default (0 ms)", None), ("Lean's default (200 ms)", -1)):
        with tempfile.TemporaryDirectory(prefix="kernel-bench-real-") as tmp:
            print(f"measuring the real Lean, report delay {label}...", file=sys.stderr)
            results[label] = real_cells(samples, delay, Path(tmp))
    print(f"## Real Lean, default settings: {samples} cells `#check N.s` after a prelude cell\n")
    print(
        markdown_table(
            ["server.reportDelayMs", "p50 ms", "p99 ms"],
            [
                [label, *(f"{value:.2f}" for value in percentile_ms(samples_ms))]
                for label, samples_ms in results.items()
            ],
        )
    )
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--count-stdin"]:
        return count_stdin_proxy(args[1], args[3:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="cells per latency sample set")
    parser.add_argument("--cells", type=int, default=200, help="cells of the big notebook")
    parser.add_argument("--delay-ms", type=int, default=0, help="the stand-in's report delay")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--real",
        action="store_true",
        help="per-cell latency on the real Lean, report delay 0 vs Lean's 200 ms",
    )
    options = parser.parse_args(args)
    if options.real:
        return real_main(options.samples, options.json)
    cells = [f"#eval {index} + 1" for index in range(options.samples)]
    with tempfile.TemporaryDirectory(prefix="kernel-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "config").mkdir()
        print("measuring Lean alone (session layer)...", file=sys.stderr)
        lean = asyncio.run(lean_alone(cells, options.delay_ms, workdir))
        print("measuring the kernel...", file=sys.stderr)
        timed, empty = kernel_cells(cells, options.samples, options.delay_ms, workdir)
        print("running notebooks...", file=sys.stderr)
        notebooks = [
            notebook_run(size, options.delay_ms, workdir)
            for size in (max(4, options.cells // 10), options.cells)
        ]
    lean_p50, lean_p99 = percentile_ms(lean)
    cell_p50, cell_p99 = percentile_ms(timed)
    empty_p50, empty_p99 = percentile_ms(empty)
    overhead = cell_p50 - lean_p50
    results = {
        "lean_ms": lean,
        "cell_ms": timed,
        "empty_ms": empty,
        "notebooks": notebooks,
        "overhead_p50_ms": overhead,
        "delay_ms": options.delay_ms,
    }
    print(
        f"## Kernel overhead per cell ({options.samples} cells `#eval i + 1`, stand-in report "
        f"delay {options.delay_ms} ms)\n"
    )
    print(
        markdown_table(
            ["what", "p50 ms", "p99 ms"],
            [
                [
                    "Lean alone: didChange + waitForDiagnostics (session layer)",
                    f"{lean_p50:.2f}",
                    f"{lean_p99:.2f}",
                ],
                ["kernel: execute_request -> execute_reply", f"{cell_p50:.2f}", f"{cell_p99:.2f}"],
                [
                    "kernel, empty cell (Jupyter messaging only)",
                    f"{empty_p50:.2f}",
                    f"{empty_p99:.2f}",
                ],
                ["**kernel overhead** (difference of the p50s)", f"**{overhead:.2f}**", ""],
            ],
        )
    )
    print("\n## Notebooks run top to bottom, then the last cell changed and re-run\n")
    header = ["cells", "run s", "per cell ms", "re-run ms", "bytes to Lean for the re-run"]
    print(
        markdown_table(
            header,
            [
                [
                    n["cells"],
                    f"{n['run_s']:.2f}",
                    f"{n['per_cell_ms']:.2f}",
                    f"{n['rerun_ms']:.2f}",
                    n["rerun_bytes"],
                ]
                for n in notebooks
            ],
        )
    )
    small, big = notebooks
    growth = big["rerun_bytes"] - small["rerun_bytes"]
    overhead_ok = overhead < OVERHEAD_TARGET_MS
    bytes_ok = growth <= 8  # digits of line numbers and versions only
    print(
        f"\n- overhead p50 {overhead:.2f} ms < {OVERHEAD_TARGET_MS:g} ms: "
        f"{'PASS' if overhead_ok else 'FAIL'}"
    )
    print(
        f"- re-run bytes {small['rerun_bytes']} ({small['cells']} cells) vs {big['rerun_bytes']} "
        f"({big['cells']} cells): {'PASS' if bytes_ok else 'FAIL'} (only the digits of line "
        "and version numbers may differ)"
    )
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1))
    return 1 if options.check and not (overhead_ok and bytes_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
