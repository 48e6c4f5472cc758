"""The Socket.IO connection of a user scenario (``sio_swarm.run``): a reader task that answers
pings and hands acks, events and CONNECT answers to the channels, one :class:`SioChannel` per
namespace multiplexed on the connection (``emit``, ``call`` with an ack, ``wait_for``, ``on``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pytest_roo.load.executor import mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_client import (
    ConnectRefused,
    SioClient,
    classify_sio,
    connect_error_message,
    sio_handshake,
)
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
    Packet,
    SocketIOProtocolError,
    check_namespace,
    decode,
    encode_connect,
    encode_disconnect,
    encode_event,
)
from pytest_roo.load.ws_client import CLOSING

__all__ = ["SioChannel", "SioSocket"]

#: events of one name buffered for ``wait_for`` before the oldest are dropped
_MAX_BUFFERED = 1000


class SioChannel:
    """One namespace on a Socket.IO connection: ``emit``, ``call`` (emit with ack),
    ``wait_for(event)`` and ``on(event, handler)``. Events that arrive before a ``wait_for``
    are kept (up to 1000 per name) and handed out in order; events with a handler go to it."""

    def __init__(self, socket: SioSocket, namespace: str, sid: str) -> None:
        self.socket = socket
        self.namespace = namespace
        self.sid = sid
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._events: dict[str, deque[list[Any]]] = {}
        self._waiters: dict[str, deque[asyncio.Future[list[Any]]]] = {}
        self._closed: BaseException | None = None
        self._handlers: dict[str, Callable[[list[Any]], Any]] = {}

    def on(self, event: str, handler: Callable[[list[Any]], Any] | None) -> None:
        """Call ``handler(args)`` for every ``event`` from now on, the moment it is read (so
        a handler can time arrivals), instead of keeping it for ``wait_for``; None removes
        the handler. An exception in the handler counts as an error of its kind."""
        if handler is None:
            self._handlers.pop(event, None)
        else:
            self._handlers[event] = handler

    def _deliver(self, event: str, args: list[Any]) -> None:
        handler = self._handlers.get(event)
        if handler is not None:
            try:
                handler(args)
            except Exception as exc:
                self.socket._rec.error(classify_sio(exc),
                                       detail=f"handler of {event!r}: {exc!r}")
            return
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
                    ConnectRefused(namespace, connect_error_message(packet.data)))
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
