"""What each session's Lean costs: resident memory and CPU time of its whole process tree.

Lean runs as a watchdog plus one file worker per open document (each in a process group of its
own), so per-process rlimits say nothing about a session. One pass over /proc measures every
session at once: the resident memory of the processes below the session's root process (the
watchdog, its workers and whatever ``#eval`` started), plus the files the sandbox's memory-backed
folders (tmpfs: /tmp, /dev/shm, the workspace) hold, which occupy RAM as well.

Resident pages that are shared (the mapped Lean library, imported .olean files: every worker maps
the same ones) are counted once per session, as the largest shared set of any of its processes,
and each process's private pages are added: summing plain RSS would count Mathlib's .olean files
once per open file, twice or more what the machine pays.

The cost of a pass grows with the number of processes on the machine, not with the number of
sessions (see bench/real_lean_bench.py, table 3).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .process import ProcStat, children_map, descendants, process_table

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass
class ProcessTreeUsage:
    """The last measurement of one session's Lean process tree."""

    rss_bytes: int = 0  # resident memory of every process in the tree
    tmpfs_bytes: int = 0  # bytes held by the sandbox's memory-backed folders
    cpu_seconds: float = 0.0  # CPU time of the tree so far, reaped children included
    processes: int = 0

    @property
    def memory_bytes(self) -> int:
        """What counts against ``memory_limit``."""
        return self.rss_bytes + self.tmpfs_bytes


def tree_usage(
    root: int,
    table: Mapping[int, ProcStat],
    children: Mapping[int, list[int]],
    tmpfs_mounts: Iterable[str] = (),
) -> ProcessTreeUsage:
    """The usage of ``root`` and its descendants, from one /proc snapshot ``table``."""
    members = [pid for pid in (root, *descendants(root, children=children)) if pid in table]
    resident = [_resident_pages(pid) for pid in members]
    rss_pages = sum(total - shared for total, shared in resident) + max(
        (shared for _, shared in resident), default=0
    )
    ticks = sum(table[pid].cpu_ticks + table[pid].children_cpu_ticks for pid in members)
    return ProcessTreeUsage(
        rss_bytes=rss_pages * _PAGE_SIZE,
        tmpfs_bytes=_tmpfs_used(root, members, tmpfs_mounts),
        cpu_seconds=ticks / _TICKS_PER_SECOND,
        processes=len(members),
    )


def _resident_pages(pid: int) -> tuple[int, int]:
    """(resident, of which shared) pages of ``pid``; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            fields = statm.read().split()
    except OSError:
        return 0, 0
    return int(fields[1]), int(fields[2])


def _tmpfs_used(root: int, members: list[int], mounts: Iterable[str]) -> int:
    """Bytes in use on each tmpfs the sandbox mounted, seen through a sandboxed process's root
    (they live in its mount namespace: the host cannot see them by path)."""
    mounts = list(mounts)
    if not mounts:
        return 0
    # The root process is bwrap's outer half; its mount namespace is the host's. Every process
    # below it lives in the sandbox's.
    inside = min((pid for pid in members if pid != root), default=None)
    if inside is None:
        return 0
    used = 0
    for mount in mounts:
        with contextlib.suppress(OSError):
            stats = os.statvfs(f"/proc/{inside}/root{mount}")
            used += (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    return used


def measure(
    roots: Mapping[str, int], tmpfs_mounts: Mapping[str, Iterable[str]]
) -> dict[str, ProcessTreeUsage]:
    """The usage of each session (``roots``: session id -> root pid) from one /proc pass."""
    table = process_table()
    children = children_map(table)
    return {
        session_id: tree_usage(pid, table, children, tmpfs_mounts.get(session_id, ()))
        for session_id, pid in roots.items()
    }
