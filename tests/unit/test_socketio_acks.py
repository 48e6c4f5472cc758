"""How the emit-with-ack run reads frames: which ack answers which emit, what a wrong ack is,
and that pings and greetings are never taken for an answer (pure logic, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_client import ConnectRefused, SioClient, classify_sio
from pytest_roo.load.socketio_codec import SocketIOProtocolError
from pytest_roo.load.socketio_runs import AckRun
from pytest_roo.load.workload import make_workload
from pytest_roo.results.metrics import LoadResult


def make_run(namespace: str = "/", expect: Any = "echo") -> AckRun:
    rec = Recorder(LoadResult(name="t"), "ack")
    wl = make_workload(clients=1, duration=1)
    return AckRun(SioClient(), rec, "ws://127.0.0.1:1/socket.io/", wl, 1.0, False,
                  event="echo", namespace=namespace, auth=None, expect=expect)


def test_frames_of_the_default_namespace() -> None:
    run = make_run()
    assert run.frame(7, "roo:a:7:x") == '427["echo","roo:a:7:x"]'
    assert run.echo_ack(7, "roo:a:7:x") == '437["roo:a:7:x"]'
    assert run.ack_id('437["roo:a:7:x"]') == 7
    assert run.ack_id("4312[]") == 12
    assert run.ack_id('43/chat,7["x"]') is None  # another namespace's ack
    assert run.ack_id('42["greeting","hello"]') is None
    assert run.ack_id("43[]") is None  # an ack without an id answers nothing


def test_frames_of_a_namespace() -> None:
    run = make_run("/chat")
    assert run.frame(3, "m") == '42/chat,3["echo","m"]'
    assert run.ack_id('43/chat,3["m"]') == 3
    assert run.ack_id('433["m"]') is None
    assert run.ack_id('43/chatroom,3["m"]') is None


def test_wrong_acks_are_mismatches() -> None:
    run = make_run()
    assert run.judge(1, "roo:a:1:x", '431["roo:a:1:x"]')
    assert run.judge(1, "roo:a:1:x", '431[ "roo:a:1:x" ]')  # other spacing, same JSON
    assert not run.judge(1, "roo:a:1:x", '431["roo:a:1:y"]')
    assert not run.judge(1, "roo:a:1:x", '431["roo:a:1:x","extra"]')
    assert not run.judge(1, "roo:a:1:x", "431[broken")
    assert run.rec.result.errors["mismatch"] == 3
    assert "roo:a:1:y" in run.rec.result.info["first_mismatch"]


def test_expect_forms() -> None:
    anything = make_run(expect=None)
    assert anything.judge(1, "m", '431[{"ok":true}]')
    custom = make_run(expect=lambda sent, got: got == [{"ok": True, "echo": sent[0]}])
    assert custom.judge(1, "m", '431[{"ok":true,"echo":"m"}]')
    assert not custom.judge(1, "m", '431[{"ok":false,"echo":"m"}]')
    raising = make_run(expect=lambda sent, got: got[5])
    assert not raising.judge(1, "m", '431["m"]')
    assert "IndexError" in raising.rec.result.info["error_examples"]["mismatch"]


def test_pings_and_greetings_are_not_answers() -> None:
    run = make_run("/chat")
    assert run.other("2") == 0  # a ping: answered by the reader
    assert run.other("1") == 2  # Engine.IO close
    assert run.other("41/chat,") == 2  # the server disconnected the namespace
    assert run.other('42/chat,["greeting","hello"]') == 1
    assert run.other("41") == 1  # another namespace's disconnect
    counters = run.rec.result.counters
    assert counters["pings"] == 1 and counters["unexpected"] == 2
    assert run.rec.result.error_count == 0


@pytest.mark.parametrize(("exc", "kind"), [
    (ConnectRefused("/", "invalid token"), "connect_error"),
    (SocketIOProtocolError("x"), "protocol"),
    (ConnectionRefusedError(), "refused"),
    (TimeoutError(), "timeout"),
])
def test_error_kinds(exc: BaseException, kind: str) -> None:
    assert classify_sio(exc) == kind


def test_event_handlers_see_events_at_once_and_others_wait() -> None:
    """``on(event, handler)``: that event goes to the handler as it is read, never to
    ``wait_for``'s buffer; other events stay buffered; a failing handler counts an error."""
    from pytest_roo.load.socketio_codec import decode
    from pytest_roo.load.socketio_socket import SioChannel

    rec = Recorder(LoadResult(name="t"), "iteration")

    class Socket:
        _rec = rec

    channel = SioChannel(Socket(), "/", "sid")  # type: ignore[arg-type]
    seen: list[list[Any]] = []
    channel.on("log", seen.append)
    for frame in ('42["log",{"seq":1}]', '42["status","up"]', '42["log",{"seq":2}]'):
        packet = decode(frame)
        assert packet.event is not None
        channel._deliver(packet.event, packet.args)
    assert seen == [[{"seq": 1}], [{"seq": 2}]]
    assert "log" not in channel._events and list(channel._events["status"]) == [["up"]]

    def broken(args: list[Any]) -> None:
        raise ValueError("bad handler")

    channel.on("log", broken)
    channel._deliver("log", [3])
    assert rec.result.errors.get("other") == 1
    channel.on("log", None)
    channel._deliver("log", [4])
    assert list(channel._events["log"]) == [[4]]
