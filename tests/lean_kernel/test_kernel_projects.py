"""%project switches only to safe folders: a configured project, or a folder inside the
kernel's default project (the notebook's folder) that holds no secrets. Lean code can read its
whole project (#eval can), so `%project /` would hand it /etc/shadow, ~/.npmrc and the kernel's
own connection file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kernel_harness import KernelHarness, make_dirs, standin_env
from support import LeanServerUnderTest


def project_listing(kernel: KernelHarness) -> str:
    return kernel.ok("%project").stdout


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the kernel's folder."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture
def kernel(kernel_factory: Any) -> KernelHarness:
    return kernel_factory()  # its folder (the default project) is the test's tmp_path


def test_unsafe_folders_are_refused_and_change_nothing(
    kernel: KernelHarness, tmp_path: Path, outside: Path
) -> None:
    kernel.ok("def kept : Nat := 1", cell_id="A")
    pid = kernel.lean_pid()
    listing, document = project_listing(kernel), kernel.document()
    (tmp_path / "escape").symlink_to(outside, target_is_directory=True)
    refused = ["/", "~", str(outside), "escape", "..", "/etc"]  # escape: a link that points out
    for argument in refused:
        result = kernel.execute(f"%project {argument}")
        assert result.status == "error", argument
        assert result.content["ename"] == "UsageError"
        assert "outside the server's root folder" in result.error_text, result.error_text
        assert "Configured projects: default" in result.error_text
    assert "not a folder" in kernel.execute("%project no-such-folder").error_text
    # Nothing changed: the same Lean, the same project, the same document.
    assert kernel.lean_pid() == pid
    assert project_listing(kernel) == listing
    assert kernel.document() == document
    assert "* default:" in listing and "escape" not in listing


def test_a_subfolder_of_the_default_project_works(kernel: KernelHarness, tmp_path: Path) -> None:
    (tmp_path / "week1").mkdir()
    (tmp_path / "inside").symlink_to(tmp_path / "week1", target_is_directory=True)
    switched = kernel.ok("%project inside").stdout
    assert f"Lean project: {tmp_path / 'week1'}" in switched  # the link's real folder
    assert str(tmp_path / "week1") in kernel.ok("%env").stdout
    assert "* " + str(tmp_path / "week1") in project_listing(kernel)
    kernel.ok("def fresh : Nat := 2")
    assert "default" in kernel.ok("%project default").stdout


def test_a_configured_project_outside_the_folder_works(
    kernel_factory: Any, tmp_path: Path, outside: Path, lean_server: LeanServerUnderTest
) -> None:
    dirs = make_dirs(tmp_path / "jupyter")
    dirs.add_kernel("lean4", env=standin_env(lean_server))
    (dirs.config / "jupyter_server_config.py").write_text(
        f"c.LeanSessionManager.projects = {{'course': {str(outside)!r}}}\n"
    )
    kernel = kernel_factory(dirs=dirs)
    assert str(outside) in kernel.ok("%project course").stdout
    # A configured project's folder may also be named by its path.
    assert str(outside) in kernel.ok(f"%project {outside}").stdout
