"""`make mutate`: break the code one behaviour at a time and check that the named test notices.

For each entry of ``mutants.py``: in a scratch copy of the checkout (the working tree's files that
git tracks or would track, not .venv or node_modules), run its test on the unbroken code (it must
pass), apply the breakage, run the test again (it must fail), and put the code back. Prints a
table; exits 1 if any breakage went unnoticed, a test failed on the unbroken code, or a snippet no
longer matches the code.

The copy is imported instead of the checkout (PYTHONPATH first, ahead of the editable install),
by the tests and by the kernels and servers they start, with this interpreter's environment.

    python tests/mutations/run.py            # every entry
    python tests/mutations/run.py -k exit    # entries whose name or test contains "exit"
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from mutants import MUTANTS, Mutant

CHECKOUT = Path(__file__).resolve().parents[2]
TEST_TIMEOUT_S = 600
ANSI = re.compile(r"(\x1b|#x1B)\[[0-9;]*m")  # colours in Lean's error texts


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # caught, MISSED, BROKEN (fails unbroken), STALE (snippet not found)
    detail: str = ""
    seconds: float = 0.0


def copy_checkout(target: Path) -> None:
    """The working tree's files as git sees them (tracked or untracked, not ignored)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=CHECKOUT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = CHECKOUT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, destination)


def scratch_env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def check_imports_the_copy(copy: Path, env: dict[str, str]) -> None:
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import jupyter_server_ext, lean_kernel; "
            "print(jupyter_server_ext.__file__); print(lean_kernel.__file__)",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    outside = [path for path in found if not Path(path).resolve().is_relative_to(copy.resolve())]
    if outside:
        raise SystemExit(f"the scratch copy is not what gets imported: {outside}")


def run_test(copy: Path, env: dict[str, str], node: str) -> tuple[str, str]:
    """("passed" | "failed" | "not run", a line of detail) for one pytest node id."""
    report = copy / ".mutate-report.xml"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        node,
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
    ]
    process = subprocess.Popen(
        command,
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "failed", f"timed out after {TEST_TIMEOUT_S} s"
    if not report.exists():
        return "not run", output.strip().splitlines()[-1:][0] if output.strip() else "no output"
    cases = ElementTree.parse(report).getroot().iter("testcase")
    results = []
    for case in cases:
        problems = [child for child in case if child.tag in ("failure", "error")]
        skipped = [child for child in case if child.tag == "skipped"]
        if problems:
            message = ANSI.sub("", problems[0].get("message") or problems[0].tag)
            results.append(("failed", message.splitlines()[0][:90] if message else ""))
        elif skipped:
            results.append(("not run", "skipped: " + (skipped[0].get("message") or "")[:80]))
        else:
            results.append(("passed", ""))
    if not results:
        return "not run", "no test collected"
    failed = [result for result in results if result[0] == "failed"]
    if failed:
        return failed[0]
    return next((r for r in results if r[0] == "not run"), results[0])


def try_mutant(copy: Path, env: dict[str, str], mutant: Mutant) -> Outcome:
    started = time.monotonic()
    target = copy / mutant.path
    text = target.read_text()
    count = text.count(mutant.original)
    if count != 1:
        return Outcome(mutant, "STALE", f"snippet found {count} times in {mutant.path}")
    state, detail = run_test(copy, env, mutant.test)
    if state != "passed":
        return Outcome(
            mutant, "BROKEN", f"unbroken code: {state} ({detail})", time.monotonic() - started
        )
    target.write_text(text.replace(mutant.original, mutant.replacement))
    try:
        state, detail = run_test(copy, env, mutant.test)
    finally:
        target.write_text(text)
    verdict = {"failed": "caught", "passed": "MISSED"}.get(state, "BROKEN")
    return Outcome(mutant, verdict, detail, time.monotonic() - started)


def print_table(outcomes: list[Outcome]) -> None:
    rows = [("verdict", "s", "breakage", "test", "how it failed")]
    for outcome in outcomes:
        test = outcome.mutant.test.rsplit("::", 1)[-1]
        rows.append(
            (outcome.verdict, f"{outcome.seconds:.0f}", outcome.mutant.name, test, outcome.detail)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[4]
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only entries whose name or test contains this")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy")
    options = parser.parse_args()
    chosen = [m for m in MUTANTS if options.k in m.name or options.k in m.test]
    if not chosen:
        parser.error(f"no entry's name or test contains {options.k!r}")
    copy = Path(tempfile.mkdtemp(prefix="jupyter-lean-mutate-"))
    outcomes = []
    try:
        copy_checkout(copy)
        env = scratch_env(copy)
        check_imports_the_copy(copy, env)
        for index, mutant in enumerate(chosen, 1):
            outcome = try_mutant(copy, env, mutant)
            print(
                f"[{index}/{len(chosen)}] {outcome.verdict}: {mutant.name} "
                f"({outcome.seconds:.0f} s)",
                flush=True,
            )
            outcomes.append(outcome)
    finally:
        if options.keep:
            print(f"scratch copy kept in {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)
    print()
    print_table(outcomes)
    bad = [o for o in outcomes if o.verdict != "caught"]
    print(f"\n{len(outcomes) - len(bad)} of {len(outcomes)} breakages caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
