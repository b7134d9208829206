"""Installing the `lean4` kernel spec where the wheel's data files did not put it (editable
installs, other environments), and writing kernel specs for tests."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

KERNEL_NAME = "lean4"
KERNELSPEC_DIR = Path(__file__).parent / "kernelspec"


def write_kernelspec(
    target: str | Path,
    *,
    executable: str | None = None,
    env: dict[str, str] | None = None,
    display_name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Copy the kernel spec (kernel.json and logos) into folder ``target``, optionally pinning
    the Python that runs the kernel and adding environment variables."""
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    for item in KERNELSPEC_DIR.iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    spec = json.loads((KERNELSPEC_DIR / "kernel.json").read_text())
    if executable:
        spec["argv"][0] = executable
    if env:
        spec["env"] = {**spec.get("env", {}), **env}
    if display_name:
        spec["display_name"] = display_name
    spec.update(extra or {})
    (folder / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
    return folder


def install(
    *,
    user: bool = False,
    prefix: str | None = None,
    name: str = KERNEL_NAME,
    display_name: str | None = None,
    executable: str | None = None,
) -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        source = write_kernelspec(
            Path(tmp) / name, executable=executable, display_name=display_name
        )
        return KernelSpecManager().install_kernel_spec(
            str(source), name, user=user, prefix=prefix, replace=True
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lean_kernel install",
        description="Install the Lean 4 kernel spec (the wheel installs it already).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user only")
    where.add_argument(
        "--sys-prefix",
        action="store_true",
        help=f"into this Python environment ({sys.prefix}); the default",
    )
    where.add_argument("--prefix", help="under this prefix (share/jupyter/kernels)")
    parser.add_argument("--name", default=KERNEL_NAME, help="kernel spec name (default lean4)")
    parser.add_argument("--display-name", help='name shown in Jupyter (default "Lean 4")')
    parser.add_argument(
        "--pin-python",
        action="store_true",
        help="run the kernel with this Python rather than the server's",
    )
    args = parser.parse_args(argv)
    prefix = args.prefix or (None if args.user else sys.prefix)
    destination = install(
        user=args.user,
        prefix=prefix,
        name=args.name,
        display_name=args.display_name,
        executable=sys.executable if args.pin_python else None,
    )
    print(f"Installed the Lean 4 kernel spec in {destination}")
