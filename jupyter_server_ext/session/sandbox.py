"""Wrapping a Lean server command in bubblewrap, and finding out whether bubblewrap works here.

The sandbox fails closed: when ``sandbox = "bwrap"`` is asked for and bwrap cannot run, starting a
session is an error. ``"auto"`` uses bwrap when a trial run succeeds and says so in /lean/health.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

SANDBOX_MODES = ("auto", "bwrap", "none")

# Variables a Lean server may need; everything else is cleared inside the sandbox.
_PASSED_ENV_PREFIXES = ("LEAN_", "LAKE_", "ELAN_")
_PASSED_ENV_NAMES = ("LANG", "LC_ALL", "TERM", "LAKE", "LEAN")
_SYSTEM_RO_PATHS = ("/usr", "/etc/ld.so.cache", "/etc/localtime", "/etc/ssl", "/etc/alternatives")


class SandboxUnavailable(Exception):
    """bwrap was required but cannot run on this machine."""


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when a trial bwrap with the namespaces we use runs, else why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    trial = [bwrap, "--ro-bind", "/", "/", "--unshare-user", "--unshare-pid", "--unshare-net",
             "--die-with-parent", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(trial, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to run: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot create namespaces here: {done.stderr.strip()[:300]}"
    return None


def effective_mode(requested: str) -> str:
    """The sandbox used for ``requested``; SandboxUnavailable when "bwrap" cannot run."""
    if requested not in SANDBOX_MODES:
        raise ValueError(f"sandbox must be one of {SANDBOX_MODES}, not {requested!r}")
    if requested == "none":
        return "none"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if requested == "bwrap":
        raise SandboxUnavailable(f"sandbox = 'bwrap' was configured but {problem}")
    return "none"


def _toolchain_roots(argv: list[str]) -> set[str]:
    """Folders that hold the command's programs: the installation prefix of each absolute path."""
    roots: set[str] = set()
    for arg in argv:
        program = shutil.which(arg) if os.sep not in arg else arg
        if not program or not os.path.isabs(program) or not os.path.exists(program):
            continue
        real = Path(os.path.realpath(program))
        # .../bin/lean -> the toolchain prefix (lib/, include/ live beside bin/)
        roots.add(str(real.parent.parent if real.parent.name == "bin" else real.parent))
        unresolved = Path(program).parent
        roots.add(str(unresolved.parent if unresolved.name == "bin" else unresolved))
    elan_home = os.environ.get("ELAN_HOME") or os.path.expanduser("~/.elan")
    if os.path.isdir(elan_home):
        roots.add(elan_home)
    return {root for root in roots if root not in ("/", "/usr")}


def sandbox_env(environ: Mapping[str, str], workspace: str) -> dict[str, str]:
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


def bwrap_argv(
    argv: list[str],
    *,
    project_dir: str,
    workspace_dir: str,
    extra_ro_paths: Iterable[str] = (),
) -> list[str]:
    """``argv`` run under bwrap: system and toolchain read-only, project read-only, one writable
    workspace, private /tmp, no network, new user/pid/ipc/uts namespaces, dies with its parent."""
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--die-with-parent", "--new-session",
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _SYSTEM_RO_PATHS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name in ("lib", "lib64", "bin", "sbin"):
        target = f"/usr/{name}"
        if os.path.islink(f"/{name}") and os.path.isdir(target):
            args += ["--symlink", target, f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            args += ["--ro-bind", f"/{name}", f"/{name}"]
    ro_paths = sorted(_toolchain_roots(argv) | set(extra_ro_paths))
    for path in ro_paths:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    project_real = os.path.realpath(project_dir)
    args += ["--ro-bind", project_real, project_real]
    # Lake writes its build output (.lake) inside the project: give it a writable overlay there
    # only when the folder exists, so a built project still works read-only elsewhere.
    lake_dir = os.path.join(project_real, ".lake")
    if os.path.isdir(lake_dir) and os.access(lake_dir, os.W_OK):
        args += ["--bind", lake_dir, lake_dir]
    workspace_real = os.path.realpath(workspace_dir)
    args += ["--bind", workspace_real, workspace_real, "--chdir", project_real, "--"]
    return args + argv
