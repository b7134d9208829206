"""The Lean toolchain behind a `lean` or `lake` command, resolved outside any sandbox.

Most users reach Lean through elan: `lean` and `lake` on PATH are elan's proxies, which pick a
toolchain from the project's ``lean-toolchain`` file or elan's default, found through
``$ELAN_HOME`` (``~/.elan``) and its settings. None of that exists inside the sandbox (another HOME,
no ELAN_HOME, toolchains that are symbolic links to folders elsewhere), so the proxy is asked once,
outside: ``lean --print-prefix`` run in the project names the toolchain's real folder, and the
session runs that toolchain's own binaries, with that folder bound read-only into the sandbox.

Which command-line flags a Lean accepts depends on its version (``-M`` breaks Lean 4.22, an unknown
``-D`` option is an error in every file), so the flags the product adds are tried once per
toolchain with ``lean --stdin`` on a one-line document, and only the accepted ones are used.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .command import LeanCommand, find_tool
from .errors import LeanUnavailable
from .process import add_lean_flags
from .projects import unreachable_by_others

RESOLVE_TIMEOUT_S = 60.0
# A resolution is reused this long: elan's default or a project's lean-toolchain may change
# while the server runs, and asking costs a process start.
CACHE_SECONDS = 30.0
_VERSION = re.compile(r"version (\d+)\.(\d+)\.(\d+)")


class ToolchainProblem(Exception):
    """The command's toolchain could not be resolved; the message carries Lean's (or elan's)
    own words."""


@dataclass(frozen=True)
class Toolchain:
    prefix: str  # the real path of the toolchain folder (bin/, lib/lean/, ...)
    version: str  # first line of `lean --version`

    def tool(self, name: str) -> str:
        return os.path.join(self.prefix, "bin", name)

    @property
    def numbers(self) -> tuple[int, int, int] | None:
        found = _VERSION.search(self.version)
        return (int(found[1]), int(found[2]), int(found[3])) if found else None


_resolved: dict[tuple[str, str, str], tuple[float, Toolchain]] = {}
_accepted_flags: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}


async def _run(argv: Sequence[str], cwd: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ToolchainProblem(f"{argv[0]} could not be run: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), RESOLVE_TIMEOUT_S)
    except (asyncio.TimeoutError, TimeoutError) as exc:
        proc.kill()
        await proc.wait()
        raise ToolchainProblem(
            f"`{' '.join(argv)}` did not answer within {RESOLVE_TIMEOUT_S:g} s"
        ) from exc
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _toolchain_file(project_dir: str) -> str:
    try:
        with open(os.path.join(project_dir, "lean-toolchain"), encoding="utf-8") as pinned:
            return pinned.read().strip()
    except OSError:
        return ""


async def resolve(lean: str, project_dir: str) -> Toolchain:
    """The toolchain that ``lean`` (a proxy or a real binary) runs for ``project_dir``."""
    key = (lean, project_dir, _toolchain_file(project_dir))
    cached = _resolved.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    code, out, err = await _run([lean, "--print-prefix"], project_dir)
    prefix = out.strip().splitlines()[-1] if out.strip() else ""
    if code != 0 or not prefix:
        said = (err or out).strip() or f"exit code {code}"
        raise ToolchainProblem(f"`{lean} --print-prefix` failed in {project_dir}: {said}")
    prefix = os.path.realpath(prefix)
    real_lean = os.path.join(prefix, "bin", "lean")
    code, out, err = await _run([real_lean, "--version"], project_dir)
    if code != 0:
        raise ToolchainProblem(f"`{real_lean} --version` failed: {(err or out).strip()}")
    toolchain = Toolchain(prefix, out.strip().splitlines()[0] if out.strip() else "")
    _resolved[key] = (time.monotonic(), toolchain)
    return toolchain


def _known_breakage(toolchain: Toolchain, flag: str) -> bool:
    # lean4 issue 9879: Lean 4.22 fails to start its server when given -M or -T.
    numbers = toolchain.numbers
    return numbers is not None and numbers[:2] == (4, 22) and flag.startswith(("-M", "-T"))


async def _accepts(toolchain: Toolchain, flags: Sequence[str]) -> bool:
    code, _, _ = await _run([toolchain.tool("lean"), "--stdin", *flags], "/", stdin=b"prelude\n")
    return code == 0


async def accepted_flags(toolchain: Toolchain, flags: Sequence[str]) -> tuple[str, ...]:
    """The subset of ``flags`` this toolchain's Lean accepts (asked once per toolchain)."""
    key = (toolchain.prefix, tuple(flags))
    if key not in _accepted_flags:
        candidates = [flag for flag in flags if not _known_breakage(toolchain, flag)]
        if not candidates or await _accepts(toolchain, candidates):
            accepted = tuple(candidates)
        else:
            accepted = tuple([flag for flag in candidates if await _accepts(toolchain, [flag])])
        _accepted_flags[key] = accepted
    return _accepted_flags[key]


async def launch_command(
    command: LeanCommand, wanted_flags: list[str], run_as_uid: int | None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start ``command``.

    `lean` and `lake` (found, or configured by that name) run as their toolchain's own
    binaries, resolved here, outside any sandbox (toolchain.py), with the flags of
    ``wanted_flags`` that this Lean accepts. Other commands (wrappers, test stand-ins) run as
    they are."""
    env = dict(os.environ)
    program = os.path.basename(command.argv[0])
    if program not in ("lean", "lake"):
        return list(command.argv), env
    sibling = os.path.join(os.path.dirname(command.argv[0]), "lean")
    lean = (
        sibling
        if os.sep in command.argv[0] and os.path.isfile(sibling)
        else (find_tool("lean") or "lean")
    )
    try:
        found = await resolve(lean, command.cwd)
        flags = await accepted_flags(found, wanted_flags)
    except ToolchainProblem as exc:
        raise LeanUnavailable(f"Lean's toolchain could not be found: {exc}") from exc
    real = found.tool(program)
    if not os.path.isfile(real):
        raise LeanUnavailable(f"the Lean toolchain at {found.prefix} has no `{program}`")
    uid = run_as_uid
    if uid is not None:
        for what, path in (("toolchain", real), ("project", command.cwd)):
            blocked = unreachable_by_others(path)
            if blocked is not None:
                raise LeanUnavailable(
                    f"Lean runs as uid {uid} (the server runs as root and process_limit is "
                    f"set, or lean_uid), and that user cannot reach the {what} {path}: "
                    f"{blocked} is not open to other users. Make it readable (chmod o+rx), "
                    "install the toolchain outside /root (e.g. ELAN_HOME=/opt/elan), or set "
                    "c.LeanSessionManager.lean_uid to a user who can read it."
                )
    # Whatever runs `lean` or `lake` by name inside (Lake, #eval) gets this toolchain too.
    env["PATH"] = os.pathsep.join([os.path.dirname(real), env.get("PATH", "")])
    return add_lean_flags([real, *command.argv[1:]], list(flags)), env
