"""Logging of the session layer inside a kernel.

ipykernel turns the process's stdout and stderr into cell outputs; Python's last-resort logging
handler writes to ``sys.stderr``, so without this a warning of the session layer (a Lean crash,
say) would appear in whichever cell happens to run. Send it to the real stderr, where Jupyter
keeps the kernel's log.
"""

from __future__ import annotations

import logging
import sys

_handler: logging.Handler | None = None


def quiet_session_logs() -> None:
    global _handler
    if _handler is not None:
        return
    _handler = logging.StreamHandler(sys.__stderr__)
    _handler.setFormatter(logging.Formatter("[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"))
    logger = logging.getLogger("jupyter_lean")
    logger.addHandler(_handler)
    logger.propagate = False
