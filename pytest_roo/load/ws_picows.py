"""WebSocket connections on picows (Cython frame parser and writer) behind the small part of
aiohttp's ``ClientWebSocketResponse`` the scenarios use: ``send_str``, ``send_bytes``,
``receive``, ``close``, ``closed``; messages are aiohttp's ``WSMessage`` with aiohttp's
``WSMsgType``, so the echo, fan-out and Socket.IO runs read them unchanged.

Why: aiohttp's frame writer and reader cost most of the client's CPU in an echo swarm;
picows writes a masked frame and parses one in C. The semantics kept from aiohttp:
client frames are masked, fragmented messages are reassembled before they are handed out,
pings are answered (and never seen as data), pongs are swallowed, a close frame is answered
and handed out as ``CLOSE`` (then ``CLOSED``), a text frame that is not UTF-8 is an
``ERROR`` message, redirects are followed (picows: up to 5), and the handshake checks the
status, the Upgrade/Connection headers and ``Sec-WebSocket-Accept`` (a wrong one is a
``protocol`` error, as with aiohttp).

Chosen by :func:`pytest_roo.load.ws_client.ws_driver` (``WsSwarm(driver="picows")``, the
default where picows imports, or ``ROO_WS_DRIVER``).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from pytest_roo.redact import mask_secrets, mask_url

__all__ = ["PicowsWebSocket", "available", "connect", "picows_failure"]


def available() -> bool:
    """True when picows imports."""
    try:
        import picows  # noqa: F401
    except ImportError:
        return False
    return True


def _listener_class() -> type:
    """The listener class, made on first use so that picows is imported only when chosen."""
    global _LISTENER
    if _LISTENER is not None:
        return _LISTENER
    import aiohttp
    import picows

    P = picows.WSMsgType
    P_TEXT, P_BINARY, P_CONT, P_CLOSE = P.TEXT, P.BINARY, P.CONTINUATION, P.CLOSE
    A = aiohttp.WSMsgType
    A_TEXT, A_BINARY = A.TEXT, A.BINARY
    Message = aiohttp.WSMessage
    new = tuple.__new__  # WSMessage is a NamedTuple: skip its Python-level __new__
    CLOSED = Message(A.CLOSED, None, None)
    OK = picows.WSCloseCode.OK

    class Listener(picows.WSListener):
        """One connection: frames go to the task waiting in :meth:`receive`, or to a queue."""

        def __init__(self) -> None:
            super().__init__()
            self.transport: Any = None
            self._loop = asyncio.get_running_loop()
            # frames that came while nobody waited (rare in a load run: made when needed,
            # an empty deque costs 600 bytes per idle connection)
            self._queue: deque[Any] | None = None
            self._waiter: asyncio.Future[Any] | None = None
            self._parts: list[bytes] = []
            self._part_type: Any = None
            self._closing = False
            self._done = False
            self._paused: asyncio.Future[None] | None = None
            # what a send that did not have to wait returns: one finished future of this loop,
            # awaited by every such send (awaiting a finished future returns at once)
            sent = _SENT[0]
            if sent is None or sent.get_loop() is not self._loop:
                sent = _SENT[0] = self._loop.create_future()
                sent.set_result(None)
            self._sent: asyncio.Future[None] = sent
            self.close_code: int | None = None

        # -- picows callbacks --

        def on_ws_connected(self, transport: Any) -> None:
            self.transport = transport

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            t = frame.msg_type
            if t is P_TEXT and frame.fin:
                # the hot path: one frame, one message, straight to the waiting reader
                try:
                    msg = new(Message, (A_TEXT, frame.get_payload_as_utf8_text(), None))
                except UnicodeDecodeError as exc:
                    msg = self._protocol_error(f"a text frame that is not UTF-8: {exc}")
                waiter = self._waiter
                if waiter is not None and not self._queue:
                    self._waiter = None
                    if not waiter.done():
                        waiter.set_result(msg)
                        return
                self._enqueue(msg)
                return
            elif t is P_BINARY and frame.fin:
                msg = Message(A_BINARY, frame.get_payload_as_bytes(), None)
            elif t is P_TEXT or t is P_BINARY:
                if self._part_type is not None:
                    msg = self._protocol_error("a new message began inside a fragmented one")
                else:
                    self._part_type = t
                    self._parts = [frame.get_payload_as_bytes()]
                    return
            elif t is P_CONT:
                if self._part_type is None:
                    msg = self._protocol_error("a continuation frame with no message begun")
                else:
                    self._parts.append(frame.get_payload_as_bytes())
                    if not frame.fin:
                        return
                    data = b"".join(self._parts)
                    kind, self._part_type, self._parts = self._part_type, None, []
                    if kind is P_BINARY:
                        msg = Message(A_BINARY, data, None)
                    else:
                        try:
                            msg = Message(A_TEXT, data.decode("utf-8"), None)
                        except UnicodeDecodeError as exc:
                            msg = self._protocol_error(f"a text message that is not UTF-8: {exc}")
            elif t is P_CLOSE:
                code = frame.get_close_code()
                self.close_code = getattr(code, "value", code)
                msg = Message(A.CLOSE, self.close_code, frame.get_close_reason() or None)
                if not self._closing:
                    self._closing = True
                    transport.send_close(code if code != picows.WSCloseCode.NO_INFO else OK)
                transport.disconnect()
            else:
                return  # pings are answered by picows, pongs need nothing
            self._deliver(msg)

        def on_ws_disconnected(self, transport: Any) -> None:
            self._closing = True
            self._done = True
            self._deliver(CLOSED)
            paused = self._paused
            if paused is not None and not paused.done():
                paused.set_result(None)

        def pause_writing(self) -> None:
            if self._paused is None:
                self._paused = self._loop.create_future()

        def resume_writing(self) -> None:
            paused, self._paused = self._paused, None
            if paused is not None and not paused.done():
                paused.set_result(None)

        # -- what the scenarios call (aiohttp's names) --

        def _deliver(self, msg: Any) -> None:
            waiter = self._waiter
            if waiter is not None and not waiter.done() and not self._queue:
                self._waiter = None
                waiter.set_result(msg)
            else:
                self._enqueue(msg)

        def _enqueue(self, msg: Any) -> None:
            if self._queue is None:
                self._queue = deque()
            self._queue.append(msg)

        def _protocol_error(self, words: str) -> Any:
            from aiohttp import WebSocketError

            self._closing = True
            if self.transport is not None:
                self.transport.send_close(picows.WSCloseCode.PROTOCOL_ERROR)
                self.transport.disconnect()
            return Message(A.ERROR, WebSocketError(1002, words), None)

        @property
        def closed(self) -> bool:
            return self._closing

        def receive(self, timeout: float | None = None) -> Any:
            """An awaitable of the next message (aiohttp's ``receive``). A plain function
            returning a future, not a coroutine: one frame object less per message."""
            waiter = self._loop.create_future()
            queue = self._queue
            if queue:
                msg = queue.popleft()
                if msg is CLOSED:
                    queue.append(CLOSED)  # closed stays closed
                waiter.set_result(msg)
                return waiter
            self._waiter = waiter
            if timeout is None:
                return waiter
            return asyncio.wait_for(waiter, timeout)

        def send_str(self, data: str) -> Any:
            """Send a text frame; an awaitable that waits only while the socket buffer is full
            (as aiohttp's drain does)."""
            if self._closing:
                raise ConnectionResetError("Cannot write to closing transport")
            self.transport.send(P_TEXT, data)
            return self._sent if self._paused is None else asyncio.shield(self._paused)

        def send_bytes(self, data: bytes) -> Any:
            """Send a binary frame (see :meth:`send_str`)."""
            if self._closing:
                raise ConnectionResetError("Cannot write to closing transport")
            self.transport.send(P_BINARY, data)
            return self._sent if self._paused is None else asyncio.shield(self._paused)

        async def ping(self, message: bytes = b"") -> None:
            self.transport.send_ping(message)

        async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
            """The close handshake: a close frame, the server's answer (or the end of the
            connection), then the TCP connection closed."""
            if self._done:
                return False
            if not self._closing:
                self._closing = True
                self.transport.send_close(picows.WSCloseCode(code), message or None)
            self.transport.disconnect(graceful=True)
            await self.transport.wait_disconnected()
            return True

        def abort(self) -> None:
            """Drop the connection without the close handshake (what a closing client session
            does to aiohttp's connections)."""
            if not self._done and self.transport is not None:
                self._closing = True
                self.transport.disconnect(graceful=False)

        def exception(self) -> BaseException | None:
            return None

    _LISTENER = Listener
    return Listener


_LISTENER: type | None = None
#: the finished future sends return (one per event loop; see Listener.__init__)
_SENT: list[asyncio.Future[None] | None] = [None]

#: the aiohttp-like connection the scenarios get (a picows listener)
PicowsWebSocket = Any


#: Runs of up to this many connections use aiofastnet's transport (where it imports): it cost
#: less client CPU per echo than uvloop's in interleaved runs, but about 5 KB more per
#: connection (12.9 against 17.9 KB per idle connection at 10,000), so larger runs use uvloop's.
FASTNET_MAX = 1000


async def connect(url: str, timeout: float, connected: list[bool], many: bool = False) -> Any:
    """One WebSocket connection to ``url`` within ``timeout`` seconds; ``connected[0]`` turns
    True once the TCP connection is up (so a timeout can say which wait it was). ``many``: the
    run makes more than :data:`FASTNET_MAX` connections (memory before CPU). Raises what
    :func:`picows_failure` puts in words."""
    import picows

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "wss" else 80)

    async def tcp(_: Any) -> socket.socket:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _name, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address),
                                   max(0.001, deadline - loop.time()))
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connected[0] = True
        return sock

    # picows times the handshake itself and closes the connection when it runs out, so no
    # outer cancellation can leave a half-open transport behind.
    result: tuple[Any, Any] = await picows.ws_connect(
        _listener_class(), url, socket_factory=tcp,
        websocket_handshake_timeout=timeout, enable_auto_pong=True,
        max_frame_size=1 << 30, read_buffer_init_size=512,
        use_aiofastnet=False if many else None,  # None: aiofastnet where it imports
    )
    transport, listener = result
    if listener is None:  # the connection was lost before the upgrade's answer
        transport.disconnect(graceful=False)
        raise ConnectionError("the server closed the connection during the WebSocket upgrade")
    listener.transport = transport
    return listener


def picows_failure(exc: BaseException, url: str, timeout: float,
                   connected: bool | None) -> tuple[str, str]:
    """``(kind, detail)`` of a failed picows handshake, in the words of
    :func:`pytest_roo.load.ws_client.handshake_failure` (never the request's headers)."""
    import picows

    from pytest_roo.load.errors import classify
    from pytest_roo.load.ws_client import _first_bytes

    where = f"connect {mask_url(url)}"
    if isinstance(exc, picows.WSInvalidStatusError) and exc.response is not None:
        status = int(exc.response.status)
        kind = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "protocol"
        return kind, (f"{where}: the server answered HTTP {status} to the WebSocket upgrade "
                      f"(expected 101 Switching Protocols)")
    if isinstance(exc, picows.WSInvalidHeaderError):
        name = str(exc.name).lower()
        what = {"sec-websocket-accept": "a wrong Sec-WebSocket-Accept",
                "upgrade": "a wrong or missing Upgrade header",
                "connection": "a wrong or missing Connection header",
                }.get(name, f"a wrong {mask_secrets(exc.name)} header")
        return "protocol", f"{where}: the server answered 101 Switching Protocols with {what}"
    if isinstance(exc, picows.WSHandshakeError):
        raw = exc.raw_header or b""
        if not raw.startswith(b"HTTP/"):
            return "protocol", (f"{where}: the answer to the WebSocket upgrade is not HTTP; "
                                f"it began with {_first_bytes(repr(raw))}")
        return "protocol", (f"{where}: the answer to the WebSocket upgrade is not valid HTTP: "
                            f"{mask_secrets(str(exc).splitlines()[0][:80])}")
    kind = classify(exc)
    if kind == "refused":
        return kind, f"{where}: connection refused (nothing listens there)"
    if kind == "timeout":
        if connected is False:
            return kind, f"{where}: connect timeout: no TCP connection within {timeout:g} s"
        if connected:
            return kind, (f"{where}: the connection was accepted but no answer to the "
                          f"WebSocket upgrade came within {timeout:g} s")
        return kind, f"{where}: no answer within {timeout:g} s"
    return kind, f"{where}: {type(exc).__name__}: {mask_secrets(mask_url(str(exc)))[:120]}"
