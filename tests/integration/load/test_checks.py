"""The load engine checks what comes back: altered echoes, frames that are no echo, dropped
replies, altered broadcasts, wrong HTTP answers, failed scenario checks; and refused or dropped
clients count as their share of the load. Against bench/servers/faulty_server.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_roo import slo
from pytest_roo.load import HttpLoad, WsSwarm
from pytest_roo.load.session import Session

if TYPE_CHECKING:
    from tests.integration.load.conftest import Server, StartServer

pytestmark = pytest.mark.integration


@pytest.fixture
def faulty(load_server: StartServer) -> Server:
    return load_server(faulty=True)


@pytest.mark.parametrize("rate", [None, "100/s"], ids=["closed", "open"])
def test_truncated_echo_is_a_mismatch(faulty: Server, rate: str | None) -> None:
    result = WsSwarm().echo(faulty.ws("/ws/echo-truncated"), clients=2, duration=1, rate=rate,
                            message_size=64)
    assert result.operations > 50
    assert result.errors == {"mismatch": result.operations}
    assert result.get_metric("rtt").count == 0
    assert "differs" in result.info["error_examples"]["mismatch"]
    verdicts = slo.evaluate(result, ["error_rate < 1%"])
    assert not verdicts[0].passed


@pytest.mark.parametrize("rate", [None, "100/s"], ids=["closed", "open"])
def test_a_greeting_is_not_an_echo(faulty: Server, rate: str | None) -> None:
    """A Socket.IO-like open frame arrives first on every connection: it is counted as
    unexpected, never timed as the first echo, and every message still gets its own reply."""
    result = WsSwarm().echo(faulty.ws("/ws/echo-greeting"), clients=3, duration=1, rate=rate)
    assert result.error_count == 0, result.errors
    assert result.counters["unexpected"] == 3
    assert result.get_metric("rtt_raw" if rate is None else "rtt").count == result.operations


def test_dropped_replies_are_not_matched_to_other_messages(faulty: Server) -> None:
    """Every 5th message gets no reply: it times out, and the replies after it are matched to
    their own messages. Matching by order would time each of them from the previous send,
    50 ms earlier at 20/s, which would put the median at 50 ms or more."""
    result = WsSwarm().echo(faulty.ws("/ws/echo-drop?every=5"), clients=1, duration=2,
                            rate="20/s", timeout=0.5)
    assert result.operations == 40
    assert result.errors == {"timeout": 8}
    rtt = result.get_metric("rtt")
    assert rtt.count == 32
    assert rtt.percentile(50) < 0.025


@pytest.mark.parametrize("rate", [None, "100/s"], ids=["closed", "open"])
def test_refused_clients_count_as_their_share(faulty: Server, rate: str | None) -> None:
    """6 of 10 clients are refused (503): the errors are their share of the operations,
    not 6 failures beside the others' thousands."""
    result = WsSwarm().echo(faulty.ws("/ws/echo-limited?n=4"), clients=10, duration=2,
                            rate=rate)
    assert result.counters["clients_connected"] == 4
    assert set(result.errors) == {"http_5xx"}
    if rate is None:
        assert 0.5 < result.error_rate < 0.7
    else:
        assert result.operations == 200
        assert result.errors["http_5xx"] == 120  # arrival k is client k mod 10's
    assert not slo.evaluate(result, ["error_rate < 10%"])[0].passed


def test_a_dropped_client_counts_its_missing_share(faulty: Server) -> None:
    """The first of 4 connections is closed by the server after 5 echoes: it misses about a
    quarter of the run, which counts as errors of kind closed."""
    result = WsSwarm().echo(faulty.ws("/ws/echo-close-first?after=5"), clients=4, duration=2)
    assert set(result.errors) == {"closed"}
    assert 0.15 < result.error_rate < 0.3
    assert result.counters["failed_client_ops"] > 0


def test_broadcast_checks_payload_integrity(faulty: Server) -> None:
    result = WsSwarm().broadcast(faulty.ws("/ws/broadcast"), clients=3, duration=1,
                                 rate="20/s", message_size=80,
                                 publish_url=faulty.http("/ws/broadcast-altered?every=5"))
    assert result.counters["published"] == 20
    assert result.errors == {"mismatch": 4 * 3}
    assert result.get_metric("delivery").count == 16 * 3
    assert "altered" in result.info["error_examples"]["mismatch"]


def test_refused_subscribers_count_every_message_they_missed(faulty: Server) -> None:
    result = WsSwarm().broadcast(faulty.ws("/ws/broadcast-limited?n=2"), clients=3,
                                 duration=1, rate="20/s",
                                 publish_url=faulty.http("/ws/broadcast"))
    assert result.counters["clients_connected"] == 2
    assert result.operations == 60
    assert result.errors == {"http_5xx": 20}
    assert result.get_metric("delivery").count == 40


def test_a_dropped_subscriber_counts_what_it_missed(faulty: Server) -> None:
    """The server closes the first of 3 subscribers after 5 of 20 messages: the 15 it could not
    receive are errors of kind closed, not silently fewer deliveries."""
    result = WsSwarm().broadcast(faulty.ws("/ws/broadcast-close-first?after=5"), clients=3,
                                 duration=1, rate="20/s",
                                 publish_url=faulty.http("/ws/broadcast"))
    assert result.operations == 60
    assert result.errors == {"closed": 15}
    assert result.get_metric("delivery").count == 45


def test_http_expect(faulty: Server) -> None:
    http = HttpLoad()
    good = http.get(faulty.http("/json/ok"), clients=2, duration=0.5, rate="20/s",
                    expect=[200, {"ok": True, "user.id": 7}])
    assert good.error_count == 0 and good.operations == 10
    wrong = http.get(faulty.http("/json/wrong"), clients=2, duration=0.5, rate="20/s",
                     expect={"ok": True})
    assert wrong.errors == {"mismatch": 10}
    assert "'ok' is False, expected True" in wrong.info["error_examples"]["mismatch"]
    assert wrong.get_metric("latency").count == 0
    status = http.get(faulty.http("/json/ok"), clients=2, duration=0.5, rate="20/s",
                      expect=201)
    assert status.errors == {"mismatch": 10}
    refused_401 = http.get(faulty.http("/nowhere"), clients=2, duration=0.5, rate="20/s",
                           expect={404})
    assert refused_401.error_count == 0  # an expected 404 is a success
    predicate = http.get(faulty.http("/json/ok"), clients=2, duration=0.5, rate="20/s",
                         expect=lambda answer: answer.json()["user"]["id"] == 8)
    assert predicate.errors == {"mismatch": 10}


def test_session_check_counts_without_leaving_the_user(faulty: Server) -> None:
    url = faulty.http("/json/ok")

    async def scenario(session: Session) -> None:
        body = await session.get(url, name="doc", expect=200)
        session.check("has ok", b'"ok": true' in body)
        session.check("odd iteration", session.iteration % 2 == 1)
        session.check("odd again", session.iteration % 2 == 1)
        await session.get(url, name="after", expect={"ok": True})

    result = HttpLoad().run(scenario, clients=1, duration=0.5, rate="20/s")
    assert result.operations == 10
    assert result.errors == {"mismatch": 5}  # one per failed iteration, however many checks
    assert result.counters["check_failed:odd iteration"] == 5
    assert result.counters["check_failed:odd again"] == 5
    assert "check_failed:has ok" not in result.counters
    assert result.get_metric("after").count == 10  # the user went on after a failed check
    assert result.get_metric("iteration").count == 5
