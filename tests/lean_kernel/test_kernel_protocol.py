"""jupyter_kernel_test's protocol conformance tests for the `lean4` kernel, with Lean samples.

The kernel spec comes from a private JUPYTER_PATH (see conftest.py) and runs this checkout with the
Lean server under test, so `pytest -m lean` runs the same samples against a real Lean.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import SkipTest

import jupyter_kernel_test
import pytest
from jupyter_client.manager import start_new_kernel
from kernel_harness import JupyterDirs
from support import LeanServerUnderTest

# A cell that keeps Lean busy past the kernel's progress_delay (1 s) and prints nothing: its
# progress display is the cell's only output, and is taken away with clear_output.
SLOW_SILENT_CELL = {
    "standin": "def slow : Nat := 1\n-- standin: delay 2",
    "full": "#eval IO.sleep 2000",
}


@pytest.fixture(scope="class")
def _lean4_kernel(
    request: pytest.FixtureRequest,
    jupyter_dirs: JupyterDirs,
    lean_server: LeanServerUnderTest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    cls: Any = request.cls
    cls.code_clear_output = SLOW_SILENT_CELL[lean_server.kind]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in jupyter_dirs.env().items():
            patch.setenv(name, value)
        patch.delenv("JUPYTER_LEAN_COMMAND", raising=False)
        cls.km, cls.kc = start_new_kernel(
            kernel_name="lean4", cwd=str(tmp_path_factory.mktemp("protocol"))
        )
        try:
            yield
        finally:
            cls.kc.stop_channels()
            cls.km.shutdown_kernel(now=False)


@pytest.mark.usefixtures("_lean4_kernel")
class TestLean4Kernel(jupyter_kernel_test.KernelTests):
    kernel_name = "lean4"
    language_name = "lean4"
    file_extension = ".lean"

    code_hello_world = '#eval IO.println "hello, world"'
    code_stderr = "theorem uses_sorry : 1 = 1 := by\n  sorry"
    # An error whose text shows no terms: jupyter_kernel_test expects the error output alone. An
    # error that shows terms also has its interactive messages output (test_kernel_messages.py).
    code_generate_error = "#check notDefinedAnywhere"
    code_display_data = [
        {"code": "theorem shows_a_goal (n : Nat) : n = n := by\n  sorry", "mime": "text/markdown"},
    ]
    completion_samples = [
        # A name defined earlier in the same, not yet executed, code.
        {"text": "def myFavouriteNumber := 42\n#eval myFav", "matches": {"myFavouriteNumber"}},
    ]
    complete_code_samples = [
        "#eval 1 + 1",
        "def double (n : Nat) : Nat := 2 * n",
        "theorem two : 1 + 1 = 2 := by\n  decide\n",
        "/- a comment -/\n#check Nat",
        '#eval "(not a bracket"',
    ]
    incomplete_code_samples = [
        "def double (n : Nat) : Nat :=",
        "theorem t : True := by",
        "/- an open comment",
        "#eval (1 +",
        "example : ∃ n : Nat, n = 1 := ⟨1,",
    ]
    invalid_code_samples = ["#eval 1 + 1)", "#check (Nat]"]
    # The cursor at the end of a name, as after typing it.
    code_inspect_sample = "def myNumber := 42\n#check myNumber"
    # History: every executed cell's code, kept in memory (lean_kernel/history.py).
    history_samples = ["#eval 20 + 22", "#check Nat.succ"]
    code_history_pattern = "#check Nat.succ"
    supported_history_operations = ("tail", "range", "search")

    def test_history(self) -> None:
        """jupyter_kernel_test takes its history samples from code_execute_result, which this
        kernel has none of (below): the same checks, with samples of their own."""
        self.code_execute_result = [{"code": code} for code in self.history_samples]
        super().test_history()

    def test_clear_output(self) -> None:
        try:
            super().test_clear_output()
        finally:
            # The stand-in elaborates the whole document again for every cell: without this,
            # the slow cell would slow down (and add a progress display to) every later one.
            self.execute_helper("%reset")

    def test_execute_result(self) -> None:
        raise SkipTest(
            "no execute_result in Lean: a cell is Lean commands, not an expression with a value; "
            "what #eval, #check and #print report is Lean's message text, shown as stdout as "
            "Lean's command line prints it (test_execute_stdout)"
        )

    def test_pager(self) -> None:
        raise SkipTest(
            "no pager payloads: Lean has no help command whose text would be paged; a name's "
            "documentation is shown by inspection (Shift+Tab, test_inspect) and hover"
        )

    @classmethod
    def setUpClass(cls) -> None:
        """The `_lean4_kernel` fixture starts the kernel (it needs pytest's fixtures)."""

    @classmethod
    def tearDownClass(cls) -> None:
        """Shut down by the fixture."""
