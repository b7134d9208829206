"""Fail when a product module is over the size limit: one job per file keeps each under it.

python tests/check_module_size.py          # exit 1 and name the modules over 500 lines
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_LINES = 500
PACKAGES = ("jupyter_server_ext", "lean_kernel")
CHECKOUT = Path(__file__).resolve().parents[1]


def oversized(root: Path = CHECKOUT) -> list[tuple[str, int]]:
    found = []
    for package in PACKAGES:
        for module in sorted((root / package).rglob("*.py")):
            lines = len(module.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found.append((str(module.relative_to(root)), lines))
    return found


def main() -> int:
    over = oversized()
    for path, lines in over:
        print(f"{path}: {lines} lines, over {MAX_LINES}: split it by job", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
