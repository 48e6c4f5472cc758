"""WebSocket suite: 50+ (default 200) concurrent clients on ``/ws/echo`` and ``/ws/broadcast``.

Server contract of both endpoints: docs/load.md. One criterion per test; sizes from
suites/profiles.py (``--roo-profile``).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.target import Target
from suites.profiles import Sizes


def warm_up(url: str, sizes: Sizes) -> None:
    """A short, unrecorded run: the server's first connections and the generator's imports."""
    from pytest_roo.load.ws import WsSwarm

    WsSwarm().echo(url, clients=min(20, sizes.ws_clients), rate="100/s", duration=sizes.warmup)


@pytest.mark.slo("p95 < 50ms", "error_rate < 1%")
def test_echo_round_trip(ws_swarm: Any, target: Target, sizes: Sizes) -> None:
    """Every client sends on an open schedule; the echo comes back within 50 ms (p95)."""
    url = target.ws_url("/ws/echo")
    warm_up(url, sizes)
    ws_swarm.echo(url, clients=sizes.ws_clients, rate=f"{sizes.ws_echo_rate}/s",
                  duration=sizes.ws_duration, message_size=128)


@pytest.mark.slo("delivery.p95 < 50ms", "errors == 0")
def test_broadcast_reaches_every_client(ws_swarm: Any, target: Target, sizes: Sizes) -> None:
    """A publisher broadcasts; every client gets every message (lost/duplicate are errors)."""
    url = target.ws_url("/ws/broadcast")
    warm_up(target.ws_url("/ws/echo"), sizes)
    result = ws_swarm.broadcast(url, clients=sizes.ws_clients,
                                rate=f"{sizes.ws_broadcast_rate}/s",
                                duration=sizes.ws_duration, message_size=128)
    assert result.counters.get("subscribers") == sizes.ws_clients, result.counters


@pytest.mark.slo("error_rate < 1%")
def test_connect_disconnect_churn(ws_swarm: Any, target: Target, sizes: Sizes) -> None:
    """Rapid connect -> one echo -> close, arriving on schedule: fewer than 1 % fail."""
    url = target.ws_url("/ws/echo")
    ws_swarm.churn(url, clients=sizes.ws_churn_clients, rate=f"{sizes.ws_churn_rate}/s",
                   duration=sizes.ws_duration)
