"""The kernel spec, its install command, and configuration shared with the server extension."""

from __future__ import annotations

import json
import logging
import struct
import sys
from pathlib import Path
from typing import Any

from kernel_harness import make_dirs
from support import LeanServerUnderTest

from lean_kernel.config import default_project_dir, load_server_config
from lean_kernel.install import KERNELSPEC_DIR, main, write_kernelspec

log = logging.getLogger("test")


def test_kernelspec_files() -> None:
    spec = json.loads((KERNELSPEC_DIR / "kernel.json").read_text())
    assert spec["argv"] == ["python", "-m", "lean_kernel", "-f", "{connection_file}"]
    assert spec["display_name"] == "Lean 4"
    assert spec["language"] == "lean4"
    for size in (32, 64):
        data = (KERNELSPEC_DIR / f"logo-{size}x{size}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert struct.unpack(">II", data[16:24]) == (size, size)


def test_pyproject_ships_the_kernelspec() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"lean_kernel/kernelspec" = "share/jupyter/kernels/lean4"' in pyproject


def test_write_and_install_kernelspec(tmp_path: Path) -> None:
    folder = write_kernelspec(
        tmp_path / "spec", executable=sys.executable, env={"JUPYTER_LEAN_COMMAND": "lean --server"}
    )
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    assert spec["env"] == {"JUPYTER_LEAN_COMMAND": "lean --server"}
    assert (folder / "logo-64x64.png").is_file()
    main(["--prefix", str(tmp_path / "prefix")])
    installed = tmp_path / "prefix" / "share" / "jupyter" / "kernels" / "lean4" / "kernel.json"
    assert json.loads(installed.read_text())["argv"][0] == "python"


def test_server_config_files_configure_the_kernel(tmp_path: Path) -> None:
    low, high = tmp_path / "system", tmp_path / "user"
    (low / "jupyter_server_config.d").mkdir(parents=True)
    high.mkdir()
    (low / "jupyter_server_config.d" / "lean.json").write_text(
        json.dumps({"LeanSessionManager": {"idle_timeout": 10, "sandbox": "none"}})
    )
    (low / "jupyter_server_config.py").write_text(
        "c.LeanSessionManager.memory_limit = 1 << 30\nc.ServerApp.port = 1\n"
    )
    (high / "jupyter_server_config.json").write_text(
        json.dumps({"LeanSessionManager": {"idle_timeout": 20}, "LeanKernel": {"cell_timeout": 7}})
    )
    (high / "jupyter_server_config.py").write_text("raise RuntimeError('a broken file')\n")
    config = load_server_config(log, [str(high), str(low)])  # highest priority first
    assert config.LeanSessionManager.idle_timeout == 20
    assert config.LeanSessionManager.sandbox == "none"
    assert config.LeanSessionManager.memory_limit == 1 << 30
    assert config.LeanKernel.cell_timeout == 7
    assert "ServerApp" not in config  # the kernel takes only its own sections


def test_default_project_is_the_enclosing_lake_package(tmp_path: Path) -> None:
    package = tmp_path / "course"
    notebooks = package / "week1" / "notebooks"
    notebooks.mkdir(parents=True)
    assert default_project_dir(str(notebooks)) == str(notebooks.resolve())
    (package / "lakefile.toml").write_text('name = "course"\n')
    assert default_project_dir(str(notebooks)) == str(package.resolve())


def test_the_kernel_reads_the_servers_config_files(
    kernel_factory: Any, tmp_path: Path, lean_server: LeanServerUnderTest
) -> None:
    dirs = make_dirs(tmp_path / "jupyter")
    dirs.add_kernel("lean4")  # no JUPYTER_LEAN_COMMAND: Lean's command comes from the config file
    (dirs.config / "jupyter_server_config.py").write_text(
        f"c.LeanSessionManager.lean_command = {lean_server.argv!r}\nc.LeanKernel.cell_timeout = 7\n"
    )
    kernel = kernel_factory(dirs=dirs)
    assert kernel.ok("#eval 1 + 1").stdout == "2\n"
    assert kernel.ok("%timeout").stdout == "Time limit per cell: 7 s\n"
    assert lean_server.argv[-1] in kernel.ok("%env").stdout


def test_lazy_start(kernel_factory: Any) -> None:
    kernel = kernel_factory(extra_arguments=["--LeanKernel.start_lean=lazy"])
    assert kernel.complete("#eval Nat.su")["matches"] == []  # nothing started for a completion
    assert kernel.ok("#eval 1 + 2").stdout == "3\n"  # the first cell starts Lean
    assert "succ" in kernel.complete("#check Nat.su")["matches"]
