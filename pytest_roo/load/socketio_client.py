"""Socket.IO connections on the load engine's WebSocket client: the Engine.IO / Socket.IO
handshake (open packet, CONNECT with its auth payload, the server's CONNECT or CONNECT_ERROR)
and a pool of 256 workers that connects a swarm; the socket a user scenario talks through is
in :mod:`pytest_roo.load.socketio_socket`.

Engine.IO v4 servers ping and clients answer: every reader here answers ``2`` with ``3`` (a
client that does not is dropped by the server after ``pingInterval + pingTimeout``). Pings are
counted in ``counters["pings"]`` and never taken for an answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.executor import mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_codec import (
    CONNECT,
    CONNECT_ERROR,
    EIO_CLOSE,
    EIO_PING,
    EIO_PONG,
    OpenInfo,
    SocketIOProtocolError,
    decode,
    decode_open,
    encode_connect,
    encode_disconnect,
    encode_event,
)
from pytest_roo.load.ws_client import CLOSING, WsClient

__all__ = ["ConnectRefused", "SioClient", "classify_sio", "connect_error_message",
           "sio_handshake"]


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


def connect_error_message(data: Any) -> str:
    """The server's message of a CONNECT_ERROR packet's data (at most 200 characters)."""
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
            raise ConnectRefused(namespace, connect_error_message(packet.data))
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
