"""A tiny stdio LSP server started in place of Lean, which tries to break out of its sandbox.

Standard library only: it runs inside bubblewrap with nothing but the interpreter bound in.
Arguments are all ``--name=value`` so that no argument is an existing path: the sandbox binds the
folder of every script file a command names, and must not be led to bind the secrets the probe
looks for.

On ``initialize`` it does what ``initializationOptions.probe`` says and answers
``{"capabilities": {}, "probe": {...}}`` with what it managed:

- ``confine`` (default): read a secret file outside its project and /etc/shadow, write into the
  project, remount the project writable, write into another folder, into its own folder (the
  "toolchain"), into /tmp and into its workspace (HOME), see a file the test put in the host's
  /tmp, connect to a loopback port, see the test's process and count visible pids, read an
  environment variable, hold capabilities, create a user namespace; and report its IPC and UTS
  namespaces (``/proc/self/ns/*`` links) and its session id (``getsid``), for the test to
  compare with its own.
- ``hang``: send ``window/logMessage`` "hanging", then sleep for 60 s without reading stdin
  (outlives its parent unless something kills it). The message tells the test that the probe
  no longer notices its stdin closing: from then on only the sandbox can end it.
- ``memory``: take 1 GiB of resident memory in 64 MiB blocks and hold it for 60 s (a memory limit
  ends it first).
- ``cpu``: spin until it has used 10 s of CPU (a CPU limit ends it first).
- ``fork``: start up to 64 processes and count how many it could.
- ``fsize``: write a 2 MiB file into its workspace, and 2.25 MiB in three files into /tmp, and
  count the bytes written.
- ``fill``: write 4 MiB into each of /dev, /dev/shm, /tmp and the workspace (then remove it).
- ``shm``: put 300 MiB into /dev/shm and hold it for 60 s.

Every report also holds the probe's own arguments (``argv``): what the manager added to the
command. Every attempt is bounded, so without a limit the probe answers instead of hurting the
machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import socket
import sys
import time
from typing import Any, BinaryIO

MiB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))  # bound read-only like a toolchain
CLONE_NEWUSER = 0x10000000
MS_REMOUNT = 32
MS_BIND = 4096


def _options(argv: list[str]) -> dict[str, str]:
    options = {}
    for arg in argv:
        name, _, value = arg.removeprefix("--").partition("=")
        options[name] = value
    return options


def _can(action: Any) -> bool:
    try:
        action()
    except Exception:
        return False
    return True


def _read(path: str) -> None:
    with open(path, "rb") as handle:
        handle.read(1)


def _write(path: str) -> None:
    # The process id keeps concurrent test runs (without a sandbox, sharing folders) apart.
    path = f"{path}.{os.getpid()}"
    with open(path, "w") as handle:
        handle.write("written by the sandbox probe\n")
    os.unlink(path)


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def _libc_call(name: str, *args: Any) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), f"{name} failed")


def _remount_writable_and_write(folder: str) -> None:
    """What code holding CAP_SYS_ADMIN in its user namespace can do to a read-only bind mount."""
    _libc_call("mount", None, folder.encode(), None, MS_REMOUNT | MS_BIND, None)
    _write(os.path.join(folder, "probe-after-remount.txt"))


def _effective_capabilities() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def _write_lake(project: str) -> None:
    os.makedirs(os.path.join(project, ".lake"), exist_ok=True)
    _write(os.path.join(project, ".lake", "planted.olean"))


def confine(options: dict[str, str]) -> dict[str, Any]:
    project = os.getcwd()
    pid = options.get("pid", "")
    # Only a mount point can be remounted: outside a sandbox the project is none, and the probe
    # must not touch the host's mounts.
    remountable = os.path.ismount(project)
    visible = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    report = {
        "uid": os.getuid(),
        "read_secret": _can(lambda: _read(options["secret"])),
        "read_shadow": _can(lambda: _read("/etc/shadow")),
        "write_project": _can(lambda: _write(os.path.join(project, "probe-was-here.txt"))),
        # A planted build product would be loaded by every later session of the project.
        "write_lake": _can(lambda: _write_lake(project)),
        "write_outside": _can(lambda: _write(os.path.join(options["outside"], "probe.txt"))),
        "write_toolchain": _can(lambda: _write(os.path.join(HERE, "probe-was-here.txt"))),
        "sees_host_tmp": os.path.exists(options["host_tmp"]),
        "write_tmp": _can(lambda: _write(os.path.join("/tmp", "probe.txt"))),
        "write_workspace": _can(lambda: _write(os.path.join(os.environ["HOME"], "probe.txt"))),
        "network": _can(lambda: _connect(int(options["port"]))),
        "sees_test_process": bool(pid) and os.path.exists(f"/proc/{pid}"),
        "pids_visible": len(visible),
        "env_secret": options.get("env", "") in os.environ,
        "capabilities": _effective_capabilities() != 0,
        "remount_project": remountable and _can(lambda: _remount_writable_and_write(project)),
        # A new IPC namespace hides the host's System V IPC and POSIX message queues; a new UTS
        # namespace its host name. A new session has no controlling terminal to inject
        # keystrokes into (TIOCSTI); inside a new pid namespace its leader is a process the
        # sandbox itself holds (getsid is 0 for a leader outside the namespace).
        "ipc_ns": os.readlink("/proc/self/ns/ipc"),
        "uts_ns": os.readlink("/proc/self/ns/uts"),
        "sid": os.getsid(0),
        "sid_visible": os.getsid(0) != 0 and os.path.exists(f"/proc/{os.getsid(0)}"),
    }
    # Last: a new user namespace changes what this process may do from here on.
    report["new_userns"] = _can(lambda: _libc_call("unshare", CLONE_NEWUSER))
    return report


def hog_memory() -> dict[str, Any]:
    """Take 1 GiB of resident memory (every page written), then hold it for a minute: a memory
    limit must end the probe meanwhile."""
    blocks: list[bytearray] = []
    while len(blocks) * 64 * MiB < 1024 * MiB:
        blocks.append(bytearray(b"\x01") * (64 * MiB))
    time.sleep(60)
    return {"allocated_mib": len(blocks) * 64}


def hang() -> dict[str, Any]:
    _send(
        sys.stdout.buffer,
        {
            "jsonrpc": "2.0",
            "method": "window/logMessage",
            "params": {"type": 3, "message": "hanging"},
        },
    )
    time.sleep(60)
    return {"slept": 60}


def spin() -> dict[str, Any]:
    while time.process_time() < 10:
        sum(range(10_000))
    return {"cpu_seconds": time.process_time()}


def fork_many() -> dict[str, Any]:
    read_end, write_end = os.pipe()
    children = []
    for _ in range(64):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.close(write_end)
            os.read(read_end, 1)  # returns at EOF, when the parent closes its end
            os._exit(0)
        children.append(pid)
    os.close(write_end)
    for pid in children:
        os.waitpid(pid, 0)
    os.close(read_end)
    return {"forked": len(children)}


def _fill(path: str, size: int) -> int:
    """Bytes written into ``path``, up to ``size``: EFBIG past the file size limit (Python
    ignores SIGXFSZ), ENOSPC on a full file system."""
    written = 0
    chunk = b"x" * (256 * 1024)
    with contextlib.suppress(OSError), open(path, "wb", buffering=0) as handle:
        while written < size:
            written += handle.write(chunk)
    return written


def write_big_files() -> dict[str, Any]:
    """One 2 MiB file in the workspace; then three 768 KiB files in /tmp (each under a 1 MiB
    file size limit, together over it: only a size-capped /tmp stops them)."""
    written = _fill(os.path.join(os.environ["HOME"], "big.bin"), 2 * MiB)
    tmp_paths = [os.path.join("/tmp", f"probe-{os.getpid()}-{n}.bin") for n in range(3)]
    tmp_written = sum(_fill(path, 768 * 1024) for path in tmp_paths)
    for path in tmp_paths:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return {"written": written, "tmp_written": tmp_written}


def fill_memory_folders() -> dict[str, Any]:
    """Write 4 MiB into each folder that is memory-backed inside the sandbox (/dev, /dev/shm,
    /tmp, the workspace), count what went in, and remove it again."""
    written = {}
    for name, folder in (
        ("dev", "/dev"),
        ("shm", "/dev/shm"),
        ("tmp", "/tmp"),
        ("workspace", os.environ["HOME"]),
    ):
        path = os.path.join(folder, f"probe-fill-{os.getpid()}.bin")
        written[name] = _fill(path, 4 * MiB)
        with contextlib.suppress(OSError):
            os.unlink(path)
    return {"written": written}


def hog_shm() -> dict[str, Any]:
    """Put 300 MiB into /dev/shm (memory no process holds) and wait: only counting the folder
    against the memory limit ends it."""
    path = os.path.join("/dev/shm", f"probe-hog-{os.getpid()}.bin")
    written = _fill(path, 300 * MiB)
    try:
        time.sleep(60)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return {"written": written}


MODES = {
    "memory": hog_memory,
    "cpu": spin,
    "fork": fork_many,
    "fsize": write_big_files,
    "hang": hang,
    "fill": fill_memory_folders,
    "shm": hog_shm,
}


def _read_message(stdin: BinaryIO) -> dict[str, Any] | None:
    length = 0
    while True:
        line = stdin.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(stdin.read(length))


def _send(stdout: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    stdout.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stdout.flush()


def _initialize(params: dict[str, Any] | None, options: dict[str, str]) -> dict[str, Any]:
    mode = ((params or {}).get("initializationOptions") or {}).get("probe", "confine")
    probe = confine(options) if mode == "confine" else MODES[mode]()
    probe["argv"] = sys.argv[1:]
    return {"capabilities": {}, "serverInfo": {"name": "sandbox-probe"}, "probe": probe}


def main() -> None:
    options = _options(sys.argv[1:])
    if options.get("started"):
        with contextlib.suppress(OSError), open(options["started"], "w"):
            pass  # tells a test that this process ran at all
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while (message := _read_message(stdin)) is not None:
        method = message.get("method")
        if method == "exit":
            return
        if "id" not in message or method is None:
            continue
        result = _initialize(message.get("params"), options) if method == "initialize" else None
        _send(stdout, {"jsonrpc": "2.0", "id": message["id"], "result": result})


if __name__ == "__main__":
    main()
