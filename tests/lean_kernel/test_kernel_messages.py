"""Interactive messages in cell outputs, on the real Lean with the product's defaults.

The kernel tells Lean ``hasWidgets``, so Lean's messages carry their expressions' information: an
error that shows terms gets a messages output (Lean's interactive message beside text and
Markdown) whose terms JupyterLab's renderer can ask about through the comm. The same setting makes
Lean write traces as ``(trace)`` in its plain diagnostics, so the text of a cell with traces must
still be what a Lean without it prints: that is held against a kernel with interactive outputs
turned off, in the same run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import JupyterDirs, KernelHarness, start_kernel
from test_kernel_interactive import Comm, flat, hover

from lean_kernel.interactive import MIME_TYPE

pytestmark = pytest.mark.timeout(180)

HEADER = "prelude\ninductive N | z | s (n : N)"
TYPE_ERROR = "def bad : N := N"
# Lean's isDefEq traces, one of them with collapsed children (fetched through RPC).
TRACES = (
    "set_option trace.Meta.isDefEq true in\ndef x : N := N.z\n"
    "set_option trace.Meta.isDefEq true in\ndef y : N → N := fun k => N.s (N.s k)"
)


@pytest.fixture
def kernel(real_kernel: KernelHarness) -> KernelHarness:
    real_kernel.fresh_document()
    real_kernel.ok(HEADER, cell_id="header")
    return real_kernel


@pytest.fixture(scope="module")
def plain_kernel(
    real_dirs: JupyterDirs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """A kernel with interactive outputs off: its Lean is not told hasWidgets."""
    harness = start_kernel(
        real_dirs,
        tmp_path_factory.mktemp("plain"),
        extra_arguments=["--LeanKernel.interactive_goals=False"],
    )
    harness.ok(HEADER, cell_id="header")
    yield harness
    harness.shutdown()


def messages_bundles(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]
        for m in outputs
        if m["msg_type"] == "display_data"
        and m["content"]["data"].get(MIME_TYPE, {}).get("kind") == "messages"
    ]


def first_expression(message: Any) -> Any:
    """The first subterm with information in an InteractiveMessage (what a pointer would hover)."""
    if isinstance(message, dict):
        tag = message.get("tag")
        if isinstance(tag, list) and isinstance(tag[0].get("info"), dict):
            return message
        for value in message.values():
            found = first_expression(value)
            if found is not None:
                return found
    if isinstance(message, list):
        for item in message:
            found = first_expression(item)
            if found is not None:
                return found
    return None


def message_text(message: Any) -> str:
    """The text of an InteractiveMessage whose embeds are expressions."""
    if "tag" in message and "expr" in message["tag"][0]:
        return flat(message["tag"][0]["expr"])
    if "append" in message:
        return "".join(message_text(part) for part in message["append"])
    return flat(message)


def test_type_error_gets_an_interactive_messages_output(kernel: KernelHarness) -> None:
    result = kernel.execute(TYPE_ERROR, cell_id="bad")
    assert result.status == "error" and "Type mismatch" in result.error_text
    [bundle] = messages_bundles(result.outputs)
    payload = bundle[MIME_TYPE]
    [entry] = payload["messages"]
    assert entry["severity"] == 1 and entry["where"] == "1:15"
    # The interactive message says what the error output says.
    text = message_text(entry["message"])
    assert text.startswith("Type mismatch\n  N\nhas type\n  Type")
    assert text in result.error_text
    # Fallbacks for nbconvert, jupyter console, papermill and GitHub.
    assert bundle["text/plain"].startswith("1:15: error: Type mismatch\n  N\nhas type")
    assert "```" in bundle["text/markdown"] and "Type mismatch" in bundle["text/markdown"]
    assert isinstance(payload["rpc"]["session"], str) and payload["rpc"]["kernel"]
    # The error output stays: the cell failed, Run All stops there.
    assert [m["msg_type"] for m in result.outputs if m["msg_type"] == "error"] == ["error"]


def test_hover_on_a_term_of_the_message_gives_its_type(kernel: KernelHarness) -> None:
    result = kernel.execute(TYPE_ERROR, cell_id="bad")
    payload = messages_bundles(result.outputs)[0][MIME_TYPE]
    term = first_expression(payload["messages"][0]["message"])
    assert flat(term["tag"][1]) == "N"
    answer = hover(Comm(kernel), payload, term["tag"][0]["info"])
    assert flat(answer["result"]["exprExplicit"]) == "N"
    assert flat(answer["result"]["type"]) == "Type"


def test_errors_without_terms_and_other_messages_stay_text_only(kernel: KernelHarness) -> None:
    checked = kernel.ok("#check N", cell_id="check")
    assert checked.stdout == "N : Type\n" and messages_bundles(checked.outputs) == []
    unknown = kernel.execute("#check nothing_here", cell_id="unknown")
    assert unknown.status == "error" and "nothing_here" in unknown.error_text
    assert messages_bundles(unknown.outputs) == []


def test_trace_text_is_what_lean_prints_without_widgets(
    kernel: KernelHarness, plain_kernel: KernelHarness
) -> None:
    interactive = kernel.ok(TRACES, cell_id="traces")
    plain = plain_kernel.ok(TRACES, cell_id="traces")
    assert "[Meta.isDefEq] ✅️ N =?= N" in plain.stdout
    # A trace with collapsed children, written out: its children two spaces in.
    assert "\n  [Meta.isDefEq] ?m.1 [assignable] =?= N [nonassignable]\n" in plain.stdout
    assert interactive.stdout == plain.stdout
    assert "(trace)" not in interactive.stdout


def test_no_messages_output_with_interactive_outputs_off(plain_kernel: KernelHarness) -> None:
    result = plain_kernel.execute(TYPE_ERROR, cell_id="bad")
    assert result.status == "error" and "Type mismatch" in result.error_text
    assert [m for m in result.outputs if m["msg_type"] == "display_data"] == []


def test_messages_output_of_a_restarted_kernel_is_told_it_ended(
    real_dirs: JupyterDirs, tmp_path: Path
) -> None:
    harness = start_kernel(real_dirs, tmp_path)
    try:
        harness.ok(HEADER, cell_id="header")
        payload = messages_bundles(harness.execute(TYPE_ERROR, cell_id="bad").outputs)[0][MIME_TYPE]
        term = first_expression(payload["messages"][0]["message"])
        harness.km.restart_kernel(now=False)
        harness.kc.wait_for_ready(timeout=60)
        assert hover(Comm(harness), payload, term["tag"][0]["info"])["error"]["ended"] is True
    finally:
        harness.shutdown()
