"""The kernel under `jupyter console`, driven the way a terminal user would (piped input)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_harness import JupyterDirs

pytest.importorskip("jupyter_console", reason="jupyter-console is not installed")


def test_jupyter_console_runs_lean_cells(jupyter_dirs: JupyterDirs, tmp_path: Path) -> None:
    cells = '#eval 6 * 7\n#eval IO.println "hello from the console"\n#eval nope\n'
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_console", "--kernel=lean4", "--simple-prompt"],
        input=cells,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env={**os.environ, **jupyter_dirs.env()},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "42" in done.stdout
    assert "hello from the console" in done.stdout
    assert "unknown identifier 'nope'" in done.stdout + done.stderr
