"""What each toxic does to the data of one direction of a proxied connection, one coroutine per
toxic type, chained in the order the toxics were added (as Toxiproxy's chain does).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pytest_roo.faults.chains import slice_offsets
from pytest_roo.faults.toxics import Toxic

if TYPE_CHECKING:
    from pytest_roo.faults.connection import _Direction

_now = time.monotonic  # data timestamps and deadlines: precise, unlike uvloop's loop.time()

Next = Callable[[bytes], Awaitable[None]]


async def _latency(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    delay = float(toxic.attributes["latency"])
    jitter = toxic.attributes["jitter"]
    if jitter:
        delay += d.conn.core.rng.uniform(-jitter, jitter)
    # from the time the chunk was read, so that delays pipeline as in Toxiproxy
    await d.hold(read_at + max(delay, 0) / 1000, toxic)
    await next_(data)


async def _bandwidth(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    rate = toxic.attributes["rate"] * 1000  # bytes per second (Toxiproxy: 1 KB = 1000 bytes)
    if rate <= 0:
        await next_(data)
        return
    state = d.state.setdefault(toxic.name, {"behind": 0.0})
    piece = max(1, rate // 10)  # at most 100 ms worth of bytes at a time
    for offset in range(0, len(data), piece):
        chunk = data[offset : offset + piece]
        # Each piece waits its own transfer time. A timer that fires late puts the stream
        # behind; the next pieces wait that much less (as Toxiproxy offsets its next sleep),
        # so the average rate holds on a busy machine. Idle time earns no credit: no bursts.
        until = _now() + len(chunk) / rate - state["behind"]
        if not await d.hold(until, toxic):
            await next_(data[offset:])  # toxic changed or removed: the rest goes on now
            return
        state["behind"] = max(0.0, _now() - until)
        await next_(chunk)


async def _slow_close(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    await next_(data)  # only the close is delayed (see _Direction._slow_close)


async def _timeout(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    return  # data dropped; the connection is closed by the timer set when the toxic applied


async def _reset_peer(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    still = await d.hold(_now() + toxic.attributes["timeout"] / 1000, toxic)
    if still:
        d.conn.reset()
    else:
        await next_(data)


async def _slicer(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    attrs = toxic.attributes
    cuts = slice_offsets(len(data), attrs["average_size"], attrs["size_variation"], d.conn.core.rng)
    for start, end in itertools.pairwise(cuts):
        await next_(data[start:end])
        pause = attrs["delay"] / 1e6
        if pause and end < len(data) and not await d.hold(_now() + pause, toxic):
            await next_(data[end:])
            return


async def _limit_data(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    state = d.state.setdefault(toxic.name, {"sent": 0})
    remaining = toxic.attributes["bytes"] - state["sent"]
    if remaining > 0:
        part = data[:remaining]
        state["sent"] += len(part)
        await next_(part)
    if toxic.attributes["bytes"] - state["sent"] <= 0:
        d.conn.close()


_HANDLERS: dict[str, Callable[[_Direction, Toxic, float, bytes, Next], Awaitable[None]]] = {
    "latency": _latency,
    "bandwidth": _bandwidth,
    "slow_close": _slow_close,
    "timeout": _timeout,
    "reset_peer": _reset_peer,
    "slicer": _slicer,
    "limit_data": _limit_data,
}
