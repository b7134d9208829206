"""Writes coalesced per turn of the event loop: a lone message at once, a burst in two writes."""

from __future__ import annotations

import asyncio

from jupyter_server_ext.session.coalesce import TurnCoalescer


async def test_first_write_of_a_turn_is_immediate_the_rest_follow_together() -> None:
    writes: list[bytes] = []
    coalescer = TurnCoalescer(writes.append)
    coalescer.push(b"a")
    assert writes == [b"a"]  # a lone message waits for nothing
    coalescer.push(b"b")
    coalescer.push(b"cd")
    assert writes == [b"a"] and coalescer.queued_bytes == 3
    await asyncio.sleep(0)  # the end of this turn
    assert writes == [b"a", b"bcd"] and coalescer.queued_bytes == 0
    coalescer.push(b"e")  # a new turn starts with an immediate write again
    assert writes == [b"a", b"bcd", b"e"]


async def test_flush_writes_the_queue_now_and_keeps_the_order() -> None:
    writes: list[bytes] = []
    coalescer = TurnCoalescer(writes.append)
    for chunk in (b"1", b"2", b"3"):
        coalescer.push(chunk)
    coalescer.flush()
    coalescer.push(b"4")
    await asyncio.sleep(0)
    assert writes == [b"1", b"23", b"4"]
    assert b"".join(writes) == b"1234"
