"""The stand-in cannot drift from real Lean: the recorded scenarios, replayed and compared.

``tests/record_transcripts.py`` drove the real Lean through a set of scenarios and wrote what it
said to ``tests/transcripts/``. Here the SAME scenarios run against the stand-in
(``tests/lean_standin.py``), and, on the real tier, against the live Lean again (a new Lean that
changes the wire fails that test; re-record and review the diff then).

What is compared, per scenario, is each named observation (a reply, the diagnostics of a version,
the methods seen between two points), plus the set of message kinds Lean sent at all:

- **exactly**: JSON-RPC structure (``jsonrpc``, ``id``, ``method``, ``uri``, ``version``),
  error ``code`` and error ``message`` (after normalization: file URIs are ``file:///PROJECT/..``),
  diagnostic ``severity``, ``range``, ``fullRange``, ``leanTags`` and ``source``, every ``kind``
  (fileProgress, hover markup, completion item), the ``processing`` lists of fileProgress (the
  sequence of one version, consecutive repeats collapsed), ``null`` and ``{}`` results, and the
  observations that are lists of methods or an exit code or stderr (``EXACT_OBSERVATIONS``).
- **first line**: diagnostic ``message`` (``N : Type``, ``Type mismatch``, ``unsolved goals``):
  the stand-in is not a Lean and does not print its terms the way Lean does.
- **by type and presence**: everything else: every field name must be present on both sides,
  recursively, with the same JSON type (string, number, bool, null, object, array). This is how
  ``sessionId`` is held to a string, and hover text, goals, completion ``data`` to their shapes.
- **lists**: element by element (same length) for diagnostics, goals, hypotheses, progress
  ranges and errors; other lists (capabilities, completion items, tagged text) only by the set
  of their elements' shapes.

Left out on purpose: Lean's ``internal exception #3`` next to an unsolved goal (an artefact of
the real tier's Lean having no ``Init``), intermediate ``publishDiagnostics`` of a version (how many
there are depends on timing; the last one before ``waitForDiagnostics`` answers is compared), and
``workspace/*/refresh`` requests (sent a timing-dependent number of times; the recorder leaves them
out and the client answers every server request).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from record_transcripts import (
    SCENARIOS,
    TRANSCRIPTS_DIR,
    Target,
    real_lean_target,
    run_scenario,
)

Json = Any
STANDIN = Path(__file__).parent / "lean_standin.py"

EXACT_KEYS = frozenset(
    {
        "jsonrpc",
        "id",
        "method",
        "uri",
        "version",
        "code",
        "severity",
        "range",
        "fullRange",
        "leanTags",
        "source",
        "kind",
        "processing",
    }
)
FIRST_LINE_KEYS = frozenset({"message"})  # of diagnostics; error messages are exact
ORDERED_LISTS = frozenset(
    {"diagnostics", "goals", "hyps", "processing", "progress", "recovered_progress"}
)
EXACT_OBSERVATIONS = frozenset({"after_close", "before_reply", "after_kill", "exit_code", "stderr"})
LEAN_WITHOUT_INIT_ARTEFACT = "internal exception #3"


def type_name(value: Json) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "number", float: "number", str: "string"}[type(value)]


def shape(value: Json, key: str | None = None, in_error: bool = False) -> Json:
    """What is compared of ``value`` (see the module docstring)."""
    if key in EXACT_KEYS:
        return value
    if key == "message" and isinstance(value, str):
        return value if in_error else value.split("\n", 1)[0]
    if isinstance(value, dict):
        if not value:
            return {}
        return {k: shape(v, k, in_error or key == "error") for k, v in value.items()}
    if isinstance(value, list):
        if key == "diagnostics":
            value = [d for d in value if d.get("message") != LEAN_WITHOUT_INIT_ARTEFACT]
        shapes = [shape(item, None, in_error) for item in value]
        if key in ORDERED_LISTS:
            return shapes
        return sorted({json.dumps(s, sort_keys=True) for s in shapes})
    return type_name(value)


def compared(transcript: dict[str, Json]) -> dict[str, Json]:
    """The parts of a transcript the test holds two runs to."""
    observations = {
        name: seen if name in EXACT_OBSERVATIONS else shape(seen, name)
        for name, seen in transcript["observations"].items()
    }
    received = sorted(
        {
            entry["message"].get("method") or ("error" if "error" in entry["message"] else "result")
            for entry in transcript["messages"]
            if entry["dir"] == "<-"
        }
    )
    return {
        "observations": observations,
        "received": received,
        "server_requests": transcript["server_requests"],
        "exit_code": transcript["exit_code"],
    }


def recorded(name: str) -> dict[str, Json]:
    return json.loads((TRANSCRIPTS_DIR / f"{name}.json").read_text())


def crash_standin_worker(server: subprocess.Popen[bytes], uri: str) -> None:
    # The stand-in has no worker processes; SIGUSR1 makes its open documents' workers "die" as a
    # SIGKILLed Lean worker does.
    os.kill(server.pid, signal.SIGUSR1)


STANDIN_TARGET = Target([sys.executable, str(STANDIN)], crash_standin_worker)


def test_every_scenario_has_a_committed_transcript() -> None:
    assert sorted(path.stem for path in TRANSCRIPTS_DIR.glob("*.json")) == sorted(SCENARIOS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_standin_matches_real_lean_transcript(name: str) -> None:
    assert compared(run_scenario(name, STANDIN_TARGET)) == compared(recorded(name))


@pytest.mark.timeout(120)
def test_live_real_lean_still_matches_the_transcripts(real_lean: Any) -> None:
    """A new Lean that changes the wire fails here: re-record (tests/record_transcripts.py),
    review the diff, then make the stand-in follow."""
    target = real_lean_target(f"{real_lean.lean} --server")
    differing = {}
    for name in sorted(SCENARIOS):
        live, committed = compared(run_scenario(name, target)), compared(recorded(name))
        if live != committed:
            differing[name] = {"live": live, "committed": committed}
    assert not differing, json.dumps(differing, indent=1, ensure_ascii=False)


def test_shape_comparison_notices_a_changed_field_type() -> None:
    real = {"result": {"sessionId": "SESSION-1"}}
    assert shape(real) != shape({"result": {"sessionId": 1}})
    assert shape(real) != shape({"result": {}})
    assert shape({"error": {"code": -32801, "message": "a"}}) != shape(
        {"error": {"code": -32801, "message": "b"}}
    )


def test_transcripts_hold_no_machine_paths() -> None:
    home = str(Path.home())
    for path in TRANSCRIPTS_DIR.glob("*.json"):
        text = path.read_text()
        assert home not in text and "/tmp/" not in text, path.name
