"""The Socket.IO driver against real python-socketio servers on 127.0.0.1: the healthy server
passes (pings answered, no error), the faulty ones are caught by the right error kind, and the
driver sees the same ack payloads as python-socketio's own AsyncClient."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from pytest_roo.load.socketio import SioSession, SioSwarm

from .conftest import TOKEN

pytestmark = pytest.mark.integration

Start = Callable[..., str]


@pytest.mark.parametrize("rate", [None, "150/s"])
def test_healthy_round_trips_answer_pings(sio_server: Start, rate: str | None) -> None:
    url = sio_server(ping_interval=1.0)
    # 3 s with a 1 s ping interval: a client that did not pong would be dropped after ~2 s
    result = SioSwarm().call(url, "echo", clients=4, duration=3, rate=rate)
    assert result.error_count == 0, result.info.get("error_examples")
    assert result.counters["clients_connected"] == 4
    assert result.counters["pings"] >= 4
    assert result.counters["unexpected"] == 0
    assert result.get_metric("connect").count == 4
    if rate is None:
        assert result.get_metric("ack_raw").count == result.operations > 20
    else:
        assert result.operations == result.get_metric("ack").count == 450


def test_namespace_and_auth(sio_server: Start) -> None:
    url = sio_server()
    swarm = SioSwarm()
    chat = swarm.call(url, namespace="/chat", clients=2, duration=1, rate="50/s")
    assert chat.error_count == 0 and chat.operations == 50
    ok = swarm.call(url, namespace="/private", auth={"token": TOKEN}, clients=2, duration=1,
                    rate="50/s")
    assert ok.error_count == 0 and ok.operations == 50
    refused = swarm.call(url, namespace="/private", auth={"token": "wrong"}, clients=2,
                         duration=1, rate="50/s")
    # every planned operation fails as a refused CONNECT, with the server's message
    assert refused.errors["connect_error"] == refused.operations == 50
    assert "invalid token" in refused.info["error_examples"]["connect_error"]
    assert TOKEN not in json.dumps(ok.to_dict()) + json.dumps(refused.to_dict())


def test_refused_connect_counts_as_connect_error(sio_server: Start) -> None:
    url = sio_server(fault="refuse-connect")
    swarm = SioSwarm()
    call = swarm.call(url, clients=3, duration=1, rate="30/s")
    assert call.errors["connect_error"] == call.operations == 30
    assert "server full" in call.info["error_examples"]["connect_error"]
    churn = swarm.churn(url, clients=2, duration=1, rate="20/s")
    assert churn.errors["connect_error"] == churn.operations == 20
    assert churn.get_metric("session").count == 0


def test_churn_times_the_handshake(sio_server: Start) -> None:
    url = sio_server()
    result = SioSwarm().churn(url, namespace="/chat", clients=4, duration=1, rate="40/s")
    assert result.error_count == 0
    assert result.get_metric("session").count == result.get_metric("connect").count == 40


@pytest.mark.parametrize("rate", [None, "100/s"])
def test_altered_ack_is_a_mismatch(sio_server: Start, rate: str | None) -> None:
    result = SioSwarm().call(sio_server(fault="altered-ack"), clients=2, duration=1, rate=rate)
    assert result.operations > 0
    assert result.errors["mismatch"] == result.operations
    assert "ack" in result.info["error_examples"]["mismatch"]


@pytest.mark.parametrize("rate", [None, "100/s"])
def test_greeting_is_unexpected_never_the_answer(sio_server: Start, rate: str | None) -> None:
    result = SioSwarm().call(sio_server(fault="greeting"), clients=2, duration=1, rate=rate)
    assert result.error_count == 0
    # one greeting per emit, none taken for the ack
    assert result.counters["unexpected"] == result.operations > 0
    assert "greeting" in result.info["first_unexpected"]


def test_dropped_acks_time_out(sio_server: Start) -> None:
    result = SioSwarm(timeout=1.0).call(sio_server(fault="drop-acks"), clients=3,
                                        duration=1, rate="60/s")
    # the server drops every third ack: exactly those fail, the others are timed
    assert result.operations == 60
    assert result.errors["timeout"] == 20
    assert result.get_metric("ack").count == 40


def test_broadcast_to_a_room(sio_server: Start) -> None:
    url = sio_server(ping_interval=1.0)
    result = SioSwarm().broadcast(url, room="lobby", namespace="/chat", clients=10,
                                  duration=3, rate="10/s")
    assert result.error_count == 0, result.info.get("error_examples")
    assert result.counters["published"] == 30
    assert result.operations == result.get_metric("delivery").count == 300
    assert result.get_metric("publish").count == 30
    assert result.counters["pings"] >= 10


def test_lost_and_duplicated_deliveries(sio_server: Start) -> None:
    swarm = SioSwarm(timeout=1.0)
    lossy = swarm.broadcast(sio_server(fault="lossy-room"), clients=4, duration=2, rate="10/s")
    assert lossy.counters["published"] == 20
    assert lossy.errors["lost"] == 5 * 4  # every 4th of 20 messages, to each subscriber
    dup = swarm.broadcast(sio_server(fault="duplicate-room"), clients=4, duration=2,
                          rate="10/s")
    assert dup.errors["duplicate"] == 4 * 4  # every 5th of 20, once more to each
    assert dup.get_metric("delivery").count == 80


def test_custom_scenario(sio_server: Start) -> None:
    url = sio_server()

    async def scenario(session: SioSession) -> None:
        async with session.measure("echo"):
            got = await session.call("echo", {"n": session.iteration})
        session.check("echo", got == [{"n": session.iteration}])
        room = f"vu{session.vu}"
        await session.call("join", room)
        await session.emit("publish", room, "hi")
        session.check("message", await session.wait_for("message") == ["hi"])

    result = SioSwarm().run(scenario, url, namespace="/chat", clients=3, duration=1)
    assert result.error_count == 0, result.info.get("error_examples")
    assert result.get_metric("iteration").count == result.operations > 3
    assert result.get_metric("echo").count == result.operations

    async def times_out(session: SioSession) -> None:
        await session.wait_for("never", timeout=0.2)

    slow = SioSwarm().run(times_out, url, clients=2, duration=0.5)
    assert slow.errors["timeout"] == slow.operations > 0


def test_same_ack_payloads_as_python_socketio(sio_server: Start) -> None:
    """python-socketio's AsyncClient is the reference: on a healthy and on an altering server
    it and the driver receive the same ack arguments."""
    import socketio

    payloads: list[Any] = ["roo:abc123:1:xxxx", {"a": [1, 2.5, None, "\u00e9"]}, [1, "two"], 7]

    async def reference(url: str) -> list[Any]:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        await client.connect(url, transports=["websocket"], namespaces=["/chat"])
        try:
            return [await client.call("echo", p, namespace="/chat", timeout=5)
                    for p in payloads]
        finally:
            await client.disconnect()

    for fault in ("none", "altered-ack"):
        url = sio_server(fault=fault)
        expected = asyncio.run(reference(url))
        seen: list[Any] = []

        async def scenario(session: SioSession, seen: list[Any] = seen) -> None:
            for p in payloads:
                ack = await session.call("echo", p)
                seen.append(ack[0] if len(ack) == 1 else ack)

        result = SioSwarm().run(scenario, url, namespace="/chat", clients=1, duration=0.2)
        assert result.error_count == 0
        assert seen[:len(payloads)] == expected
        if fault == "altered-ack":
            assert expected[0] == "roo:abc123:1:xxxy"  # the fault is visible to both


@pytest.mark.slo("error_rate < 5%", "ack.p95 < 5s")
def test_fixture_records_results(sio_server: Start, sio_swarm: Any) -> None:
    url = sio_server()
    result = sio_swarm.call(url, clients=2, duration=2, rate="60/s")
    assert sio_swarm.results == [result]
    assert result.error_count == 0
    with pytest.raises(ValueError, match="invalid namespace"):
        sio_swarm.call(url, namespace="chat")
    with pytest.raises(ValueError, match="invalid auth"):
        sio_swarm.call(url, auth="token")
    with pytest.raises(ValueError, match="invalid expect"):
        sio_swarm.call(url, expect=42)


def test_fixture_abort_on_fail_stops_early(sio_server: Start, sio_swarm: Any) -> None:
    url = sio_server(fault="altered-ack")
    result = sio_swarm.call(url, clients=2, duration=30, rate="100/s",
                            abort_on_fail=["error_rate < 1%"])
    assert result.duration < 15
    assert "error_rate" in result.info["stopped"]
    assert result.errors["mismatch"] > 0
    with pytest.raises(ValueError, match="abort_on_fail=True needs criteria"):
        sio_swarm.call(url, abort_on_fail=True)


def test_node_socket_io_server(node_sio_server: Start) -> None:
    """A server nobody here wrote, in the language socket.io comes from: round trips in both
    models answering its pings, a namespace, auth refused with its message, broadcast, churn."""
    url = node_sio_server(ping_interval=1.0)
    swarm = SioSwarm()
    closed = swarm.call(url, clients=4, duration=3)
    assert closed.error_count == 0, closed.info.get("error_examples")
    assert closed.counters["pings"] >= 4 and closed.counters["unexpected"] == 0
    opened = swarm.call(url, namespace="/chat", clients=4, duration=1, rate="200/s")
    assert opened.error_count == 0 and opened.get_metric("ack").count == 200
    ok = swarm.call(url, namespace="/private", auth={"token": TOKEN}, clients=2, duration=1,
                    rate="20/s")
    assert ok.error_count == 0 and ok.operations == 20
    refused = swarm.call(url, namespace="/private", auth={"token": "wrong"}, clients=2,
                         duration=1, rate="20/s")
    assert refused.errors["connect_error"] == refused.operations == 20
    assert "invalid token" in refused.info["error_examples"]["connect_error"]
    room = swarm.broadcast(url, namespace="/chat", clients=8, duration=2, rate="10/s")
    assert room.error_count == 0 and room.get_metric("delivery").count == 160
    churn = swarm.churn(url, clients=4, duration=1, rate="40/s")
    assert churn.error_count == 0 and churn.get_metric("session").count == 40


def test_subscriber_disconnected_by_the_server(sio_server: Start) -> None:
    result = SioSwarm(timeout=1.0).broadcast(sio_server(fault="kick-first"), clients=4,
                                             duration=2, rate="10/s")
    published = result.counters["published"]
    assert published == 20
    # the kicked subscriber had messages 0..3; the other 16 fail for it (closed, or lost for
    # the one published while its DISCONNECT was on the way); the other three got every one
    assert result.errors["closed"] >= 1
    assert result.errors["closed"] + result.errors["lost"] == published - 4
    assert result.get_metric("delivery").count == 3 * published + 4


def test_namespaces_multiplexed_in_a_scenario(sio_server: Start) -> None:
    url = sio_server()

    async def multi(session: SioSession) -> None:
        chat = await session.of("/chat")
        session.check("chat", await chat.call("echo", "x") == ["x"])
        private = await session.of("/private", auth={"token": TOKEN})
        session.check("private", await private.call("echo", 1) == [1])
        session.check("default", await session.call("echo", "d") == ["d"])

    result = SioSwarm().run(multi, url, clients=2, duration=1)
    assert result.error_count == 0, result.info.get("error_examples")
    assert result.operations > 2
    # each user connects each namespace once and keeps it
    assert result.get_metric("connect_namespace").count == 4

    async def refused(session: SioSession) -> None:
        await session.of("/private", auth={"token": "wrong"})

    bad = SioSwarm().run(refused, url, clients=2, duration=0.5)
    assert bad.errors["connect_error"] == bad.operations > 0
    assert "invalid token" in bad.info["error_examples"]["connect_error"]


@pytest.mark.parametrize("rate", [None, "100/s"])
def test_a_dropped_client_counts_as_its_share(sio_server: Start, rate: str | None) -> None:
    result = SioSwarm(timeout=1.0).call(sio_server(fault="kick-echo"), clients=4, duration=2,
                                        rate=rate)
    # one client of four is disconnected early: about a quarter of the operations fail as
    # "closed", not one failure beside thousands of successes
    assert result.errors["closed"] > 0
    assert result.errors["closed"] == result.error_count
    assert 0.1 < result.error_rate < 0.4, (result.error_rate, dict(result.errors))
