"""The Socket.IO broadcast to a room, on the WebSocket fan-out run (its accounting of failed
clients and of ``lost`` / ``duplicate`` / ``mismatch`` deliveries) with Socket.IO frames: the
subscribers join the room (each join acknowledged before anything is published), a publisher
emits with an ack, the server emits the payload to the room."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.executor import begin
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_client import SioClient
from pytest_roo.load.socketio_codec import (
    EIO_CLOSE,
    EIO_PING,
    EIO_PONG,
    namespace_prefix,
)
from pytest_roo.load.workload import Workload
from pytest_roo.load.ws_client import CLOSING, TOKEN_RE
from pytest_roo.load.ws_fanout import Fanout, _Subscriber

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

    async def _read(self, ws: Any, sub: _Subscriber) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        rec, run_id, intended = self.rec, self.run_id, self.intended
        seen = sub.seen
        receive = ws.receive
        finder = TOKEN_RE.search
        pc = time.perf_counter_ns
        buf = rec.batch("delivery")
        head = self.delivery_head
        while not rec.stopping:
            try:
                msg = await receive()
            except Exception as exc:
                sub.kind = classify(exc)
                sub.last = self.published
                return
            if msg.type is not TEXT:
                if msg.type in CLOSING:
                    sub.kind = "closed"
                    sub.last = self.published
                    return
                rec.count("unexpected")
                continue
            now = pc()
            data = msg.data
            if data == EIO_PING:
                rec.count("pings")
                try:
                    await ws.send_str(EIO_PONG)
                except Exception as exc:
                    sub.kind = classify(exc)
                    sub.last = self.published
                    return
                continue
            if data == EIO_CLOSE or data == self.disconnect:
                sub.kind = "closed"  # the server ended the session or left the namespace
                sub.last = self.published
                return
            match = finder(data)
            if match is None or match.group(1) != run_id:
                rec.count("unexpected")
                rec.result.info.setdefault("first_unexpected", data[:120])
                continue
            seq = int(match.group(2))
            if seq >= len(intended):
                rec.count("unexpected")
                continue
            if seq >= len(seen):
                seen.extend(bytes(seq + 1024 - len(seen)))
            if seen[seq]:
                rec.error("duplicate", detail=f"message {seq} delivered twice")
                rec.count("duplicate")
                continue
            seen[seq] = 1
            if not data.startswith(head) or not self._intact(data, seq):
                rec.error("mismatch", detail=f"message {seq} arrived altered: {data[:60]!r}")
                continue
            buf.append((now - intended[seq]) // 1000)

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

    async def run(self) -> None:
        """Connect the subscribers (each joins the room) and the publisher, publish at the
        rate, wait up to the timeout for every delivery, then close every connection. A
        publisher that cannot connect stops the run."""
        rec, wl, timeout = self.rec, self.wl, self.timeout
        pc = time.perf_counter_ns
        async with self.sio._client_session(wl.clients + 1) as http:
            self.http = http
            conns, kinds = await self.sio._sio_connect_all(
                rec, http, self.url, wl.clients, timeout, self.namespace, self.auth,
                join=self.room, join_event=self.join_event)
            self.missing = [kind for kind in kinds if kind]
            try:
                self.pub_ws = await self.sio._sio_connect(rec, http, self.url, timeout,
                                                         self.namespace, self.auth)
            except Exception:
                rec.stop("the publisher could not connect")
            readers = []
            for ws in conns:
                if ws is None:
                    continue
                sub = _Subscriber()
                self.subscribers.append(sub)
                readers.append(rec.spawn(self._read(ws, sub), "subscriber"))
            if self.pub_ws is not None:
                readers.append(rec.spawn(self._drain(self.pub_ws), "publisher reader"))
            begin(rec, wl.duration)
            self.epoch_offset = time.time_ns() - pc()
            if self.pub_ws is not None:
                await self._publish()
            end = pc() + int(timeout * 1e9)
            while not rec.stopping and pc() < end:
                want = sum(1 for ok in self.published_ok if ok)
                if all(sum(sub.seen) >= want for sub in self.subscribers
                       if sub.last > self.published):
                    break
                await asyncio.sleep(0.05)
            for task in readers:
                task.cancel()
            if readers:
                await asyncio.wait(readers, timeout=1.0)
            await self.sio._sio_close_all(rec, [*conns, self.pub_ws], self.namespace)
