"""A target that accepts TCP and never answers is reported as such, not as "nothing accepted a
connection": by the ``target`` fixture for ``--roo-target``, by readiness checks
(``wait_healthy``, ``start_process``) and by :func:`pytest_roo.target.fetch`. Real sockets on
127.0.0.1: a server that accepts and stays silent, a full accept queue, a closed port."""

from __future__ import annotations

import sys

import pytest

from pytest_roo.launch import StartError, start_process
from pytest_roo.target import fetch, wait_healthy
from tests.integration.raw_servers import GARBAGE, closed_port, full_backlog_server, raw_server

pytestmark = pytest.mark.integration


def test_fetch_tells_the_four_cases_apart() -> None:
    with raw_server(None) as silent:
        status, _, problem = fetch(f"http://127.0.0.1:{silent}/health", 1.0)
    assert status == 0
    assert problem == "timeout: the connection was accepted but no response came within 1 s"

    with full_backlog_server() as port:
        status, _, problem = fetch(f"http://127.0.0.1:{port}/health", 1.0)
    assert status == 0
    assert problem == "timeout: connect timeout: no TCP connection within 1 s"

    status, _, problem = fetch(f"http://127.0.0.1:{closed_port()}/health", 1.0)
    assert (status, problem) == (0, "refused: connection refused (nothing listens there)")

    with raw_server(GARBAGE) as port:
        status, _, problem = fetch(f"http://127.0.0.1:{port}/health", 1.0)
    assert status == 0 and problem.startswith("protocol: the answer is not HTTP"), problem
    assert "hunter2" not in problem


def test_readiness_says_the_server_accepted_but_did_not_answer() -> None:
    with raw_server(None) as silent, pytest.raises(TimeoutError) as caught:
        wait_healthy(f"http://127.0.0.1:{silent}/health", timeout=1.5)
    assert "accepted but no response came within 1 s" in str(caught.value), caught.value


def test_start_process_names_a_health_url_that_accepts_and_stays_silent() -> None:
    with raw_server(None) as silent, pytest.raises(StartError) as caught:
        start_process([sys.executable, "-c", "import time; time.sleep(300)"],
                      health=f"http://127.0.0.1:{silent}/health", timeout=1.5)
    message = str(caught.value)
    assert "accepted but no response came within 1 s" in message, message
    assert "still running and has been stopped" in message


TARGET_TEST = """
def test_uses_the_target(target):
    pass
"""


def test_target_fixture_reports_a_silent_target_truthfully(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TARGET_TEST)
    with raw_server(None) as silent:
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--roo-target=http://u:pw-Secret-9@127.0.0.1:{silent}/")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, output
    assert "accepted but no response came within 5 s" in output, output
    assert "nothing accepted" not in output
    assert "pw-Secret-9" not in output


def test_target_fixture_reports_a_closed_port_as_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TARGET_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           f"--roo-target=http://127.0.0.1:{closed_port()}/")
    result.stdout.fnmatch_lines(["*does not answer*refused: connection refused (nothing "
                                 "listens there)*"])
