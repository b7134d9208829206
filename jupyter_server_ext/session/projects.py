"""Which folders may be served to Lean as a project, and what inside them stays hidden.

A project is bound into the sandbox, where any Lean code (``#eval``) can read all of it. So a
project is either one an administrator configured (``LeanSessionManager.projects``) or a folder
inside the server's root folder, and never a place that holds secrets or other users' files: the
file system root, system folders, an ancestor of the home folder, the Jupyter runtime, data and
config folders (server token, kernel connection files with their signing keys), or a credentials
folder. A project that contains such a place (the usual case: the root folder is ``$HOME``) gets
it masked with an empty folder inside the sandbox.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

# Folders whose contents are the system's, not a Lean project's.
_SYSTEM_DIRS = (
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/boot",
    "/run",
    "/var/run",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/srv/jupyterhub",
)


# Entries of the home folder that hold credentials, keys or history: never bound into a sandbox.
_CREDENTIALS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config",
    ".kube",
    ".docker",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".gitconfig",
    ".bash_history",
    ".python_history",
    ".jupyter",
    ".ipython",
)


class UnsafeProject(ValueError):
    """A folder that may not be served as a Lean project; the message says why."""


def is_within(path: str, folder: str) -> bool:
    """Whether real path ``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _home() -> str:
    return os.path.realpath(os.path.expanduser("~"))


def jupyter_dirs() -> list[str]:
    """The Jupyter runtime, data and config folders of this process (real paths)."""
    try:
        from jupyter_core import paths
    except ImportError:  # the session layer runs without Jupyter in some tools
        return []
    found = [paths.jupyter_runtime_dir(), paths.jupyter_data_dir(), paths.jupyter_config_dir()]
    return [os.path.realpath(folder) for folder in found]


def secret_places() -> list[str]:
    """Places no Lean may read: the Jupyter folders and the hidden entries of the home folder
    (credentials, shell history, tool configuration)."""
    home = _home()
    places = set(jupyter_dirs())
    with contextlib.suppress(OSError):
        places.update(entry.path for entry in os.scandir(home) if entry.name.startswith("."))
    return sorted(os.path.realpath(place) for place in places)


def credential_places() -> list[str]:
    """The Jupyter folders and the home folder's credential entries (real paths)."""
    home = _home()
    return sorted({*jupyter_dirs(), *(os.path.join(home, name) for name in _CREDENTIALS)})


def unbindable_reason(real: str) -> str | None:
    """Why a folder may not be bound read-only into a sandbox (as a toolchain), or None: it is
    the root, the home folder or an ancestor of it, or it holds or lies in credentials."""
    home = _home()
    if real == os.sep or is_within(home, real):
        return f"it is {real}, which holds the home folder"
    for place in credential_places():
        if is_within(real, place) or is_within(place, real):
            return f"it holds or lies in {place}"
    return None


def unsafe_reason(real: str) -> str | None:
    """Why the folder at real path ``real`` may not be a project, or None."""
    if real == os.sep:
        return "it is the root of the file system"
    for system in _SYSTEM_DIRS:
        if is_within(real, system):
            return f"it is a system folder ({system})"
    home = _home()
    if real != home and is_within(home, real):
        return f"it contains the home folder {home} (and other users' files)"
    for place in secret_places():
        if is_within(real, place):
            return f"it is inside {place}, which holds secrets"
    return None


def check_project_dir(path: str, *, root_dir: str, configured: Iterable[str] = ()) -> str:
    """The real path of ``path`` when it may be served as a project, else UnsafeProject.

    Allowed: a configured project's folder, or a folder inside ``root_dir`` (after resolving
    symbolic links, so a link inside the root that points out is judged by its target)."""
    real = os.path.realpath(os.path.expanduser(path))
    if not os.path.isdir(real):
        raise UnsafeProject(f"{path} is not a folder")
    if real not in {os.path.realpath(os.path.expanduser(p)) for p in configured}:
        root = os.path.realpath(os.path.expanduser(root_dir))
        if not is_within(real, root):
            raise UnsafeProject(
                f"{path} is outside the server's root folder {root}: a Lean project must be a "
                "folder inside it, or one configured in c.LeanSessionManager.projects"
            )
    problem = unsafe_reason(real)
    if problem is not None:
        raise UnsafeProject(f"{path} cannot be a Lean project: {problem}")
    return real


def masked_places(project_real: str) -> list[str]:
    """Secret places inside a project, to hide inside the sandbox (outermost first)."""
    return [
        place
        for place in secret_places()
        if is_within(place, project_real) and place != project_real and os.path.lexists(place)
    ]


def unreachable_by_others(path: str) -> str | None:
    """The first folder on the way to ``path`` (a file or folder) that a user who is neither its
    owner nor in its group cannot pass, or None. Such a user is how Lean runs when the server is
    root and must run it unprivileged (a process limit binds only non-root users)."""
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    for depth in range(2, len(parts) + 1):
        step = os.sep.join(parts[:depth]) or os.sep
        try:
            mode = os.stat(step).st_mode
        except OSError:
            return step
        needed = 0o001 if step != real or os.path.isdir(step) else 0o004
        if not mode & needed:
            return step
    return None
