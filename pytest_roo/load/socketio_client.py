"""Socket.IO connections on the load engine's WebSocket client: the Engine.IO / Socket.IO
handshake (open packet, CONNECT with its auth payload, the server's CONNECT or CONNECT_ERROR),
a pool of 256 workers that connects a swarm, and the socket a user scenario talks through.

Engine.IO v4 servers ping and clients answer: every reader here answers ``2`` with ``3`` (a
client that does not is dropped by the server after ``pingInterval + pingTimeout``). Pings are
counted in ``counters["pings"]`` and never taken for an answer.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.executor import mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_codec import (
    ACK,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EIO_CLOSE,
    EIO_NOOP,
    EIO_PING,
    EIO_PONG,
    EVENT,
    OpenInfo,
    Packet,
    SocketIOProtocolError,
    check_namespace,
    decode,
    decode_open,
    encode_connect,
    encode_disconnect,
    encode_event,
)
from pytest_roo.load.ws_client import CLOSING, WsClient

__all__ = ["ConnectRefused", "SioChannel", "SioClient", "SioSocket", "classify_sio"]

#: events of one name buffered for ``wait_for`` before the oldest are dropped
_MAX_BUFFERED = 1000


class ConnectRefused(Exception):
    """The server answered CONNECT with CONNECT_ERROR; the message is the server's."""

    def __init__(self, namespace: str, message: str) -> None:
        super().__init__(f"CONNECT to {namespace} refused by the server: {message}")
        self.namespace = namespace
        self.message = message


def classify_sio(exc: BaseException) -> str:
    """Error kinds of the Socket.IO driver: ``connect_error`` (CONNECT_ERROR from the server),
    ``protocol`` (a frame that is not Socket.IO v5 / Engine.IO v4), else the engine's kinds."""
    if isinstance(exc, ConnectRefused):
        return "connect_error"
    if isinstance(exc, SocketIOProtocolError):
        return "protocol"
    return classify(exc)


def _connect_error_message(data: Any) -> str:
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])[:200]
    return repr(data)[:200]


async def sio_handshake(ws: Any, namespace: str, auth: Any) -> tuple[OpenInfo, str]:
    """Read the open packet, CONNECT to ``namespace`` with ``auth`` and wait for the server's
    CONNECT (returns the open info and the namespace's sid) or CONNECT_ERROR
    (:class:`ConnectRefused`). The caller bounds the wait."""
    import aiohttp

    TEXT = aiohttp.WSMsgType.TEXT
    msg = await ws.receive()
    if msg.type is not TEXT:
        raise ConnectionError(f"no Engine.IO open packet: the server sent {msg.type!r}")
    info = decode_open(msg.data)
    await ws.send_str(encode_connect(namespace, auth))
    for _ in range(100):
        msg = await ws.receive()
        if msg.type in CLOSING:
            raise ConnectionError("the server closed the socket during the CONNECT")
        if msg.type is not TEXT:
            continue
        data = msg.data
        if data == EIO_PING:
            await ws.send_str(EIO_PONG)
            continue
        if data == EIO_CLOSE:
            raise ConnectionError("the server closed the Engine.IO session during the CONNECT")
        packet = decode(data)
        if packet.namespace != namespace:
            continue
        if packet.type == CONNECT:
            sid = packet.data.get("sid", "") if isinstance(packet.data, dict) else ""
            return info, str(sid)
        if packet.type == CONNECT_ERROR:
            raise ConnectRefused(namespace, _connect_error_message(packet.data))
    raise SocketIOProtocolError(f"100 frames after CONNECT to {namespace}, none its answer")


class SioClient(WsClient):
    """Socket.IO connections (the base of :class:`~pytest_roo.load.socketio.SioSwarm`)."""

    async def _sio_connect(self, rec: Recorder, http: Any, url: str, timeout: float,
                           namespace: str, auth: Any, count_error: bool = True) -> Any:
        """One client: WebSocket handshake, open packet, CONNECT answered; timed as
        ``connect`` (``ws_handshake`` times the WebSocket part alone). A failure is counted
        as an error of its kind when ``count_error`` and raised."""
        t0 = time.perf_counter_ns()
        ws = await self._connect(rec, http, url, timeout, metric="ws_handshake",
                                 count_error=count_error)
        try:
            await asyncio.wait_for(sio_handshake(ws, namespace, auth), timeout)
        except Exception as exc:
            if count_error:
                kind = classify_sio(exc)
                rec.error(kind, detail=f"connect {namespace}: {exc!r}")
            try:
                await asyncio.wait_for(ws.close(), 1.0)
            except Exception:
                pass
            raise mark_counted(exc) from None
        rec.batch("connect").append((time.perf_counter_ns() - t0) // 1000)
        return ws

    async def _sio_connect_all(self, rec: Recorder, http: Any, url: str, n: int,
                               timeout: float, namespace: str, auth: Any,
                               join: str | None = None, join_event: str = "join",
                               ) -> tuple[list[Any], list[str]]:
        """``n`` clients (None where one failed) and per client the kind of its failure ("":
        connected); with ``join`` each one also emits ``<join_event>(join)`` and waits for its ack,
        so the room holds every client before the run starts. Failures are not counted as
        errors here: each scenario counts a failed client as its share of the operations."""
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        conns: list[Any] = [None] * n
        kinds = [""] * n
        todo = iter(range(n))
        examples: dict[str, str] = {}
        prefix = "43" + ("" if namespace == "/" else namespace + ",") + "0"

        async def joined(ws: Any) -> None:
            assert join is not None
            await ws.send_str(encode_event(join_event, join, namespace=namespace, ack_id=0))
            while True:
                msg = await ws.receive()
                if msg.type in CLOSING:
                    raise ConnectionError("the server closed the socket before the join ack")
                if msg.type is TEXT:
                    if msg.data.startswith(prefix) and not msg.data[len(prefix):][:1].isdigit():
                        return
                    if msg.data == EIO_PING:
                        await ws.send_str(EIO_PONG)

        async def worker() -> None:
            # 256 handshakes at a time (as WsClient._connect_all, for the same reason)
            for i in todo:
                if rec.stopping:
                    kinds[i] = "other"
                    continue
                ws = None
                try:
                    ws = await self._sio_connect(rec, http, url, timeout, namespace, auth,
                                                 count_error=False)
                    if join is not None:
                        await asyncio.wait_for(joined(ws), timeout)
                    conns[i] = ws
                except Exception as exc:
                    kinds[i] = classify_sio(exc)
                    examples.setdefault(kinds[i], f"connect {namespace}: {exc!r}")
                    if ws is not None:
                        try:
                            await asyncio.wait_for(ws.close(), 1.0)
                        except Exception:
                            pass

        await asyncio.gather(*(worker() for _ in range(min(n, 256))))
        failed = sum(1 for c in conns if c is None)
        rec.count("connections", n - failed)
        rec.count("clients_connected", n - failed)
        if failed:
            rec.count("connect_failed", failed)
            first = next(iter(examples.values()), "")
            rec.result.info.setdefault("connect_error", first[:200])
            # the scenario counts the errors; the examples say what they were (a
            # CONNECT_ERROR's example carries the server's message)
            known = rec.result.info.setdefault("error_examples", {})
            for kind, example in examples.items():
                known.setdefault(kind, example[:200])
        return conns, kinds

    async def _sio_close_all(self, rec: Recorder, conns: Sequence[Any], namespace: str) -> None:
        """DISCONNECT from the namespace (a best effort), then the WebSocket close handshakes."""
        frame = encode_disconnect(namespace)

        async def bye(ws: Any) -> None:
            try:
                await asyncio.wait_for(ws.send_str(frame), 0.2)
            except Exception:
                pass

        live = [ws for ws in conns if ws is not None and not ws.closed]
        if rec.failure is None:
            for start in range(0, len(live), 256):
                await asyncio.gather(*(bye(ws) for ws in live[start:start + 256]))
        await self._close_all(rec, conns)


class SioChannel:
    """One namespace on a Socket.IO connection: ``emit``, ``call`` (emit with ack) and
    ``wait_for(event)``. Events that arrive before a ``wait_for`` are kept (up to 1000 per
    name) and handed out in order."""

    def __init__(self, socket: SioSocket, namespace: str, sid: str) -> None:
        self.socket = socket
        self.namespace = namespace
        self.sid = sid
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._events: dict[str, deque[list[Any]]] = {}
        self._waiters: dict[str, deque[asyncio.Future[list[Any]]]] = {}
        self._closed: BaseException | None = None

    def _deliver(self, event: str, args: list[Any]) -> None:
        waiters = self._waiters.get(event)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(args)
                return
        queue = self._events.setdefault(event, deque(maxlen=_MAX_BUFFERED))
        queue.append(args)

    def _ack(self, ack_id: int, args: list[Any]) -> bool:
        fut = self._acks.pop(ack_id, None)
        if fut is None or fut.done():
            return False
        fut.set_result(args)
        return True

    def _fail(self, exc: BaseException) -> None:
        if self._closed is None:
            self._closed = exc
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(ConnectionError(str(exc)))
        self._acks.clear()
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(ConnectionError(str(exc)))
        self._waiters.clear()

    def _check_open(self) -> None:
        if self._closed is not None:
            raise ConnectionError(f"the Socket.IO namespace {self.namespace} is gone: "
                                  f"{self._closed}")

    async def emit(self, event: str, *args: Any) -> None:
        """Send EVENT ``event(*args)`` without asking for an ack."""
        self._check_open()
        await self.socket.ws.send_str(encode_event(event, *args, namespace=self.namespace))

    async def call(self, event: str, *args: Any, timeout: float | None = None) -> list[Any]:
        """Send EVENT ``event(*args)`` asking for an ack and return the ack's arguments (a
        list). No ack within ``timeout`` (default: the run's) raises TimeoutError."""
        self._check_open()
        ack_id = self.socket._new_id()
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        try:
            await self.socket.ws.send_str(encode_event(event, *args, namespace=self.namespace,
                                                       ack_id=ack_id))
            return await asyncio.wait_for(fut, timeout or self.socket.timeout)
        finally:
            self._acks.pop(ack_id, None)

    async def wait_for(self, event: str, timeout: float | None = None) -> list[Any]:
        """The arguments of the next ``event`` from the server (one that arrived earlier and
        was not waited for yet comes first). None within ``timeout`` raises TimeoutError."""
        queue = self._events.get(event)
        if queue:
            return queue.popleft()
        self._check_open()
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event, deque()).append(fut)
        return await asyncio.wait_for(fut, timeout or self.socket.timeout)


class SioSocket:
    """One Socket.IO connection of a user scenario, with its first namespace's
    :class:`SioChannel` as ``channel`` and more namespaces multiplexed on it by :meth:`of`.
    A reader task answers pings and hands acks, events and CONNECT answers to the channels."""

    def __init__(self, ws: Any, namespace: str, sid: str, timeout: float,
                 rec: Recorder) -> None:
        self.ws = ws
        self.timeout = timeout
        self._rec = rec
        self._next_id = 1
        self.channel = SioChannel(self, check_namespace(namespace), sid)
        self._channels: dict[str, SioChannel] = {namespace: self.channel}
        self._connecting: dict[str, asyncio.Future[SioChannel]] = {}
        self._reader = asyncio.ensure_future(self._read())

    def _new_id(self) -> int:
        ack_id = self._next_id
        self._next_id += 1
        return ack_id

    @classmethod
    async def connect(cls, client: SioClient, rec: Recorder, http: Any, url: str,
                      namespace: str, auth: Any, timeout: float) -> SioSocket:
        """A connected socket (the handshake timed as ``connect``, failures counted)."""
        t0 = time.perf_counter_ns()
        ws = await client._connect(rec, http, url, timeout, metric="ws_handshake")
        try:
            _, sid = await asyncio.wait_for(sio_handshake(ws, namespace, auth), timeout)
        except Exception as exc:
            rec.error(classify_sio(exc), detail=f"connect {namespace}: {exc!r}")
            try:
                await asyncio.wait_for(ws.close(), 1.0)
            except Exception:
                pass
            raise mark_counted(exc) from None
        rec.batch("connect").append((time.perf_counter_ns() - t0) // 1000)
        return cls(ws, namespace, sid, timeout, rec)

    async def of(self, namespace: str, auth: Any = None,
                 timeout: float | None = None) -> SioChannel:
        """The channel of ``namespace`` on this connection, CONNECTed with ``auth`` on first
        use (timed as ``connect_namespace``). CONNECT_ERROR raises :class:`ConnectRefused`
        (kind ``connect_error``)."""
        check_namespace(namespace)
        known = self._channels.get(namespace)
        if known is not None and known._closed is None:
            return known
        pending = self._connecting.get(namespace)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            # a refusal that arrives after the caller gave up is not "never retrieved"
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._connecting[namespace] = pending
            t0 = time.perf_counter_ns()
            await self.ws.send_str(encode_connect(namespace, auth))
            try:
                channel = await asyncio.wait_for(asyncio.shield(pending),
                                                 timeout or self.timeout)
            finally:
                self._connecting.pop(namespace, None)
            self._rec.batch("connect_namespace").append((time.perf_counter_ns() - t0) // 1000)
            return channel
        return await asyncio.wait_for(asyncio.shield(pending), timeout or self.timeout)

    async def _read(self) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        ws = self.ws
        rec = self._rec
        try:
            while True:
                msg = await ws.receive()
                if msg.type in CLOSING:
                    raise ConnectionError("the server closed the socket")
                if msg.type is not TEXT:
                    rec.count("unexpected")
                    continue
                data = msg.data
                if data == EIO_PING:
                    rec.count("pings")
                    await ws.send_str(EIO_PONG)
                    continue
                if data == EIO_CLOSE:
                    raise ConnectionError("the server closed the Engine.IO session")
                if data == EIO_NOOP:
                    continue
                try:
                    packet = decode(data)
                except SocketIOProtocolError as exc:
                    rec.count("unexpected")
                    rec.result.info.setdefault("first_unexpected", str(exc)[:200])
                    continue
                self._dispatch(packet)
        except asyncio.CancelledError:
            self._fail(ConnectionError("the socket was closed"))
            raise
        except Exception as exc:
            self._fail(exc)

    def _dispatch(self, packet: Packet) -> None:
        rec = self._rec
        namespace = packet.namespace
        if packet.type in (CONNECT, CONNECT_ERROR):
            pending = self._connecting.get(namespace)
            if pending is None or pending.done():
                rec.count("unexpected")
            elif packet.type == CONNECT:
                sid = packet.data.get("sid", "") if isinstance(packet.data, dict) else ""
                joined = SioChannel(self, namespace, str(sid))
                self._channels[namespace] = joined
                pending.set_result(joined)
            else:
                pending.set_exception(
                    ConnectRefused(namespace, _connect_error_message(packet.data)))
            return
        channel = self._channels.get(namespace)
        if channel is None:
            rec.count("unexpected")
        elif packet.type == ACK and packet.id is not None:
            if not channel._ack(packet.id, packet.args):
                rec.count("unexpected")  # a late or unknown ack
        elif packet.type == EVENT and packet.event is not None:
            channel._deliver(packet.event, packet.args)
        elif packet.type == DISCONNECT:
            channel._fail(ConnectionError(f"the server disconnected {namespace}"))
        else:
            rec.count("unexpected")

    def _fail(self, exc: BaseException) -> None:
        for channel in self._channels.values():
            channel._fail(exc)
        for pending in self._connecting.values():
            if not pending.done():
                pending.set_exception(ConnectionError(str(exc)))

    async def close(self) -> None:
        """Leave every open namespace (DISCONNECT), close the WebSocket and stop the reader, each
        step bounded to a second or less; errors while closing are ignored."""
        if not self.ws.closed:
            try:
                for namespace, channel in self._channels.items():
                    if channel._closed is None:
                        await asyncio.wait_for(
                            self.ws.send_str(encode_disconnect(namespace)), 0.5)
                await asyncio.wait_for(self.ws.close(), 1.0)
            except Exception:
                pass
        self._reader.cancel()
        await asyncio.wait({self._reader}, timeout=1.0)
