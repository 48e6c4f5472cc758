"""Load runs over worker processes (``processes=``) against real servers: every load fixture
once with processes=2, the merged result against the sum of the workers' own, custom
scenarios by the module-level rule, and the ways a run ends early: Ctrl-C, SIGTERM,
pytest-timeout, a worker killed. Nothing may be left running."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_roo.load import WsSwarm
from pytest_roo.load.split import CallSpec, DriverSpec, check_sendable, split
from pytest_roo.load.workers import start_local_workers
from tests.integration.processes import wait_gone

if TYPE_CHECKING:
    from pytest_roo.load import DbLoadFixture, HttpLoadFixture, RedisLoadFixture, WsSwarmFixture
    from pytest_roo.load.session import Session
    from pytest_roo.services.models import PostgresDatabase, RedisDatabase
    from tests.integration.load.conftest import StartServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def worker_pids(root: int | None = None) -> set[int]:
    """The load worker processes (``python -m pytest_roo.load.worker_main``) below ``root``
    (default: this process): other people's runs on the same machine are not ours to judge."""
    import psutil

    try:
        below = psutil.Process(root or os.getpid()).children(recursive=True)
    except psutil.Error:
        return set()
    found = set()
    for proc in below:
        try:
            if any("pytest_roo.load.worker_main" in part for part in proc.cmdline()):
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def no_leftover_workers() -> Iterator[None]:
    """The test may start workers, but none of them may outlive it."""
    before = worker_pids()
    yield
    left = wait_gone(worker_pids() - before)
    assert not left, f"load workers left running: {sorted(left)}"


async def module_scenario(session: Session, base: str = "") -> None:
    """A scenario at module level: workers import it by name."""
    await session.get(base + "/health", name="health", expect=200)


# -- every fixture with processes=2 ---------------------------------------------------------


def test_ws_echo_over_two_processes(ws_swarm: WsSwarmFixture, load_server: StartServer,
                                    no_leftover_workers: None) -> None:
    srv = load_server()
    result = ws_swarm.echo(srv.ws("/ws/echo"), clients=6, rate="300/s", duration=2,
                           processes=2)
    assert ws_swarm.results == [result]
    assert result.info["processes"] == 2
    assert [w["share"]["clients"] for w in result.info["workers"]] == [3, 3]
    assert len({w["pid"] for w in result.info["workers"]}) == 2
    assert result.operations == 600  # both halves of the schedule, nothing lost or doubled
    assert result.error_count == 0
    assert result.get_metric("rtt").count == 600
    assert result.counters["clients_connected"] == 6
    assert result.counters["scheduled"] == 600
    assert sum(p.ops for p in result.timeline) == 600
    assert [p.second for p in result.timeline] == [0, 1]


def test_ws_broadcast_over_two_processes_fans_out_to_every_subscriber(
        ws_swarm: WsSwarmFixture, load_server: StartServer, no_leftover_workers: None) -> None:
    srv = load_server()
    result = ws_swarm.broadcast(srv.ws("/ws/broadcast"), clients=4, rate="20/s", duration=2,
                                processes=2)
    # each worker times its own messages at its own subscribers: 2 x (20 x 2 msgs) x 2 subs
    assert result.operations == 80
    assert result.error_count == 0, result.errors
    assert result.get_metric("delivery").count == 80


def test_http_get_over_two_processes_with_a_warmup(http_load: HttpLoadFixture,
                                                   load_server: StartServer,
                                                   no_leftover_workers: None) -> None:
    srv = load_server()
    result = http_load.get(srv.http("/health"), clients=4, rate="200/s", duration=1,
                           warmup=0.5, processes=2, expect=200)
    assert result.operations == 200 and result.error_count == 0
    assert result.get_metric("latency").count == 200
    assert len(http_load.warmups) == 1 and http_load.warmups[0].info["processes"] == 2
    # the warm-up and the measured run share one pair of workers
    assert ({w["pid"] for w in http_load.warmups[0].info["workers"]}
            == {w["pid"] for w in result.info["workers"]})


def test_http_scenario_at_module_level_runs_in_workers(http_load: HttpLoadFixture,
                                                       load_server: StartServer,
                                                       no_leftover_workers: None) -> None:
    srv = load_server()
    scenario = functools.partial(module_scenario, base=srv.http(""))
    result = http_load.run(scenario, clients=2, rate="50/s", duration=1, processes=2)
    assert result.error_count == 0, result.info.get("error_examples")
    assert result.get_metric("health").count == 50 == result.get_metric("iteration").count


def test_a_scenario_inside_the_test_is_refused_before_any_process_starts(
        http_load: HttpLoadFixture, no_leftover_workers: None) -> None:
    async def scenario(session: Session) -> None:
        pass

    before = worker_pids()
    with pytest.raises(ValueError, match=r"argument 0 is '.*<locals>.scenario'.*defined inside "
                                         r"another function.*top level of an importable module"):
        http_load.run(scenario, clients=2, duration=1, processes=2)
    assert worker_pids() - before == set()
    assert http_load.results == []


def test_db_query_over_two_processes(db_load: DbLoadFixture, postgres_db: PostgresDatabase,
                                     no_leftover_workers: None) -> None:
    result = db_load.query("select $1::int", 7, clients=4, rate="100/s", duration=1,
                           processes=2)
    assert result.operations == 100 and result.error_count == 0
    assert result.get_metric("query").count == 100
    assert result.counters["clients_connected"] == 4
    # the database URL travelled to the workers, never its password into the result
    assert postgres_db.password not in repr(result.to_dict())


def test_redis_command_and_pubsub_over_two_processes(redis_load: RedisLoadFixture,
                                                     redis_db: RedisDatabase,
                                                     no_leftover_workers: None) -> None:
    import redis

    redis.Redis.from_url(redis_db.url).set("greeting", "hello")
    result = redis_load.command("GET", "greeting", expect=b"hello", clients=4, rate="200/s",
                                duration=1, processes=2)
    assert result.operations == 200 and result.error_count == 0
    fanout = redis_load.pubsub(subscribers=4, rate="20/s", duration=1, processes=2)
    # one channel for both workers: every subscriber is counted at the start
    assert fanout.counters["numsub_at_start"] == 4
    assert fanout.error_count == 0, fanout.errors
    assert fanout.operations == fanout.get_metric("delivery").count == 2 * 10 * 2


# -- the merged result is the sum of the workers' ------------------------------------------


def test_merged_result_equals_the_sum_of_the_workers_results(load_server: StartServer,
                                                             no_leftover_workers: None) -> None:
    srv = load_server()
    spec = CallSpec(DriverSpec.of(WsSwarm()), "echo", (srv.ws("/ws/echo"),),
                    {"clients": 4, "rate": "400/s", "duration": 2})
    parts = split(spec, 2)
    pool = start_local_workers(2)
    try:
        merged = pool.run(parts, [check_sendable(p) for p in parts], name="ws.echo",
                          duration=2.0)
        workers = pool.last_parts
    finally:
        pool.close()
    assert len(workers) == 2
    assert merged.operations == sum(w.result.operations for w in workers) == 800
    assert merged.errors == sum((w.result.errors for w in workers), merged.errors.__class__())
    for name in merged.metrics:
        hist = merged.metrics[name].histogram
        summed = [sum(bucket) for bucket in zip(
            *(list(w.result.metrics[name].histogram.counts) for w in workers), strict=True)]
        assert list(hist.counts) == summed, name
        assert hist.get_total_count() == sum(w.result.metrics[name].count for w in workers)
    for name in ("scheduled", "clients_connected"):
        assert merged.counters[name] == sum(w.result.counters[name] for w in workers)
    # one start instant: both windows began together, so their seconds add up one to one
    starts = [w.window_start or 0.0 for w in workers]
    assert all(starts)
    assert max(starts) - min(starts) < 0.5
    per_second = [sum(p.ops for p in w.result.timeline if p.second == s)
                  for s in range(2) for w in workers]
    assert [p.ops for p in merged.timeline] == [per_second[0] + per_second[1],
                                                per_second[2] + per_second[3]]


# -- early ends ------------------------------------------------------------------------------

RUN_SCRIPT = """
import json, sys
from pytest_roo.load import WsSwarm
from pytest_roo.load.engine import RunInterrupted
from pytest_roo.load.workers import WorkerFailed, run_spread
mode = sys.argv[2]
if mode == "alarm":
    import signal
    class Alarm(Exception):
        pass
    def ring(signum, frame):
        raise Alarm("timed out")
    signal.signal(signal.SIGALRM, ring)
def progress(line):
    print("progress", line, flush=True)
    if mode == "alarm" and "1/30s" in line:  # as pytest-timeout would, once the run is going
        signal.setitimer(signal.ITIMER_REAL, 1.0)
try:
    hosts = ["popen", "popen"] if mode == "gateways" else []
    r = run_spread(WsSwarm(progress=progress), "echo", sys.argv[1], processes=1 if hosts else 2,
                   hosts=hosts, clients=4, rate="200/s", duration=30)
    print("finished", flush=True)
except RunInterrupted as exc:
    r = exc.result
    print("interrupted", json.dumps({"ops": r.operations, "rtt": r.get_metric("rtt").count,
          "duration": r.duration, "stopped": r.info.get("stopped"),
          "pids": [w["pid"] for w in r.info["workers"]]}), flush=True)
except WorkerFailed as exc:
    print("failed", json.dumps(str(exc)), flush=True)
except Exception as exc:
    print("raised", type(exc).__name__, json.dumps(getattr(exc, "__notes__", [])), flush=True)
"""


def start_run(url: str, mode: str = "plain") -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(RUN_SCRIPT), url, mode],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc


def wait_running(proc: subprocess.Popen[str]) -> None:
    """Until the run's second progress line: every worker is in its window."""
    assert proc.stdout is not None
    seen = 0
    while seen < 2:
        line = proc.stdout.readline()
        assert line, "the run ended before it made progress"
        seen += line.startswith("progress")


def children(pid: int) -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process(pid).children(recursive=True)}


def finish(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return out


@pytest.mark.parametrize(("signum", "stopped"), [(signal.SIGINT, "interrupted (Ctrl-C)"),
                                                  (signal.SIGTERM, "terminated (SIGTERM)")])
def test_ctrl_c_and_sigterm_stop_every_worker_and_keep_what_they_measured(
        load_server: StartServer, signum: int, stopped: str) -> None:
    import json

    srv = load_server()
    proc = start_run(srv.ws("/ws/echo"))
    wait_running(proc)
    workers = children(proc.pid)
    assert len(workers) == 2
    os.kill(proc.pid, signum)
    out = finish(proc)
    lines = [line for line in out.splitlines() if not line.startswith("progress")]
    assert lines and lines[0].startswith("interrupted "), out
    data = json.loads(lines[0].split(" ", 1)[1])
    assert data["stopped"] == stopped
    assert set(data["pids"]) == workers
    assert data["ops"] >= 300 and data["rtt"] >= 300  # both workers' seconds were merged
    assert data["duration"] < 30
    assert not wait_gone(workers)


def test_a_terminals_ctrl_c_reaches_the_whole_group_and_gateways_still_report(
        load_server: StartServer) -> None:
    """A terminal sends SIGINT to every process of its foreground group: the popen gateways
    (in that group) ignore it, so the coordinator can stop them and collect their results."""
    import json

    srv = load_server()
    proc = start_run(srv.ws("/ws/echo"), "gateways")
    wait_running(proc)
    gateways = children(proc.pid)
    assert len(gateways) == 2
    os.killpg(proc.pid, signal.SIGINT)
    out = finish(proc)
    lines = [line for line in out.splitlines() if not line.startswith("progress")]
    assert lines and lines[0].startswith("interrupted "), out
    data = json.loads(lines[0].split(" ", 1)[1])
    assert data["stopped"] == "interrupted (Ctrl-C)" and data["ops"] >= 300
    assert not wait_gone(gateways)


def test_a_signal_handlers_exception_stops_the_workers_and_notes_what_was_measured(
        load_server: StartServer) -> None:
    srv = load_server()
    proc = start_run(srv.ws("/ws/echo"), "alarm")  # Alarm raised in the run, as by pytest-timeout
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("progress")
    workers = children(proc.pid)
    out = finish(proc)
    lines = [line for line in out.splitlines() if not line.startswith("progress")]
    assert lines and lines[0].startswith("raised Alarm"), out
    assert "over 2 worker processes stopped:" in lines[0]
    assert not wait_gone(workers)


def test_a_killed_worker_fails_the_run_with_its_cause(load_server: StartServer) -> None:
    import json

    srv = load_server()
    proc = start_run(srv.ws("/ws/echo"))
    wait_running(proc)
    workers = sorted(children(proc.pid))
    assert len(workers) == 2
    os.kill(workers[1], signal.SIGKILL)
    out = finish(proc)
    lines = [line for line in out.splitlines() if not line.startswith("progress")]
    assert lines and lines[0].startswith("failed "), out
    message = json.loads(lines[0].split(" ", 1)[1])
    assert f"pid {workers[1]}" in message and "died: killed by SIGKILL" in message
    assert proc.returncode == 0
    assert not wait_gone(set(workers))


def test_abort_on_fail_is_judged_over_every_worker(http_load: HttpLoadFixture,
                                                   load_server: StartServer,
                                                   no_leftover_workers: None) -> None:
    srv = load_server()
    result = http_load.get(srv.http("/status/503"), clients=4, rate="100/s", duration=20,
                           processes=2, abort_on_fail=["error_rate < 1%"])
    assert "error_rate < 1%" in result.info["aborted"]
    assert result.info["stopped"].startswith("aborted: ")
    assert result.duration < 20  # stopped long before the end of the window
    # every operation failed: a 503, or an arrival still waiting for a client when the abort
    # came (``dropped``, a few at most)
    dropped = result.errors.get("dropped", 0)
    assert result.errors["http_5xx"] + dropped == result.operations, result.errors
    assert result.errors["http_5xx"] > 0 and dropped <= 4, result.errors


SESSION_TEST = """
import os

def test_long_spread_run(ws_swarm):
    ws_swarm.echo(os.environ["ROO_TEST_WS"] + "/ws/echo", clients=4, rate="200/s", duration=30,
                  processes=2)
"""


def test_sigterm_to_pytest_keeps_the_merged_result_in_the_report(load_server: StartServer,
                                                                  tmp_path: Path) -> None:
    """pytest-roo's session turns SIGTERM (a CI cancel) into an interrupt: the workers stop,
    their results are merged and the report written at the end holds the merged result."""
    import json

    srv = load_server()
    (tmp_path / "test_session.py").write_text(SESSION_TEST)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:playwright", "-p", "no:cacheprovider",
         "-s", "--roo-progress=on", "--roo-report-json=report.json", "test_session.py"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ROO_TEST_WS": srv.ws("")})
    assert proc.stdout is not None
    seen = 0
    while seen < 2:
        line = proc.stdout.readline()
        assert line, "pytest ended before the run made progress"
        seen += "roo load WsSwarm.echo x2" in line
    workers = children(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)
    finish(proc)
    report = json.loads((tmp_path / "report.json").read_text())
    (result,) = [r for t in report["tests"] for r in t["results"]]
    assert result["info"]["processes"] == 2
    # the session turns SIGTERM into exactly what Ctrl-C does
    assert result["info"]["stopped"] in ("interrupted (Ctrl-C)", "terminated (SIGTERM)")
    assert result["info"]["interrupted"] is True
    assert result["operations"] >= 300 and result["duration"] < 30
    assert not wait_gone(workers)


def test_cancelling_an_awaited_spread_run_stops_the_workers_and_records_the_merge(
        load_server: StartServer, no_leftover_workers: None) -> None:
    """``await ws_swarm.echo_async(..., processes=2)`` runs the coordinator in a worker thread;
    cancelling the awaiting task stops every worker and the merged result is recorded."""
    import asyncio

    from pytest_roo.load.recorded_ws import WsSwarmFixture
    from pytest_roo.results.metrics import LoadResult

    srv = load_server()
    recorded: list[LoadResult] = []
    swarm = WsSwarmFixture(WsSwarm, recorded.append, None, "ws_swarm")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(swarm.echo_async(srv.ws("/ws/echo"), clients=4, duration=30,
                                                    rate="100/s", processes=2), 8.0)

    asyncio.run(main())
    (result,) = recorded
    assert result.info["processes"] == 2
    assert result.info["stopped"] == "cancelled"
    assert 0 < result.operations < 3000 and result.duration < 30


def test_pytest_timeout_ends_a_spread_run_as_a_failed_test(load_server: StartServer,
                                                           tmp_path: Path) -> None:
    srv = load_server()
    (tmp_path / "test_session.py").write_text(SESSION_TEST)
    before = worker_pids()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:playwright", "-p", "no:cacheprovider",
         "--timeout", "10", "--timeout-method", "signal", "-q", "test_session.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ROO_TEST_WS": srv.ws("")})
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, proc.stdout + proc.stderr
    assert "Timeout" in proc.stdout
    assert "over 2 worker processes stopped:" in proc.stdout  # what was measured, noted
    assert not wait_gone(worker_pids() - before)
