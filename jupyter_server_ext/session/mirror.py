"""The session's mirror of its client's open documents, and the version mapping both ways.

The mirror keeps each open document's text (so a resumed client's ``didOpen`` of an unchanged
document costs Lean nothing), a client-to-server version offset (Lean ignores versions lower than
one it has seen, so a client that comes back counting from 1 is shifted above them), and the
latest diagnostics and progress of each document (replayed to a resumed client).

It decides and returns; it sends nothing itself: each document notification becomes a
``MirrorOutcome`` (what goes to Lean, what goes to the client) that the session carries out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .documents import DocumentBudget, DocumentText
from .guard import is_int
from .lsp import JsonObject, notification
from .text import utf8_length

# Closed documents keep only their version numbering (a few hundred bytes each); past this many
# the oldest are forgotten (Lean's own state of a closed document is gone anyway).
MAX_CLOSED_DOCUMENTS = 1000

# Requests that name a document by "uri" and "version" at the top level of their params.
VERSIONED_URI_METHODS = ("textDocument/waitForDiagnostics", "$/lean/waitForILeans")
_DEPENDENCY_BUILD_MODES = ("always", "once", "never")
_CACHED_NOTIFICATIONS = ("textDocument/publishDiagnostics", "$/lean/fileProgress")


@dataclass
class DocumentState:
    # The session's copy of the text while the document is open; None once it is closed.
    text: DocumentText | None
    server_version: int
    # server version = client version + offset: Lean ignores versions lower than one it has seen,
    # so a client that comes back counting from 1 is shifted above everything Lean knows.
    offset: int = 0
    # Messages for client versions below this predate the client's (re)open and are dropped.
    min_client_version: int = 0
    diagnostics: JsonObject | None = None
    progress: JsonObject | None = None

    @property
    def is_open(self) -> bool:
        return self.text is not None


@dataclass
class MirrorOutcome:
    """What one document notification of the client turns into."""

    to_lean: JsonObject | None = None
    to_client: list[JsonObject] = field(default_factory=list)
    # What was refused and why (the client is told in ``to_client``); None when nothing was.
    refusal: str | None = None


def _refused(method: str, uri: str, reason: str) -> MirrorOutcome:
    """A document notification that does not reach Lean (nobody to answer it to)."""
    refusal = f"{method} of {uri}: {reason}"
    shown = notification("window/showMessage", {"type": 1, "message": f"Refused {refusal}"})
    return MirrorOutcome(to_client=[shown], refusal=refusal)


class DocumentMirror:
    """The documents of one session, by URI, in order of last opening."""

    def __init__(self, budget: DocumentBudget) -> None:
        # Limits on the documents kept, and the bytes each owner holds (shared by the sessions
        # of one manager).
        self.budget = budget
        self.documents: dict[str, DocumentState] = {}

    def open_count(self) -> int:
        return sum(1 for state in self.documents.values() if state.is_open)

    # -- client -> Lean --------------------------------------------------------------------

    def did_open(self, owner: str | None, params: JsonObject) -> MirrorOutcome:
        """``params`` passed guard.params_problem: uri, version and text are well typed."""
        text_document = params["textDocument"]
        uri = text_document["uri"]
        client_version = text_document["version"]
        text = text_document["text"].replace("\r\n", "\n")
        doc = self.documents.get(uri)
        if doc is not None and doc.is_open:
            return self._reopen(owner, uri, doc, client_version, text)
        budget = self.budget
        open_count = self.open_count()
        if budget.max_open_documents and open_count >= budget.max_open_documents:
            return _refused(
                "textDocument/didOpen",
                uri,
                f"this session has {open_count} open documents, its limit; close one first",
            )
        problem = budget.charge(owner, 0, utf8_length(text))  # before building anything
        if problem is not None:
            return _refused("textDocument/didOpen", uri, problem)
        mirror = DocumentText(text)
        offset = 0 if doc is None else max(0, doc.server_version + 1 - client_version)
        doc = DocumentState(
            text=mirror,
            server_version=client_version + offset,
            offset=offset,
            min_client_version=client_version,
        )
        self.documents.pop(uri, None)  # re-inserted last: the dict is in order of last opening
        self.documents[uri] = doc
        language = text_document.get("languageId")
        forwarded: JsonObject = {
            "textDocument": {
                "uri": uri,
                "languageId": language if isinstance(language, str) else "lean4",
                "version": doc.server_version,
                "text": text_document["text"],
            }
        }
        if params.get("dependencyBuildMode") in _DEPENDENCY_BUILD_MODES:
            forwarded["dependencyBuildMode"] = params["dependencyBuildMode"]
        return MirrorOutcome(to_lean=notification("textDocument/didOpen", forwarded))

    def _reopen(
        self, owner: str | None, uri: str, doc: DocumentState, client_version: int, text: str
    ) -> MirrorOutcome:
        """A resumed client opens a document Lean already has: never restart its worker."""
        assert doc.text is not None
        if doc.text.equals(text):
            doc.min_client_version = client_version
            doc.offset = doc.server_version - client_version
            cached = [message for message in (doc.progress, doc.diagnostics) if message is not None]
            replay = [self.to_client(message) for message in cached]
            return MirrorOutcome(to_client=[message for message in replay if message is not None])
        problem = self.budget.charge(owner, doc.text.utf8_bytes, utf8_length(text))
        if problem is not None:
            return _refused("textDocument/didOpen", uri, problem)
        mirror = DocumentText(text)
        doc.min_client_version = client_version
        doc.server_version += 1
        doc.offset = doc.server_version - client_version
        doc.text = mirror
        change = {
            "textDocument": {"uri": uri, "version": doc.server_version},
            "contentChanges": [{"text": text}],
        }
        return MirrorOutcome(to_lean=notification("textDocument/didChange", change))

    def did_change(self, owner: str | None, params: JsonObject) -> MirrorOutcome:
        """Apply the edits to the mirror, then forward them so that Lean ends up with exactly
        that text: positions Lean might place differently (past the end of a line or of the
        text, inside a surrogate pair) are sent as where the mirror placed them. A message that
        is refused (malformed, too many edits, too large a result) changes nothing."""
        text_document = params["textDocument"]
        uri = text_document["uri"]
        doc = self.documents.get(uri)
        changes = params["contentChanges"]
        if doc is None or doc.text is None or not changes:
            # Lean ignores changes to closed documents and empty change lists; so do we.
            return MirrorOutcome()
        budget = self.budget
        if budget.max_edits_per_message and len(changes) > budget.max_edits_per_message:
            return _refused(
                "textDocument/didChange",
                uri,
                f"{len(changes)} edits in one message, the limit is "
                f"{budget.max_edits_per_message}; send the whole text as one change instead",
            )
        try:
            text, forwarded_changes = apply_changes(doc.text, changes)
        except ValueError as exc:
            return _refused("textDocument/didChange", uri, f"malformed edit: {exc}")
        problem = budget.charge(owner, doc.text.utf8_bytes, text.utf8_bytes)
        if problem is not None:
            return _refused("textDocument/didChange", uri, problem)
        doc.text = text
        forwarded_document: JsonObject = {"uri": uri}
        client_version = text_document.get("version")
        if is_int(client_version):
            forwarded_document["version"] = client_version + doc.offset
            doc.server_version = max(doc.server_version, client_version + doc.offset)
        change = {"textDocument": forwarded_document, "contentChanges": forwarded_changes}
        return MirrorOutcome(to_lean=notification("textDocument/didChange", change))

    def did_close(self, owner: str | None, params: JsonObject) -> MirrorOutcome:
        uri = params["textDocument"]["uri"]
        doc = self.documents.get(uri)
        if doc is None or doc.text is None:
            return MirrorOutcome()  # never opened (or refused): nothing for Lean to close
        self.budget.release(owner, doc.text.utf8_bytes)
        doc.text = None
        doc.diagnostics = doc.progress = None
        self._forget_closed_documents()
        closed = notification("textDocument/didClose", {"textDocument": {"uri": uri}})
        return MirrorOutcome(to_lean=closed)

    def _forget_closed_documents(self) -> None:
        closed = [uri for uri, doc in self.documents.items() if not doc.is_open]
        for uri in closed[: max(0, len(closed) - MAX_CLOSED_DOCUMENTS)]:
            del self.documents[uri]

    def free(self, owner: str | None) -> None:
        """Forget every document (the session exited): they stop counting toward the owner."""
        for doc in self.documents.values():
            if doc.text is not None:
                self.budget.release(owner, doc.text.utf8_bytes)
        self.documents = {}

    def map_request_versions(self, method: str, params: JsonObject) -> JsonObject:
        """A request's params with document versions in Lean's numbering (``params`` itself
        when nothing changes)."""
        if method in VERSIONED_URI_METHODS:
            doc = self.documents.get(params.get("uri", ""))
            if doc is not None and is_int(params.get("version")):
                return {**params, "version": params["version"] + doc.offset}
        text_document = params.get("textDocument")
        if isinstance(text_document, dict) and is_int(text_document.get("version")):
            doc = self.documents.get(text_document.get("uri", ""))
            if doc is not None and doc.offset:
                mapped = {**text_document, "version": text_document["version"] + doc.offset}
                return {**params, "textDocument": mapped}
        return params

    # -- Lean -> client --------------------------------------------------------------------

    def from_lean(self, method: str, message: JsonObject) -> JsonObject | None:
        """A notification of Lean's as the client gets it: ``message`` itself when nothing
        changes, a copy with the client's version, or None when it is stale. Diagnostics and
        progress of a mirrored document are kept for a resumed client."""
        params = message.get("params")
        if method not in _CACHED_NOTIFICATIONS or not isinstance(params, dict):
            return message
        if method == "textDocument/publishDiagnostics":
            uri = params.get("uri")
        else:
            uri = (params.get("textDocument") or {}).get("uri")
        doc = self.documents.get(uri) if isinstance(uri, str) else None
        if doc is None:
            return message
        if method == "textDocument/publishDiagnostics":
            if doc.is_open:
                doc.diagnostics = message
        else:
            doc.progress = message
        return self.to_client(message)

    def to_client(self, message: JsonObject) -> JsonObject | None:
        """``message`` with its document version in the client's numbering; None if stale."""
        params = message["params"]
        if message["method"] == "textDocument/publishDiagnostics":
            doc = self.documents.get(params["uri"])
            version = params.get("version")
            if doc is None or not isinstance(version, int) or doc.offset == 0:
                return message
            client_version = version - doc.offset
            if client_version < doc.min_client_version:
                return None
            return {**message, "params": {**params, "version": client_version}}
        text_document = params.get("textDocument") or {}
        doc = self.documents.get(text_document.get("uri", ""))
        version = text_document.get("version")
        if doc is None or not isinstance(version, int) or doc.offset == 0:
            return message
        client_version = version - doc.offset
        if client_version < doc.min_client_version:
            return None
        mapped = {**text_document, "version": client_version}
        return {**message, "params": {**params, "textDocument": mapped}}


def apply_changes(
    text: DocumentText, changes: list[JsonObject]
) -> tuple[DocumentText, list[JsonObject]]:
    """(``text`` after ``changes``, the changes as Lean should get them: only the fields Lean
    reads, and every position exact). ValueError when a range ends before it starts."""
    forwarded: list[JsonObject] = []
    for change in changes:
        edit_range = change.get("range")
        if edit_range is None:
            text = DocumentText(change["text"])
            forwarded.append({"text": change["text"]})
            continue
        start, end = edit_range["start"], edit_range["end"]
        start_index, start_exact = text.locate(start["line"], start["character"])
        end_index, end_exact = text.locate(end["line"], end["character"])
        if end_index < start_index:
            raise ValueError("range end before range start")
        # Only the fields Lean reads (a stray `rangeLength` of the wrong type would fail Lean's
        # decoding); positions the mirror clamped are sent as where it placed them, since
        # clamping is left to each implementation.
        if start_exact:
            start = _position(start["line"], start["character"])
        else:
            start = _position(*text.position(start_index))
        if end_exact:
            end = _position(end["line"], end["character"])
        else:
            end = _position(*text.position(end_index))
        forwarded.append({"range": {"start": start, "end": end}, "text": change["text"]})
        text = text.replaced(start_index, end_index, change["text"])
    return text, forwarded


def _position(line: int, character: int) -> JsonObject:
    return {"line": line, "character": character}
