"""The service levels of your system, one criterion per line of your test plan.

Each test records one load run (the load fixtures do that); its ``slo`` marker is judged on it
when the test ends. A failing criterion fails the test with a table: criterion, measured,
limit, samples. The sizes come from sizes.py, per ``--roo-profile``: small in ``smoke`` and
``standard`` so a first run takes seconds; raise them to your plan's figures.
"""

from __future__ import annotations

import pytest
from sizes import PROFILES, Sizes

from pytest_roo.profiles import SelectedProfile


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> Sizes:
    """This suite's sizes for ``--roo-profile`` (sizes.py)."""
    return roo_sizes(PROFILES)


@pytest.mark.slo("p95 < 50ms", "p99 < 100ms", "error_rate < 1%")
def test_health_answers_fast_under_load(http_load, target, sizes):  # type: ignore[no-untyped-def]
    """Plan: "the API answers within 50 ms for 20 concurrent users, error rate under 1 %"."""
    result = http_load.get(target.url("/health"), clients=sizes.http_clients,
                           rate=f"{sizes.http_rate}/s", duration=sizes.duration)
    assert result.operations >= sizes.http_rate * sizes.duration / 2  # the load really ran


@pytest.mark.slo("rtt.p95 < 50ms", "rtt.p99 < 100ms", "error_rate < 1%")
def test_websocket_echo_for_50_clients(ws_swarm, target, sizes):  # type: ignore[no-untyped-def]
    """Plan: "50+ WebSocket clients, message delivery under 50 ms"."""
    result = ws_swarm.echo(target.ws_url("/ws"), clients=sizes.ws_clients,
                           rate=f"{sizes.ws_rate}/s", duration=sizes.duration)
    assert result.operations >= sizes.ws_rate * sizes.duration * 0.8
