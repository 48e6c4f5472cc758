"""Timing honesty, the schedule tolerance, the timeline, and interruptions that must propagate,
against real servers on 127.0.0.1."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_roo import slo
from pytest_roo.load import HttpLoad, WsSwarm
from pytest_roo.load.engine import EngineFailure
from pytest_roo.load.session import Session

if TYPE_CHECKING:
    from types import FrameType

    from pytest_roo.results.metrics import LoadResult
    from tests.integration.load.conftest import StartServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_measure_in_the_open_model_times_from_the_intended_start(load_server: StartServer) -> None:
    """The server freezes 200 ms every second. With 5 virtual users at 200/s, only the 5
    requests in flight see each freeze themselves; the ~35 arrivals behind them wait for a free
    user (about a sixth of all requests).
    Timed from their actual start they look fast (p95 under 50 ms); from the intended start
    they show the freeze."""
    srv = load_server("--stall-every", "1", "--stall-ms", "200")
    url = srv.http("/health")

    async def scenario(session: Session) -> None:
        await session.get(url, name="get")

    recorded: list[float] = []

    async def own_timing(session: Session) -> None:
        t0 = time.perf_counter()
        await session.http.get(url)
        recorded.append(time.perf_counter() - t0)
        session.record("own", time.perf_counter() - t0)

    measured = HttpLoad().run(scenario, clients=5, duration=4, rate="200/s")
    assert measured.percentile("get", 95) > 0.05
    timed = HttpLoad().run(own_timing, clients=5, duration=4, rate="200/s")
    assert timed.percentile("own", 95) > 0.05


def test_a_schedule_the_generator_cannot_keep_fails_every_criterion(load_server: StartServer) -> None:
    """One client at 100/s against answers that take 20-30 ms: most arrivals wait for the
    client, the load asked for is not applied, and the run says so whatever the CPU."""
    srv = load_server("--delay", "uniform:20:30")
    result = HttpLoad().get(srv.http("/delay"), clients=1, duration=1, rate="100/s")
    assert result.saturated is not None
    assert result.saturated.startswith("schedule not kept")
    assert result.counters["scheduled"] == 100
    verdict = slo.evaluate(result, ["p95 < 10s"])[0]
    assert not verdict.passed
    assert "schedule not kept" in verdict.reason
    kept = HttpLoad().get(srv.http("/delay"), clients=10, duration=1, rate="20/s")
    assert kept.saturated is None
    assert kept.counters["late"] < 5


def test_the_collector_leaves_the_objects_of_before_the_run_alone(load_server: StartServer) -> None:
    """A full collection inside pytest walks some 130,000 objects (25-65 ms here), a stall of
    the event loop that would show up as late starts and slow answers. During a run, the objects
    that existed before it are frozen; what the run itself throws away is still collected, and
    everything is handed back to the collector when the run ends."""
    import gc
    import weakref

    srv = load_server()
    url = srv.http("/health")
    before = len(gc.get_objects())
    seen: dict[str, Any] = {}

    class Node:
        pass

    async def scenario(session: Session) -> None:
        await session.get(url, name="get")
        if "frozen" not in seen:
            seen["frozen"] = gc.get_freeze_count()
            cycle = Node()
            cycle.self = cycle  # type: ignore[attr-defined]
            seen["cycle"] = weakref.ref(cycle)
            del cycle
            gc.collect()
            seen["collected"] = seen["cycle"]() is None

    assert gc.get_freeze_count() == 0
    result = HttpLoad().run(scenario, clients=1, duration=0.5)
    assert result.operations > 0
    assert seen["frozen"] >= before // 2, (seen, before)
    assert seen["collected"] is True  # the run's own garbage is still collected
    assert gc.get_freeze_count() == 0


def test_the_event_loop_lag_is_measured_inside_the_window_only(load_server: StartServer) -> None:
    """A setup that holds the loop for 1.3 s (as opening many connections may) comes before the
    measured window: no arrival is due then, so it is not the generator's lag."""
    srv = load_server()
    url = srv.http("/health")

    async def setup(session: Session) -> None:
        time.sleep(1.3)  # blocks the event loop, across the first tick

    async def scenario(session: Session) -> None:
        await session.get(url, name="get")

    result = HttpLoad().run(scenario, clients=1, duration=2.5, rate="20/s", setup=setup)
    assert result.info["setup_seconds"] >= 1.2
    assert result.operations == 50
    assert result.generator["loop_lag_max"] < 0.25, result.generator


def test_nested_runs_unfreeze_only_when_the_last_ends() -> None:
    import gc

    from pytest_roo.load.engine import quiet_collector

    with quiet_collector():
        assert gc.get_freeze_count() > 0
        with quiet_collector():
            pass
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_the_timeline_has_a_point_for_every_second_including_the_last(load_server: StartServer) -> None:
    srv = load_server()
    result = WsSwarm().echo(srv.ws("/ws/echo"), clients=2, duration=3, rate="100/s")
    assert [p.second for p in result.timeline] == [0, 1, 2]
    assert sum(p.ops for p in result.timeline) == result.operations == 300


def test_a_dying_engine_task_fails_the_run_with_its_cause(load_server: StartServer) -> None:
    srv = load_server()

    def abort(result: LoadResult, expected: int) -> str | None:
        raise ZeroDivisionError("broken abort check")

    started = time.monotonic()
    with pytest.raises(EngineFailure, match="tick task died") as info:
        WsSwarm(abort=abort).echo(srv.ws("/ws/echo"), clients=2, duration=30, rate="50/s")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert time.monotonic() - started < 10  # stopped, not run to its 30 s


class Stop(BaseException):
    """Not an Exception: like pytest's Failed or Skipped."""


def test_a_base_exception_from_a_scenario_propagates(load_server: StartServer) -> None:
    srv = load_server()
    url = srv.http("/health")

    async def scenario(session: Session) -> None:
        await session.get(url)
        if session.iteration == 3:
            raise Stop("enough")

    started = time.monotonic()
    with pytest.raises(Stop):
        HttpLoad().run(scenario, clients=1, duration=30, rate="20/s")
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("uvloop", [True, False], ids=["uvloop", "asyncio"])
def test_an_exception_raised_by_a_signal_handler_stops_the_run(load_server: StartServer, uvloop: bool) -> None:
    """What pytest-timeout's signal method does: SIGALRM's handler raises. The loop must not
    swallow it ("Exception in callback Loop._read_from_self")."""
    srv = load_server()

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stop("alarm")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(Stop, match="alarm"):
            WsSwarm(use_uvloop=uvloop).echo(srv.ws("/ws/echo"), clients=2, duration=30,
                                            rate="50/s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGALRM) is previous


def test_a_signal_stops_a_run_driven_beside_a_running_loop(
    load_server: StartServer, in_loop_callback: Callable[[Callable[[], Any]], Any]
) -> None:
    """Beside a running event loop (Playwright's sync API keeps one) the run has a thread of
    its own; what the main thread's signal handler raises still stops it and propagates."""
    srv = load_server()

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stop("alarm")

    def beside_a_running_loop() -> None:
        HttpLoad().get(srv.http("/health"), clients=2, duration=30, rate="50/s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(Stop, match="alarm"):
            in_loop_callback(beside_a_running_loop)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 10


TIMEOUT_TEST = """
import os

def test_long_load_run(ws_swarm):
    ws_swarm.echo(os.environ["ROO_TEST_WS"] + "/ws/echo", clients=2, duration=30, rate="50/s")
"""


def test_pytest_timeout_ends_a_30s_load_run_as_a_failed_test(load_server: StartServer, tmp_path: Path) -> None:
    srv = load_server()
    (tmp_path / "test_timeout.py").write_text(textwrap.dedent(TIMEOUT_TEST))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:playwright", "-p", "no:cacheprovider",
         "--timeout", "5", "--timeout-method", "signal", "--durations=1",
         "--durations-min=0", "-q", "test_timeout.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**_env(), "ROO_TEST_WS": srv.ws("")},
    )
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout
    assert "Timeout" in proc.stdout
    assert "Exception in callback" not in proc.stdout + proc.stderr
    # the test's call phase (pytest's start-up and its report of the failure not included)
    took = re.search(r"([0-9.]+)s call +test_timeout.py::test_long_load_run", proc.stdout)
    assert took is not None, proc.stdout
    assert float(took.group(1)) < 10  # stopped at the timeout, not carried on for its 30 s


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_a_run_stopped_while_its_clients_connect_counts_nothing_failed() -> None:
    """Stopped (Ctrl-C, the run's stop event) before any client had connected: the partial
    result holds no operation, rather than every planned arrival counted as failed. (The
    handshakes under way end by their own timeout: cancelling one would leave picows's
    transport to the garbage collector.)"""
    import socket
    import threading

    with socket.socket() as silent:  # accepts TCP, never answers the WebSocket upgrade
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"ws://127.0.0.1:{silent.getsockname()[1]}/ws/echo"
        swarm = WsSwarm(timeout=2.0)
        swarm.stop_event = threading.Event()
        timer = threading.Timer(0.5, swarm.stop_event.set)
        timer.start()
        started = time.monotonic()
        try:
            result = swarm.echo(url, clients=20, rate="1000/s", duration=6)
        finally:
            timer.cancel()
    assert time.monotonic() - started < 10
    assert result.operations == 0 and not result.errors, (result.operations, result.errors)
