"""Fixtures for the Lean kernel: kernel specs that run this checkout's kernel with the Lean server
under test (the ``lean_server`` fixture: the stand-in, or a real Lean with ``pytest -m lean``).

Kernels run in isolated Jupyter directories (a temporary JUPYTER_PATH, config and runtime dir), so
a developer's own configuration and kernels change nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import LeanServerUnderTest

# The tests of this folder share kernel_harness.py; pytest puts only tests/ on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from kernel_harness import JupyterDirs, KernelHarness, make_dirs, standin_env, start_kernel


@pytest.fixture(scope="session")
def jupyter_dirs(
    lean_server: LeanServerUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> JupyterDirs:
    """Jupyter directories whose `lean4` kernel runs this checkout with the server under test."""
    dirs = make_dirs(tmp_path_factory.mktemp("jupyter"))
    dirs.add_kernel("lean4", env=standin_env(lean_server))
    return dirs


@pytest.fixture
def kernel_factory(jupyter_dirs: JupyterDirs, tmp_path: Path) -> Iterator[Any]:
    """Start kernels for one test (``factory(extra_arguments=[...], name=..., env=...)``); every
    one is shut down afterwards."""
    started: list[KernelHarness] = []

    def factory(**kwargs: Any) -> KernelHarness:
        harness = start_kernel(
            kwargs.pop("dirs", jupyter_dirs), kwargs.pop("cwd", tmp_path), **kwargs
        )
        started.append(harness)
        return harness

    yield factory
    for harness in started:
        harness.shutdown()


@pytest.fixture(scope="session")
def real_dirs(real_lean: Any, tmp_path_factory: pytest.TempPathFactory) -> JupyterDirs:
    """Jupyter directories whose `lean4` kernel runs with the product's default settings: no
    JUPYTER_LEAN_COMMAND, no config file, so the kernel finds the real Lean as a user's does."""
    dirs = make_dirs(tmp_path_factory.mktemp("jupyter-real"))
    dirs.add_kernel("lean4")
    return dirs


@pytest.fixture(scope="module")
def real_kernel(
    real_dirs: JupyterDirs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """One kernel on the real Lean (default settings) per test module."""
    harness = start_kernel(real_dirs, tmp_path_factory.mktemp("real-kernel"))
    yield harness
    harness.shutdown()
