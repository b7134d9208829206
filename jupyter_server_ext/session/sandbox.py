"""Wrapping a Lean server command in bubblewrap, and finding out whether bubblewrap works here.

What the sandbox gives each Lean server (README "Security"):

- the system (/usr and a few files of /etc), the toolchain and the project read-only; one writable
  workspace per session (also its HOME); a private /tmp (a tmpfs, capped in size when the file
  size limit is set); a fresh /dev and a /proc of its own pid namespace;
- new user, pid, network, ipc, uts (and cgroup, where possible) namespaces: no network at all, no
  other process visible;
- no capabilities. bwrap started by root keeps every capability inside the new user namespace
  unless told otherwise, and with CAP_SYS_ADMIN there the sandboxed code can remount the read-only
  project writable: ``--cap-drop ALL`` closes that. Nested user namespaces are refused too
  (``--disable-userns``, bwrap >= 0.8), which keeps the kernel's user-namespace code out of reach;
- a cleared environment (only Lean/Lake/elan variables, locale, PATH, HOME and TMPDIR), its own
  session (no TIOCSTI into a terminal), and death with its parent.

The sandbox fails closed: when ``sandbox = "bwrap"`` is asked for and bwrap cannot run, starting a
session is an error. ``"auto"`` uses bwrap when a trial run succeeds and says so in /lean/health.
The trial runs as the user the Lean servers will run as (see ``run_as_uid`` in process.py) and is
remembered per bwrap executable and user, so a changed PATH is noticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .projects import masked_places, unbindable_reason

SANDBOX_MODES = ("auto", "bwrap", "none")

# Variables a Lean server may need; everything else is cleared inside the sandbox.
_PASSED_ENV_PREFIXES = ("LEAN_", "LAKE_", "ELAN_")
_PASSED_ENV_NAMES = ("LANG", "LC_ALL", "TERM", "LAKE", "LEAN")
# What a Lean toolchain folder holds that Lean and Lake use.
_TOOLCHAIN_PARTS = (
    "bin/lean",
    "bin/lake",
    "bin/leanc",
    "lib/lean",
    "include/lean",
    "src/lean",
    "share/lean",
    "lib/libleanshared.so",
)
_SYSTEM_RO_PATHS = ("/usr", "/etc/ld.so.cache", "/etc/localtime", "/etc/ssl", "/etc/alternatives")
_NAMESPACES = (
    "--unshare-user",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
)


# Size of the empty folder that masks a secret one (bwrap needs a writable tmpfs to create the
# mount points of later binds).
_MASK_SIZE = 64 * 1024


class SandboxUnavailable(Exception):
    """bwrap was required but cannot run on this machine."""


@dataclass(frozen=True)
class BwrapCheck:
    """The outcome of a trial run of one bwrap executable as one user."""

    path: str | None
    problem: str | None
    # Options newer than the oldest bwrap we accept: used only where this bwrap has them.
    disable_userns: bool = False
    tmpfs_size: bool = False


_checks: dict[tuple[str | None, int | None], BwrapCheck] = {}


def run_as_kwargs(uid: int | None) -> dict[str, object]:
    """Popen arguments that run the child as ``uid`` (its gid is the same number, and no
    supplementary groups); none when that is who we are already."""
    if uid is None or uid == os.geteuid():
        return {}
    return {"user": uid, "group": uid, "extra_groups": []}


def _help_text(bwrap: str) -> str:
    try:
        done = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def check_bwrap(run_as_uid: int | None = None) -> BwrapCheck:
    """Whether the bwrap on PATH runs, as ``run_as_uid``, with every option the sandbox uses."""
    bwrap = shutil.which("bwrap")
    key = (bwrap, run_as_uid)
    if key not in _checks:
        _checks[key] = _trial(bwrap, run_as_uid)
    return _checks[key]


def _trial(bwrap: str | None, run_as_uid: int | None) -> BwrapCheck:
    if bwrap is None:
        return BwrapCheck(
            None, "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        )
    help_text = _help_text(bwrap)
    check = BwrapCheck(
        bwrap,
        None,
        disable_userns="--disable-userns" in help_text,
        tmpfs_size="--size" in help_text,
    )
    trial = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        *_isolation_args(check),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    try:
        done = subprocess.run(
            trial,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            **run_as_kwargs(run_as_uid),
        )  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError) as exc:
        return BwrapCheck(bwrap, f"bwrap ({bwrap}) failed to run: {exc}")
    if done.returncode != 0:
        who = f" as uid {run_as_uid}" if run_as_uid is not None else ""
        detail = done.stderr.strip()[:300] or f"exit code {done.returncode}"
        return BwrapCheck(bwrap, f"bwrap ({bwrap}) cannot create its sandbox here{who}: {detail}")
    return check


def bwrap_problem(run_as_uid: int | None = None) -> str | None:
    """None when a trial bwrap with the namespaces we use runs, else why not."""
    return check_bwrap(run_as_uid).problem


def effective_mode(requested: str, run_as_uid: int | None = None) -> str:
    """The sandbox used for ``requested``; SandboxUnavailable when "bwrap" cannot run."""
    if requested not in SANDBOX_MODES:
        raise ValueError(f"sandbox must be one of {SANDBOX_MODES}, not {requested!r}")
    if requested == "none":
        return "none"
    problem = bwrap_problem(run_as_uid)
    if problem is None:
        return "bwrap"
    if requested == "bwrap":
        raise SandboxUnavailable(f"sandbox = 'bwrap' was configured but {problem}")
    return "none"


def _isolation_args(check: BwrapCheck) -> list[str]:
    args = ["--die-with-parent", "--new-session", *_NAMESPACES, "--cap-drop", "ALL"]
    if check.disable_userns:
        args.append("--disable-userns")
    return args


def _program_roots(program: str) -> set[str]:
    """The installation prefix of a program (.../bin/lean -> ..., where lib/ lives too), for
    the program's real path and for the path it is started by (a virtualenv's python is a link
    into the real installation, and needs both)."""
    roots: set[str] = set()
    for path in (Path(os.path.realpath(program)), Path(program)):
        roots.add(str(path.parent.parent if path.parent.name == "bin" else path.parent))
    return roots


def _toolchain_roots(argv: list[str]) -> set[str]:
    """Folders the command needs read-only: its program's installation (for Lean, the resolved
    toolchain: see toolchain.py) and the folder of each script file it names (an interpreter's
    script).

    Only existing regular files count among the arguments: an option such as ``--data=/some/dir``
    or a folder argument never widens the sandbox. Real paths only: the sandbox sees the files a
    symbolic link points to, never the folder the link lives in.
    """
    roots: set[str] = set()
    for index, arg in enumerate(argv):
        program = shutil.which(arg) if index == 0 and os.sep not in arg else arg
        if not program or not os.path.isabs(program) or not os.path.isfile(program):
            continue
        if index == 0:
            roots |= _program_roots(program)
        else:
            roots.add(str(Path(os.path.realpath(program)).parent))
    return {root for root in roots if root not in ("/", "/usr")}


def _bindable(root: str) -> list[str]:
    """What of ``root`` may be bound: all of it, or, when it holds secrets (a toolchain linked
    into ``~/.local`` makes the root ``~/.local``, which holds the Jupyter runtime folder), only
    the parts a toolchain has."""
    if unbindable_reason(root) is None:
        return [root]
    parts = [os.path.join(root, part) for part in _TOOLCHAIN_PARTS]
    return [part for part in parts if os.path.exists(part) and unbindable_reason(part) is None]


def sandbox_env(environ: Mapping[str, str], workspace: str) -> dict[str, str]:
    """The environment inside the sandbox: Lean's own variables and the basics, nothing else
    (tokens, cloud credentials and the like stay outside)."""
    env = {
        name: value
        for name, value in environ.items()
        if name.startswith(_PASSED_ENV_PREFIXES) or name in _PASSED_ENV_NAMES
    }
    env["HOME"] = workspace
    env["TMPDIR"] = "/tmp"
    path_dirs = [d for d in environ.get("PATH", "").split(os.pathsep) if d]
    env["PATH"] = os.pathsep.join([*path_dirs, "/usr/local/bin", "/usr/bin", "/bin"])
    return env


def _system_args() -> list[str]:
    args: list[str] = []
    for path in _SYSTEM_RO_PATHS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name in ("lib", "lib32", "lib64", "bin", "sbin"):
        target = f"/usr/{name}"
        if os.path.islink(f"/{name}") and os.path.isdir(target):
            args += ["--symlink", target, f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            args += ["--ro-bind", f"/{name}", f"/{name}"]
    return args


def bwrap_argv(
    argv: list[str],
    *,
    project_dir: str,
    workspace_dir: str,
    extra_ro_paths: Iterable[str] = (),
    tmpfs_size: int = 0,
    run_as_uid: int | None = None,
) -> list[str]:
    """``argv`` run under bwrap: system and toolchain read-only, project read-only with the
    secrets it may contain masked, a private workspace, /tmp and /dev/shm (memory-backed, each
    at most ``tmpfs_size`` bytes when not 0), a read-only /dev, no network, new
    user/pid/ipc/uts namespaces, no capabilities, dies with its parent."""
    check = check_bwrap(run_as_uid)
    bwrap = check.path or shutil.which("bwrap") or "bwrap"
    size = ["--size", str(tmpfs_size)] if tmpfs_size and check.tmpfs_size else []
    args = [
        bwrap,
        *_isolation_args(check),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *size,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        *size,
        "--tmpfs",
        "/tmp",
        *_system_args(),
    ]
    project_real = os.path.realpath(project_dir)
    # The whole project is read-only, its build output (.lake) included: code run by one session
    # must not plant .olean files that other sessions of the project then load. Build the
    # project (`lake build`) before serving it, as lean4web does.
    args += ["--ro-bind", project_real, project_real]
    # Read-only only at the end: a toolchain inside a masked folder is bound below.
    read_only_masks: list[str] = []
    for place in masked_places(project_real):
        if os.path.isdir(place):
            args += ["--size", str(_MASK_SIZE), "--tmpfs", place]
            read_only_masks += ["--remount-ro", place]
        else:
            args += ["--ro-bind", "/dev/null", place]
    roots = {
        part
        for root in _toolchain_roots(argv) | set(extra_ro_paths)
        for part in _bindable(os.path.realpath(root))
    }
    for path in sorted(roots):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    workspace_real = os.path.realpath(workspace_dir)
    args += [*size, "--tmpfs", workspace_real, *read_only_masks, "--chdir", project_real, "--"]
    return args + argv


def tmpfs_mounts(workspace_dir: str) -> list[str]:
    """The memory-backed folders ``bwrap_argv`` mounts, whose contents count as the session's
    memory."""
    return ["/tmp", "/dev/shm", os.path.realpath(workspace_dir)]
