"""Artillery scenario files: checked before node starts, run bounded in their own process
group, read into a LoadResult that criteria judge like any other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_roo import slo
from pytest_roo.artillery import Artillery, ArtilleryTimeout, ScenarioError, load_scenario
from tests.integration.artillery.conftest import Server
from tests.integration.interruptible import interruptible

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str, name: str = "scenario.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- checked before node starts (no Artillery needed) --


def test_broken_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        config:
          target: "http://127.0.0.1:1"
          phases:
            - duration: 1
              arrivalRate: 1
        scenarios:
          - flow:
            - get: {url: "/health"
    """)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.path == str(path)
    assert info.value.line in (8, 9)
    assert str(info.value).startswith(f"{path}:{info.value.line}: not valid YAML")


@pytest.mark.parametrize(("body", "line", "words"), [
    ("config:\n  target: http://127.0.0.1:1\n  phases:\n    - duration: ten\n"
     "scenarios:\n  - flow:\n      - get: {url: /}\n", 4, "duration"),
    ("config:\n  target: http://127.0.0.1:1\nscenarios:\n  - flow: []\n", 4, "flow"),
    ("config:\n  target: http://127.0.0.1:1\nscenario:\n  - flow:\n      - get: {url: /}\n",
     3, "unknown top-level key 'scenario'"),
    ("config:\n  phases:\n    - duration: 1\nscenarios:\n  - flow:\n      - get: {url: /}\n",
     1, "config.target is missing"),
    ("config:\n  target: ws://127.0.0.1:1\nscenarios:\n  - engine: grpc\n    flow:\n"
     "      - send: x\n", 4, "engine 'grpc'"),
])
def test_wrong_structure_names_the_line(tmp_path: Path, body: str, line: int,
                                        words: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ScenarioError, match=words) as info:
        load_scenario(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_overrides_and_target_apply_before_the_checks(tmp_path: Path) -> None:
    path = write(tmp_path, """
        config:
          phases:
            - duration: 2
              arrivalRate: 1
        scenarios:
          - flow:
              - get: {url: "/"}
    """)
    checked = load_scenario(path, {"config": {"phases": [{"duration": "1m", "arrivalRate": 1},
                                                         {"pause": 5}]}},
                            target="http://127.0.0.1:1")
    assert checked.phase_seconds == 65
    assert checked.target == "http://127.0.0.1:1"
    assert checked.engines == ("http",)
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.yml")


# -- real runs --

HTTP = """
config:
  target: "http://127.0.0.1:1"
  phases:
    - duration: 2
      arrivalRate: 10
scenarios:
  - flow:
      - get: {url: "/{{ $env.ROO_TEST_HEALTH }}"}
      - get: {url: "/status/503"}
"""


@pytest.mark.integration
def test_http_scenario_becomes_a_judged_result(tmp_path: Path, aiohttp_server: Server,
                                               artillery_command: list[str]) -> None:
    path = write(tmp_path, HTTP)
    result = Artillery().run(path, target=aiohttp_server.http,
                             env={"ROO_TEST_HEALTH": "health"})  # read as {{ $env.NAME }}
    assert result.name == "artillery.scenario"
    assert result.info["source"] == "artillery summary"
    assert result.counters["vusers.created"] == 20
    assert result.operations == 40  # requests
    assert result.errors == {"http_5xx": 20}
    assert result.counters["http.codes.200"] == 20
    metric = result.get_metric()
    assert metric.name == "http_response_time" == result.primary
    assert metric.count == 40
    summary = result.info["summaries"]["http.response_time"]
    assert metric.max * 1000 == pytest.approx(summary["max"], abs=0.01 + summary["max"] / 500)
    assert result.generator["wall_seconds"] > 0
    verdicts = slo.evaluate(result, ["http_response_time.p99 < 10s", "error_rate < 1%",
                                     "count == 40"], confidence=0)
    assert [v.passed for v in verdicts] == [True, False, True]


WS = """
config:
  target: "ws://127.0.0.1:1"
  phases:
    - duration: 1
      arrivalCount: 5
scenarios:
  - engine: ws
    flow:
      - connect: "{{ target }}/ws/echo"
      - send:
          payload: {kind: "ping", n: 1}
          match: {json: "$.kind", value: "ping"}
      - send:
          payload: {kind: "ping", n: 2}
          match: {json: "$.kind", value: "pong"}
"""


@pytest.mark.integration
def test_ws_scenario_counts_messages_and_wrong_answers(
        tmp_path: Path, aiohttp_server: Server, artillery_command: list[str]) -> None:
    path = write(tmp_path, WS)
    result = Artillery().run(path, target=aiohttp_server.ws)
    assert result.info["engines"] == ["ws"]
    assert result.operations == result.counters["vusers.created"] == 5
    assert result.counters["websocket.messages_sent"] == 10
    assert result.counters["websocket.messages_received"] == 10
    # the first answer matches, the second does not: every user fails on it
    assert result.errors == {"mismatch": 5}
    assert result.counters["vusers.failed"] == 5
    # no user completed, so Artillery has no session lengths: nothing to prove latency with
    assert result.metrics == {}
    verdicts = slo.evaluate(result, ["error_rate < 1%", "vusers_session_length.p95 < 1s"])
    assert [v.passed for v in verdicts] == [False, False]
    assert "no latency metric" in verdicts[1].reason


LONG = """
config:
  target: "http://127.0.0.1:{port}"
  phases:
    - duration: 300
      arrivalRate: 2
scenarios:
  - flow:
      - get: {{url: "/health"}}
"""


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.integration
def test_timeout_kills_the_process_group(tmp_path: Path, aiohttp_server: Server,
                                         artillery_command: list[str]) -> None:
    path = write(tmp_path, LONG.format(port=aiohttp_server.port))
    runner = Artillery()
    with pytest.raises(ArtilleryTimeout, match="bound of 20 s"):
        runner.run(path, timeout=20)
    assert runner.last_pid is not None
    assert _group_gone(runner.last_pid)


CHILD = """
import sys
from pytest_roo.artillery import Artillery
Artillery().run(sys.argv[1], timeout=300)
"""


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_leave_nothing_running(tmp_path: Path, aiohttp_server: Server,
                                                  artillery_command: list[str], sig: int) -> None:
    import psutil

    path = write(tmp_path, LONG.format(port=aiohttp_server.port))
    scratch = tmp_path / "tmp"  # the child's temporary directory: the run's files go there
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=interruptible)
    node_pid = None
    try:
        end = time.monotonic() + 60
        while node_pid is None and time.monotonic() < end:
            for child in psutil.Process(proc.pid).children(recursive=True):
                node_pid = child.pid
            time.sleep(0.2)
        assert node_pid is not None, "Artillery did not start"
        time.sleep(2)  # let node get going
        os.kill(proc.pid, sig)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        assert proc.stdout is not None
        output = proc.stdout.read().decode(errors="replace")
        proc.stdout.close()
    assert code != 0, output
    if sig == signal.SIGTERM:
        assert code == -signal.SIGTERM, output
    else:
        assert "KeyboardInterrupt" in output
    assert _group_gone(node_pid)
    assert not [p.name for p in scratch.glob("roo-artillery-*")], output  # its files removed
    assert not psutil.pid_exists(node_pid) or \
        psutil.Process(node_pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.integration
def test_fixture_records_the_verdicts(pytester: pytest.Pytester, aiohttp_server: Server,
                                      artillery_command: list[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROO_CONFIDENCE", "0")  # five requests: the recording, not the statistics
    pytester.makefile(".yml", health=HTTP.replace("      - get: {url: \"/status/503\"}\n", "")
                      .replace("{{ $env.ROO_TEST_HEALTH }}", "health"))
    pytester.makepyfile(f"""
        import json, pytest

        @pytest.mark.slo("http_response_time.p95 < 10s", "error_rate < 1%")
        def test_health(artillery):
            result = artillery.run("health.yml", target="{aiohttp_server.http}",
                                   overrides={{"config": {{"phases": [
                                       {{"duration": 1, "arrivalRate": 5}}]}}}})
            assert result.operations == 5 and artillery.results == [result]
    """)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q",
                                           f"--roo-report-json={report}")
    result.assert_outcomes(passed=1)
    import json

    text = report.read_text()
    data = json.loads(text)
    assert "artillery summary" in text
    assert "http_response_time.p95 < 10s" in text
    assert data


def test_a_missing_binary_is_unavailable_and_leaves_sigterm_alone(tmp_path: Path) -> None:
    from pytest_roo.artillery import ArtilleryUnavailable

    path = write(tmp_path, HTTP)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(ArtilleryUnavailable, match="cannot start"):
        Artillery(binary=tmp_path / "no-such-artillery").run(path)
    assert signal.getsignal(signal.SIGTERM) is before


def test_what_the_leader_leaves_in_its_group_dies_before_the_leader_is_reaped() -> None:
    """The group is signalled while its leader is a zombie, so its id cannot have been reused."""
    from pytest_roo.artillery.runner import _reap_group
    from pytest_roo.services.procs import kill_group, spawn

    proc = spawn(["sh", "-c", "sleep 60 & echo $!; exit 3"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with proc.stdout:
        orphan = int(proc.stdout.readline())
    reaped = _reap_group(proc.pid, kill_group, block=True)
    assert reaped is not None
    proc.returncode = os.waitstatus_to_exitcode(reaped[0])
    assert proc.returncode == 3
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"sleep {orphan} outlived its group leader")
    assert _reap_group(proc.pid, kill_group, block=False) is None  # already reaped: nothing sent
