"""Prometheus metrics of Lean sessions, served on the Jupyter server's /metrics."""

from __future__ import annotations

import weakref
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

SESSIONS_STARTED = Counter("jupyter_lean_sessions_started", "Lean servers started")
SESSIONS_CULLED = Counter("jupyter_lean_sessions_culled", "Lean sessions stopped for being idle")
SESSIONS_OVER_LIMIT = Counter(
    "jupyter_lean_sessions_over_limit",
    "Lean sessions ended for going over memory_limit or cpu_time_limit",
)
SESSIONS_CRASHED = Counter(
    "jupyter_lean_sessions_crashed", "Lean servers that exited without being asked to"
)
REQUESTS_RATE_LIMITED = Counter(
    "jupyter_lean_requests_rate_limited",
    "Client requests refused with -32003 by their session's rate_limit (never sent to Lean)",
)
SPAWN_READY_SECONDS = Histogram(
    "jupyter_lean_spawn_ready_seconds",
    "Seconds from starting a Lean server to its initialize result",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


class RelayCounts:
    """Messages relayed per direction: plain integers bumped on the hot path (a prometheus
    Counter takes a lock per increment), exposed as jupyter_lean_messages_total when scraped."""

    client_to_lean = 0
    lean_to_client = 0


class _RelayedMessages(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "jupyter_lean_messages", "LSP messages relayed", labels=["direction"]
        )
        family.add_metric(["client_to_lean"], RelayCounts.client_to_lean)
        family.add_metric(["lean_to_client"], RelayCounts.lean_to_client)
        yield family


class _SessionStates(Collector):
    """jupyter_lean_sessions{state}: counted when scraped, so it can never drift."""

    def __init__(self) -> None:
        self._sources: weakref.WeakSet[object] = weakref.WeakSet()

    def add_source(self, source: object) -> None:
        self._sources.add(source)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "jupyter_lean_sessions", "Lean sessions by state", labels=["state"]
        )
        tally: Tally[str] = Tally({"starting": 0, "ready": 0, "exited": 0, "warm": 0})
        for source in list(self._sources):
            tally.update(source.session_states())  # type: ignore[attr-defined]
        for state, count in sorted(tally.items()):
            family.add_metric([state], count)
        yield family


SESSION_STATES = _SessionStates()
REGISTRY.register(SESSION_STATES)
REGISTRY.register(_RelayedMessages())
