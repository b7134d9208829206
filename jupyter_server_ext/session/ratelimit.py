"""A token bucket: how many client requests a session lets through per second.

One bucket per session (``rate_limit`` requests/s, bursts up to ``rate_burst``). A request takes
a token or is refused; refusals take none, so a client that backs off gets through again at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# JSON-RPC error of a request refused by the bucket (in the -32099..-32000 range JSON-RPC leaves
# to servers; LSP uses -32002 and -32001 only, jupyter-lean -32099 and -32098).
RATE_LIMITED = -32003
RATE_LIMITED_MESSAGE = "rate limit exceeded"


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` held; starts full."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        self.rate = float(rate)
        # A burst below one request would refuse everything.
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def take(self) -> bool:
        """Take one token: True if there was one (the request may pass)."""
        now = self._clock()
        tokens = self._tokens + (now - self._stamp) * self.rate
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = min(self.burst, tokens) - 1.0
            return True
        self._tokens = tokens
        return False


def bucket_for(rate: float, burst: float) -> TokenBucket | None:
    """The bucket of a session with these settings; None when limiting is off (rate 0)."""
    if rate <= 0:
        return None
    return TokenBucket(rate, burst if burst > 0 else rate)
