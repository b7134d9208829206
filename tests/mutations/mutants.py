"""Deliberate breakages, each expected to make one named test fail (`make mutate` runs them).

Each entry breaks one promised behaviour in a scratch copy of the checkout: ``original`` must
occur exactly once in ``path`` and is replaced by ``replacement``; ``test`` is the pytest node id
that must then fail (and pass on the unbroken copy). When the code moves on and a snippet no
longer matches, the run says so: update the entry with the code.

Keep one entry (or more) per promise a test makes that nothing else would notice breaking.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str  # what is broken, as a user would notice it
    path: str  # file to break, relative to the checkout
    original: str
    replacement: str
    test: str  # pytest node id, relative to the checkout


WS = "tests/jupyter_server_ext/test_websocket.py"
SANDBOX = "tests/jupyter_server_ext/test_sandbox.py"
REST = "tests/jupyter_server_ext/test_rest.py"
PROTOCOL = "tests/lean_kernel/test_kernel_protocol.py::TestLean4Kernel"
SESSION = "jupyter_server_ext/session/session.py"
INBOUND = "jupyter_server_ext/session/inbound.py"
FLOW = "jupyter_server_ext/session/flow.py"
BWRAP = "jupyter_server_ext/session/sandbox.py"

SHUTDOWN_ANSWERED_HERE = (
    '            self._deliver(result_response(message["id"], None))\n'
    '        # "exit": likewise ignored.\n'
)
SHUTDOWN_FORWARDED = (
    '            self._client_request(message["id"], method, params, None)\n'
    '        elif method == "exit":\n'
    '            self._write(notification("exit", {}))\n'
)

MUTANTS = [
    # -- active sessions are never culled; Lean's own reports do not count (the design) -----
    Mutant(
        "client messages do not count as activity",
        INBOUND,
        "            self.touch()\n        metrics.RelayCounts.client_to_lean",
        "            pass\n        metrics.RelayCounts.client_to_lean",
        f"{WS}::TestActivity::test_a_client_sending_requests_keeps_its_session_past_idle_timeout",
    ),
    Mutant(
        "Lean's output counts as activity",
        SESSION,
        "    def _from_lean(self, message: JsonObject, body: bytes) -> None:\n",
        "    def _from_lean(self, message: JsonObject, body: bytes) -> None:\n"
        "        self.touch()\n",
        f"{WS}::TestActivity::test_lean_reporting_alone_does_not_keep_a_session",
    ),
    Mutant(
        "the kernel culls Lean under a running cell",
        "lean_kernel/kernel.py",
        "            if not self._busy:\n                await self.lean.cull_if_idle(",
        "            if True:\n                await self.lean.cull_if_idle(",
        "tests/lean_kernel/test_kernel_faults.py"
        "::test_a_cell_running_past_idle_timeout_keeps_its_lean",
    ),
    Mutant(
        "the kernel culls real Lean under a running cell",
        "lean_kernel/kernel.py",
        "            if not self._busy:\n                await self.lean.cull_if_idle(",
        "            if True:\n                await self.lean.cull_if_idle(",
        "tests/lean_kernel/test_kernel_real.py"
        "::test_a_cell_running_past_idle_timeout_keeps_real_lean",
    ),
    # -- a client's shutdown/exit leaves the session usable ---------------------------------
    Mutant(
        "a client's shutdown and exit reach Lean (stand-in, WebSocket)",
        INBOUND,
        SHUTDOWN_ANSWERED_HERE,
        SHUTDOWN_FORWARDED,
        f"{WS}::test_client_shutdown_and_exit_leave_the_same_lean_answering",
    ),
    Mutant(
        "a client's shutdown and exit reach Lean (real Lean)",
        INBOUND,
        SHUTDOWN_ANSWERED_HERE,
        SHUTDOWN_FORWARDED,
        "tests/jupyter_server_ext/session/test_real_session.py"
        "::test_a_clients_shutdown_and_exit_leave_the_session_usable",
    ),
    # -- the sandbox's whole argument list --------------------------------------------------
    Mutant(
        "no new IPC namespace",
        BWRAP,
        '    "--unshare-net",\n    "--unshare-ipc",\n',
        '    "--unshare-net",\n',
        f"{SANDBOX}::test_sandboxed_probe_cannot_escape",
    ),
    Mutant(
        "no new UTS namespace",
        BWRAP,
        '    "--unshare-uts",\n    "--unshare-cgroup-try",\n',
        '    "--unshare-cgroup-try",\n',
        f"{SANDBOX}::test_sandboxed_probe_cannot_escape",
    ),
    Mutant(
        "no new session (terminal injection)",
        BWRAP,
        'args = ["--die-with-parent", "--new-session", *_NAMESPACES',
        'args = ["--die-with-parent", *_NAMESPACES',
        f"{SANDBOX}::test_sandboxed_probe_cannot_escape",
    ),
    Mutant(
        "Lean outlives a killed server",
        BWRAP,
        'args = ["--die-with-parent", "--new-session", *_NAMESPACES',
        'args = ["--new-session", *_NAMESPACES',
        f"{SANDBOX}::test_sandboxed_lean_dies_with_a_killed_jupyter_server",
    ),
    # -- auth, not XSRF, refuses ------------------------------------------------------------
    Mutant(
        "creating a session needs no login",
        "jupyter_server_ext/handlers.py",
        "    @web.authenticated\n    @authorized\n    async def post(self) -> None:",
        "    async def post(self) -> None:",
        f"{REST}::test_every_route_needs_a_token[POST-path3]",
    ),
    Mutant(
        "deleting a session needs no login",
        "jupyter_server_ext/handlers.py",
        "    @web.authenticated\n    @authorized\n    async def delete(self, session_id: str)",
        "    async def delete(self, session_id: str)",
        f"{REST}::test_every_route_needs_a_token[DELETE-path5]",
    ),
    # -- URI confinement at the edge --------------------------------------------------------
    Mutant(
        "a sibling folder sharing the project's name is inside",
        "jupyter_server_ext/session/uris.py",
        "if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):",
        "if real.startswith(real_root):",
        f"{WS}::test_uris_outside_the_project_are_refused_before_lean",
    ),
    Mutant(
        "URIs with a query or fragment are checked as a parser reads them",
        "jupyter_server_ext/session/uris.py",
        'if "?" in uri or "#" in uri:',
        "if False:",
        f"{WS}::test_uris_outside_the_project_are_refused_before_lean",
    ),
    # -- the example notebooks --------------------------------------------------------------
    Mutant(
        "unsolved goals are not shown",
        "lean_kernel/render.py",
        'goals = tuple(goal for goal in body.split("\\n\\n") if goal.strip())',
        "goals = ()",
        "tests/lean_kernel/test_kernel_notebooks.py"
        "::test_prelude_notebook_runs_on_real_lean[05-lean-from-nothing-with-prelude]",
    ),
    Mutant(
        "Lean's verdicts come out as kernel failures",
        "lean_kernel/render.py",
        'return ErrorContent("LeanError",',
        'return ErrorContent("KernelError",',
        "tests/lean_kernel/test_kernel_notebooks.py"
        "::test_library_notebook_runs_on_the_standin_without_a_kernel_failure[01-lean-basics]",
    ),
    # -- jupyter_kernel_test's samples ------------------------------------------------------
    Mutant(
        "history has no tail",
        "lean_kernel/history.py",
        "chosen = self._entries[-n:] if n else list(self._entries)",
        "chosen = []",
        f"{PROTOCOL}::test_history",
    ),
    Mutant(
        "a slow silent cell keeps its progress display",
        "lean_kernel/execution.py",
        'run.send("clear_output", {"wait": False})',
        'run.send("update_display_data", progress.blank())',
        f"{PROTOCOL}::test_clear_output",
    ),
    # -- interactive messages in kernel outputs (real tier) ----------------------------------
    Mutant(
        "the kernel does not tell Lean hasWidgets: messages lose their terms' information",
        "lean_kernel/connection.py",
        '"hasWidgets": self.has_widgets()',
        '"hasWidgets": False',
        "tests/lean_kernel/test_kernel_messages.py"
        "::test_hover_on_a_term_of_the_message_gives_its_type",
    ),
    Mutant(
        "traces keep Lean's (trace) placeholders once hasWidgets is on",
        "lean_kernel/messages.py",
        "        if has_trace(rich):\n",
        "        if False:\n",
        "tests/lean_kernel/test_kernel_messages.py"
        "::test_trace_text_is_what_lean_prints_without_widgets",
    ),
    Mutant(
        "collapsed trace children are not fetched",
        "lean_kernel/messages.py",
        '        answer = await self._expand(children["lazy"])',
        "        answer = None",
        "tests/lean_kernel/test_kernel_messages.py"
        "::test_trace_text_is_what_lean_prints_without_widgets",
    ),
    # -- time limits relative to the machine's pace still catch a stalled event loop --------
    Mutant(
        "the event loop blocks for 1 s when Lean stops reading",
        FLOW,
        "        self._stall_timer = None\n        waiting = ",
        "        self._stall_timer = None\n"
        '        __import__("time").sleep(1.0)\n'
        "        waiting = ",
        "tests/jupyter_server_ext/test_faults.py::TestLeanStopsReading"
        "::test_flooding_a_stuck_lean_is_bounded_and_ends_it_while_others_are_served",
    ),
]
