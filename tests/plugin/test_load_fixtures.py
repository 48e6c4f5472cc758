"""The load fixtures in a pytest run: the JSON report, the slo marker's verdicts,
abort_on_fail, progress lines and Ctrl-C, against a real WebSocket server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_playwright_plugin")]


@pytest.fixture(autouse=True)
def point_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the fixtures' mechanics on short runs: verdicts on the point
    estimate (confidence bounds: tests/unit/test_slo_confidence_verdicts.py)."""
    monkeypatch.setenv("ROO_CONFIDENCE", "0")

SERVER = Path(__file__).resolve().parents[2] / "bench" / "servers" / "ws_server.py"


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    """bench/servers/ws_server.py on 127.0.0.1 in its own process group: ws://127.0.0.1:<port>."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--max-seconds", "300"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith("PORT "), f"test server did not start: {line!r}"
        yield f"ws://127.0.0.1:{int(line.split()[1])}"
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        proc.stdout.close()


@pytest.fixture
def server_env(echo_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROO_TEST_WS", echo_server)
    return echo_server


def report_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def by_test(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


def test_result_recorded_and_judged_by_the_marker(pytester: pytest.Pytester,
                                                   server_env: str) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        URL = os.environ["ROO_TEST_WS"] + "/ws/echo"

        @pytest.mark.slo("p95 < 2s", "error_rate < 1%")
        def test_echo_meets(ws_swarm):
            # 20 clients: on a busy machine answers took up to 242 ms, and 3 clients left
            # 17 of the 50 arrivals waiting for a free one
            result = ws_swarm.echo(URL, clients=20, duration=1, rate="50/s")
            assert result.operations == 50

        @pytest.mark.slo("p95 < 1us")
        def test_echo_misses(ws_swarm):
            ws_swarm.echo(URL, clients=2, duration=0.5, rate="20/s")
        """
    )
    path = pytester.path / "report.json"
    result = pytester.runpytest(f"--roo-report-json={path}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*p95 < 1us*ws.echo / rtt*FAIL*"])
    tests = by_test(report_of(path))
    (met,) = tests["test_echo_meets"]["results"]
    assert met["name"] == "ws.echo" and met["primary"] == "rtt"
    assert met["operations"] == 50 and met["errors"] == {}
    assert met["metrics"]["rtt"]["summary"]["count"] == 50
    assert met["info"]["model"] == "open" and met["info"]["rate"] == 50
    assert [v["passed"] for v in tests["test_echo_meets"]["verdicts"]] == [True, True]
    (missed,) = tests["test_echo_misses"]["verdicts"]
    assert missed["criterion"] == "p95 < 1us" and missed["passed"] is False
    assert missed["samples"] == 10


def test_wrong_answers_fail_the_marker_as_mismatch(pytester: pytest.Pytester,
                                                   server_env: str) -> None:
    """``expect=`` through the http_load fixture: a 200 where a 201 was expected is a wrong
    answer, counted as ``mismatch`` in the recorded result, and the criterion fails."""
    pytester.makepyfile(
        """
        import os
        import pytest

        URL = os.environ["ROO_TEST_WS"].replace("ws://", "http://") + "/status/200"

        @pytest.mark.slo("error_rate < 1%")
        def test_created(http_load):
            http_load.get(URL, clients=2, duration=0.5, rate="20/s", expect=201)
        """
    )
    path = pytester.path / "report.json"
    result = pytester.runpytest(f"--roo-report-json={path}")
    result.assert_outcomes(failed=1)
    test = by_test(report_of(path))["test_created"]
    (res,) = test["results"]
    assert res["errors"] == {"mismatch": 10}
    assert "status 200, expected 201" in res["info"]["error_examples"]["mismatch"]
    assert [v["passed"] for v in test["verdicts"]] == [False]


def test_abort_on_fail_from_the_marker_stops_the_run(pytester: pytest.Pytester,
                                                     server_env: str) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        URL = os.environ["ROO_TEST_WS"] + "/ws/silent"

        @pytest.mark.slo("error_rate < 1%", abort_on_fail=True)
        def test_silent_server(ws_swarm):
            ws_swarm.echo(URL, clients=5, duration=20, rate="50/s", timeout=0.3)
        """
    )
    path = pytester.path / "report.json"
    result = pytester.runpytest(f"--roo-report-json={path}")
    result.assert_outcomes(failed=1)
    (res,) = by_test(report_of(path))["test_silent_server"]["results"]
    assert "error_rate < 1%" in res["info"]["aborted"]
    assert res["duration"] < 5  # of the 20 s asked for: the run's own clock, not the host's
    assert res["errors"]["timeout"] > 10  # 1% of the 1,000 arrivals planned


PROGRESS_TEST = """
import os

def test_three_seconds(ws_swarm):
    ws_swarm.echo(os.environ["ROO_TEST_WS"] + "/ws/echo", clients=2, duration=2.5,
                  rate="20/s")
"""

TTY_CONFTEST = """
import pytest

class _Yes:
    def __call__(self):
        return True

    def __bool__(self):
        return True

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.pluginmanager.get_plugin("terminalreporter").isatty = _Yes()
"""


@pytest.mark.parametrize(
    ("args", "tty", "shown"),
    [
        (["--roo-progress=on"], False, True),
        (["--roo-progress=auto"], True, True),
        (["--roo-progress=auto", "-q"], True, False),
        (["--roo-progress=auto"], False, False),
        (["--roo-progress=off"], True, False),
    ],
    ids=["on", "auto-terminal", "auto-quiet", "auto-not-a-terminal", "off"],
)
def test_progress_lines(pytester: pytest.Pytester, server_env: str, args: list[str],
                        tty: bool, shown: bool) -> None:
    pytester.makepyfile(PROGRESS_TEST)
    if tty:
        pytester.makeconftest(TTY_CONFTEST)
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    lines = [line for line in result.stdout.lines if line.startswith("roo load ws.echo:")]
    if shown:
        assert len(lines) >= 1, result.stdout.str()
        assert "ops/s" in lines[0] and "p95" in lines[0]
    else:
        assert lines == []


def test_ctrl_c_records_the_partial_result(pytester: pytest.Pytester, server_env: str) -> None:
    pytester.makepyfile(
        """
        import os

        def test_long_run(ws_swarm):
            ws_swarm.echo(os.environ["ROO_TEST_WS"] + "/ws/echo", clients=4, duration=60,
                          rate="100/s")
        """
    )
    path = pytester.path / "report.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:playwright", "-p", "no:cacheprovider",
         "--roo-progress=on", f"--roo-report-json={path}", "-s"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first progress line: the run is measuring
            line = proc.stdout.readline()
            if not line or line.startswith("roo load ws.echo:"):
                break
        assert line.startswith("roo load ws.echo:"), line
        first_line = time.monotonic()
        time.sleep(0.5)
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        proc.stdout.close()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    entry = by_test(report_of(path))["test_long_run"]
    assert entry["outcome"] == "interrupted"
    assert any("interrupted (Ctrl-C)" in note for note in entry["notes"])
    (res,) = entry["results"]
    assert res["info"]["interrupted"] is True
    assert "interrupted" in res["info"]["stopped"]
    assert 100 <= res["operations"] < 6000
    assert res["metrics"]["rtt"]["summary"]["count"] >= 100
    # the run stopped within a second of Ctrl-C: its window began at most a second before the
    # first progress line (pytest's own report of the interrupt may take longer: not judged)
    assert res["duration"] < (sent - first_line) + 1.0 + 1.0, res["duration"]


def test_fixtures_show_their_types_and_method_signatures(pytester: pytest.Pytester) -> None:
    """``pytest --fixtures`` is the manual: each load fixture names its type on the first line
    and, with -v, lists its methods with their parameters."""
    result = pytester.runpytest("--fixtures", "-v")
    for fixture, cls, method in [
        ("ws_swarm", "WsSwarmFixture", ".echo(url: str, *, correct: bool = True, **load: Load)"
                                       " -> LoadResult"),
        ("http_load", "HttpLoadFixture", ".get(url: str, *, headers: Mapping[str, str] | None ="
                                         " None, expect: Any = None, expect_status: "
                                         "Sequence[int] | None = None, driver: str | None = "
                                         "None, **load: Load) -> LoadResult"),
        ("db_load", "DbLoadFixture", ".query(sql: str, *args: Any, **load: Load) -> LoadResult"),
        ("redis_load", "RedisLoadFixture", ".pubsub(channel: str | None = None, *, "
                                           "subscribers: int = 10, **load: Load) -> LoadResult"),
    ]:
        # fnmatch would read the brackets of Mapping[...] as character classes
        text = result.stdout.str()
        section = text[text.index(f"\n{fixture} -- "):]
        section = section[: section.index("Shared keywords")]
        assert f"-> {cls}: " in section[:400]
        assert method in section, section
    assert ".on(url: str) -> DbLoadFixture" in text
    assert (".run(scenario: Scenario, *, setup: UserHook | None = None, teardown: UserHook | "
            "None = None, primary: str = 'iteration', name: str = 'ws.run', **load: Load) -> "
            "LoadResult") in text
    result.stdout.fnmatch_lines(["*Shared keywords (pytest_roo.Load*warmup=*abort_on_fail=*"])


def test_warmup_runs_first_and_is_not_recorded(pytester: pytest.Pytester,
                                               server_env: str) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        URL = os.environ["ROO_TEST_WS"] + "/ws/echo"

        def test_warmed(ws_swarm):
            result = ws_swarm.echo(URL, clients=2, duration=0.5, rate="20/s", warmup=0.5)
            (warm,) = ws_swarm.warmups
            assert warm.info["warmup"] is True and warm.operations == 10
            assert ws_swarm.results == [result] and result.operations == 10
        """
    )
    path = pytester.path / "report.json"
    # a process of its own: an inline run drops the aiohttp modules it imported, and the
    # compiled WebSocket reader of the next run would hand out the old module's frame types
    result = pytester.runpytest_subprocess(f"--roo-report-json={path}")
    result.assert_outcomes(passed=1)
    (recorded,) = by_test(report_of(path))["test_warmed"]["results"]
    assert "warmup" not in recorded["info"] and recorded["operations"] == 10


ASYNC_TESTS = """
import pytest
from aiohttp import web


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


async def health(request):
    return web.Response(text="ok")


async def serve():
    # served by the test's own event loop: it must keep running during the load
    app = web.Application()
    app.router.add_get("/ws", echo)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


@pytest.mark.anyio
async def test_awaitable_api(ws_swarm, http_load):
    runner, port = await serve()
    try:
        echoed = await ws_swarm.echo_async(f"ws://127.0.0.1:{port}/ws", clients=2,
                                           duration=1, rate="20/s")
        got = await http_load.get_async(f"http://127.0.0.1:{port}/health", clients=2,
                                        duration=1, rate="20/s")
    finally:
        await runner.cleanup()
    assert (echoed.operations, echoed.error_count) == (20, 0)
    assert (got.operations, got.error_count) == (20, 0)
    assert ws_swarm.results == [echoed] and http_load.results == [got]


@pytest.mark.anyio
async def test_blocking_api(ws_swarm):
    runner, port = await serve()
    try:
        ws_swarm.echo(f"ws://127.0.0.1:{port}/ws", clients=2, duration=1, rate="20/s")
    finally:
        await runner.cleanup()
"""


def test_async_tests_await_the_load_while_their_loop_serves(pytester: pytest.Pytester) -> None:
    """In an ``async def`` test the awaitable methods run the load while the test's own loop
    keeps serving an aiohttp app (no timeouts); the blocking ones raise an error naming the
    awaitable spelling instead of stalling that loop."""
    pytest.importorskip("anyio", reason="the async tests run under anyio's pytest plugin: "
                        "pip install anyio")
    pytester.makepyfile(ASYNC_TESTS)
    path = pytester.path / "report.json"
    # a process of its own, as a user's run: the test's loop is the only one in its thread
    result = pytester.runpytest_subprocess(f"--roo-report-json={path}")
    result.assert_outcomes(passed=1, failed=1)
    out = " ".join(result.stdout.str().split())  # the message may be wrapped
    assert "BlockingCallError: ws_swarm.echo() blocks until the load run ends" in out, out
    assert "Use `await ws_swarm.echo_async(...)`" in out
    tests = by_test(report_of(path))
    names = [r["name"] for r in tests["test_awaitable_api"]["results"]]
    assert names == ["ws.echo", "http.get"]
    assert tests["test_blocking_api"]["results"] == []
