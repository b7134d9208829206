#!/usr/bin/env python3
"""Scripted stand-in for the Lean 4 language server (``lean --server`` / ``lake serve --``).

``python tests/lean_standin.py [ARGS...]`` speaks, on stdin/stdout, the wire dialect of the Lean 4
watchdog as written down in ``/work/shared/lean-lsp.md`` (section numbers "§" below refer to
it). It is a test double for the transport, not a Lean: a small set of rules, all listed here,
turns a document into diagnostics, goals, hovers and completions, and comment directives
(``-- standin: ...``) script time and faults. Standard library only; it imports nothing from the
project, so it stays an independent implementation of the protocol.

Command line and environment
============================
- All arguments are accepted and ignored (``--server``, ``--``, ``-j4``, ``-M1024``, paths ...),
  except:
  - ``-Dserver.reportDelayMs=N`` (or ``-D server.reportDelayMs=N``): the report debounce in
    milliseconds (default 200, like Lean). Malformed values are ignored.
  - ``--version`` / ``-v``: print ``Lean (version 4.99.0-standin, ...)`` and exit 0 (no server).
- Environment ``LEAN_STANDIN_REPORT_DELAY_MS=N`` sets the same delay and **wins over** ``-D`` (so
  a harness can speed up a server whose command line it does not own).
- Nothing but LSP frames is ever written to stdout; stderr carries the messages listed below.
- Exit codes: 0 after ``exit`` or EOF on stdin; 1 on a fatal protocol error (stderr
  ``Watchdog error: <message>``); the code given to the ``exit`` directive.

Wire (§1.5, §2)
===============
- Output frames are ``Content-Length: <UTF-8 byte count>\\r\\n\\r\\n<JSON>``; the JSON is compact,
  keys sorted (Lean's ``Json.obj`` is an ordered tree), non-ASCII written raw, ``"jsonrpc":"2.0"``
  in every message, optional fields omitted (``null`` only where the protocol has it: the
  ``shutdown`` result, ``plainGoal``/``plainTermGoal``/``hover`` results).
- Input headers are read up to an empty line. Each header line must end in ``\\r\\n`` and look like
  ``Name: value``; only ``Content-Length`` (case-sensitive, a natural number) is used. A malformed
  header is fatal: ``Watchdog error: Invalid header field: "<line>"`` and exit 1 (a frame without
  Content-Length gives ``Invalid header field: missing Content-Length``; exact texts unverified).
- A body that is not JSON, not an object, lacks ``"jsonrpc":"2.0"``, or is neither request,
  notification, response nor error response is fatal (``JSON '<body>' did not have the format of
  a JSON-RPC message.``, text unverified). ``"params": null`` is the same as no params.
- Handshake: the first message must be the request ``initialize`` (else fatal ``Expected method
  'initialize', got method '<m>'``); it is answered at once with the 2025 capabilities of §2.3
  and ``serverInfo {"name":"Lean 4 Server","version":"0.3.0"}``. The next message must be the
  notification ``initialized`` (else fatal ``Expected method 'initialized', got method '<m>'``;
  so ``didOpen`` before it exits 1). Right after ``initialized`` the server sends the request
  ``client/registerCapability`` (id ``"register_lean_watcher"``, one registration ``{"id":
  "lean_watcher", "method": "workspace/didChangeWatchedFiles"}`` with watchers ``**/*.lean`` and
  ``**/*.ilean``; the inner registration id is unverified). A second ``initialize`` later is an
  unknown method (-32601; unverified).
- Main loop: a request without params (other than ``shutdown``) or a notification without params
  (``exit`` before ``shutdown`` included) is fatal: ``Got invalid JSON-RPC message``. Bad params
  of ``didOpen``/``didChange``/``didClose`` are fatal too (``Cannot parse request params: ...``;
  unverified whether Lean is that strict).
- Client responses (to ``register_lean_watcher``, refresh requests, or unknown ids) are recorded
  (see the ``replies`` directive) and otherwise ignored.
- ``shutdown``: cancels all elaboration, answers every pending request with -32801 ``The file
  worker for <uri> has been terminated.``, then replies ``null`` (no empty diagnostics are
  published; unverified). Afterwards every request gets -32600 ``Request received after
  'shutdown' request.``, other notifications are ignored, ``exit`` (with or without params) or EOF
  exits 0. EOF on stdin at any time exits 0 (Lean treats EOF as ``exit``; before ``shutdown``
  that is the brief's rule, unverified).
- ``exit`` with params before ``shutdown`` is just an unsupported notification (see below).
- Notifications: ``textDocument/didOpen``, ``didChange``, ``didClose``, ``$/cancelRequest``;
  ``textDocument/didSave`` and ``workspace/didChangeWatchedFiles`` are accepted and ignored;
  other ``$/...`` notifications are silently ignored; anything else writes ``Got unsupported
  notification: <method>`` to stderr.
- Requests for a document that is not open: -32801 ``Cannot process request to closed file
  '<uri>'``. Unknown methods: -32601 ``No request handler found for '<method>'`` (checked before
  the URI). Undecodable params: -32602 ``Cannot parse request params: <json>\\n<reason>``.
- ``$/cancelRequest {id}``: a request still pending (also one queued behind a crashed worker;
  unverified) gets -32800 with an empty message; answered or unknown ids are ignored. Every
  request gets exactly one response.
- Positions and ranges are UTF-16 code units everywhere (the stand-in works on code points
  internally). Out-of-range positions are clamped: a line past the end means end of file, a
  column past the end of its line means end of line, a column inside a surrogate pair rounds down.

Documents (§3, §4)
==================
- ``didOpen {textDocument:{uri,languageId,version,text}, dependencyBuildMode?}``: CRLF becomes
  LF; at once ``$/lean/fileProgress`` with one ``kind:1`` range (0,0)->EOF for that version, then
  elaboration starts. A second ``didOpen`` of an open URI is ignored (unverified).
- ``didChange``: ``contentChanges`` are applied in order (range edits ``{range,text}`` in UTF-16
  positions, or full ``{text}``; ``rangeLength`` ignored); an empty array ignores the whole
  notification; the version is ``textDocument.version`` or 0. The running elaboration of the old
  version is cancelled: nothing (diagnostics, progress) for a version lower than the highest seen
  is sent after that. A change to a lower version than one already seen is applied but produces
  no output. ``didChange`` for a URI that is not open is silently ignored.
- Header change: if the ``import`` lines differ from the previous version's, the worker
  "restarts" (Lean: exit 2): a fresh whole-file ``kind:1`` fileProgress is sent first (Lean's
  200 ms sleep before the restart is not modelled).
- ``didClose``: cancels elaboration, answers pending requests of the URI with -32801 ``The file
  worker for <uri> has been terminated.``, publishes an empty diagnostics list (last version) and
  forgets the document.

Elaboration and reporting timeline (§4.1, §4.2)
-----------------------------------------------
Each version is elaborated by one asyncio task (stdin keeps being read meanwhile). The document
is cut into commands (rules below) and directive lines; they run in line order ("steps"; a
command completes at its last line, a directive inside a command runs before it completes).
Steps are instantaneous except directives that wait (``delay``, ``spin``). The reporter wakes
``reportDelayMs`` after the edit:

- Fast version (elaboration finished when the reporter wakes): ``fileProgress processing:[]``
  **then** one ``publishDiagnostics`` with the complete list (Lean's order when the reporter never
  had to wait, §4.2 "ordering caveat").
- Slow version (elaboration still waiting when the reporter wakes): the first time, a
  ``publishDiagnostics`` with what is done so far (possibly ``[]``); at every wait, a
  ``fileProgress`` ``kind:1`` from the waiting command's first line (or the directive's line) to
  EOF; afterwards a cumulative ``publishDiagnostics`` each time a step adds messages; finally
  ``processing:[]`` (after the last diagnostics).
- Every version that is neither superseded nor crashed gets at least one ``publishDiagnostics``
  (with ``version``).
- ``textDocument/waitForDiagnostics {uri, version}`` is answered ``{}`` only after the final
  fileProgress and diagnostics of a version >= ``version`` were sent; if no such version exists
  yet it waits for one (never answered if it never comes). This is the brief's rule; a real Lean
  may also answer after an edit cancelled the version it was waiting for (unverified).

Requests
--------
Position requests wait until the command containing the position has been elaborated;
``documentSymbol``/``foldingRange`` wait for the whole version; others answer at once. A request
waiting on a version that a ``didChange`` superseded is answered from that old version (Lean
answers from the snapshot it started on; inference, §5.3).

- ``textDocument/hover``: on an identifier that names a parameter of the enclosing declaration,
  a document declaration or a builtin: ``{"contents":{"kind":"markdown","value":"```lean\\nNAME :
  TYPE\\n```"},"range":<identifier>}`` (builtins with a docstring append ``\\n***\\n<doc>``); on a
  number ``N : Nat``; otherwise ``null``.
- ``textDocument/completion``: the identifier prefix before the cursor (letters, digits, ``_``,
  ``'``, ``!``, ``?``, ``.``) is matched as a string prefix against every known full name and its
  short forms under the current namespaces and ``open``\\ s; label = the part after the last ``.``
  of the prefix. ``{"isIncomplete":true,"items":[{"label","kind","data"}...]}`` sorted by label;
  ``kind`` is 3 (function) when the type has an arrow, else 21 (constant); ``data`` is
  ``{"id":{"const":{"declName":NAME}},"params":{"position","textDocument":{"uri"}}}`` (shape
  approximates Lean's). Empty prefix or no match: ``{"isIncomplete":true,"items":[]}``.
- ``completionItem/resolve``: the item with ``detail`` = the type (and ``documentation`` for
  documented builtins); routed by ``data.params.textDocument.uri``.
- ``$/lean/plainGoal``: ``null`` outside a ``by`` block; inside (from the ``by`` token up to the
  next command) the goals before the first tactic whose start is at or before the position
  when the position is exactly that start, the goals after it when the position is past it (as
  Lean's ``goalsAt?``). ``{"goals":[...],"rendered":"```lean\\n...\\n```"}`` (several goals joined
  by ``\\n---\\n``), ``{"goals":[],"rendered":"no goals"}`` when none are left.
- ``$/lean/plainTermGoal``: inside a term body after ``:=`` (not ``by``): ``{"goal":"<hyps>\\n⊢
  <expected type>","range":<whole body>}``; inside the argument of an ``exact`` tactic: the main
  goal before it and the argument's range; otherwise ``null``.
- ``textDocument/definition``/``declaration``: a ``LocationLink`` list for document
  declarations, ``[]`` for builtins; ``typeDefinition``: ``[]``.
- ``textDocument/documentSymbol``: namespaces and sections (kind 3, anonymous section
  ``<section>``) with children; named declarations (kind 6).
- ``textDocument/semanticTokens/full`` and ``/range``: ``{"data":[...]}`` with keyword tokens
  (command keywords, ``by``, ``fun``, ...; type 0) and ``sorry`` (type 23 ``leanSorryLike``).
- ``textDocument/documentColor``, ``foldingRange``, ``codeAction``, ``inlayHint``,
  ``documentHighlight``: ``[]``; ``signatureHelp``: ``null``; ``selectionRange``: one zero-width
  range per position. Watchdog-level ``textDocument/references``, ``workspace/symbol``,
  ``callHierarchy/*``: ``[]``; ``prepareRename``/``rename``/``prepareCallHierarchy``: ``null``;
  ``$/lean/waitForILeans``: ``{}`` (-32801 ``Cannot process '$/lean/waitForILeans' request to
  closed file '<uri>'`` for closed files).
- ``$/lean/rpc/connect {uri}``: ``{"sessionId": <random 64-bit>}``; ``$/lean/rpc/call``: -32900
  ``Outdated RPC session`` for unknown sessions, else -32601 ``No RPC method '<m>' bound``.

The tiny "Lean"
===============
- Comments ``-- ...`` and (nested) ``/- ... -/`` are blanked out before anything else; string
  literals ``"..."`` (one line, usual escapes) are respected.
- Commands start at column 0 with a command keyword, possibly after modifiers (``private``,
  ``protected``, ``noncomputable``, ``partial``, ``unsafe``) or an attribute ``@[...]``. Lines
  that are indented, or start at column 0 with a symbol (``|``, ``:=``, ``)`` ...) or with
  ``where``/``deriving``/``with``/``by``/``then``/``else``/``termination_by``/``decreasing_by``,
  continue the current command. Keywords: ``def theorem lemma example abbrev instance #eval
  #check #print #reduce import open namespace section end variable universe set_option structure
  inductive class axiom opaque attribute macro macro_rules syntax notation infix infixl infixr
  prefix postfix elab mutual``.
- Parse error: any other line at column 0 (identifier, number, string) is the error ``unexpected
  identifier; expected command`` (or ``unexpected token '<t>'; expected command``) on its first
  token; following such lines are skipped silently until the next command (Lean's recovery).
- ``import M`` before any other command: the header, accepted silently (modules are not
  checked). Later: ``invalid 'import' command, it must be used in the beginning of the file``.
- ``namespace N``/``section [N]``/``end [N]`` nest (names of ``end`` are not checked; ``end``
  without scope: ``invalid 'end', insufficient scopes``); ``open N...`` lasts until the enclosing
  scope ends. Names resolve as in Lean: innermost namespace prefix first, then the root, then
  opened namespaces; ``_root_.`` is honoured. ``variable``, ``universe``, ``set_option``,
  ``instance``, ``attribute``, ``axiom``, ``opaque``, notation commands etc. are accepted and
  not analysed; ``structure``/``inductive``/``class`` NAME declare ``NAME : Type``.
- Every diagnostic has ``source:"Lean 4"`` and ``fullRange``; ``range`` is ``fullRange`` if that
  is on one line, else it ends at (startLine+1, 0). Severity 1 error, 2 warning, 3 information.
- Declarations ``def``/``abbrev``/``theorem``/``lemma``/``example``: ``KW NAME BINDERS [: TYPE]
  := BODY`` (``where``/``|`` bodies are accepted unanalysed). Binder groups ``(x y : T)``,
  ``{a : T}``, ``[C]`` (named ``inst✝``), ``⦃x : T⦄``. Missing ``:=``: ``unexpected token '<t>';
  expected ':=', 'where' or '|'`` (or ``unexpected end of input; ...`` at EOF); a theorem without
  ``:`` gets ``...; expected ':'``.
  - A name that is already declared (document or builtin): error ``'NAME' has already been
    declared`` on the name (full name shown); the declaration is skipped.
  - ``def`` type: the ascription, else inferred (``Nat`` for arithmetic, ``String`` for strings);
    with explicit parameters the type is ``T1 → T2 → R`` (``{a : T} →`` / ``[C] →`` for implicit
    and instance binders), a simplification of Lean's signature printing. Theorems:
    ``∀ (x : T) ..., STATEMENT``, or just ``STATEMENT`` without binders.
  - A ``def`` term body in the expression language below is checked for unknown identifiers
    (error ``unknown identifier 'x'`` on each) and, without parameters, evaluated (the value is
    used by later ``#eval``); bodies outside the language are accepted unchecked. ``def x : Nat
    := "s"`` gives ``type mismatch\\n  "s"\\nhas type\\n  String : Type\\nbut is expected to have
    type\\n  Nat : Type`` on the body. Theorem term proofs are not checked.
  - ``sorry`` anywhere in the body: warning ``declaration uses `sorry` `` on the name (on the
    ``example`` keyword for examples). This is the backtick form of lean4 PR #11608 (Dec 2025);
    older Lean printed ``declaration uses 'sorry'``.
  - ``:= by`` tactic block: tactics are the rest of the ``by`` line and the following lines of
    the command, one per line (split at top-level ``;``; a line continues while brackets are
    open; leading ``·`` is skipped); a tactic's name is its first word. The initial goal is
    ``<hypotheses>\\n⊢ STATEMENT`` with one hypothesis line per binder group, consecutive binders
    of the same type merged (``x y : Nat``). Closing tactics close the main goal: ``rfl simp
    simp_all decide trivial omega exact exact? sorry admit assumption norm_num linarith
    contradiction native_decide aesop``. ``constructor`` splits a main goal ``A ∧ B`` into ``case
    left ⊢ A`` and ``case right ⊢ B``. Every other tactic leaves the goals unchanged (tactic
    effects are not modelled). A tactic when no goals are left: error ``no goals to be proved``.
    Goals left at the end: error ``unsolved goals\\n<goals joined by blank lines>`` with
    ``leanTags:[1]``, fullRange from ``by`` to the end of the last tactic (so ``range`` is the
    ``by`` line up to (line+1,0) when the block spans lines).
- ``#eval EXPR``: information on the ``#eval`` keyword ((line,0)-(line,5)): the value (Nat as
  digits, String quoted and escaped as Lean prints a String). ``#eval IO.println E`` /
  ``IO.print E``: the printed text (``text\\n`` / ``text``). Unknown identifiers: errors, no
  value. Anything outside the language: error ``standin: cannot evaluate this expression``.
- Expression language: Nat literals, string literals, names, parentheses (``(e : T)`` ignores the
  ascription), application by juxtaposition, ``* / %`` (70) and ``+ - ++`` (65), left
  associative, Nat semantics (truncated ``-``, ``x / 0 = 0``, ``x % 0 = x``). Names are
  parameters, earlier document ``def`` s (applied to all their explicit parameters), or the
  builtins ``Nat.zero Nat.succ Nat.add Nat.sub Nat.mul String.length String.append toString id``.
- ``#check NAME``: information ``FULLNAME : TYPE`` on the ``#check`` keyword, for document
  declarations and the builtin table (``Nat``, ``Nat.add : Nat → Nat → Nat``, ``Nat.succ``,
  ``List.map``, ``id``, ``True``, ``False``, ``String``, ``IO.println`` ...). Newer Lean may
  print constants in signature form (``Nat.add (n m : Nat) : Nat``; unverified), the stand-in
  does not. ``#check EXPR``: ``EXPR : Nat``/``String`` for the expression language.
- ``#print NAME``: ``def NAME : TYPE :=\\nBODY`` (``fun x => BODY`` with parameters), ``theorem
  NAME : TYPE :=\\nPROOF``, or ``KIND NAME : TYPE`` for builtins; ``#print "text"`` prints text.
  ``#reduce`` is accepted silently.

Directives
==========
A line comment ``-- standin: NAME [ARG]`` is a directive; it runs when elaboration reaches its
line (never inside a block comment). Unknown names or bad arguments give the error diagnostic
``standin: unknown directive '<name>'`` / ``standin: bad argument for directive '<name>': ...``.

- ``delay SECONDS``: elaboration waits that long here (see the timeline above); a ``didChange``
  meanwhile cancels it and the old version's remaining output is never sent.
- ``crash [CODE]``: the file worker "crashes" with exit code CODE (default 139): pending requests
  of the URI get -32902 ``Server process for <uri> crashed, likely due to a stack overflow or a
  bug.`` (``crash 1``: -32901 ``Server process for <uri> crashed, see stderr for exception.``),
  then ``fileProgress`` with one ``kind:2`` range (0,0)->EOF. stderr gets ``Stack overflow
  detected. Aborting.`` (or ``[<uri>] uncaught exception: standin crash`` for code 1). Until the
  next ``didChange`` new requests for the URI are queued and other messages for it dropped; that
  ``didChange`` restarts the worker (whole-file ``kind:1`` progress, re-elaboration, queued
  requests answered; a ``crash`` still in the text crashes again).
- ``exit CODE``: the whole server writes ``Watchdog error: standin exit`` to stderr, flushes
  stdout and exits with CODE.
- ``flood N``: sends N extra ``fileProgress`` notifications (``flood N diagnostics``: N
  ``publishDiagnostics`` of the list so far) back to back, waiting for stdout to drain between
  them (backpressure tests).
- ``stderr TEXT``: writes ``[<uri>] TEXT`` to stderr (as a worker does).
- ``hang``: the server stops reading stdin and never writes anything again.
- ``refresh``: sends the request ``workspace/semanticTokens/refresh`` (no params; ids 0, 1, 2 ...
  from one global counter).
- ``memory MB``: allocates and touches MB megabytes and holds them; if that fails the worker dies
  as Lean's runtime does (stderr ``INTERNAL PANIC: out of memory``, like ``crash 1``).
- ``spin``: starts a thread that burns CPU for ever; elaboration stops at this line for ever (the
  rest of the server keeps answering).
- ``echo-env NAME``: information diagnostic on the directive with the variable's value (``<unset
  NAME>`` if unset).
- ``config``: information diagnostic with ``{"argv":[...],"cwd":...,"reportDelayMs":N}`` (JSON).
- ``replies``: information diagnostic with the JSON object of client responses received so far,
  keyed by the JSON of the id (``{"\\"register_lean_watcher\\"":null,"0":null}``).

Where lean-lsp.md is unsure (choices made here)
===============================================
- Fast-version order ``processing:[]`` before the final ``publishDiagnostics`` follows §4.2; the
  exact condition ("never had to wait") is modelled as "elaboration finished before the report
  delay expired".
- Exact texts of fatal header/JSON errors, of ``Cannot parse request params`` for notifications,
  and whether bad notification params are fatal at all.
- EOF before ``shutdown`` exits 0; ``shutdown`` publishes no empty diagnostics.
- ``waitForDiagnostics`` after an edit cancelled the version it waited for (see above).
- ``#check`` of constants in arrow form, not the newer signature form; the ``sorry`` warning in
  the backtick form (PR #11608).
- Whether ``workspace/semanticTokens/refresh`` carries ``params`` (sent without).
- Completion ``data`` shape and item kinds; ``documentSymbol`` kind 6 for all declarations.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

Json = Any
Pos = tuple[int, int]  # (line, column in code points)
INF = 1 << 62

DEFAULT_REPORT_DELAY_MS = 200
REPORT_DELAY_OPTION = "server.reportDelayMs"
REPORT_DELAY_ENV = "LEAN_STANDIN_REPORT_DELAY_MS"
VERSION_LINE = "Lean (version 4.99.0-standin, x86_64-unknown-linux-gnu, commit standin, Release)"

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801
RPC_NEEDS_RECONNECT = -32900
WORKER_EXITED = -32901
WORKER_CRASHED = -32902

SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO = 1, 2, 3
LEAN_TAG_UNSOLVED_GOALS = 1

TOKEN_TYPES = [
    "keyword", "variable", "property", "function", "namespace", "type", "class", "enum",
    "interface", "struct", "typeParameter", "parameter", "enumMember", "event", "method", "macro",
    "modifier", "comment", "string", "number", "regexp", "operator", "decorator", "leanSorryLike",
]
TOKEN_MODIFIERS = [
    "declaration", "definition", "readonly", "static", "deprecated", "abstract", "async",
    "modification", "documentation", "defaultLibrary",
]
KEYWORD_TOKEN, SORRY_TOKEN = 0, TOKEN_TYPES.index("leanSorryLike")

CAPABILITIES: Json = {
    "callHierarchyProvider": True,
    "codeActionProvider": {
        "codeActionKinds": ["quickfix", "refactor", "source.organizeImports"],
        "resolveProvider": True,
    },
    "completionProvider": {"resolveProvider": True, "triggerCharacters": ["."]},
    "declarationProvider": True,
    "definitionProvider": True,
    "documentHighlightProvider": True,
    "documentSymbolProvider": True,
    "foldingRangeProvider": True,
    "hoverProvider": True,
    "inlayHintProvider": {"resolveProvider": False},
    "referencesProvider": True,
    "renameProvider": {"prepareProvider": True},
    "semanticTokensProvider": {
        "full": True,
        "legend": {"tokenModifiers": TOKEN_MODIFIERS, "tokenTypes": TOKEN_TYPES},
        "range": True,
    },
    "textDocumentSync": {
        "change": 2,
        "openClose": True,
        "save": {"includeText": True},
        "willSave": False,
        "willSaveWaitUntil": False,
    },
    "typeDefinitionProvider": True,
    "workspaceSymbolProvider": True,
}
SERVER_INFO: Json = {"name": "Lean 4 Server", "version": "0.3.0"}
REGISTER_WATCHER_ID = "register_lean_watcher"
REGISTER_WATCHER_PARAMS: Json = {
    "registrations": [{
        "id": "lean_watcher",
        "method": "workspace/didChangeWatchedFiles",
        "registerOptions": {"watchers": [{"globPattern": "**/*.lean"},
                                         {"globPattern": "**/*.ilean"}]},
    }],
}

DECLARATION_KEYWORDS = {"def", "theorem", "lemma", "example", "abbrev"}
TYPE_KEYWORDS = {"structure", "inductive", "class"}
COMMAND_KEYWORDS = DECLARATION_KEYWORDS | TYPE_KEYWORDS | {
    "instance", "#eval", "#check", "#print", "#reduce", "import", "open", "namespace", "section",
    "end", "variable", "universe", "set_option", "axiom", "opaque", "attribute", "macro",
    "macro_rules", "syntax", "notation", "infix", "infixl", "infixr", "prefix", "postfix", "elab",
    "mutual",
}
MODIFIERS = {"private", "protected", "noncomputable", "partial", "unsafe"}
CONTINUATION_WORDS = {
    "where", "deriving", "with", "by", "then", "else", "termination_by", "decreasing_by",
}
KEYWORD_WORDS = {
    "by", "fun", "at", "with", "then", "else", "if", "do", "where", "match", "have", "show",
    "let", "from", "in", "deriving",
}
CLOSING_TACTICS = {
    "rfl", "simp", "simp_all", "decide", "trivial", "omega", "exact", "exact?", "sorry", "admit",
    "assumption", "norm_num", "linarith", "contradiction", "native_decide", "aesop",
}
OPEN_BRACKETS = {"(": ")", "{": "}", "[": "]", "⦃": "⦄", "⟨": "⟩"}
CLOSE_BRACKETS = set(OPEN_BRACKETS.values())
SYMBOLS = sorted(
    ["<;>", ":=", "=>", "->", "<-", "++", "<=", ">=", "!=", "==", "&&", "||", "::", ".."],
    key=len, reverse=True,
)
BINARY_PRECEDENCE = {"+": 65, "-": 65, "++": 65, "*": 70, "/": 70, "%": 70}
NOT_IDENTIFIER_LETTERS = set("λΠΣ")


class Fatal(Exception):
    """A protocol violation that makes the watchdog exit 1."""


class BadParams(Exception):
    """Params that cannot be decoded."""


class RequestError(Exception):
    """A request answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class EvalError(Exception):
    """An expression outside the stand-in's expression language."""


def compact(value: Json) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_frame(message: Json) -> bytes:
    body = compact(message).encode("utf-8", "replace")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


# --------------------------------------------------------------------------------------------
# Text and positions
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


class SourceText:
    """A document's text (CRLF normalised) with UTF-16 <-> code point position conversion."""

    def __init__(self, text: str) -> None:
        self.source = text.replace("\r\n", "\n")
        self.lines = self.source.split("\n")
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1

    def eof(self) -> Pos:
        return (len(self.lines) - 1, len(self.lines[-1]))

    def lsp(self, pos: Pos) -> Json:
        line, col = pos
        text = self.lines[line] if 0 <= line < len(self.lines) else ""
        return {"character": utf16_len(text[:col]), "line": line}

    def lsp_range(self, start: Pos, end: Pos) -> Json:
        return {"end": self.lsp(end), "start": self.lsp(start)}

    def from_lsp(self, line: int, character: int) -> Pos:
        if line >= len(self.lines):
            return self.eof()
        line = max(line, 0)
        units = 0
        for index, char in enumerate(self.lines[line]):
            width = 2 if ord(char) > 0xFFFF else 1
            if units + width > character:
                return (line, index)
            units += width
        return (line, len(self.lines[line]))

    def offset(self, pos: Pos) -> int:
        return self.starts[pos[0]] + pos[1]

    def apply(self, change: Json) -> SourceText:
        if not isinstance(change, dict) or not isinstance(change.get("text"), str):
            raise BadParams("content change without text")
        if change.get("range") is None:
            return SourceText(change["text"])
        start = self.from_lsp(*parse_position(change["range"].get("start")))
        end = self.from_lsp(*parse_position(change["range"].get("end")))
        a, b = sorted((self.offset(start), self.offset(end)))
        return SourceText(self.source[:a] + change["text"] + self.source[b:])


def parse_position(value: Json) -> tuple[int, int]:
    if not isinstance(value, dict):
        raise BadParams("expected a Position")
    line, character = value.get("line"), value.get("character")
    if not isinstance(line, int) or not isinstance(character, int) or line < 0 or character < 0:
        raise BadParams("expected a Position {line, character}")
    return line, character


@dataclass
class Diag:
    severity: int
    message: str
    start: Pos
    end: Pos
    lean_tags: tuple[int, ...] = ()

    def to_lsp(self, text: SourceText) -> Json:
        full = text.lsp_range(self.start, self.end)
        if self.start[0] == self.end[0]:
            shown = full
        else:
            shown = {"end": {"character": 0, "line": self.start[0] + 1}, "start": full["start"]}
        out: Json = {"fullRange": full, "message": self.message, "range": shown,
                     "severity": self.severity, "source": "Lean 4"}
        if self.lean_tags:
            out["leanTags"] = list(self.lean_tags)
        return out


# --------------------------------------------------------------------------------------------
# Lexing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directive:
    line: int
    col: int
    end: int
    name: str
    arg: str


@dataclass(frozen=True)
class Token:
    kind: str  # "ident" | "num" | "str" | "sym"
    text: str
    line: int
    col: int
    end: int

    @property
    def start_pos(self) -> Pos:
        return (self.line, self.col)

    @property
    def end_pos(self) -> Pos:
        return (self.line, self.end)


def is_ident_start(char: str) -> bool:
    return (char.isalpha() or char == "_") and char not in NOT_IDENTIFIER_LETTERS


def is_ident_rest(char: str) -> bool:
    return (char.isalnum() or char in "_'!?") and char not in NOT_IDENTIFIER_LETTERS


def string_end(line: str, start: int) -> int:
    """Index just after the string literal opening at ``start`` (end of line if unterminated)."""
    index = start + 1
    while index < len(line):
        if line[index] == "\\":
            index += 2
        elif line[index] == '"':
            return index + 1
        else:
            index += 1
    return len(line)


def mask_comments(lines: list[str]) -> tuple[list[str], list[Directive]]:
    """Blank out comments (keeping columns) and collect ``-- standin:`` directives."""
    code: list[str] = []
    directives: list[Directive] = []
    depth = 0
    for number, line in enumerate(lines):
        chars = list(line)
        index = 0
        while index < len(line):
            if depth > 0:
                if line.startswith("/-", index):
                    depth, width = depth + 1, 2
                elif line.startswith("-/", index):
                    depth, width = depth - 1, 2
                else:
                    width = 1
                chars[index:index + width] = " " * width
                index += width
            elif line[index] == '"':
                index = string_end(line, index)
            elif line.startswith("--", index):
                words = line[index + 2:].strip()
                if words.startswith("standin:"):
                    name, _, arg = words[len("standin:"):].strip().partition(" ")
                    directives.append(Directive(number, index, len(line), name, arg.strip()))
                chars[index:] = " " * (len(line) - index)
                break
            elif line.startswith("/-", index):
                depth += 1
                chars[index:index + 2] = "  "
                index += 2
            else:
                index += 1
        code.append("".join(chars))
    return code, directives


def tokenize_line(line: str, number: int) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(line):
        char = line[index]
        if char.isspace():
            index += 1
            continue
        if char == '"':
            end, kind = string_end(line, index), "str"
        elif char in "0123456789":
            end = index
            while end < len(line) and line[end] in "0123456789":
                end += 1
            kind = "num"
        elif is_ident_start(char) or (char == "#" and index + 1 < len(line)
                                       and line[index + 1].isalpha()):
            end = index + 1
            while end < len(line):
                dotted = (line[end] == "." and end + 1 < len(line)
                          and is_ident_start(line[end + 1]))
                if is_ident_rest(line[end]) or dotted:
                    end += 1
                else:
                    break
            kind = "ident"
        else:
            symbol = next((s for s in SYMBOLS if line.startswith(s, index)), char)
            end, kind = index + len(symbol), "sym"
        tokens.append(Token(kind, line[index:end], number, index, end))
        index = end
    return tokens


def matching_bracket(tokens: list[Token], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind == "sym" and token.text in OPEN_BRACKETS:
            depth += 1
        elif token.kind == "sym" and token.text in CLOSE_BRACKETS:
            depth -= 1
            if depth == 0:
                return index
    return len(tokens) - 1


def find_top_level(tokens: list[Token], start: int, stops: set[str]) -> int:
    """Index of the first token in ``stops`` outside brackets, or ``len(tokens)``."""
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if depth == 0 and token.text in stops and token.kind in ("sym", "ident"):
            return index
        if token.kind == "sym" and token.text in OPEN_BRACKETS:
            depth += 1
        elif token.kind == "sym" and token.text in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
    return len(tokens)


def lean_quote(text: str) -> str:
    """A String as Lean's ``repr`` prints it."""
    out = ['"']
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or char == "\x7f":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def unquote(literal: str) -> str:
    body = literal[1:-1] if len(literal) >= 2 and literal.endswith('"') else literal[1:]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            code = body[index + 1]
            if code in escapes:
                out.append(escapes[code])
                index += 2
                continue
            width = {"x": 2, "u": 4}.get(code)
            digits = body[index + 2:index + 2 + width] if width else ""
            if width and len(digits) == width:
                try:
                    out.append(chr(int(digits, 16)))
                    index += 2 + width
                    continue
                except ValueError:
                    pass
        out.append(char)
        index += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------

Value = int | str


@dataclass(frozen=True)
class Num:
    value: int
    token: Token


@dataclass(frozen=True)
class Str:
    value: str
    token: Token


@dataclass(frozen=True)
class Name:
    text: str
    token: Token


@dataclass(frozen=True)
class Bin:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class App:
    fn: Expr
    args: tuple[Expr, ...]


Expr = Num | Str | Name | Bin | App


class ExprParser:
    """Pratt parser for the expression language; raises EvalError outside it."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @classmethod
    def parse(cls, tokens: list[Token]) -> Expr:
        parser = cls(tokens)
        expr = parser.expression(0)
        if parser.index != len(tokens):
            raise EvalError("trailing tokens")
        return expr

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def expression(self, min_precedence: int) -> Expr:
        left = self.application()
        while True:
            token = self.peek()
            precedence = BINARY_PRECEDENCE.get(token.text, -1) if token else -1
            if token is None or token.kind != "sym" or precedence < min_precedence:
                return left
            self.index += 1
            left = Bin(token.text, left, self.expression(precedence + 1))

    def starts_atom(self, token: Token | None) -> bool:
        if token is None:
            return False
        return token.kind in ("num", "str", "ident") or (token.kind, token.text) == ("sym", "(")

    def application(self) -> Expr:
        head = self.atom()
        args: list[Expr] = []
        while self.starts_atom(self.peek()):
            args.append(self.atom())
        return App(head, tuple(args)) if args else head

    def atom(self) -> Expr:
        token = self.peek()
        if token is None:
            raise EvalError("unexpected end of expression")
        self.index += 1
        if token.kind == "num":
            return Num(int(token.text), token)
        if token.kind == "str":
            return Str(unquote(token.text), token)
        if token.kind == "ident" and token.text not in KEYWORD_WORDS:
            return Name(token.text, token)
        if token.kind == "sym" and token.text == "(":
            close = matching_bracket(self.tokens, self.index - 1)
            if self.tokens[close].text != ")":
                raise EvalError("unbalanced parenthesis")
            colon = find_top_level(self.tokens[:close], self.index, {":"})
            inner = ExprParser.parse(self.tokens[self.index:colon])
            self.index = close + 1
            return inner
        raise EvalError(f"unexpected {token.text}")


def expr_names(expr: Expr) -> Iterator[Name]:
    if isinstance(expr, Name):
        yield expr
    elif isinstance(expr, Bin):
        yield from expr_names(expr.left)
        yield from expr_names(expr.right)
    elif isinstance(expr, App):
        yield from expr_names(expr.fn)
        for arg in expr.args:
            yield from expr_names(arg)


def value_type(value: Value) -> str:
    return "String" if isinstance(value, str) else "Nat"


def arithmetic(op: str, left: Value, right: Value) -> Value:
    if op == "++":
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        raise EvalError("++ needs strings")
    if not isinstance(left, int) or not isinstance(right, int):
        raise EvalError("arithmetic needs Nat")
    if op == "+":
        return left + right
    if op == "-":
        return max(0, left - right)
    if op == "*":
        return left * right
    if op == "/":
        return left // right if right else 0
    return left % right if right else left


# --------------------------------------------------------------------------------------------
# Declarations, builtins, scopes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where a command sits: its namespace and the opened namespaces."""

    namespace: str = ""
    opens: tuple[str, ...] = ()

    def prefixes(self) -> list[str]:
        parts = self.namespace.split(".") if self.namespace else []
        return [".".join(parts[:k]) for k in range(len(parts), 0, -1)]

    def candidates(self, name: str) -> list[str]:
        if name.startswith("_root_."):
            return [name[len("_root_."):]]
        return [f"{p}.{name}" for p in self.prefixes()] + [name] + [
            f"{o}.{name}" for o in self.opens]


ROOT = Context()


@dataclass
class Decl:
    name: str
    kind: str
    type: str
    result_type: str = ""
    params: tuple[str, ...] = ()
    body: Expr | None = None
    body_text: str = ""
    value: Value | None = None
    doc: str | None = None
    fn: Callable[..., Value] | None = None
    signature: tuple[str, ...] = ()
    ctx: Context = ROOT
    name_range: tuple[Pos, Pos] | None = None
    cmd_range: tuple[Pos, Pos] | None = None

    @property
    def is_function(self) -> bool:
        return bool(self.params) or self.fn is not None


def _builtin(name: str, kind: str, type_: str, doc: str | None = None,
             fn: Callable[..., Value] | None = None, signature: tuple[str, ...] = (),
             value: Value | None = None) -> Decl:
    result = type_.rsplit(" → ", 1)[-1]
    return Decl(name=name, kind=kind, type=type_, result_type=result, doc=doc, fn=fn,
                signature=signature, value=value)


BUILTINS: dict[str, Decl] = {d.name: d for d in [
    _builtin("Nat", "inductive", "Type", "The natural numbers: `0`, `1`, `2`, ..."),
    _builtin("Nat.zero", "constructor", "Nat", value=0),
    _builtin("Nat.succ", "constructor", "Nat → Nat", "The successor `n + 1`.",
             lambda n: n + 1, ("Nat",)),
    _builtin("Nat.add", "def", "Nat → Nat → Nat", "Addition of natural numbers.",
             lambda a, b: a + b, ("Nat", "Nat")),
    _builtin("Nat.sub", "def", "Nat → Nat → Nat", "Truncated subtraction.",
             lambda a, b: max(0, a - b), ("Nat", "Nat")),
    _builtin("Nat.mul", "def", "Nat → Nat → Nat", None, lambda a, b: a * b, ("Nat", "Nat")),
    _builtin("Nat.add_comm", "theorem", "∀ (n m : Nat), n + m = m + n"),
    _builtin("Nat.zero_add", "theorem", "∀ (n : Nat), 0 + n = n"),
    _builtin("List", "inductive", "Type u → Type u"),
    _builtin("List.map", "def", "(α → β) → List α → List β"),
    _builtin("id", "def", "α → α", "The identity function.", lambda a: a, ("α",)),
    _builtin("True", "inductive", "Prop"),
    _builtin("False", "inductive", "Prop"),
    _builtin("Unit", "inductive", "Type"),
    _builtin("Bool", "inductive", "Type"),
    _builtin("String", "structure", "Type"),
    _builtin("String.length", "def", "String → Nat", None, len, ("String",)),
    _builtin("String.append", "def", "String → String → String", None,
             lambda a, b: a + b, ("String", "String")),
    _builtin("toString", "def", "α → String", None, str, ("α",)),
    _builtin("IO.println", "def", "α → IO Unit", "Prints the argument and a newline."),
    _builtin("IO.print", "def", "α → IO Unit", "Prints the argument."),
]}


def resolve_name(name: str, ctx: Context, decls: dict[str, Decl]) -> Decl | None:
    for candidate in ctx.candidates(name):
        found = decls.get(candidate) or BUILTINS.get(candidate)
        if found is not None:
            return found
    return None


class Evaluator:
    """Evaluates expressions against the declarations known so far."""

    def __init__(self, decls: dict[str, Decl]) -> None:
        self.decls = decls

    def evaluate(self, expr: Expr, ctx: Context, local: dict[str, Value], depth: int = 0) -> Value:
        if depth > 100:
            raise EvalError("too deep")
        if isinstance(expr, Num | Str):
            return expr.value
        if isinstance(expr, Bin):
            return arithmetic(expr.op, self.evaluate(expr.left, ctx, local, depth),
                              self.evaluate(expr.right, ctx, local, depth))
        if isinstance(expr, Name):
            if expr.text in local:
                return local[expr.text]
            decl = resolve_name(expr.text, ctx, self.decls)
            if decl is None or decl.is_function or decl.value is None:
                raise EvalError(f"no value for {expr.text}")
            return decl.value
        if not isinstance(expr.fn, Name) or expr.fn.text in local:
            raise EvalError("unsupported application")
        decl = resolve_name(expr.fn.text, ctx, self.decls)
        args = [self.evaluate(arg, ctx, local, depth) for arg in expr.args]
        if decl is not None and decl.fn is not None and len(args) == len(decl.signature):
            for arg, expected in zip(args, decl.signature, strict=True):
                if expected != "α" and value_type(arg) != expected:
                    raise EvalError("argument type")
            return decl.fn(*args)
        if decl is not None and decl.body is not None and len(args) == len(decl.params):
            return self.evaluate(decl.body, decl.ctx, dict(zip(decl.params, args, strict=True)),
                                 depth + 1)
        raise EvalError("unsupported application")

    def infer(self, expr: Expr, ctx: Context, local_types: dict[str, str]) -> str | None:
        if isinstance(expr, Num):
            return "Nat"
        if isinstance(expr, Str):
            return "String"
        if isinstance(expr, Bin):
            return "String" if expr.op == "++" else "Nat"
        head = expr.fn if isinstance(expr, App) else expr
        if not isinstance(head, Name):
            return None
        if head.text in local_types:
            return local_types[head.text] if isinstance(expr, Name) else None
        decl = resolve_name(head.text, ctx, self.decls)
        if decl is None:
            return None
        if isinstance(expr, Name):
            return None if decl.is_function else decl.type
        return decl.result_type or None


# --------------------------------------------------------------------------------------------
# Analysis results
# --------------------------------------------------------------------------------------------


@dataclass
class Goal:
    case: str | None
    target: str

    def render(self, hyps: list[str]) -> str:
        lines = [f"case {self.case}"] if self.case else []
        return "\n".join([*lines, *hyps, f"⊢ {self.target}"])


@dataclass
class Tactic:
    name: str
    start: Pos
    end: Pos
    args: list[Token]


@dataclass
class Proof:
    by_start: Pos
    region_end: Pos
    hyps: list[str]
    initial: list[Goal]
    tactics: list[Tactic]
    before: list[list[Goal]]
    after: list[list[Goal]]

    def goals_at(self, pos: Pos) -> list[Goal] | None:
        if pos < self.by_start or pos >= self.region_end:
            return None
        last = None
        for index, tactic in enumerate(self.tactics):
            if tactic.start <= pos:
                last = index
        if last is None:
            return self.initial
        return self.before[last] if pos == self.tactics[last].start else self.after[last]


@dataclass
class TermBody:
    start: Pos
    end: Pos
    hyps: list[str]
    expected: str


@dataclass
class Symbol:
    name: str
    kind: int
    start: Pos
    end: Pos
    selection: tuple[Pos, Pos]
    children: list[Symbol] | None = None

    def to_lsp(self, text: SourceText) -> Json:
        out: Json = {"kind": self.kind, "name": self.name,
                     "range": text.lsp_range(self.start, self.end),
                     "selectionRange": text.lsp_range(*self.selection)}
        if self.children is not None:
            out["children"] = [child.to_lsp(text) for child in self.children]
        return out


@dataclass
class Command:
    start_line: int
    end_line: int
    tokens: list[Token]
    error: bool
    region_end: Pos
    ctx: Context = ROOT
    diags: list[Diag] = field(default_factory=list)
    locals: dict[str, str] = field(default_factory=dict)
    proof: Proof | None = None
    term: TermBody | None = None

    @property
    def end_pos(self) -> Pos:
        return self.tokens[-1].end_pos if self.tokens else (self.end_line, 0)


@dataclass
class Step:
    """One unit of elaboration: a command (completes at its last line) or a directive."""

    line: int
    order: int
    progress_line: int
    diagnostics: list[Diag]
    directive: Directive | None = None


@dataclass
class Analysis:
    """Everything the stand-in knows about one version of a document."""

    text: SourceText
    header: tuple[str, ...]
    commands: list[Command]
    steps: list[Step]
    decls: dict[str, Decl]
    symbols: list[Symbol]
    semantic: list[tuple[int, int, int, int]]

    def command_at_line(self, line: int) -> Command | None:
        return next((c for c in self.commands if c.start_line <= line <= c.end_line), None)

    def needed_line(self, line: int) -> int:
        """The last line that must be elaborated before a position on ``line`` can be answered."""
        command = self.command_at_line(line)
        return command.end_line if command else line

    def context_at(self, line: int) -> Context:
        ctx = ROOT
        for command in self.commands:
            if command.start_line > line:
                break
            ctx = command.ctx
        return ctx

    def token_at(self, pos: Pos) -> tuple[Command, Token] | None:
        command = self.command_at_line(pos[0])
        if command is None:
            return None
        for token in command.tokens:
            if token.line == pos[0] and token.col <= pos[1] < token.end:
                return command, token
        return None

    def lookup(self, command: Command, name: str) -> Decl | None:
        return resolve_name(name, command.ctx, self.decls)

    def hover(self, pos: Pos) -> Json:
        found = self.token_at(pos)
        if found is None:
            return None
        command, token = found
        doc = None
        if token.kind == "num":
            shown = f"{token.text} : Nat"
        elif token.kind == "ident" and token.text in command.locals:
            shown = f"{token.text} : {command.locals[token.text]}"
        elif token.kind == "ident" and (decl := self.lookup(command, token.text)) is not None:
            shown, doc = f"{decl.name} : {decl.type}", decl.doc
        else:
            return None
        value = f"```lean\n{shown}\n```" + (f"\n***\n{doc}" if doc else "")
        return {"contents": {"kind": "markdown", "value": value},
                "range": self.text.lsp_range(token.start_pos, token.end_pos)}

    def completion(self, uri: str, pos: Pos) -> Json:
        line = self.text.lines[pos[0]] if pos[0] < len(self.text.lines) else ""
        start = pos[1]
        while start > 0 and (is_ident_rest(line[start - 1]) or line[start - 1] == "."):
            start -= 1
        prefix = line[start:pos[1]]
        if not prefix or not is_ident_start(prefix[0]):
            return {"isIncomplete": True, "items": []}
        ctx = self.context_at(pos[0])
        cut = prefix.rfind(".") + 1
        items: dict[tuple[str, str], Json] = {}
        for full, decl in [*BUILTINS.items(), *self.decls.items()]:
            forms = [full] + [full[len(p) + 1:] for p in [*ctx.prefixes(), *ctx.opens]
                              if full.startswith(p + ".")]
            for form in forms:
                if form.startswith(prefix) and form[cut:]:
                    label = form[cut:]
                    items[(label, full)] = {
                        "data": {"id": {"const": {"declName": full}},
                                 "params": {"position": self.text.lsp(pos),
                                            "textDocument": {"uri": uri}}},
                        "kind": 3 if "→" in decl.type and decl.kind != "theorem" else 21,
                        "label": label,
                    }
        return {"isIncomplete": True, "items": [items[k] for k in sorted(items)]}

    def resolve_completion(self, item: Json) -> Json:
        try:
            name = item["data"]["id"]["const"]["declName"]
        except (KeyError, TypeError):
            return item
        decl = self.decls.get(name) or BUILTINS.get(name)
        out = dict(item)
        if decl is not None:
            out["detail"] = decl.type
            if decl.doc:
                out["documentation"] = {"kind": "markdown", "value": decl.doc}
        return out

    def plain_goal(self, pos: Pos) -> Json:
        for command in self.commands:
            goals = command.proof.goals_at(pos) if command.proof else None
            if goals is None:
                continue
            if not goals:
                return {"goals": [], "rendered": "no goals"}
            texts = [goal.render(command.proof.hyps) for goal in goals]
            return {"goals": texts,
                    "rendered": "\n---\n".join(f"```lean\n{t}\n```" for t in texts)}
        return None

    def plain_term_goal(self, pos: Pos) -> Json:
        for command in self.commands:
            term = command.term
            if term is not None and term.start <= pos <= term.end:
                return {"goal": Goal(None, term.expected).render(term.hyps),
                        "range": self.text.lsp_range(term.start, term.end)}
            proof = command.proof
            if proof is None:
                continue
            for index, tactic in enumerate(proof.tactics):
                if tactic.name != "exact" or not tactic.args or not proof.before[index]:
                    continue
                start, end = tactic.args[0].start_pos, tactic.args[-1].end_pos
                if start <= pos <= end:
                    return {"goal": proof.before[index][0].render(proof.hyps),
                            "range": self.text.lsp_range(start, end)}
        return None

    def definition(self, uri: str, pos: Pos) -> Json:
        found = self.token_at(pos)
        if found is None or found[1].kind != "ident":
            return []
        command, token = found
        decl = self.lookup(command, token.text)
        if decl is None or decl.name_range is None or decl.cmd_range is None:
            return []
        return [{"originSelectionRange": self.text.lsp_range(token.start_pos, token.end_pos),
                 "targetRange": self.text.lsp_range(*decl.cmd_range),
                 "targetSelectionRange": self.text.lsp_range(*decl.name_range),
                 "targetUri": uri}]

    def document_symbols(self) -> Json:
        return [symbol.to_lsp(self.text) for symbol in self.symbols]

    def semantic_tokens(self, lines: tuple[int, int] | None = None) -> Json:
        data: list[int] = []
        previous_line, previous_char = 0, 0
        for line, col, end, kind in sorted(self.semantic):
            if lines is not None and not lines[0] <= line <= lines[1]:
                continue
            text = self.text.lines[line]
            char = utf16_len(text[:col])
            delta_char = char - previous_char if line == previous_line else char
            data += [line - previous_line, delta_char, utf16_len(text[col:end]), kind, 0]
            previous_line, previous_char = line, char
        return {"data": data}


# --------------------------------------------------------------------------------------------
# The analyzer: the tiny "Lean"
# --------------------------------------------------------------------------------------------


@dataclass
class Scope:
    kind: str  # "root" | "namespace" | "section"
    name: str
    opens: list[str] = field(default_factory=list)
    symbol: Symbol | None = None


@dataclass
class Binder:
    bracket: str
    names: list[Token]
    type: str

    def pairs(self) -> list[tuple[str, str]]:
        if self.bracket == "[" and not self.names:
            return [("inst✝", self.type)]
        return [(name.text, self.type) for name in self.names]

    def render(self) -> str:
        names = " ".join(n.text for n in self.names)
        if self.bracket == "[":
            return f"[{self.type}]"
        close = OPEN_BRACKETS[self.bracket]
        return f"{self.bracket}{names} : {self.type}{close}"


def hypothesis_lines(pairs: list[tuple[str, str]]) -> list[str]:
    merged: list[tuple[list[str], str]] = []
    for name, type_ in pairs:
        if merged and merged[-1][1] == type_:
            merged[-1][0].append(name)
        else:
            merged.append(([name], type_))
    return [f"{' '.join(names)} : {type_}" for names, type_ in merged]


def split_conjunction(target: str) -> tuple[str, str] | None:
    depth = 0
    for index, char in enumerate(target):
        if char in "([{⟨":
            depth += 1
        elif char in ")]}⟩":
            depth -= 1
        elif char == "∧" and depth == 0:
            return target[:index].strip(), target[index + 1:].strip()
    return None


def split_tactics(tokens: list[Token]) -> list[list[Token]]:
    """One tactic per line (continuing while brackets are open), split at top-level ``;``."""
    segments: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for token in tokens:
        if current and depth == 0 and token.line != current[-1].line:
            segments.append(current)
            current = []
        if token.kind == "sym" and token.text == ";" and depth == 0:
            if current:
                segments.append(current)
            current = []
            continue
        if token.kind == "sym" and token.text in OPEN_BRACKETS:
            depth += 1
        elif token.kind == "sym" and token.text in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
        current.append(token)
    if current:
        segments.append(current)
    return segments


@dataclass
class Span:
    start: int
    end: int
    error: bool
    prefix: bool = False  # only modifiers/attributes so far: the next command line joins


class Analyzer:
    """Turns one version of a document into an Analysis (no I/O, no timing)."""

    def __init__(self, text: SourceText) -> None:
        self.text = text
        self.code, self.directives = mask_comments(text.lines)
        self.line_tokens = [tokenize_line(line, n) for n, line in enumerate(self.code)]
        self.decls: dict[str, Decl] = {}
        self.evaluator = Evaluator(self.decls)
        self.scopes: list[Scope] = [Scope("root", "")]
        self.header: list[str] = []
        self.in_header = True
        self.symbols: list[Symbol] = []
        self.semantic: list[tuple[int, int, int, int]] = []
        self.commands: list[Command] = []

    # --- entry point -------------------------------------------------------------------------

    def run(self) -> Analysis:
        spans = self.split_commands()
        for index, span in enumerate(spans):
            following = spans[index + 1] if index + 1 < len(spans) else None
            region_end = (following.start, 0) if following else (INF, 0)
            tokens = [t for n in range(span.start, span.end + 1) for t in self.line_tokens[n]]
            command = Command(span.start, span.end, tokens, span.error, region_end, self.ctx())
            self.commands.append(command)
            try:
                self.command(command, following)
            except Exception as exc:  # a stand-in bug must not kill the server
                command.diags.append(Diag(SEVERITY_ERROR, f"standin: internal error: {exc!r}",
                                          (span.start, 0), command.end_pos))
        for scope in self.scopes[1:]:
            if scope.symbol is not None:
                scope.symbol.end = self.text.eof()
        return Analysis(self.text, tuple(self.header), self.commands, self.steps(), self.decls,
                        self.symbols, self.semantic)

    def steps(self) -> list[Step]:
        steps = [Step(c.end_line, 1, c.start_line, c.diags) for c in self.commands]
        for directive in self.directives:
            enclosing = next((c for c in self.commands
                              if c.start_line <= directive.line <= c.end_line), None)
            line = enclosing.start_line if enclosing else directive.line
            steps.append(Step(directive.line, 0, line, [], directive))
        return sorted(steps, key=lambda s: (s.line, s.order))

    # --- command structure -------------------------------------------------------------------

    def role(self, tokens: list[Token]) -> str:
        """"command", "prefix", "continuation" or "error" for a line starting at column 0."""
        index = self.keyword_index(tokens)
        if index < len(tokens) and tokens[index].text in COMMAND_KEYWORDS:
            return "command"
        if index == len(tokens):
            return "prefix"
        first = tokens[0]
        if first.kind == "sym" or first.text in CONTINUATION_WORDS:
            return "continuation"
        return "error"

    @staticmethod
    def keyword_index(tokens: list[Token]) -> int:
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.text in MODIFIERS:
                index += 1
            elif (token.text == "@" and index + 1 < len(tokens)
                  and tokens[index + 1].text == "["):
                index = matching_bracket(tokens, index + 1) + 1
            else:
                break
        return index

    def split_commands(self) -> list[Span]:
        spans: list[Span] = []
        current: Span | None = None
        for number, tokens in enumerate(self.line_tokens):
            if not tokens:
                continue
            if current is not None and tokens[0].col > 0:
                current.end = number
                continue
            role = self.role(tokens)
            if current is not None and current.prefix and role in ("command", "prefix"):
                current.end, current.prefix = number, role == "prefix"
                continue
            if current is not None and (role == "continuation"
                                        or (role == "error" and current.error)):
                current.end = number
                continue
            current = Span(number, number, role == "error", role == "prefix")
            spans.append(current)
        return spans

    def ctx(self) -> Context:
        namespace = ".".join(s.name for s in self.scopes if s.kind == "namespace")
        opens = tuple(o for s in self.scopes for o in s.opens)
        return Context(namespace, opens)

    def qualify(self, name: str) -> str:
        if name.startswith("_root_."):
            return name[len("_root_."):]
        namespace = self.ctx().namespace
        return f"{namespace}.{name}" if namespace else name

    def slice_text(self, tokens: list[Token]) -> str:
        if not tokens:
            return ""
        first, last = tokens[0], tokens[-1]
        if first.line == last.line:
            text = self.code[first.line][first.col:last.end]
        else:
            text = " ".join([self.code[first.line][first.col:],
                             *self.code[first.line + 1:last.line],
                             self.code[last.line][:last.end]])
        return " ".join(text.split())

    def mark_keywords(self, tokens: Iterable[Token]) -> None:
        for token in tokens:
            if token.kind == "ident" and token.text == "sorry":
                self.semantic.append((token.line, token.col, token.end, SORRY_TOKEN))
            elif token.kind == "ident" and (token.text in KEYWORD_WORDS
                                            or token.text in COMMAND_KEYWORDS
                                            or token.text in MODIFIERS):
                self.semantic.append((token.line, token.col, token.end, KEYWORD_TOKEN))

    @staticmethod
    def error(command: Command, message: str, start: Pos, end: Pos) -> None:
        command.diags.append(Diag(SEVERITY_ERROR, message, start, end))

    def unexpected(self, command: Command, tokens: list[Token], index: int, expected: str,
                   following: Span | None) -> None:
        if index < len(tokens):
            token = tokens[index]
        elif following is not None:
            token = self.line_tokens[following.start][0]
        else:
            eof = self.text.eof()
            self.error(command, f"unexpected end of input; expected {expected}", eof, eof)
            return
        what = "identifier" if token.kind == "ident" else f"token '{token.text}'"
        self.error(command, f"unexpected {what}; expected {expected}", token.start_pos,
                   token.end_pos)

    # --- commands ----------------------------------------------------------------------------

    def command(self, command: Command, following: Span | None) -> None:
        tokens = command.tokens
        if command.error:
            first = tokens[0]
            what = "identifier" if first.kind == "ident" else f"token '{first.text}'"
            self.error(command, f"unexpected {what}; expected command", first.start_pos,
                       first.end_pos)
            return
        self.mark_keywords(tokens)
        index = self.keyword_index(tokens)
        if index >= len(tokens):
            return
        keyword = tokens[index].text
        if keyword != "import":
            self.in_header = False
        args = tokens[index + 1:]
        if keyword == "import":
            self.import_(command, tokens[index], args)
        elif keyword in ("namespace", "section"):
            self.open_scope(command, keyword, tokens[index], args)
        elif keyword == "end":
            self.end_scope(command, tokens[index])
        elif keyword == "open":
            self.scopes[-1].opens.extend(t.text for t in args if t.kind == "ident")
        elif keyword in DECLARATION_KEYWORDS:
            self.declaration(command, tokens, index, following)
        elif keyword in TYPE_KEYWORDS:
            self.type_declaration(command, keyword, args)
        elif keyword == "#eval":
            self.eval_(command, tokens[index], args)
        elif keyword == "#check":
            self.check(command, tokens[index], args)
        elif keyword == "#print":
            self.print_(command, tokens[index], args)

    def import_(self, command: Command, keyword: Token, args: list[Token]) -> None:
        if self.in_header:
            self.header.extend(t.text for t in args)
        else:
            self.error(command, "invalid 'import' command, it must be used in the beginning of "
                       "the file", keyword.start_pos, keyword.end_pos)

    def open_scope(self, command: Command, keyword: str, token: Token, args: list[Token]) -> None:
        name = args[0].text if args and args[0].kind == "ident" else ""
        selection = (args[0] if name else token)
        symbol = Symbol(name or "<section>", 3, (command.start_line, 0), command.end_pos,
                        (selection.start_pos, selection.end_pos), [])
        self.current_symbols().append(symbol)
        self.scopes.append(Scope(keyword, name, symbol=symbol))

    def end_scope(self, command: Command, token: Token) -> None:
        if len(self.scopes) == 1:
            self.error(command, "invalid 'end', insufficient scopes", token.start_pos,
                       token.end_pos)
            return
        scope = self.scopes.pop()
        if scope.symbol is not None:
            scope.symbol.end = command.end_pos

    def current_symbols(self) -> list[Symbol]:
        for scope in reversed(self.scopes):
            if scope.symbol is not None and scope.symbol.children is not None:
                return scope.symbol.children
        return self.symbols

    def register(self, decl: Decl, name_token: Token, command: Command) -> None:
        decl.name_range = (name_token.start_pos, name_token.end_pos)
        decl.cmd_range = ((command.start_line, 0), command.end_pos)
        self.decls[decl.name] = decl
        self.current_symbols().append(Symbol(name_token.text, 6, (command.start_line, 0),
                                             command.end_pos, decl.name_range))

    def type_declaration(self, command: Command, keyword: str, args: list[Token]) -> None:
        if not args or args[0].kind != "ident":
            return
        full = self.qualify(args[0].text)
        if full in self.decls or full in BUILTINS:
            self.error(command, f"'{full}' has already been declared", args[0].start_pos,
                       args[0].end_pos)
            return
        self.register(Decl(full, keyword, "Type", "Type", ctx=command.ctx), args[0], command)

    def parse_binders(self, tokens: list[Token], index: int) -> tuple[list[Binder], int]:
        binders: list[Binder] = []
        while (index < len(tokens) and tokens[index].kind == "sym"
               and tokens[index].text in ("(", "{", "[", "⦃")):
            close = matching_bracket(tokens, index)
            inner = tokens[index + 1:close]
            colon = find_top_level(inner, 0, {":"})
            bracket = tokens[index].text
            if colon < len(inner):
                names = [t for t in inner[:colon] if t.kind == "ident"]
                binders.append(Binder(bracket, names, self.slice_text(inner[colon + 1:])))
            elif bracket == "[":
                binders.append(Binder(bracket, [], self.slice_text(inner)))
            else:
                names = [t for t in inner if t.kind == "ident"]
                binders.append(Binder(bracket, names, "Sort u_1" if bracket == "{" else "?"))
            index = close + 1
        return binders, index

    def declaration(self, command: Command, tokens: list[Token], index: int,
                    following: Span | None) -> None:
        keyword = tokens[index]
        kind = "theorem" if keyword.text == "lemma" else keyword.text
        index += 1
        name_token: Token | None = None
        if kind != "example":
            if index >= len(tokens) or tokens[index].kind != "ident":
                self.unexpected(command, tokens, index, "identifier", following)
                return
            name_token = tokens[index]
            index += 1
        binders, index = self.parse_binders(tokens, index)
        type_tokens: list[Token] = []
        if index < len(tokens) and tokens[index].text == ":":
            stop = find_top_level(tokens, index + 1, {":=", "where", "|"})
            type_tokens, index = tokens[index + 1:stop], stop
        elif kind == "theorem":
            self.unexpected(command, tokens, index, "':'", following)
            return
        if index >= len(tokens) or tokens[index].text not in (":=", "where", "|"):
            self.unexpected(command, tokens, index, "':=', 'where' or '|'", following)
            return
        body = tokens[index + 1:] if tokens[index].text == ":=" else []
        full = self.qualify(name_token.text) if name_token else ""
        if name_token is not None and (full in self.decls or full in BUILTINS):
            self.error(command, f"'{full}' has already been declared", name_token.start_pos,
                       name_token.end_pos)
            return
        pairs = [pair for binder in binders for pair in binder.pairs()]
        command.locals = dict(pairs)
        hyps = hypothesis_lines(pairs)
        declared = self.slice_text(type_tokens)
        decl = Decl(full, kind, declared, declared, ctx=command.ctx,
                    params=tuple(n.text for b in binders if b.bracket == "(" for n in b.names),
                    body_text=self.slice_text(body))
        if body and body[0].text == "by":
            self.tactic_block(command, body, hyps, declared or "?")
        elif body:
            self.term_body(command, decl, body, hyps)
        if kind == "theorem" or kind == "example":
            decl.type = (f"∀ {' '.join(b.render() for b in binders)}, {declared}"
                         if binders else declared)
        else:
            arrows: list[str] = []
            for binder in binders:
                if binder.bracket == "(":
                    arrows.extend([binder.type] * max(1, len(binder.names)))
                else:
                    arrows.append(binder.render())
            decl.type = " → ".join([*arrows, decl.result_type or "?"])
        if any(t.kind == "ident" and t.text == "sorry" for t in body):
            anchor = name_token or keyword
            command.diags.append(Diag(SEVERITY_WARNING, "declaration uses `sorry`",
                                      anchor.start_pos, anchor.end_pos))
        if name_token is not None:
            self.register(decl, name_token, command)

    def term_body(self, command: Command, decl: Decl, body: list[Token], hyps: list[str]) -> None:
        expected = decl.result_type
        try:
            expr: Expr | None = ExprParser.parse(body)
        except EvalError:
            expr = None
        if expr is not None and decl.kind in ("def", "abbrev"):
            unknown = self.unknown_identifiers(command, expr, set(command.locals))
            command.diags.extend(unknown)
            decl.body = None if unknown else expr
            if not unknown:
                expected = expected or self.evaluator.infer(expr, command.ctx,
                                                            command.locals) or ""
                decl.result_type = expected
            if not unknown and not decl.params:
                try:
                    decl.value = self.evaluator.evaluate(expr, command.ctx, {})
                except EvalError:
                    decl.value = None
            if (decl.value is not None and decl.result_type == "Nat"
                    and isinstance(decl.value, str)):
                command.diags.append(Diag(
                    SEVERITY_ERROR,
                    f"type mismatch\n  {self.slice_text(body)}\nhas type\n  String : Type\n"
                    "but is expected to have type\n  Nat : Type",
                    body[0].start_pos, body[-1].end_pos))
                decl.value = None
        if expected:
            command.term = TermBody(body[0].start_pos, body[-1].end_pos, hyps, expected)

    def tactic_block(self, command: Command, body: list[Token], hyps: list[str],
                     target: str) -> None:
        by = body[0]
        tactics: list[Tactic] = []
        for segment in split_tactics(body[1:]):
            head = 0
            while head < len(segment) - 1 and segment[head].text in ("·", "."):
                head += 1
            tactics.append(Tactic(segment[head].text, segment[head].start_pos,
                                  segment[-1].end_pos, segment[head + 1:]))
        initial = [Goal(None, target)]
        goals = initial
        before: list[list[Goal]] = []
        after: list[list[Goal]] = []
        for tactic in tactics:
            before.append(goals)
            if not goals:
                self.error(command, "no goals to be proved", tactic.start, tactic.end)
            elif tactic.name in CLOSING_TACTICS:
                goals = goals[1:]
            elif tactic.name == "constructor" and (parts := split_conjunction(goals[0].target)):
                goals = [Goal("left", parts[0]), Goal("right", parts[1]), *goals[1:]]
            after.append(goals)
        if goals:
            end = tactics[-1].end if tactics else by.end_pos
            message = "unsolved goals\n" + "\n\n".join(g.render(hyps) for g in goals)
            command.diags.append(Diag(SEVERITY_ERROR, message, by.start_pos, end,
                                      (LEAN_TAG_UNSOLVED_GOALS,)))
        command.proof = Proof(by.start_pos, command.region_end, hyps, initial, tactics, before,
                              after)

    def is_known(self, command: Command, name: str, local: set[str]) -> bool:
        if name == "sorry" or name in local:
            return True
        if resolve_name(name, command.ctx, self.decls) is not None:
            return True
        head, dot, _ = name.partition(".")
        return bool(dot) and (head in local
                              or resolve_name(head, command.ctx, self.decls) is not None)

    def unknown_identifiers(self, command: Command, expr: Expr, local: set[str]) -> list[Diag]:
        return [Diag(SEVERITY_ERROR, f"unknown identifier '{name.text}'", name.token.start_pos,
                     name.token.end_pos)
                for name in expr_names(expr) if not self.is_known(command, name.text, local)]

    def parse_or_report(self, command: Command, keyword: Token, args: list[Token],
                        what: str) -> Expr | None:
        if not args:
            self.error(command, "unexpected end of input; expected term", keyword.end_pos,
                       keyword.end_pos)
            return None
        try:
            return ExprParser.parse(args)
        except EvalError:
            self.error(command, f"standin: cannot {what} this expression", args[0].start_pos,
                       args[-1].end_pos)
            return None

    def info(self, command: Command, keyword: Token, message: str) -> None:
        command.diags.append(Diag(SEVERITY_INFO, message, keyword.start_pos, keyword.end_pos))

    def eval_(self, command: Command, keyword: Token, args: list[Token]) -> None:
        expr = self.parse_or_report(command, keyword, args, "evaluate")
        if expr is None:
            return
        unknown = self.unknown_identifiers(command, expr, set())
        if unknown:
            command.diags.extend(unknown)
            return
        printer = None
        if (isinstance(expr, App) and isinstance(expr.fn, Name) and len(expr.args) == 1
                and expr.fn.text in ("IO.println", "IO.print")):
            printer, expr = expr.fn.text, expr.args[0]
        try:
            value = self.evaluator.evaluate(expr, command.ctx, {})
        except EvalError:
            self.error(command, "standin: cannot evaluate this expression", args[0].start_pos,
                       args[-1].end_pos)
            return
        if printer is not None:
            text = str(value) + ("\n" if printer == "IO.println" else "")
        else:
            text = lean_quote(value) if isinstance(value, str) else str(value)
        self.info(command, keyword, text)

    def check(self, command: Command, keyword: Token, args: list[Token]) -> None:
        if len(args) == 1 and args[0].kind == "ident":
            decl = resolve_name(args[0].text, command.ctx, self.decls)
            if decl is None:
                self.error(command, f"unknown identifier '{args[0].text}'", args[0].start_pos,
                           args[0].end_pos)
            else:
                self.info(command, keyword, f"{decl.name} : {decl.type}")
            return
        expr = self.parse_or_report(command, keyword, args, "elaborate")
        if expr is None:
            return
        unknown = self.unknown_identifiers(command, expr, set())
        if unknown:
            command.diags.extend(unknown)
            return
        type_ = self.evaluator.infer(expr, command.ctx, {})
        if type_ is None:
            self.error(command, "standin: cannot elaborate this expression", args[0].start_pos,
                       args[-1].end_pos)
        else:
            self.info(command, keyword, f"{self.slice_text(args)} : {type_}")

    def print_(self, command: Command, keyword: Token, args: list[Token]) -> None:
        if len(args) == 1 and args[0].kind == "str":
            self.info(command, keyword, unquote(args[0].text))
            return
        if len(args) != 1 or args[0].kind != "ident":
            self.error(command, "standin: #print expects a name or a string",
                       keyword.start_pos, keyword.end_pos)
            return
        decl = resolve_name(args[0].text, command.ctx, self.decls)
        if decl is None:
            self.error(command, f"unknown identifier '{args[0].text}'", args[0].start_pos,
                       args[0].end_pos)
        elif decl.name in self.decls and decl.kind in ("def", "abbrev", "theorem"):
            body = decl.body_text
            if decl.params:
                body = f"fun {' '.join(decl.params)} => {body}"
            self.info(command, keyword, f"{decl.kind} {decl.name} : {decl.type} :=\n{body}")
        else:
            self.info(command, keyword, f"{decl.kind} {decl.name} : {decl.type}")


def analyze(text: SourceText) -> Analysis:
    return Analyzer(text).run()


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def parse_ms(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


@dataclass(frozen=True)
class Config:
    report_delay_ms: int
    argv: tuple[str, ...]

    @classmethod
    def from_args(cls, argv: list[str], env: Mapping[str, str]) -> Config:
        delay = DEFAULT_REPORT_DELAY_MS
        for index, arg in enumerate(argv):
            option = None
            if arg.startswith("-D") and len(arg) > 2:
                option = arg[2:]
            elif arg == "-D" and index + 1 < len(argv):
                option = argv[index + 1]
            if option is not None:
                name, _, value = option.partition("=")
                parsed = parse_ms(value) if name == REPORT_DELAY_OPTION else None
                delay = parsed if parsed is not None else delay
        from_env = parse_ms(env.get(REPORT_DELAY_ENV))
        return cls(from_env if from_env is not None else delay, tuple(argv))


# --------------------------------------------------------------------------------------------
# Stdio transport
# --------------------------------------------------------------------------------------------


def is_pipe(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _WriteProtocol(asyncio.BaseProtocol):
    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = False

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.writable.set()


class Output:
    """LSP frames to stdout: ``send`` never blocks the event loop, ``drain`` waits for room."""

    def __init__(self, transport: asyncio.WriteTransport | None, protocol: _WriteProtocol | None,
                 fallback: Any = None) -> None:
        self.transport = transport
        self.protocol = protocol
        self.fallback = fallback
        self.frozen = False

    @classmethod
    async def open(cls) -> Output:
        stdout = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
        if not is_pipe(stdout.fileno()):  # a file or a terminal: plain blocking writes
            return cls(None, None, stdout)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.connect_write_pipe(_WriteProtocol, stdout)
        return cls(transport, protocol)

    def send(self, message: Json) -> None:
        if self.frozen:
            return
        data = encode_frame({**message, "jsonrpc": "2.0"})
        if self.transport is not None and self.protocol is not None:
            if not self.protocol.lost:
                self.transport.write(data)
            return
        try:
            self.fallback.write(data)
        except OSError:
            self.frozen = True

    async def drain(self) -> None:
        if self.protocol is not None:
            await self.protocol.writable.wait()

    async def flush(self, timeout: float) -> None:
        if self.transport is None or self.protocol is None or self.protocol.lost:
            return
        self.transport.set_write_buffer_limits(high=0, low=0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drain(), timeout)

    def freeze(self) -> None:
        self.frozen = True


async def open_input() -> tuple[asyncio.StreamReader, Callable[[], None]]:
    """An asyncio reader on stdin and a function that stops reading it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    stdin = os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    if is_pipe(stdin.fileno()):
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), stdin)
        return reader, transport.pause_reading

    def pump() -> None:  # a file, a terminal, /dev/null: blocking reads in a thread
        while data := stdin.read(1 << 16):
            loop.call_soon_threadsafe(reader.feed_data, data)
        loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="standin-stdin", daemon=True).start()
    return reader, lambda: None


class FrameReader:
    """Reads Content-Length framed JSON messages; None means EOF."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream

    async def read(self) -> Json:
        length = None
        while True:
            try:
                line = await self.stream.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return None
            except asyncio.LimitOverrunError as exc:
                raise Fatal("Invalid header field: <header line too long>") from exc
            if line == b"\r\n":
                break
            text = line.decode("utf-8", "replace")
            name, sep, value = text[:-2].partition(": ")
            if not line.endswith(b"\r\n") or not sep:
                raise Fatal(f"Invalid header field: {json.dumps(text, ensure_ascii=False)}")
            if name == "Content-Length":
                if not (value.isascii() and value.isdigit()):
                    raise Fatal(f"Invalid header field: {json.dumps(text, ensure_ascii=False)}")
                length = int(value)
        if length is None:
            raise Fatal("Invalid header field: missing Content-Length")
        try:
            body = await self.stream.readexactly(length)
        except asyncio.IncompleteReadError:
            return None
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError as exc:  # includes UnicodeDecodeError
            raise Fatal(f"Cannot parse JSON: {exc}") from exc


def classify(message: Json) -> str:
    """"request", "notification", "response" or "error", or Fatal."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise Fatal(f"JSON '{compact(message)}' did not have the format of a JSON-RPC message.")
    params = message.get("params")
    method = message.get("method")
    ident = message.get("id")
    valid_id = "id" in message and not isinstance(ident, bool) and isinstance(
        ident, int | float | str)
    if params is not None and not isinstance(params, dict | list):
        raise Fatal(f"JSON '{compact(message)}' did not have the format of a JSON-RPC message.")
    if isinstance(method, str) and "id" not in message:
        return "notification"
    if isinstance(method, str) and valid_id:
        return "request"
    if method is None and (valid_id or ident is None) and "id" in message:
        if "result" in message:
            return "response"
        if isinstance(message.get("error"), dict):
            return "error"
    raise Fatal(f"JSON '{compact(message)}' did not have the format of a JSON-RPC message.")


def id_key(ident: Json) -> str:
    return compact(ident)


def get_path(params: Json, *path: str) -> Json:
    value = params
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise BadParams(f"missing field '{key}'")
        value = value[key]
    return value


def get_str(params: Json, *path: str) -> str:
    value = get_path(params, *path)
    if not isinstance(value, str):
        raise BadParams(f"field '{path[-1]}' must be a string")
    return value


# --------------------------------------------------------------------------------------------
# Documents, elaboration and requests
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Elaboration:
    version: int
    analysis: Analysis
    started: float
    done_through: int = 0
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class PendingRequest:
    ident: Json
    method: str
    uri: str
    params: Json
    wait: str  # "now" | "position" | "file" | "diagnostics"
    lsp_pos: tuple[int, int] = (0, 0)
    version: int = 0
    elab: Elaboration | None = None
    line: int = 0

    @property
    def key(self) -> str:
        return id_key(self.ident)


@dataclass(eq=False)
class Document:
    uri: str
    version: int
    text: SourceText
    max_version: int
    elab: Elaboration | None = None
    completed: int | None = None
    crashed: bool = False
    pending: list[PendingRequest] = field(default_factory=list)
    rpc_sessions: set[int] = field(default_factory=set)


@dataclass
class ReportState:
    report_at: float
    blocked: bool = False
    diags: list[Diag] = field(default_factory=list)


Handler = Callable[["Server", PendingRequest, Analysis], Json]


@dataclass(frozen=True)
class RequestSpec:
    wait: str
    handler: Handler
    uri_path: tuple[str, ...] = ("textDocument", "uri")


def _semantic_range(server: Server, req: PendingRequest, a: Analysis) -> Json:
    try:
        start = parse_position(get_path(req.params, "range", "start"))
        end = parse_position(get_path(req.params, "range", "end"))
    except BadParams as exc:
        raise RequestError(INVALID_PARAMS, f"Cannot parse request params: "
                           f"{compact(req.params)}\n{exc}") from exc
    return a.semantic_tokens((start[0], end[0]))


def _selection_range(server: Server, req: PendingRequest, a: Analysis) -> Json:
    positions = req.params.get("positions") if isinstance(req.params, dict) else None
    return [{"range": {"end": p, "start": p}} for p in positions or []]


def _rpc_connect(server: Server, req: PendingRequest, a: Analysis) -> Json:
    session = random.getrandbits(64)
    server.docs[req.uri].rpc_sessions.add(session)
    return {"sessionId": session}


def _rpc_call(server: Server, req: PendingRequest, a: Analysis) -> Json:
    if req.params.get("sessionId") not in server.docs[req.uri].rpc_sessions:
        raise RequestError(RPC_NEEDS_RECONNECT, "Outdated RPC session")
    raise RequestError(METHOD_NOT_FOUND, f"No RPC method '{req.params.get('method')}' bound")


def _pos(req: PendingRequest, a: Analysis) -> Pos:
    return a.text.from_lsp(*req.lsp_pos)


DOCUMENT_REQUESTS: dict[str, RequestSpec] = {
    "textDocument/waitForDiagnostics": RequestSpec("diagnostics", lambda s, r, a: {}, ("uri",)),
    "textDocument/hover": RequestSpec("position", lambda s, r, a: a.hover(_pos(r, a))),
    "textDocument/completion": RequestSpec(
        "position", lambda s, r, a: a.completion(r.uri, _pos(r, a))),
    "completionItem/resolve": RequestSpec(
        "now", lambda s, r, a: a.resolve_completion(r.params),
        ("data", "params", "textDocument", "uri")),
    "$/lean/plainGoal": RequestSpec("position", lambda s, r, a: a.plain_goal(_pos(r, a))),
    "$/lean/plainTermGoal": RequestSpec(
        "position", lambda s, r, a: a.plain_term_goal(_pos(r, a))),
    "textDocument/definition": RequestSpec(
        "position", lambda s, r, a: a.definition(r.uri, _pos(r, a))),
    "textDocument/declaration": RequestSpec(
        "position", lambda s, r, a: a.definition(r.uri, _pos(r, a))),
    "textDocument/typeDefinition": RequestSpec("position", lambda s, r, a: []),
    "textDocument/documentHighlight": RequestSpec("position", lambda s, r, a: []),
    "textDocument/signatureHelp": RequestSpec("position", lambda s, r, a: None),
    "textDocument/documentSymbol": RequestSpec("file", lambda s, r, a: a.document_symbols()),
    "textDocument/foldingRange": RequestSpec("file", lambda s, r, a: []),
    "textDocument/semanticTokens/full": RequestSpec("now", lambda s, r, a: a.semantic_tokens()),
    "textDocument/semanticTokens/range": RequestSpec("now", _semantic_range),
    "textDocument/documentColor": RequestSpec("now", lambda s, r, a: []),
    "textDocument/codeAction": RequestSpec("now", lambda s, r, a: []),
    "textDocument/inlayHint": RequestSpec("now", lambda s, r, a: []),
    "textDocument/selectionRange": RequestSpec("now", _selection_range),
    "$/lean/rpc/connect": RequestSpec("now", _rpc_connect, ("uri",)),
    "$/lean/rpc/call": RequestSpec("now", _rpc_call),
}
WATCHDOG_REQUESTS: dict[str, Json] = {
    "textDocument/references": [],
    "workspace/symbol": [],
    "textDocument/prepareRename": None,
    "textDocument/rename": None,
    "textDocument/prepareCallHierarchy": None,
    "callHierarchy/incomingCalls": [],
    "callHierarchy/outgoingCalls": [],
}


def _burn_cpu() -> NoReturn:
    counter = 0
    while True:
        counter = (counter * 31 + 7) & 0xFFFF


class Server:
    """The watchdog: handshake, routing, documents, elaboration tasks, directives."""

    def __init__(self, config: Config, output: Output, pause_input: Callable[[], None]) -> None:
        self.config = config
        self.out = output
        self.pause_input = pause_input
        self.phase = "initialize"  # -> "initialized" -> "running" -> "shutdown"
        self.docs: dict[str, Document] = {}
        self.requests: dict[str, PendingRequest] = {}
        self.replies: dict[str, Json] = {}
        self.next_request_id = 0
        self.hung = False
        self.spinning = False
        self.memory: list[bytearray] = []

    # --- main loop ---------------------------------------------------------------------------

    async def run(self, reader: FrameReader) -> int:
        try:
            while True:
                message = await reader.read()
                if self.hung:
                    await asyncio.get_running_loop().create_future()
                if message is None:
                    return 0
                code = self.handle(message)
                if code is not None:
                    return code
        except Fatal as exc:
            self.stderr(f"Watchdog error: {exc}")
            return 1

    def handle(self, message: Json) -> int | None:
        kind = classify(message)
        method = message.get("method", "")
        if self.phase == "initialize":
            if kind != "request" or method != "initialize":
                raise Fatal(f"Expected method 'initialize', got method '{method}'")
            self.result(message["id"], {"capabilities": CAPABILITIES, "serverInfo": SERVER_INFO})
            self.phase = "initialized"
            return None
        if self.phase == "initialized":
            if kind != "notification" or method != "initialized":
                raise Fatal(f"Expected method 'initialized', got method '{method}'")
            self.phase = "running"
            self.out.send({"id": REGISTER_WATCHER_ID, "method": "client/registerCapability",
                           "params": REGISTER_WATCHER_PARAMS})
            return None
        if kind in ("response", "error"):
            self.replies[id_key(message["id"])] = message.get("result", message.get("error"))
            return None
        params = message.get("params")
        if self.phase == "shutdown":
            if kind == "request":
                self.error(message["id"], INVALID_REQUEST,
                           "Request received after 'shutdown' request.")
            return 0 if kind == "notification" and method == "exit" else None
        if kind == "request" and method == "shutdown":
            self.shutdown(message["id"])
        elif params is None:
            raise Fatal("Got invalid JSON-RPC message")
        elif kind == "request":
            self.request(message["id"], method, params)
        else:
            self.notification(method, params)
        return None

    # --- output helpers ----------------------------------------------------------------------

    def result(self, ident: Json, result: Json) -> None:
        self.out.send({"id": ident, "result": result})

    def error(self, ident: Json, code: int, message: str) -> None:
        self.out.send({"error": {"code": code, "message": message}, "id": ident})

    def notify(self, method: str, params: Json) -> None:
        self.out.send({"method": method, "params": params})

    @staticmethod
    def stderr(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def live(self, doc: Document, elab: Elaboration) -> bool:
        """May ``elab`` still emit? (Current, not crashed, not an outdated version.)"""
        return (self.docs.get(doc.uri) is doc and doc.elab is elab and not doc.crashed
                and elab.version >= doc.max_version and self.phase == "running")

    def progress(self, doc: Document, version: int, line: int | None, kind: int = 1) -> None:
        processing = [] if line is None else [{"kind": kind, "range": doc.text.lsp_range(
            (line, 0), doc.text.eof())}]
        self.notify("$/lean/fileProgress", {"processing": processing,
                                            "textDocument": {"uri": doc.uri, "version": version}})

    def publish(self, doc: Document, elab: Elaboration, diags: list[Diag]) -> None:
        if self.live(doc, elab):
            self.notify("textDocument/publishDiagnostics", {
                "diagnostics": [d.to_lsp(elab.analysis.text) for d in diags],
                "uri": doc.uri, "version": elab.version})

    def elab_progress(self, doc: Document, elab: Elaboration, line: int | None) -> None:
        if self.live(doc, elab):
            self.progress(doc, elab.version, line)

    # --- notifications -----------------------------------------------------------------------

    def notification(self, method: str, params: Json) -> None:
        try:
            if method == "textDocument/didOpen":
                self.did_open(params)
            elif method == "textDocument/didChange":
                self.did_change(params)
            elif method == "textDocument/didClose":
                self.did_close(get_str(params, "textDocument", "uri"))
            elif method == "$/cancelRequest":
                self.cancel(params.get("id") if isinstance(params, dict) else None)
            elif method in ("textDocument/didSave", "workspace/didChangeWatchedFiles"):
                pass
            elif not method.startswith("$/"):
                self.stderr(f"Got unsupported notification: {method}")
        except BadParams as exc:
            raise Fatal(f"Cannot parse request params: {compact(params)}\n{exc}") from exc

    def did_open(self, params: Json) -> None:
        uri = get_str(params, "textDocument", "uri")
        text = get_str(params, "textDocument", "text")
        version = get_path(params, "textDocument", "version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BadParams("field 'version' must be an integer")
        if uri in self.docs:
            return
        doc = Document(uri, version, SourceText(text), version)
        self.docs[uri] = doc
        self.progress(doc, version, 0)
        self.start_elaboration(doc, analyze(doc.text))

    def did_change(self, params: Json) -> None:
        uri = get_str(params, "textDocument", "uri")
        version = get_path(params, "textDocument").get("version")
        version = version if isinstance(version, int) and not isinstance(version, bool) else 0
        changes = get_path(params, "contentChanges")
        if not isinstance(changes, list):
            raise BadParams("field 'contentChanges' must be an array")
        doc = self.docs.get(uri)
        if doc is None or not changes:
            return
        text = doc.text
        for change in changes:
            text = text.apply(change)
        doc.text, doc.version = text, version
        doc.max_version = max(doc.max_version, version)
        old = doc.elab
        self.stop_elaboration(doc)
        analysis = analyze(text)
        restart = doc.crashed or (old is not None and old.analysis.header != analysis.header)
        doc.crashed = False
        if restart:
            doc.rpc_sessions.clear()
        self.start_elaboration(doc, analysis)
        if restart and doc.elab is not None:
            self.elab_progress(doc, doc.elab, 0)
        self.poll(doc)

    def did_close(self, uri: str) -> None:
        doc = self.docs.pop(uri, None)
        if doc is None:
            return
        self.stop_elaboration(doc)
        self.fail_pending(doc, CONTENT_MODIFIED, f"The file worker for {uri} has been terminated.")
        self.notify("textDocument/publishDiagnostics",
                    {"diagnostics": [], "uri": uri, "version": doc.version})

    def cancel(self, ident: Json) -> None:
        request = self.requests.get(id_key(ident))
        if request is not None:
            self.finish(request)
            self.error(request.ident, REQUEST_CANCELLED, "")

    # --- requests ----------------------------------------------------------------------------

    def request(self, ident: Json, method: str, params: Json) -> None:
        if method in WATCHDOG_REQUESTS:
            self.result(ident, WATCHDOG_REQUESTS[method])
            return
        if method == "$/lean/waitForILeans":
            uri = params.get("uri") if isinstance(params, dict) else None
            if uri in self.docs:
                self.result(ident, {})
            else:
                self.error(ident, CONTENT_MODIFIED,
                           f"Cannot process '$/lean/waitForILeans' request to closed file '{uri}'")
            return
        spec = DOCUMENT_REQUESTS.get(method)
        if spec is None:
            self.error(ident, METHOD_NOT_FOUND, f"No request handler found for '{method}'")
            return
        try:
            uri = get_str(params, *spec.uri_path)
            request = PendingRequest(ident, method, uri, params, spec.wait)
            if spec.wait == "position":
                request.lsp_pos = parse_position(get_path(params, "position"))
            elif spec.wait == "diagnostics":
                version = get_path(params, "version")
                if not isinstance(version, int):
                    raise BadParams("field 'version' must be an integer")
                request.version = version
        except BadParams as exc:
            self.error(ident, INVALID_PARAMS,
                       f"Cannot parse request params: {compact(params)}\n{exc}")
            return
        doc = self.docs.get(uri)
        if doc is None:
            self.error(ident, CONTENT_MODIFIED, f"Cannot process request to closed file '{uri}'")
            return
        self.requests[request.key] = request
        doc.pending.append(request)
        self.poll(doc)

    def poll(self, doc: Document) -> None:
        """Answer the pending requests of ``doc`` whose wait is over, in arrival order."""
        if doc.crashed:
            return
        for request in list(doc.pending):
            if request.elab is None and doc.elab is not None:
                request.elab = doc.elab
                request.line = doc.elab.analysis.needed_line(request.lsp_pos[0])
            if self.ready(doc, request):
                self.answer(request)

    def ready(self, doc: Document, request: PendingRequest) -> bool:
        if request.wait == "diagnostics":
            return doc.completed is not None and doc.completed >= request.version
        elab = request.elab
        if elab is None:
            return False
        if request.wait == "now" or elab is not doc.elab:
            return True
        if request.wait == "position":
            return elab.done_through > request.line
        return elab.done_through >= INF

    def finish(self, request: PendingRequest) -> None:
        self.requests.pop(request.key, None)
        doc = self.docs.get(request.uri)
        if doc is not None and request in doc.pending:
            doc.pending.remove(request)

    def answer(self, request: PendingRequest) -> None:
        self.finish(request)
        assert request.elab is not None  # poll() binds every request before answering it
        try:
            result = DOCUMENT_REQUESTS[request.method].handler(self, request,
                                                               request.elab.analysis)
        except RequestError as exc:
            self.error(request.ident, exc.code, exc.message)
        else:
            self.result(request.ident, result)

    def fail_pending(self, doc: Document, code: int, message: str) -> None:
        for request in list(doc.pending):
            self.requests.pop(request.key, None)
            self.error(request.ident, code, message)
        doc.pending.clear()

    def shutdown(self, ident: Json) -> None:
        for doc in list(self.docs.values()):
            self.stop_elaboration(doc)
            self.fail_pending(doc, CONTENT_MODIFIED,
                              f"The file worker for {doc.uri} has been terminated.")
        self.docs.clear()
        self.phase = "shutdown"
        self.result(ident, None)

    # --- elaboration -------------------------------------------------------------------------

    def start_elaboration(self, doc: Document, analysis: Analysis) -> None:
        loop = asyncio.get_running_loop()
        elab = Elaboration(doc.version, analysis, loop.time())
        elab.done_through = analysis.steps[0].line if analysis.steps else INF
        doc.elab = elab
        elab.task = loop.create_task(self.elaborate(doc, elab))
        elab.task.add_done_callback(self.task_done)

    @staticmethod
    def stop_elaboration(doc: Document) -> None:
        if doc.elab is not None and doc.elab.task is not None:
            doc.elab.task.cancel()

    def task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.stderr(f"Watchdog error: standin internal error\n{text}")
        os._exit(1)

    @staticmethod
    async def sleep_until(deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def elaborate(self, doc: Document, elab: Elaboration) -> None:
        state = ReportState(elab.started + self.config.report_delay_ms / 1000)
        steps = elab.analysis.steps
        for index, step in enumerate(steps):
            new = list(step.diagnostics)
            if step.directive is not None:
                extra = await self.directive(doc, elab, step, state)
                if extra is None:
                    return
                new.extend(extra)
            state.diags.extend(new)
            elab.done_through = steps[index + 1].line if index + 1 < len(steps) else INF
            self.poll(doc)
            if state.blocked and new:
                self.publish(doc, elab, state.diags)
        elab.done_through = INF
        self.poll(doc)
        await self.sleep_until(state.report_at)
        if state.blocked:
            self.elab_progress(doc, elab, None)
        else:
            self.elab_progress(doc, elab, None)
            self.publish(doc, elab, state.diags)
        if self.live(doc, elab):
            doc.completed = elab.version
            self.poll(doc)

    async def block(self, doc: Document, elab: Elaboration, state: ReportState,
                    seconds: float | None, line: int) -> None:
        """Elaboration waits here; the reporter notices if it wakes up meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        if deadline is None or deadline > state.report_at:
            await self.sleep_until(state.report_at)
            if not state.blocked:
                state.blocked = True
                self.publish(doc, elab, state.diags)
            self.elab_progress(doc, elab, line)
        if deadline is None:
            await loop.create_future()
        else:
            await self.sleep_until(deadline)

    async def directive(self, doc: Document, elab: Elaboration, step: Step,
                        state: ReportState) -> list[Diag] | None:
        """Run a directive; the diagnostics it adds, or None if the worker is gone."""
        directive = step.directive
        assert directive is not None
        try:
            return await self.run_directive(doc, elab, step, directive, state)
        except ValueError:
            return [self.directive_diag(
                directive, SEVERITY_ERROR,
                f"standin: bad argument for directive '{directive.name}': {directive.arg!r}")]

    @staticmethod
    def directive_diag(directive: Directive, severity: int, message: str) -> Diag:
        return Diag(severity, message, (directive.line, directive.col),
                    (directive.line, directive.end))

    async def run_directive(self, doc: Document, elab: Elaboration, step: Step,
                            directive: Directive, state: ReportState) -> list[Diag] | None:
        name, arg = directive.name, directive.arg
        if name == "delay":
            await self.block(doc, elab, state, float(arg), step.progress_line)
        elif name == "spin":
            self.start_spinning()
            await self.block(doc, elab, state, None, step.progress_line)
        elif name == "crash":
            self.crash(doc, int(arg) if arg else 139)
            return None
        elif name == "exit":
            await self.exit_process(int(arg))
        elif name == "hang":
            self.hung = True
            self.out.freeze()
            self.pause_input()
            await asyncio.get_running_loop().create_future()
        elif name == "memory":
            if not self.allocate(int(arg)):
                self.crash(doc, 1, "INTERNAL PANIC: out of memory")
                return None
        elif name == "flood":
            await self.flood(doc, elab, state, arg, step.progress_line)
        elif name == "stderr":
            self.stderr(f"[{doc.uri}] {arg}")
        elif name == "refresh":
            self.out.send({"id": self.next_request_id,
                           "method": "workspace/semanticTokens/refresh"})
            self.next_request_id += 1
        elif name in ("echo-env", "config", "replies"):
            return [self.directive_diag(directive, SEVERITY_INFO, self.report(name, arg))]
        else:
            return [self.directive_diag(directive, SEVERITY_ERROR,
                                        f"standin: unknown directive '{name}'")]
        return []

    def report(self, name: str, arg: str) -> str:
        if name == "echo-env":
            value = os.environ.get(arg)
            return value if value is not None else f"<unset {arg}>"
        if name == "config":
            return compact({"argv": list(self.config.argv), "cwd": os.getcwd(),
                            "reportDelayMs": self.config.report_delay_ms})
        return compact(self.replies)

    async def flood(self, doc: Document, elab: Elaboration, state: ReportState, arg: str,
                    line: int) -> None:
        count, _, what = arg.partition(" ")
        if what.strip() not in ("", "diagnostics"):
            raise ValueError(arg)
        for _ in range(int(count)):
            if what.strip() == "diagnostics":
                self.publish(doc, elab, state.diags)
            else:
                self.elab_progress(doc, elab, line)
            await self.out.drain()

    def crash(self, doc: Document, code: int, note: str | None = None) -> None:
        if code == 1:
            self.stderr(note or f"[{doc.uri}] uncaught exception: standin crash")
            error = (WORKER_EXITED, f"Server process for {doc.uri} crashed, see stderr for "
                     "exception.")
        else:
            self.stderr("Stack overflow detected. Aborting.")
            error = (WORKER_CRASHED, f"Server process for {doc.uri} crashed, likely due to a "
                     "stack overflow or a bug.")
        doc.crashed = True
        doc.rpc_sessions.clear()
        self.fail_pending(doc, *error)
        self.progress(doc, doc.version, 0, kind=2)

    async def exit_process(self, code: int) -> NoReturn:
        self.stderr("Watchdog error: standin exit")
        await self.out.flush(timeout=5.0)
        os._exit(code)

    def start_spinning(self) -> None:
        if not self.spinning:
            self.spinning = True
            threading.Thread(target=_burn_cpu, name="standin-spin", daemon=True).start()

    def allocate(self, megabytes: int) -> bool:
        try:
            block = bytearray(megabytes << 20)
            block[::4096] = b"\x01" * len(range(0, len(block), 4096))
        except MemoryError:
            return False
        self.memory.append(block)
        return True


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


async def serve(config: Config) -> int:
    stream, pause = await open_input()
    output = await Output.open()
    server = Server(config, output, pause)
    code = await server.run(FrameReader(stream))
    await output.flush(timeout=5.0)
    return code


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args or "-v" in args:
        print(VERSION_LINE)
        sys.exit(0)
    code = asyncio.run(serve(Config.from_args(args, os.environ)))
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
