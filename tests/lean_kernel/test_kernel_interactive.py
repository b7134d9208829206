"""Interactive goals in cell outputs, on the real Lean with the product's defaults: the MIME bundle
JupyterLab's renderer reads (Lean's interactive goals next to the text and Markdown fallbacks),
and the comm ``jupyter_lean.rpc`` through which the renderer asks for a hovered subterm's type.
That Lean has no library: documents begin with `prelude`, and most tactics are unknown there,
which leaves the `by` block's goal unsolved, the case these outputs are for."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import KERNEL_TIMEOUT, JupyterDirs, KernelHarness, start_kernel

from lean_kernel.interactive import COMM_TARGET, MIME_TYPE

pytestmark = pytest.mark.timeout(180)

THEOREM = (
    "prelude\ninductive N where\n  | z : N\n  | s : N → N\n"
    "theorem t (p : N → Prop) (x : N) (h : p x) : p x := by\n  skip"
)
INFO_TO_INTERACTIVE = "Lean.Widget.InteractiveDiagnostics.infoToInteractive"


def flat(tagged: Any) -> str:
    """The text of Lean's TaggedText (``{text}``, ``{append: [...]}``, ``{tag: [info, t]}``)."""
    if "text" in tagged:
        return str(tagged["text"])
    if "append" in tagged:
        return "".join(flat(part) for part in tagged["append"])
    return flat(tagged["tag"][1])


def goal_bundles(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]


@pytest.fixture
def kernel(real_kernel: KernelHarness) -> KernelHarness:
    real_kernel.fresh_document()
    return real_kernel


class Comm:
    """The renderer's side of the comm, over the test's kernel client."""

    def __init__(self, kernel: KernelHarness, target: str = COMM_TARGET) -> None:
        self.kernel = kernel
        self.id = uuid.uuid4().hex
        self.send("comm_open", {"comm_id": self.id, "target_name": target, "data": {}})

    def send(self, msg_type: str, content: dict[str, Any]) -> str:
        msg = self.kernel.kc.session.msg(msg_type, content)
        self.kernel.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def replies(self, msg_id: str) -> list[dict[str, Any]]:
        """The comm messages the kernel sent in answer to ``msg_id``, up to its idle status."""
        seen = []
        while True:
            msg = self.kernel.next_output(msg_id, KERNEL_TIMEOUT)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return seen
            if msg["msg_type"] in ("comm_msg", "comm_close"):
                seen.append(msg)

    def call(self, **request: Any) -> dict[str, Any]:
        msg_id = self.send("comm_msg", {"comm_id": self.id, "data": {"id": 7, **request}})
        replies = self.replies(msg_id)
        assert [m["msg_type"] for m in replies] == ["comm_msg"], replies
        assert replies[0]["content"]["comm_id"] == self.id
        return replies[0]["content"]["data"]


def hover(comm: Comm, payload: dict[str, Any], info: Any, **changes: Any) -> dict[str, Any]:
    """What the renderer sends when a subterm with RPC reference ``info`` is hovered."""
    request = {
        "kernel": payload["rpc"]["kernel"],
        "session": payload["rpc"]["session"],
        "method": INFO_TO_INTERACTIVE,
        "params": info,
        "position": payload["position"],
    }
    return comm.call(**{**request, **changes})


def unsolved_goal(kernel: KernelHarness) -> dict[str, Any]:
    result = kernel.execute(THEOREM, cell_id="theorem")
    assert result.status == "error" and "unsolved goals" in result.error_text
    bundles = goal_bundles(result.outputs)
    assert len(bundles) == 1, result.outputs
    return bundles[0]


def test_goal_output_holds_leans_interactive_goals_beside_text_and_markdown(
    kernel: KernelHarness, real_dirs: JupyterDirs
) -> None:
    bundle = unsolved_goal(kernel)
    # The fallbacks nbconvert, jupyter console, papermill and GitHub show.
    assert bundle["text/plain"] == "Unsolved goals at 5:52:\np : N → Prop\nx : N\nh : p x\n⊢ p x"
    assert "```lean\np : N → Prop\nx : N\nh : p x\n⊢ p x\n```" in bundle["text/markdown"]
    payload = bundle[MIME_TYPE]
    assert payload["version"] == 1 and payload["kind"] == "goals"
    assert payload["title"] == "Unsolved goals at 5:52"
    assert payload["termGoal"] is None and payload["messages"] == []
    [goal] = payload["goals"]
    assert [(hyp["names"], flat(hyp["type"])) for hyp in goal["hyps"]] == [
        (["p"], "N → Prop"),
        (["x"], "N"),
        (["h"], "p x"),
    ]
    assert goal["goalPrefix"] == "⊢ " and flat(goal["type"]) == "p x"
    # Subterms carry Lean's RPC references: what a hover asks about.
    assert set(goal["type"]["tag"][0]["info"]) == {"p"}
    assert isinstance(payload["rpc"]["session"], str) and payload["rpc"]["kernel"]
    # No path of the server in the notebook: the kernel knows its own document.
    assert str(real_dirs.data.parent) not in json.dumps(payload)
    assert "file://" not in json.dumps(payload)


def test_hover_through_the_comm_gives_the_subterms_type(kernel: KernelHarness) -> None:
    payload = unsolved_goal(kernel)[MIME_TYPE]
    [goal] = payload["goals"]
    comm = Comm(kernel)
    whole = hover(comm, payload, goal["type"]["tag"][0]["info"])
    assert whole["id"] == 7
    assert flat(whole["result"]["type"]) == "Prop"
    assert flat(whole["result"]["exprExplicit"]) == "p x"
    # A subterm of a hypothesis: `N` in `p : N → Prop`.
    arrow = goal["hyps"][0]["type"]["tag"][1]["append"][0]
    assert flat(arrow) == "N"
    assert flat(hover(comm, payload, arrow["tag"][0]["info"])["result"]["type"]) == "Type"


def test_hover_after_more_cells_still_answers(kernel: KernelHarness) -> None:
    payload = unsolved_goal(kernel)[MIME_TYPE]
    kernel.ok("def later : N := N.z", cell_id="later")
    kernel.ok("-- a comment\n#check later", cell_id="check")
    info = payload["goals"][0]["type"]["tag"][0]["info"]
    assert flat(hover(Comm(kernel), payload, info)["result"]["type"]) == "Prop"


def test_outputs_of_another_kernel_or_lean_session_are_told_they_ended(
    kernel: KernelHarness,
) -> None:
    payload = unsolved_goal(kernel)[MIME_TYPE]
    info = payload["goals"][0]["type"]["tag"][0]["info"]
    comm = Comm(kernel)
    other_kernel = hover(comm, payload, info, kernel="0" * 32)
    assert other_kernel["error"]["ended"] is True
    old_session = hover(comm, payload, info, session="12345")
    assert old_session["error"]["ended"] is True
    # %reset empties the document: the header changes, Lean starts a new file worker, and the
    # references of the old one are gone.
    kernel.ok("%reset")
    kernel.ok("prelude\ninductive M | m", cell_id="other")
    assert hover(comm, payload, info)["error"]["ended"] is True


def test_relay_refuses_what_the_renderer_does_not_need(kernel: KernelHarness) -> None:
    payload = unsolved_goal(kernel)[MIME_TYPE]
    comm = Comm(kernel)
    refused = hover(comm, payload, {}, method="Lean.Widget.getWidgets")
    assert "not relayed" in refused["error"]["message"] and "ended" not in refused["error"]
    bad_position = hover(comm, payload, {}, position={"line": "x"})
    assert "position" in bad_position["error"]["message"]
    assert "error" in comm.call(garbage=True)


def test_comm_of_another_target_is_closed(kernel: KernelHarness) -> None:
    comm_id = uuid.uuid4().hex
    comm = Comm.__new__(Comm)
    comm.kernel = kernel
    msg_id = comm.send(
        "comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget", "data": {}}
    )
    replies = comm.replies(msg_id)
    assert [(m["msg_type"], m["content"]["comm_id"]) for m in replies] == [("comm_close", comm_id)]


def test_restarted_kernel_says_the_old_output_ended(real_dirs: JupyterDirs, tmp_path: Path) -> None:
    harness = start_kernel(real_dirs, tmp_path)
    try:
        payload = unsolved_goal(harness)[MIME_TYPE]
        harness.km.restart_kernel(now=False)
        harness.kc.wait_for_ready(timeout=KERNEL_TIMEOUT)
        reply = hover(Comm(harness), payload, payload["goals"][0]["type"]["tag"][0]["info"])
        assert reply["error"]["ended"] is True
        assert "another kernel" in reply["error"]["message"]
    finally:
        harness.shutdown()


def test_interactive_goals_can_be_turned_off(real_dirs: JupyterDirs, tmp_path: Path) -> None:
    harness = start_kernel(
        real_dirs, tmp_path, extra_arguments=["--LeanKernel.interactive_goals=False"]
    )
    try:
        bundle = unsolved_goal(harness)
        assert set(bundle) == {"text/plain", "text/markdown"}
    finally:
        harness.shutdown()
