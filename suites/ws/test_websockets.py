"""WebSocket suite: 50+ (default 200) concurrent clients on ``/ws/echo`` and ``/ws/broadcast``.

Server contract of both endpoints: docs/load.md. One criterion per test; sizes from
suites/ws/sizes.py (``--roo-profile``).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites.ws.sizes import WS, WsSizes


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> WsSizes:
    """The WebSocket suite's sizes for ``--roo-profile`` (suites/ws/sizes.py)."""
    return roo_sizes(WS)


def warm_up(url: str, sizes: WsSizes) -> None:
    """A short, unrecorded run: the server's first connections and the generator's imports."""
    from pytest_roo.load.ws import WsSwarm

    WsSwarm().echo(url, clients=min(20, sizes.clients), rate="100/s", duration=sizes.warmup)


@pytest.mark.slo("p95 < 50ms", "error_rate < 1%")
def test_echo_round_trip(ws_swarm: Any, target: Target, sizes: WsSizes) -> None:
    """Every client sends on an open schedule; the echo comes back within 50 ms (p95)."""
    url = target.ws_url("/ws/echo")
    warm_up(url, sizes)
    ws_swarm.echo(url, clients=sizes.clients, rate=f"{sizes.echo_rate}/s",
                  duration=sizes.duration, message_size=128)


@pytest.mark.slo("delivery.p95 < 50ms", "delivery.p99 < 50ms", "errors == 0")
def test_broadcast_reaches_every_client(ws_swarm: Any, target: Target, sizes: WsSizes) -> None:
    """A publisher broadcasts; every client gets every message (lost/duplicate are errors).
    "Message delivery under 50 ms" names no percentile: the tail (p99) must hold it too."""
    url = target.ws_url("/ws/broadcast")
    warm_up(target.ws_url("/ws/echo"), sizes)
    result = ws_swarm.broadcast(url, clients=sizes.clients,
                                rate=f"{sizes.broadcast_rate}/s",
                                duration=sizes.duration, message_size=128)
    assert result.counters.get("subscribers") == sizes.clients, result.counters


def integrity_payload(vu: int, iteration: int) -> str:
    """A message that says who sent it, of a size from 1 to 2,000 bytes (frames under and
    over 16, 125 and 1,024 bytes), with varying content: a reply cut, padded, reordered or
    swapped with another client's is told apart from it."""
    size = INTEGRITY_SIZES[(vu + iteration) % len(INTEGRITY_SIZES)]
    head = f"{vu}:{iteration}:"
    body = (head + "".join(chr(48 + (vu * 7 + iteration * 13 + i) % 75) for i in range(size)))
    return body[:max(size, len(head))]


INTEGRITY_SIZES = (1, 15, 17, 64, 126, 200, 1025, 2000)


@pytest.mark.slo("errors == 0")
def test_echo_replies_are_intact(ws_swarm: Any, target: Target, sizes: WsSizes) -> None:
    """Under load (the clients and rate of the echo test, open model), every echo is exactly
    the message it answers: a reply that differs is a ``mismatch``. Enough messages to see a
    fault that hits one in 200 (at least 600 per run)."""
    import aiohttp

    url = target.ws_url("/ws/echo")

    async def echo(session: Any) -> None:
        ws = await session.ws(url)
        payload = integrity_payload(session.vu, session.iteration)
        await ws.send_str(payload)
        msg = await ws.receive(timeout=session.timeout)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            session.error("closed" if msg.type in (aiohttp.WSMsgType.CLOSE,
                                                   aiohttp.WSMsgType.CLOSED) else "protocol")
            return
        if msg.data != payload:
            session.error("mismatch")
            session.count("mismatch")
        else:
            session.count("intact")

    result = ws_swarm.run(echo, clients=sizes.clients, rate=f"{sizes.integrity_rate}/s",
                          duration=sizes.duration, name="ws.echo_integrity")
    assert result.counters.get("intact", 0) + result.counters.get("mismatch", 0) >= 600, (
        f"too few echoes compared to see a 1-in-200 fault: {dict(result.counters)}")


@pytest.mark.slo("error_rate < 1%")
def test_connect_disconnect_churn(ws_swarm: Any, target: Target, sizes: WsSizes) -> None:
    """Rapid connect -> one echo -> close, arriving on schedule: fewer than 1 % fail."""
    url = target.ws_url("/ws/echo")
    ws_swarm.churn(url, clients=sizes.churn_clients, rate=f"{sizes.churn_rate}/s",
                   duration=sizes.duration)
