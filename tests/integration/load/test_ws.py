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


def test_subscribe_trigger_setup_runs_once_on_the_runs_loop(load_server: StartServer) -> None:
    """The trigger's client is made once by trigger_setup on the run's own loop, handed to
    every trigger call, and closed by trigger_teardown."""
    import asyncio

    srv = load_server()
    events: list[str] = []
    loops: set[int] = set()

    async def setup() -> aiohttp.ClientSession:
        events.append("setup")
        loops.add(id(asyncio.get_running_loop()))
        return aiohttp.ClientSession()

    async def trigger(payload: str, http: aiohttp.ClientSession) -> None:
        loops.add(id(asyncio.get_running_loop()))
        async with http.post(srv.http("/ws/broadcast"), data=payload) as resp:
            assert resp.status == 204

    async def teardown(http: aiohttp.ClientSession) -> None:
        events.append("teardown")
        await http.close()

    result = WsSwarm().subscribe(srv.ws("/ws/broadcast"), trigger, clients=3, duration=1,
                                 rate="10/s", trigger_setup=setup, trigger_teardown=teardown)
    assert events == ["setup", "teardown"]
    assert len(loops) == 1
    assert result.error_count == 0
    assert result.get_metric("delivery").count == 30


def test_subscribe_trigger_setup_needs_a_callable_trigger(load_server: StartServer) -> None:
    srv = load_server()
    with pytest.raises(ValueError, match="trigger_setup= hands its state to a callable"):
        WsSwarm().subscribe(srv.ws("/ws/broadcast"), srv.http("/ws/broadcast"),
                            trigger_setup=lambda: None)


def test_run_setup_and_teardown_once_per_virtual_user(load_server: StartServer) -> None:
    """setup/teardown (async or plain) run once per virtual user, outside the measured
    window; what setup leaves in session.data is there in every iteration."""
    srv = load_server()
    set_up: list[int] = []
    torn_down: list[int] = []
    seen: set[str] = set()

    async def setup(session: Session) -> None:
        set_up.append(session.vu)
        session.data["token"] = f"user-{session.vu}"

    def teardown(session: Session) -> None:
        torn_down.append(session.vu)

    async def scenario(session: Session) -> None:
        seen.add(session.data["token"])
        ws = await session.ws(srv.ws("/ws/echo"))
        await ws.send_str("hello")
        await ws.receive(timeout=session.timeout)

    result = WsSwarm().run(scenario, clients=3, duration=0.5, setup=setup, teardown=teardown)
    assert sorted(set_up) == sorted(torn_down) == [0, 1, 2]
    assert seen == {"user-0", "user-1", "user-2"}
    assert result.error_count == 0 and result.operations > 3


def test_run_setup_failure_counts_as_that_users_failure(load_server: StartServer) -> None:
    srv = load_server()

    async def setup(session: Session) -> None:
        if session.vu == 0:
            raise ConnectionRefusedError("login refused")

    async def scenario(session: Session) -> None:
        async with session.http.get(srv.http("/health")) as resp:
            await resp.read()

    result = WsSwarm().run(scenario, clients=2, duration=0.5, setup=setup)
    assert result.errors["refused"] >= 1
    assert result.counters["clients_connected"] == 1


def test_cancelling_an_awaited_run_stops_it_and_records_what_it_measured(load_server: StartServer) -> None:
    """asyncio.wait_for around the awaitable method: the run in the worker thread stops within
    a second of the cancellation, its result is still recorded, the cancellation goes on."""
    import asyncio
    import time

    from pytest_roo.load.recorded_ws import WsSwarmFixture

    srv = load_server()
    recorded: list[LoadResult] = []
    swarm = WsSwarmFixture(WsSwarm, recorded.append, None, "ws_swarm")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(swarm.echo_async(srv.ws("/ws/echo"), clients=2,
                                                    duration=30, rate="20/s"), 1.5)

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 15  # far from the 30 s asked for
    (result,) = recorded
    assert swarm.results == [result]
    assert result.info["stopped"] == "cancelled"
    assert 0 < result.operations < 600


def test_hooks_that_are_not_functions_are_refused_before_any_connection() -> None:
    async def scenario(session: Session) -> None:
        return None

    with pytest.raises(ValueError, match="invalid setup='login': expected a function"):
        WsSwarm().run(scenario, setup="login")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid trigger_teardown=1: expected a function"):
        WsSwarm().subscribe("ws://127.0.0.1:9/ws", lambda payload: None,
                            trigger_teardown=1)  # type: ignore[arg-type]
