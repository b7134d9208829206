#!/usr/bin/env python3
"""Scripted stand-in for the Lean 4 language server (``lean --server`` / ``lake serve --``).

``python tests/lean_standin.py [ARGS...]`` speaks, on stdin/stdout, the wire dialect of the Lean 4
watchdog, held to what the real Lean says by ``tests/test_transcripts.py``, which replays the
scenarios recorded from Lean 4.35 in ``tests/transcripts/`` against it (section numbers "§" below
refer to ``docs/lean-protocol.md``). It is a test double for the transport,
not a Lean: a small set of rules, all listed here, turns a document into diagnostics, goals, hovers
and completions, and comment directives (``-- standin: ...``) script time and faults. Standard
library only; it imports nothing from the project, so it stays an independent implementation of the
protocol.

This file is the entry point and the rule book; the code lives beside it in ``tests/standin/``:
``wire.py`` (framing, JSON-RPC shapes, capabilities, command line), ``tinylean.py`` (the tiny
"Lean" below) and ``watchdog.py`` (the main loop: documents, elaboration, requests,
directives). Like Lean's watchdog, which reads and answers ``initialize`` before it enters its
main loop, the stand-in answers ``initialize`` with blocking reads and writes and only then loads
asyncio and the rest: a client's first answer costs an interpreter start (about 20 ms), not
the 90 ms of loading everything.

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

Wire (§2, §3)
=============
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
  'initialize', got method '<m>'``); it is answered at once with Lean 4.35's capabilities (as
  recorded) and ``serverInfo {"name":"Lean 4 Server","version":"0.3.0"}``. The next message must be
  the notification ``initialized`` (else fatal ``Expected method 'initialized', got method '<m>'``;
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
  worker for <uri> has been terminated.``, publishes an empty diagnostics list for every open
  document (its last version), then replies ``null`` (as recorded). Afterwards every request gets
  -32600 ``Request received after 'shutdown' request.``, other notifications are ignored, ``exit``
  (with or without params) or EOF exits 0. EOF on stdin at any time exits 0 (Lean treats EOF as
  ``exit``; before ``shutdown`` that is the brief's rule, unverified).
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

Documents (§4)
==============
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

Elaboration and reporting timeline (§4.2, §4.3)
-----------------------------------------------
Each version is elaborated by one asyncio task (stdin keeps being read meanwhile). The document
is cut into commands (rules below) and directive lines; they run in line order ("steps"; a
command completes at its last line, a directive inside a command runs before it completes).
Steps are instantaneous except directives that wait (``delay``, ``spin``). The reporter wakes
``reportDelayMs`` after the edit:

- Fast version (elaboration finished when the reporter wakes): ``fileProgress processing:[]``
  **then** one ``publishDiagnostics`` with the complete list (Lean's order when the reporter never
  had to wait, §4.2).
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
answers from the snapshot it started on; inference, §5.2).

- ``textDocument/hover``: on an identifier that names a parameter of the enclosing declaration,
  a document declaration or a builtin: ``{"contents":{"kind":"markdown","value":"```lean\\nNAME :
  TYPE\\n```"},"range":<identifier>}`` (builtins with a docstring append ``\\n***\\n<doc>``); on a
  number ``N : Nat``; otherwise ``null``.
- ``textDocument/completion``: the identifier prefix before the cursor (letters, digits, ``_``,
  ``'``, ``!``, ``?``, ``.``) is matched as a string prefix against every known full name and its
  short forms under the current namespaces and ``open``\\ s; label = the part after the last ``.``
  of the prefix, and it must not contain a ``.`` itself (``N`` offers ``N``, not ``N.z``).
  A ``prelude`` document has no library: only its own declarations are offered.
  ``{"isIncomplete":true,"items":[{"label","kind","data"}...]}`` sorted by label; ``kind`` is 22
  for inductive types and structures, 7 for classes, 4 for constructors, else 3 (function) when
  the type has an arrow, else 21 (constant); ``data`` is Lean's ``[uri, line, character, 0,
  "c" + NAME]``. Empty prefix or no match: ``{"isIncomplete":true,"items":[]}``.
- ``completionItem/resolve``: the item with ``detail`` = the type (and ``documentation`` for
  documented builtins); routed by ``data[0]``.
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
- ``$/lean/rpc/connect {uri}``: ``{"sessionId": "<random 64-bit, in decimal>"}`` (a string, as
  Lean 4.35 sends it); sessions end when the worker restarts or crashes. ``$/lean/rpc/call``
  waits like a position request; a ``sessionId`` that is not a string: -32602 ``Cannot parse
  request params: ...``; -32900 ``Outdated RPC session`` for unknown sessions;
  ``Lean.Widget.getInteractiveGoals`` answers the goals of ``plainGoal`` at ``params.position``
  as ``{"goals":[{"hyps":[{"names","fvarIds","type"}],"type","ctx","goalPrefix":"⊢ ","mvarId"
  [,"userName"]}]}`` (each type one tagged text ``{"tag":[{"info":{"p":"<ref>"},"subexprPos":
  "/"},{"text":"<type>"}]}``), ``null`` outside a ``by``;
  ``Lean.Widget.InteractiveDiagnostics.infoToInteractive`` with a reference handed out in the
  session: ``{"doc":null,"exprExplicit":{"text":"<the referred text>"},"type":{"tag":[{"info":
  {"p":"<new ref>"},"subexprPos":"/"},{"text":"Type"}]}}`` (every referred text is taken to be a
  type), an unknown reference -32602 (text unverified); after a worker restart (header change,
  crash, didClose) the old session and its references are -32900 ``Outdated RPC session``, as
  recorded (``rpc_faults``); ``Lean.Widget.getInteractiveDiagnostics {lineRange?}``: the
  diagnostics whose start line is in the range, each message as Lean sends it to a client with
  ``hasWidgets``: an ``append`` of embeds ``{"tag":[{"expr":...},{"text":""}]}``, a line indented
  by two spaces being an expression with its own reference (``rpc_messages``); other methods
  -32601 ``No RPC method '<m>' found``. Sessions do not
  expire without keepAlive (Lean drops them after about 30 s; not modelled).
  ``$/lean/rpc/keepAlive`` and ``release`` are accepted and ignored, except that
  a ``sessionId`` other than a decimal string of a 64-bit natural is fatal, as in Lean 4.35
  (``Got param with wrong structure: <params>\\nLean.Lsp.RpcReleaseParams.sessionId: String
  expected``).
- Signal ``SIGUSR1``: the workers of all open documents die as a SIGKILLed Lean worker does
  (``crash`` with exit code 137 below, nothing on stderr); the transcript test's stand-in for
  ``kill -9`` of a ``lean --worker``.

The tiny "Lean"
===============
- ``prelude`` as the first command is a header (Lean without ``Init``), accepted silently;
  ``import`` lines may follow it. Anywhere else it is a parse error.
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
  not analysed; ``structure``/``inductive``/``class`` NAME declare ``NAME : Type``, and each
  ``| c (x : T) ...`` alternative of an ``inductive`` declares ``NAME.c : T → ... → NAME``.
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
    := "s"`` gives ``Type mismatch\\n  "s"\\nhas type\\n  String : Type\\nbut is expected to have
    type\\n  Nat : Type`` on the body; a body that is just the name of a type (``def x : N :=
    N``) gives Lean's ``Type mismatch\\n  N\\nhas type\\n  Type\\nof sort `Type 1` but is
    expected to have type\\n  N\\nof sort `Type``` (capitalized since Lean 4.2x). Theorem term
    proofs are not checked.
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

Where Lean's behaviour is not pinned down (choices made here)
=============================================================
- Fast-version order ``processing:[]`` before the final ``publishDiagnostics`` follows §4.2; the
  exact condition ("never had to wait") is modelled as "elaboration finished before the report
  delay expired".
- Exact texts of fatal header/JSON errors, of ``Cannot parse request params`` for notifications,
  and whether bad notification params are fatal at all.
- EOF before ``shutdown`` exits 0.
- ``waitForDiagnostics`` after an edit cancelled the version it waited for (see above).
- ``#check`` of constants in arrow form, not the newer signature form; the ``sorry`` warning in
  the backtick form (PR #11608).
- Whether ``workspace/semanticTokens/refresh`` carries ``params`` (sent without).
- ``documentSymbol`` kind 6 for all declarations.
- Not modelled, though Lean does it: ``workspace/inlayHint/refresh`` and
  ``workspace/semanticTokens/refresh`` requests after elaboration (only the ``refresh``
  directive sends one), the empty ``publishDiagnostics`` Lean may send before a version's
  first report, and Lean's ``internal exception #3`` next to unsolved goals without ``Init``.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from standin.wire import (
    CAPABILITIES,
    SERVER_INFO,
    VERSION_LINE,
    Config,
    Fatal,
    FrameParser,
    classify,
    encode_frame,
)


def read_initialize(parser: FrameParser) -> dict[str, object] | None:
    """Blocks until the first message has arrived; None at EOF, Fatal unless it is the request
    ``initialize``."""
    while True:
        complete, message = parser.pop()
        if complete:
            kind = classify(message)
            method = message.get("method", "")
            if kind != "request" or method != "initialize":
                raise Fatal(f"Expected method 'initialize', got method '{method}'")
            return message
        data = os.read(sys.stdin.fileno(), 1 << 16)
        if not data:
            return None
        parser.feed(data)


def write_all(data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(sys.stdout.fileno(), view) :]
    except OSError:
        pass  # the client is gone; the main loop will see EOF on stdin


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args or "-v" in args:
        print(VERSION_LINE)
        sys.exit(0)
    config = Config.from_args(args, os.environ)
    parser = FrameParser()
    # Like Lean's watchdog (initAndRunWatchdog), answer ``initialize`` before the main loop and
    # its machinery (asyncio, the tiny Lean) are loaded: a client's first answer then costs only
    # an interpreter start.
    try:
        initialize = read_initialize(parser)
    except Fatal as exc:
        sys.stderr.write(f"Watchdog error: {exc}\n")
        sys.stderr.flush()
        os._exit(1)
    if initialize is None:
        os._exit(0)
    write_all(
        encode_frame(
            {
                "id": initialize["id"],
                "jsonrpc": "2.0",
                "result": {"capabilities": CAPABILITIES, "serverInfo": SERVER_INFO},
            }
        )
    )
    from standin.watchdog import run

    code = run(config, parser)
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
