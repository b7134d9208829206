"""jupyter-lean: Lean 4 language servers in Jupyter (server extension)."""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import LeanExtensionApp

    return [{"module": "jupyter_server_ext", "app": LeanExtensionApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "@jupyter-lean/labextension"}]


__all__ = ["__version__"]
