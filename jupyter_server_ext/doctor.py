"""`python -m jupyter_server_ext.doctor`: is Lean installed, and if not, how to get it.

With ``--offer-install`` on a terminal it offers to run elan's installer (Lean's toolchain
manager). Without network it says so; it never stops JupyterLab from starting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

from .session import COMMAND_ENV_VAR, ELAN_INSTALL, INSTALL_HINT, find_tool, lean_version


def lean_status() -> tuple[bool, str]:
    override = os.environ.get(COMMAND_ENV_VAR)
    if override:
        return True, f"Lean server command from {COMMAND_ENV_VAR}: {override}"
    lean = find_tool("lean")
    if lean is None:
        return False, "Lean 4 is not installed (no `lean` on PATH or in ~/.elan/bin)."
    version = asyncio.run(lean_version()) or "version unknown"
    lake = find_tool("lake")
    return True, f"Lean found: {lean} ({version}); lake: {lake or 'not found'}"


def _offer_install() -> None:
    if not sys.stdin.isatty():
        print(f"To install Lean, run:\n  {ELAN_INSTALL}")
        return
    answer = input("Install Lean now with elan (about 1 GB download)? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        print(f"Skipped. To install later:\n  {ELAN_INSTALL}")
        return
    done = subprocess.run(["sh", "-c", ELAN_INSTALL], check=False)
    if done.returncode != 0:
        print(
            "The elan installer could not run (offline, or its download site is unreachable). "
            "JupyterLab starts anyway; Lean cells will say that Lean is missing until it is "
            f"installed.\n  {ELAN_INSTALL}"
        )
    else:
        print(
            "Lean installed. New terminals find it on PATH; this launcher looks in "
            "~/.elan/bin as well."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--offer-install",
        action="store_true",
        help="offer to install Lean with elan when it is missing",
    )
    args = parser.parse_args(argv)
    found, message = lean_status()
    print(message)
    if not found:
        print(INSTALL_HINT)
        if args.offer_install:
            _offer_install()
    return 0


if __name__ == "__main__":
    sys.exit(main())
