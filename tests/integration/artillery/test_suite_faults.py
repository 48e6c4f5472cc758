"""The Artillery suite (suites/artillery) against the reference system with a fault switched
on fails on the criteria that fault breaks, and only on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

SIO = "test_live_logs_with_artillery_socketio"

#: Each group is one run with its faults switched on together; the run must fail exactly the
#: union of their criteria. Faults share a run only when they reach different tests through
#: parts of the app that share nothing: the echo delay acts on /ws/echo alone (the WebSocket
#: users), the subscribe-ack delay on Socket.IO alone (the Socket.IO users). The API error
#: rate and the slow queries both reach the API and the Socket.IO users: each runs alone.
CASES = {
    "echo_delay_ms=250,sio_greeting_ms=300": {
        ("test_ws_echo_with_artillery", "vusers_session_length.p95 < 2s"),
        # a "subscribed" event at once, the ack 300 ms later: Artillery waits for the ack
        (SIO, "socketio_response_time.p95 < 100ms")},
    # the Socket.IO users write their log lines through the API, and its subscribe acks
    # ask the database whose deployment it is: both faults reach them too
    "api_error_rate=0.1": {("test_api_journey_with_artillery", "error_rate < 1%"),
                           (SIO, "error_rate < 1%")},
    "slow_queries_ms=300": {("test_api_journey_with_artillery",
                             "http_response_time.p95 < 300ms"),
                            (SIO, "socketio_response_time.p95 < 100ms")},
}


@pytest.mark.parametrize("fault", list(CASES))
def test_artillery_suite_fails_on_its_fault(fault: str, tmp_path: Path,
                                            artillery_command: list[str]) -> None:
    run = run_suite(["suites/artillery"], tmp_path, faults=fault)
    assert run.report, f"no JSON report written\n{run.explain()}"
    assert run.returncode == 1, f"the suite did not fail with {fault}\n{run.explain()}"
    assert run.failing == CASES[fault], (
        f"with {fault} expected exactly {sorted(CASES[fault])} to fail, got "
        f"{sorted(run.failing)}\n{run.explain()}")
    sources = {r["info"].get("source") for t in run.report["tests"] for r in t["results"]}
    assert sources == {"artillery summary"}
