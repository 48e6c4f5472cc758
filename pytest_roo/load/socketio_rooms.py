"""The Socket.IO broadcast to a room, on the WebSocket fan-out run (its readers, its accounting
of failed clients and of ``lost`` / ``duplicate`` / ``mismatch`` deliveries) with what is
Socket.IO's: the handshake, the subscribers joining the room (each join acknowledged before
anything is published), pings answered, the publish as an emit with an ack, the room's event
frame checked."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_client import SioClient
from pytest_roo.load.socketio_codec import (
    EIO_CLOSE,
    EIO_PING,
    EIO_PONG,
    namespace_prefix,
)
from pytest_roo.load.workload import Workload
from pytest_roo.load.ws_client import CLOSING
from pytest_roo.load.ws_fanout import SCREEN_GONE, SCREEN_PING, Fanout

__all__ = ["RoomFanout"]


class RoomFanout(Fanout):
    """A broadcast to a room: ``clients`` subscribers connect and ``join`` the room (each join
    acknowledged before anything is published), one more client emits ``publish(room,
    payload)`` with an ack at the rate, the server emits ``event`` with the payload to the
    room. Deliveries are timed from the intended publish time and checked as in the
    WebSocket broadcast (``lost``, ``duplicate``, ``mismatch``); ``publish`` times the
    publish's ack. Pings are answered, other frames counted as ``unexpected``."""

    def __init__(self, client: SioClient, rec: Recorder, url: str, wl: Workload,
                 timeout: float, run_id: str, *, room: str, namespace: str, auth: Any,
                 event: str, publish_event: str, join_event: str = "join") -> None:
        super().__init__(client, rec, url, wl, timeout, "ws", run_id, {}, True)
        self.sio = client
        self.room = room
        self.join_event = join_event
        self.namespace = namespace
        self.auth = auth
        self.nsp = namespace_prefix(namespace)
        self.delivery_head = f"42{self.nsp}[{json.dumps(event)},"
        self.publish_head = f"42{self.nsp}"
        self.publish_args = f"[{json.dumps(publish_event)},{json.dumps(room)},"
        self.disconnect = "41" + self.nsp
        self.sent_at: dict[int, int] = {}

    async def _publish_one(self, seq: int, payload: str) -> None:
        # the payload is a JSON object: sent as one (not as a string), so that the room gets
        # the fields the delivery check looks for
        frame = f"{self.publish_head}{seq}{self.publish_args}{payload}]"
        self.sent_at[seq] = time.perf_counter_ns()
        try:
            await asyncio.wait_for(self.pub_ws.send_str(frame), self.timeout)
        except Exception as exc:
            self.published_ok[seq] = 0
            self.rec.error(classify(exc), detail=f"publishing message {seq}: {exc!r}")
            self.rec.count("publish_failed")

    _count_foreign = True
    _pong = EIO_PONG

    def _screen(self, data: str) -> int:
        """Pings are answered (and counted), the end of the session or of the namespace ends
        the subscriber; anything else goes on to the delivery check."""
        if data == EIO_PING:
            self.rec.count("pings")
            return SCREEN_PING
        if data == EIO_CLOSE or data == self.disconnect:
            return SCREEN_GONE
        return 0

    def _intact(self, data: str, seq: int) -> bool:
        """The room's ``event`` with the payload's sequence number and full padding."""
        return data.startswith(self.delivery_head) and super()._intact(data, seq)

    async def _drain(self, ws: Any) -> None:
        """The publisher's reader: the acks of its publishes (``publish``), pings answered."""
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        head = "43" + self.nsp
        pc = time.perf_counter_ns
        buf = self.rec.batch("publish")
        while not self.rec.stopping:
            try:
                msg = await ws.receive()
            except Exception:
                return
            if msg.type in CLOSING:
                return
            if msg.type is not TEXT:
                continue
            data = msg.data
            if data == EIO_PING:
                try:
                    await ws.send_str(EIO_PONG)
                except Exception:
                    return
            elif data.startswith(head):
                digits = ""
                for c in data[len(head):]:
                    if not c.isdigit():
                        break
                    digits += c
                sent = self.sent_at.pop(int(digits), None) if digits else None
                if sent is not None:
                    buf.append((pc() - sent) // 1000)

    async def _connect_subscribers(self, http: Any) -> tuple[list[Any], list[str]]:
        return await self.sio._sio_connect_all(
            self.rec, http, self.url, self.wl.clients, self.timeout, self.namespace, self.auth,
            join=self.room, join_event=self.join_event)

    async def _connect_publisher(self, http: Any) -> Any:
        return await self.sio._sio_connect(self.rec, http, self.url, self.timeout,
                                          self.namespace, self.auth)

    async def _close_all(self, conns: list[Any]) -> None:
        await self.sio._sio_close_all(self.rec, conns, self.namespace)
