"""Per-session rate limits (rate_limit / rate_burst): the token bucket, and a session that
refuses requests over it with -32003 before they reach Lean, and never drops a notification."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_server_ext.session import (
    InProcessClient,
    LeanRequestError,
    LeanSessionManager,
    metrics,
)
from jupyter_server_ext.session import session as session_module
from jupyter_server_ext.session.ratelimit import RATE_LIMITED, TokenBucket, bucket_for

PEER = Path(__file__).parents[2] / "scripted_peer.py"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_lets_a_burst_through_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=200, burst=1000, clock=clock)
    assert sum(bucket.take() for _ in range(1500)) == 1000
    clock.now += 0.5  # 100 tokens
    assert sum(bucket.take() for _ in range(500)) == 100
    clock.now += 3600  # never more than the burst
    assert sum(bucket.take() for _ in range(5000)) == 1000


def test_refusals_take_no_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=8, burst=1, clock=clock)
    assert bucket.take() and not bucket.take()
    clock.now += 0.0625
    assert not bucket.take()  # half a token
    clock.now += 0.0625
    assert bucket.take()


def test_zero_rate_is_no_limit() -> None:
    assert bucket_for(0, 1000) is None
    assert bucket_for(-1, 1000) is None
    assert bucket_for(5, 0) is not None  # no burst given: one second's worth


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Sessions get buckets that run on a clock the test moves."""
    fake = FakeClock()

    def fake_bucket(rate: float, burst: float) -> TokenBucket | None:
        return TokenBucket(rate, burst, clock=fake) if rate > 0 else None

    monkeypatch.setattr(session_module, "bucket_for", fake_bucket)
    return fake


@pytest.fixture
def manager(tmp_path: Path, jp_asyncio_loop: asyncio.AbstractEventLoop) -> Any:
    managers: list[LeanSessionManager] = []

    def make(**traits: Any) -> LeanSessionManager:
        created = LeanSessionManager(
            lean_command=[sys.executable, str(PEER)],
            sandbox="none",
            root_dir=str(tmp_path),
            workspace_root=str(tmp_path / "ws"),
            **traits,
        )
        managers.append(created)
        return created

    yield make
    for created in managers:
        jp_asyncio_loop.run_until_complete(created.shutdown())


async def _client(manager: LeanSessionManager, owner: str = "alice") -> InProcessClient:
    client = InProcessClient(await manager.create(owner))
    await client.request("initialize", {"capabilities": {}}, timeout=10)
    client.notify("initialized", {})
    return client


async def _outcomes(futures: list[asyncio.Future[Any]]) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 20)


async def test_requests_over_the_limit_are_refused_and_never_reach_lean(
    manager: Any, clock: FakeClock
) -> None:
    client = await _client(manager(rate_limit=5, rate_burst=10))
    refused_before = metrics.REQUESTS_RATE_LIMITED._value.get()
    futures = []
    for index in range(30):
        futures.append(client.start_request("test/echo", {"n": index})[1])
        client.notify("test/note", {"n": index})  # notifications are never limited
    outcomes = await _outcomes(futures)

    answered = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, LeanRequestError)]
    assert [o["echo"]["n"] for o in answered] == list(range(10))
    assert len(refused) == 20
    assert {(e.error["code"], e.error["message"]) for e in refused} == {
        (RATE_LIMITED, "rate limit exceeded")
    }
    assert metrics.REQUESTS_RATE_LIMITED._value.get() - refused_before == 20

    clock.now += 1.0  # five tokens again
    received = await client.request("test/received", {}, timeout=10)
    assert received.count("test/echo") == 10, "refused requests must not reach Lean"
    assert received.count("test/note") == 30, "every notification reaches Lean"


async def test_each_session_has_its_own_bucket(manager: Any, clock: FakeClock) -> None:
    sessions = manager(rate_limit=5, rate_burst=10)
    flooded, other = await _client(sessions, "alice"), await _client(sessions, "alice")
    flood = [flooded.start_request("test/echo", {})[1] for _ in range(50)]
    assert sum(isinstance(o, LeanRequestError) for o in await _outcomes(flood)) == 40
    calm = [other.start_request("test/echo", {"n": n})[1] for n in range(10)]
    assert [o["echo"]["n"] for o in await _outcomes(calm)] == list(range(10))


async def test_zero_means_no_limit(manager: Any, clock: FakeClock) -> None:
    client = await _client(manager(rate_limit=0))
    outcomes = await _outcomes([client.start_request("test/echo", {})[1] for _ in range(3000)])
    assert all(isinstance(o, dict) for o in outcomes)


async def test_the_default_is_200_per_second_with_bursts_of_1000(
    manager: Any, clock: FakeClock
) -> None:
    sessions = manager()
    assert (sessions.rate_limit, sessions.rate_burst) == (200, 1000)
    client = await _client(sessions)
    outcomes = await _outcomes([client.start_request("test/echo", {})[1] for _ in range(1200)])
    assert sum(isinstance(o, dict) for o in outcomes) == 1000
    clock.now += 0.25
    outcomes = await _outcomes([client.start_request("test/echo", {})[1] for _ in range(100)])
    assert sum(isinstance(o, dict) for o in outcomes) == 50
