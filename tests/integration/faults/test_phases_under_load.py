"""A load run through a proxy that goes down for a while: the result split by phase, judged
with phase criteria, on a real aiohttp server."""

from __future__ import annotations

import pytest

from pytest_roo import slo
from pytest_roo.fixtures.faults import FaultProxyFactory
from pytest_roo.load.http import HttpLoad
from pytest_roo.results.metrics import LoadResult
from tests.integration.faults.faults_servers import LoopServer

pytestmark = pytest.mark.integration


def test_an_outage_inside_a_run_is_its_during_phase(http: LoopServer,
                                                    fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    with proxy.fault("down", after=1.0, duration=1.0) as window:
        result = HttpLoad(max_generator_cpu=4.0).get(proxy.url + "/hello", clients=3,
                                                      duration="3.5s", timeout=2)
    assert window.started is not None and window.ended is not None
    before, during, after = (result.phases[p] for p in ("before", "during", "after"))
    # while the proxy was down every new connection was refused, and only then (the cut
    # falls within about a millisecond of the window's edges: a refusal or two may land
    # beside it, at these thousands of refusals a second)
    assert before.operations > 0 and sum(before.errors.values()) <= 0.01 * before.operations
    assert during.errors["refused"] > 100
    assert sum(after.errors.values()) <= 0.01 * after.operations
    assert after.metrics["latency"].count > 0
    assert result.errors["refused"] == sum(p.errors["refused"] for p in (before, during, after))
    # the phases add up to the whole run
    assert sum(p.operations for p in (before, during, after)) == result.operations
    assert sum(p.metrics["latency"].count for p in (before, during, after)
               if "latency" in p.metrics) == result.metrics["latency"].count
    shown = result.info["fault_windows"]
    assert shown[0]["kind"] == "down"
    # seconds from the start of the measured window (after the connections were made)
    assert 0 < shown[0]["started"] < 1.6 and 0.8 < shown[0]["ended"] - shown[0]["started"] < 1.5
    slo.check(result, "before.error_rate < 1%", "during.error_rate > 50%",
              "after(0.5s).error_rate < 1%", "after(0.5s).p95 < 1s", confidence=0)
    with pytest.raises(slo.SloFailure, match=r"during.error_rate < 1%"):
        slo.check(result, "during.error_rate < 1%", confidence=0)
    back = LoadResult.from_json(result.to_json())
    assert back.phases["during"].errors == during.errors
