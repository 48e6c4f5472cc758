"""The Socket.IO v5 / Engine.IO v4 codec against known frames (those of the protocol's
documentation and of python-socketio's own encoder)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.load.socketio_codec import (
    ACK,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    Packet,
    SocketIOProtocolError,
    check_namespace,
    decode,
    decode_open,
    encode,
    encode_ack,
    encode_connect,
    encode_disconnect,
    encode_event,
    engineio_url,
)


@pytest.mark.parametrize(("frame", "packet"), [
    ("40", Packet(CONNECT)),
    ('40{"sid":"abc"}', Packet(CONNECT, data={"sid": "abc"})),
    ('40/admin,{"token":"t"}', Packet(CONNECT, "/admin", data={"token": "t"})),
    ("41/admin,", Packet(DISCONNECT, "/admin")),
    ("41", Packet(DISCONNECT)),
    ('42["hello",1]', Packet(EVENT, data=["hello", 1])),
    ('4212["hello"]', Packet(EVENT, id=12, data=["hello"])),
    ('42/chat,7["msg",{"a":[1,2]}]', Packet(EVENT, "/chat", 7, ["msg", {"a": [1, 2]}])),
    ('4312["ok"]', Packet(ACK, id=12, data=["ok"])),
    ('43/chat,0[]', Packet(ACK, "/chat", 0, [])),
    ('44{"message":"invalid token"}', Packet(CONNECT_ERROR, data={"message": "invalid token"})),
    ('44/private,{"message":"no"}', Packet(CONNECT_ERROR, "/private", data={"message": "no"})),
    ('42["caf\u00e9"]', Packet(EVENT, data=["caf\u00e9"])),
])
def test_known_frames_decode_and_encode_back(frame: str, packet: Packet) -> None:
    assert decode(frame) == packet
    assert encode(packet) == frame


def test_event_and_ack_helpers() -> None:
    assert encode_event("echo", "x") == '42["echo","x"]'
    assert encode_event("echo", {"a": 1}, 2, namespace="/chat", ack_id=5) == \
        '42/chat,5["echo",{"a":1},2]'
    assert encode_ack(5, "x", namespace="/chat") == '43/chat,5["x"]'
    assert encode_ack(0) == "430[]"
    assert encode_connect() == "40"
    assert encode_connect("/chat", {"token": "t"}) == '40/chat,{"token":"t"}'
    assert encode_disconnect("/chat") == "41/chat,"
    packet = decode('42/chat,5["echo",{"a":1},2]')
    assert packet.event == "echo" and packet.args == [{"a": 1}, 2] and packet.name == "EVENT"
    assert decode('435["x","y"]').args == ["x", "y"]
    assert decode("40").args == [] and decode("40").event is None


@pytest.mark.parametrize(("args", "kwargs"), [
    (("echo", "text"), {}),
    (("echo", {"nested": [1, 2.5, None, True]}, "more"), {"namespace": "/chat"}),
    (("x",), {"ack_id": 123}),
    (("ev", "\u00fcn\u00efc\u00f8de \u2603"), {"namespace": "/a", "ack_id": 0}),
])
def test_events_match_python_socketio_encoder(args: tuple[Any, ...],
                                              kwargs: dict[str, Any]) -> None:
    from socketio import packet as sio_packet

    ref = sio_packet.Packet(sio_packet.EVENT, data=list(args),
                            namespace=kwargs.get("namespace"), id=kwargs.get("ack_id"))
    ours = encode_event(*args, **kwargs)
    if all(not isinstance(a, str) or a.isascii() for a in args):
        assert ours == "4" + ref.encode()  # the same text, byte for byte
    else:
        # non-ASCII text goes out unescaped, as JSON.stringify (socket.io's JS) sends it;
        # python-socketio escapes it: other bytes, the same JSON
        assert ours != "4" + ref.encode()
    back = sio_packet.Packet(encoded_packet=ours[1:])
    assert back.data == list(args)


def test_open_packet() -> None:
    info = decode_open('0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,'
                       '"pingTimeout":20000,"maxPayload":1000000}')
    assert info.sid == "lv_VI97HAXpY6yYWAAAC"
    assert (info.ping_interval, info.ping_timeout, info.max_payload) == (25.0, 20.0, 1000000)
    with pytest.raises(SocketIOProtocolError, match=r"Engine\.IO open packet"):
        decode_open("40")
    with pytest.raises(SocketIOProtocolError, match=r"invalid Engine\.IO open packet"):
        decode_open("0{not json")


@pytest.mark.parametrize(("frame", "match"), [
    ("2", "not an Engine.IO message"),
    ("1", "not an Engine.IO message"),
    ("3", "not an Engine.IO message"),
    ("", "not an Engine.IO message"),
    ('451-["upload",{"_placeholder":true,"num":0}]', "binary attachments"),
    ('461-/chat,3[{"_placeholder":true,"num":0}]', "binary attachments"),
    ("49", "unknown Socket.IO packet type"),
    ('42{"not":"a list"}', "without a JSON array"),
    ("42[1,2]", "without an event name"),
    ("43[", "invalid JSON"),
])
def test_bad_frames_are_named(frame: str, match: str) -> None:
    with pytest.raises(SocketIOProtocolError, match=match):
        decode(frame)


def test_binary_frames_and_packets_are_rejected_clearly() -> None:
    with pytest.raises(SocketIOProtocolError, match="binary attachments are not supported"):
        decode(b"\x01\x02")  # type: ignore[arg-type]
    with pytest.raises(SocketIOProtocolError, match="binary attachments are not supported"):
        encode(Packet(5, data=["upload"]))


@pytest.mark.parametrize("bad", ["", "chat", "/a,b", "/a b", None])
def test_bad_namespaces(bad: Any) -> None:
    with pytest.raises(ValueError, match="invalid namespace"):
        check_namespace(bad)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: encode_connect("/", ["not", "a", "dict"]), "invalid auth of type list"),
    (lambda: encode_event(""), "invalid event name"),
    (lambda: encode_event("x", ack_id=-1), "invalid ack id"),
    (lambda: encode_ack(True), "invalid ack id"),
])
def test_bad_arguments(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:5000", "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket"),
    ("https://example.test", "wss://example.test/socket.io/?EIO=4&transport=websocket"),
    ("ws://[::1]:81/", "ws://[::1]:81/socket.io/?EIO=4&transport=websocket"),
    ("http://h:1/custom/path", "ws://h:1/custom/path/?EIO=4&transport=websocket"),
    ("http://h:1/socket.io/?EIO=3&room=a",
     "ws://h:1/socket.io/?EIO=4&transport=websocket&room=a"),
])
def test_engineio_url(url: str, expected: str) -> None:
    assert engineio_url(url) == expected


@pytest.mark.parametrize("bad", ["127.0.0.1:5000", "ftp://h/", "http://", 5000])
def test_engineio_url_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"invalid Socket\.IO url"):
        engineio_url(bad)
