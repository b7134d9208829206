"""Confining client-supplied document URIs to a session's project and workspace."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit


class UriOutsideProject(ValueError):
    """A client named a document outside the folders its session may use."""


def confined_path(uri: str, allowed_roots: Iterable[str]) -> str:
    """The real path of a ``file:`` URI when it lies inside one of ``allowed_roots``.

    Symlinks and ``..`` are resolved before the check, so neither can lead outside. A literal
    ``?`` or ``#`` is refused: a URI parser ends the path there, Lean does not (it takes the rest
    of the URI as path), so ``file:///proj/sub?/../../etc/passwd`` would be checked as
    ``/proj/sub`` and opened as ``/etc/passwd``. A file name with those characters is sent
    percent-encoded, as every LSP client does.
    """
    if "?" in uri or "#" in uri:
        raise UriOutsideProject(f"file URIs with a query or fragment are not allowed: {uri!r}")
    parsed = urlsplit(uri)
    if parsed.scheme != "file":
        raise UriOutsideProject(f"only file: URIs inside the project are allowed, not {uri!r}")
    if parsed.netloc not in ("", "localhost"):
        raise UriOutsideProject(f"file URI with a host is not allowed: {uri!r}")
    path = unquote(parsed.path)
    if "\x00" in path or not os.path.isabs(path):
        raise UriOutsideProject(f"not an absolute file path: {uri!r}")
    real = os.path.realpath(path)
    for root in allowed_roots:
        real_root = os.path.realpath(root)
        if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
            return real
    raise UriOutsideProject(f"{uri} is outside the session's project")


def uris_in_params(method: str, params: Any) -> list[str]:
    """Every document URI a client message names (the places Lean's handlers read one from)."""
    if not isinstance(params, dict):
        return []
    found: list[Any] = []
    text_document = params.get("textDocument")
    if isinstance(text_document, dict) and "uri" in text_document:
        found.append(text_document["uri"])
    if "uri" in params:
        found.append(params["uri"])
    if method == "workspace/didChangeWatchedFiles":
        for change in params.get("changes") or []:
            if isinstance(change, dict) and "uri" in change:
                found.append(change["uri"])
    if method.startswith("callHierarchy/"):
        item = params.get("item")
        if isinstance(item, dict) and "uri" in item:
            found.append(item["uri"])
    return [uri if isinstance(uri, str) else repr(uri) for uri in found]
