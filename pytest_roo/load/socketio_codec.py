"""Socket.IO protocol v5 over Engine.IO v4 (what JS socket.io 3.x / 4.x speaks), as text frames
on one WebSocket: pure encoding and decoding, no I/O.

An Engine.IO frame is one digit (its type) and a payload: ``0{"sid":...}`` open (the server's
first frame), ``1`` close, ``2`` ping (sent by the server in v4), ``3`` pong (the client's
answer), ``4<socket.io packet>`` message, ``6`` noop. A Socket.IO packet is a digit (its type),
the namespace when it is not ``/`` (``/chat,``), an ack id, then JSON:

* ``40`` / ``40/chat,{"token":"..."}`` CONNECT (mandatory, also for ``/``; the auth payload is
  its JSON); the server answers ``40{"sid":"..."}`` or ``44{"message":"..."}`` CONNECT_ERROR;
* ``41`` DISCONNECT; ``42["event",arg,...]`` EVENT, ``4212["event",...]`` an EVENT asking for
  ack 12; ``4312[result,...]`` ACK 12;
* ``45`` / ``46`` BINARY_EVENT / BINARY_ACK: binary attachments travel as separate binary
  frames. The load driver speaks text only: they are rejected with :class:`SocketIOProtocolError`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EIO_CLOSE",
    "EIO_MESSAGE",
    "EIO_NOOP",
    "EIO_OPEN",
    "EIO_PING",
    "EIO_PONG",
    "EVENT",
    "OpenInfo",
    "Packet",
    "SocketIOProtocolError",
    "check_namespace",
    "decode",
    "decode_open",
    "encode",
    "encode_ack",
    "encode_connect",
    "encode_disconnect",
    "encode_event",
    "engineio_url",
    "namespace_prefix",
]

# Engine.IO v4 packet types (the first character of every frame)
EIO_OPEN = "0"
EIO_CLOSE = "1"
EIO_PING = "2"
EIO_PONG = "3"
EIO_MESSAGE = "4"
EIO_UPGRADE = "5"
EIO_NOOP = "6"

# Socket.IO v5 packet types (the character after the Engine.IO message type)
CONNECT = 0
DISCONNECT = 1
EVENT = 2
ACK = 3
CONNECT_ERROR = 4
BINARY_EVENT = 5
BINARY_ACK = 6

_NAMES = {CONNECT: "CONNECT", DISCONNECT: "DISCONNECT", EVENT: "EVENT", ACK: "ACK",
          CONNECT_ERROR: "CONNECT_ERROR", BINARY_EVENT: "BINARY_EVENT",
          BINARY_ACK: "BINARY_ACK"}

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SocketIOProtocolError(ValueError):
    """A frame that is not Engine.IO v4 / Socket.IO v5 as this codec speaks it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Packet:
    """A decoded Socket.IO packet: ``type`` (CONNECT .. BINARY_ACK), ``namespace`` (``/`` when
    the frame names none), ``id`` (the ack id, or None) and ``data`` (the decoded JSON, or None
    when the packet has none)."""

    type: int
    namespace: str = "/"
    id: int | None = None
    data: Any = None

    @property
    def name(self) -> str:
        """The packet type's name (``CONNECT``, ``EVENT``...), or its number when it has none."""
        return _NAMES.get(self.type, str(self.type))

    @property
    def event(self) -> str | None:
        """An EVENT's name (its first argument), else None."""
        if self.type == EVENT and isinstance(self.data, list) and self.data \
                and isinstance(self.data[0], str):
            return self.data[0]
        return None

    @property
    def args(self) -> list[Any]:
        """An EVENT's arguments after its name, an ACK's results; [] otherwise."""
        if not isinstance(self.data, list):
            return []
        return self.data[1:] if self.type == EVENT else list(self.data)


@dataclasses.dataclass(frozen=True, slots=True)
class OpenInfo:
    """The Engine.IO open packet: session id, the server's ping interval and timeout
    (seconds), the largest payload it accepts (bytes) and its upgrades."""

    sid: str
    ping_interval: float
    ping_timeout: float
    max_payload: int
    upgrades: tuple[str, ...] = ()


def check_namespace(namespace: str) -> str:
    """``namespace`` when it is one (``/`` or ``/name``), else a clear ValueError."""
    if not isinstance(namespace, str) or not namespace.startswith("/") or "," in namespace \
            or any(c.isspace() for c in namespace):
        raise ValueError(f"invalid namespace={namespace!r}: expected '/' or '/name' (a "
                         "leading slash, no comma, no spaces)")
    return namespace


def namespace_prefix(namespace: str) -> str:
    """What stands between the packet type and the ack id: ``""`` for ``/``, else ``/ns,``."""
    return "" if namespace == "/" else namespace + ","


def encode_connect(namespace: str = "/", auth: Any = None) -> str:
    """The Engine.IO frame of a CONNECT to ``namespace`` with the ``auth`` payload (a JSON
    object, or None for none)."""
    check_namespace(namespace)
    if auth is not None and not isinstance(auth, dict):
        raise ValueError(f"invalid auth of type {type(auth).__name__}: expected a dict (a JSON "
                         "object such as {'token': '...'}) or None")
    body = "" if auth is None else _dumps(auth)
    return f"40{namespace_prefix(namespace)}{body}"


def encode_disconnect(namespace: str = "/") -> str:
    """The frame of a DISCONNECT from ``namespace``; ValueError for an invalid namespace."""
    return f"41{namespace_prefix(check_namespace(namespace))}"


def encode_event(event: str, *args: Any, namespace: str = "/", ack_id: int | None = None) -> str:
    """The frame of EVENT ``event(*args)``, asking for an ack when ``ack_id`` is given."""
    if not isinstance(event, str) or not event:
        raise ValueError(f"invalid event name {event!r}: expected a non-empty string")
    _check_id(ack_id)
    ident = "" if ack_id is None else str(ack_id)
    return f"42{namespace_prefix(namespace)}{ident}{_dumps([event, *args])}"


def encode_ack(ack_id: int, *args: Any, namespace: str = "/") -> str:
    """The frame of ACK ``ack_id`` with results ``args``."""
    _check_id(ack_id)
    return f"43{namespace_prefix(namespace)}{ack_id}{_dumps(list(args))}"


def encode(packet: Packet) -> str:
    """The Engine.IO message frame of ``packet`` (text packets only)."""
    if packet.type in (BINARY_EVENT, BINARY_ACK):
        raise SocketIOProtocolError("binary attachments are not supported by this client: send "
                                    "text or base64 instead of bytes")
    if packet.type not in _NAMES:
        raise SocketIOProtocolError(f"invalid packet type {packet.type!r}: expected 0 .. 4")
    _check_id(packet.id)
    ident = "" if packet.id is None else str(packet.id)
    body = "" if packet.data is None else _dumps(packet.data)
    return f"4{packet.type}{namespace_prefix(packet.namespace)}{ident}{body}"


def _check_id(ack_id: int | None) -> None:
    if ack_id is not None and (isinstance(ack_id, bool) or not isinstance(ack_id, int)
                               or ack_id < 0):
        raise ValueError(f"invalid ack id {ack_id!r}: expected a whole number >= 0")


def decode(frame: str) -> Packet:
    """The Socket.IO packet in an Engine.IO message frame (``4...``). Other Engine.IO frames
    (ping, close...) and binary packets raise :class:`SocketIOProtocolError` naming them."""
    if not isinstance(frame, str):
        raise SocketIOProtocolError(f"binary frame of {len(frame)} bytes: binary attachments "
                                    "are not supported by this client")
    if len(frame) < 2 or frame[0] != EIO_MESSAGE:
        raise SocketIOProtocolError(f"not an Engine.IO message frame: {frame[:40]!r}")
    kind = frame[1]
    if not "0" <= kind <= "6":
        raise SocketIOProtocolError(f"unknown Socket.IO packet type {kind!r} in {frame[:40]!r}")
    ptype = ord(kind) - 48
    if ptype in (BINARY_EVENT, BINARY_ACK):
        raise SocketIOProtocolError(
            f"{_NAMES[ptype]} with binary attachments ({frame[:40]!r}): not supported by "
            "this client; have the server send text or base64")
    i = 2
    n = len(frame)
    namespace = "/"
    if i < n and frame[i] == "/":
        comma = frame.find(",", i)
        if comma < 0:
            namespace = frame[i:]
            i = n
        else:
            namespace = frame[i:comma]
            i = comma + 1
    start = i
    while i < n and frame[i].isdigit():
        i += 1
    ack_id = int(frame[start:i]) if i > start else None
    data: Any = None
    if i < n:
        try:
            data = json.loads(frame[i:])
        except ValueError:
            raise SocketIOProtocolError(
                f"invalid JSON in {_NAMES[ptype]} packet: {frame[:60]!r}") from None
    if ptype in (EVENT, ACK) and not isinstance(data, list):
        raise SocketIOProtocolError(f"{_NAMES[ptype]} packet without a JSON array: "
                                    f"{frame[:60]!r}")
    if ptype == EVENT and (not data or not isinstance(data[0], str)):
        raise SocketIOProtocolError(f"EVENT packet without an event name: {frame[:60]!r}")
    return Packet(ptype, namespace, ack_id, data)


def decode_open(frame: str) -> OpenInfo:
    """The Engine.IO open packet (``0{"sid":...,"pingInterval":25000,...}``)."""
    if not isinstance(frame, str) or not frame.startswith(EIO_OPEN):
        raise SocketIOProtocolError(
            f"expected the Engine.IO open packet ('0{{\"sid\":...}}'), got {str(frame)[:60]!r}: "
            "is this a Socket.IO server speaking Engine.IO v4 (socket.io 3.x / 4.x)?")
    try:
        info = json.loads(frame[1:])
        return OpenInfo(
            sid=str(info["sid"]),
            ping_interval=float(info.get("pingInterval", 25000)) / 1000.0,
            ping_timeout=float(info.get("pingTimeout", 20000)) / 1000.0,
            max_payload=int(info.get("maxPayload", 1_000_000)),
            upgrades=tuple(info.get("upgrades", ())),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SocketIOProtocolError(f"invalid Engine.IO open packet: {frame[:80]!r}") from None


def engineio_url(url: str, path: str = "/socket.io/") -> str:
    """The WebSocket URL of the Engine.IO endpoint of a server: ``http://host:port`` (or
    ``ws://``, ``https://``, ``wss://``) plus ``path`` and ``?EIO=4&transport=websocket``. A
    URL that already names a path other than ``/`` keeps it; its query is kept too."""
    if not isinstance(url, str):
        raise ValueError(f"invalid Socket.IO url {url!r}: expected http://host:port or ws://...")
    parts = urlsplit(url)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"invalid Socket.IO url {url!r}: expected http://host:port, "
                         "https://..., ws://host:port or wss://...")
    where = parts.path if parts.path not in ("", "/") else path
    if not where.startswith("/"):
        where = "/" + where
    if not where.endswith("/"):
        where += "/"
    query = "EIO=4&transport=websocket"
    extra = "&".join(q for q in parts.query.split("&")
                     if q and not q.startswith(("EIO=", "transport=")))
    if extra:
        query += "&" + extra
    return urlunsplit((schemes[parts.scheme], parts.netloc, where, query, ""))
