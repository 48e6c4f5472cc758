"""The service levels of your system, one criterion per line of your test plan.

Each test records one load run (the load fixtures do that); its ``slo`` marker is judged on it
when the test ends. A failing criterion fails the test with a table: criterion, measured,
limit, samples. Sizes are small so a first run takes seconds; raise them to your plan's figures.
"""

from __future__ import annotations

import pytest


@pytest.mark.slo("p95 < 50ms", "p99 < 100ms", "error_rate < 1%")
def test_health_answers_fast_under_load(http_load, target):  # type: ignore[no-untyped-def]
    """Plan: "the API answers within 50 ms for 20 concurrent users, error rate under 1 %"."""
    result = http_load.get(target.url("/health"), clients=20, rate="200/s", duration="5s")
    assert result.operations >= 500  # the load really ran


@pytest.mark.slo("rtt.p95 < 50ms", "rtt.p99 < 100ms", "error_rate < 1%")
def test_websocket_echo_for_50_clients(ws_swarm, target):  # type: ignore[no-untyped-def]
    """Plan: "50+ WebSocket clients, message delivery under 50 ms"."""
    result = ws_swarm.echo(target.ws_url("/ws"), clients=50, rate="250/s", duration="5s")
    assert result.operations >= 1000
