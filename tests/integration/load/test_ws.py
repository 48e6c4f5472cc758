"""WebSocket scenarios against a real aiohttp server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from pytest_roo.load import WsSwarm
from pytest_roo.load.session import Session

if TYPE_CHECKING:
    from pytest_roo.results.metrics import LoadResult
    from tests.integration.load.conftest import StartServer

pytestmark = pytest.mark.integration


def test_echo_closed_model(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm().echo(srv.ws("/ws/echo"), clients=20, duration=1.5)
    assert result.error_count == 0
    assert result.get_metric("connect").count == 20
    assert result.get_metric("rtt_raw").count == result.operations > 100
    assert 0 < result.percentile("rtt", 50) < 0.1
    assert result.info["model"] == "closed"
    assert result.duration == pytest.approx(1.5, abs=0.3)


def test_echo_open_model_sends_on_schedule(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm().echo(srv.ws("/ws/echo"), clients=10, duration=2, rate="500/s",
                            message_size=100)
    assert result.info["model"] == "open"
    assert result.operations == 1000
    assert result.get_metric("rtt").count == 1000
    assert result.error_count == 0
    assert result.throughput == pytest.approx(500, rel=0.1)


def test_echo_steps_change_the_rate(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm().echo(srv.ws("/ws/echo"), clients=5,
                            stages=[("1s", "100/s"), ("1s", "400/s")])
    assert result.operations == 500
    assert result.error_count == 0


def test_broadcast_counts_lost_and_duplicates(load_server: StartServer) -> None:
    srv = load_server("--drop-every", "5", "--dup-every", "7")
    result = WsSwarm().broadcast(srv.ws("/ws/broadcast"), clients=10, duration=2, rate="50/s",
                                 timeout=1.0)
    assert result.counters["published"] == 100
    assert result.operations == 1000
    # the first subscriber misses every 5th message and gets every 7th twice
    assert result.errors["lost"] == 20
    assert result.errors["duplicate"] == 14 - 2  # 7th messages that were not also dropped
    assert result.get_metric("delivery").count == 1000 - 20
    assert 0 < result.percentile("delivery", 99) < 0.5


def test_broadcast_published_over_http(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm().broadcast(srv.ws("/ws/broadcast"), clients=5, duration=1, rate="20/s",
                                 publish_url=srv.http("/ws/broadcast"))
    assert result.error_count == 0
    assert result.get_metric("delivery").count == 100
    assert result.get_metric("publish").count == 20


def test_subscribe_measures_from_the_trigger(load_server: StartServer) -> None:
    srv = load_server()
    calls: list[str] = []

    async def trigger(payload: str) -> None:
        calls.append(payload)
        async with aiohttp.ClientSession() as http, http.post(
            srv.http("/ws/broadcast"), data=payload
        ) as resp:
            assert resp.status == 204

    result = WsSwarm().subscribe(srv.ws("/ws/broadcast"), trigger, clients=4, duration=1,
                                 rate="10/s")
    assert len(calls) == 10
    assert result.error_count == 0
    assert result.get_metric("delivery").count == 40


def test_churn_open_model(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm().churn(srv.ws("/ws/echo"), duration=1.5, rate="100/s", clients=20)
    assert result.operations == 150
    assert result.error_count == 0
    assert result.get_metric("session").count == 150
    assert result.get_metric("connect").count == 150


def test_user_scenario_with_measure(load_server: StartServer) -> None:
    srv = load_server()
    url = srv.ws("/ws/echo")

    async def scenario(session: Session) -> None:
        ws = await session.ws(url)
        with session.measure("hello"):
            await ws.send_str("hello")
            msg = await ws.receive(session.timeout)
            assert msg.data == "hello"

    result = WsSwarm().run(scenario, clients=5, duration=1)
    assert result.error_count == 0, result.errors
    assert result.get_metric("connect").count == 5
    assert result.get_metric("hello").count == result.operations > 10


def test_errors_refused_timeout_closed(load_server: StartServer) -> None:
    srv = load_server()
    refused = WsSwarm().echo("ws://127.0.0.1:9/ws/echo", clients=3, duration=0.5)
    assert refused.errors["refused"] == 3
    silent = WsSwarm().echo(srv.ws("/ws/silent"), clients=2, duration=0.5, timeout=0.5)
    assert silent.errors["timeout"] == 2
    closed = WsSwarm().echo(srv.ws("/ws/close"), clients=2, duration=0.5)
    assert closed.errors["closed"] == 2
    open_silent = WsSwarm().echo(srv.ws("/ws/silent"), clients=2, duration=0.5, rate="20/s",
                                 timeout=0.5)
    assert open_silent.errors["timeout"] == 10


def test_open_model_timeouts_skip_the_late_replies(load_server: StartServer) -> None:
    """The first reply comes after 1 s, the ones behind it too; with timeout=0.4 the messages
    in flight then count as timeouts once, their late replies are skipped (not miscounted as
    replies to later messages), and the rest of the run is measured normally."""
    srv = load_server("--slow-first-ms", "1000")
    result = WsSwarm().echo(srv.ws("/ws/echo-slow-first"), clients=1, duration=2, rate="20/s",
                            timeout=0.4)
    assert result.operations == 40
    assert set(result.errors) == {"timeout"}
    timeouts = result.errors["timeout"]
    assert 8 <= timeouts <= 20
    assert result.get_metric("rtt").count == 40 - timeouts
    assert result.percentile("rtt", 100) < 0.4 + 0.15  # the watchdog looks every 0.1 s


def test_stall_exposed_by_open_model_hidden_by_raw_closed(load_server: StartServer) -> None:
    srv = load_server("--stall-every", "1", "--stall-ms", "200")
    closed = WsSwarm().echo(srv.ws("/ws/echo"), clients=10, duration=3)
    opened = WsSwarm().echo(srv.ws("/ws/echo"), clients=10, duration=3, rate="1000/s")
    # closed loop without correction: one slow sample per connection per stall, p95 looks fine
    assert closed.percentile("rtt_raw", 95) < 0.05
    # the corrected closed histogram and the open model both show what users would see
    assert closed.percentile("rtt", 99) > 0.05
    assert opened.percentile("rtt", 95) > 0.05


def test_saturation_verdict(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm(max_generator_cpu=0.01).echo(srv.ws("/ws/echo"), clients=10, duration=1)
    assert result.saturated is not None
    assert result.saturated.startswith("load generator saturated")
    calm = WsSwarm().echo(srv.ws("/ws/echo"), clients=2, duration=1, rate="50/s")
    assert calm.saturated is None


def test_abort_on_fail_stops_early(load_server: StartServer) -> None:
    srv = load_server()

    def abort(result: LoadResult, expected: int) -> str | None:
        return "too many errors" if result.error_count >= 5 else None

    result = WsSwarm(abort=abort).echo(srv.ws("/ws/silent"), clients=10, duration=20,
                                       rate="100/s", timeout=0.5)
    assert result.info["aborted"] == "too many errors"
    assert result.duration < 10
