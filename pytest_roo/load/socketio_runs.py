"""The Socket.IO round trips: emit-with-ack (both workload models), built on the WebSocket echo
run (its accounting of failed clients, the watchdog, the correction) with Socket.IO frames
instead of raw text; the broadcast to a room is in :mod:`pytest_roo.load.socketio_rooms`.

Round trip: message ``k`` is EVENT ``42<ns,>k["<event>","roo:<run id>:<k>:xxx..."]`` asking
for ack ``k`` (ack ids are unique over the run, so a late ack is never taken for another
message's). Only the ACK with that id answers it: its arguments must equal what was sent (or
pass ``expect``), else ``mismatch``. Every other frame (a greeting event, an ack of another id,
a namespace's packet) is counted in ``counters["unexpected"]``; pings are answered and counted
in ``counters["pings"]``; a second ack of the message just answered is a ``duplicate``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.executor import Watchdog
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.socketio_client import SioClient
from pytest_roo.load.socketio_codec import (
    EIO_CLOSE,
    EIO_PING,
    EIO_PONG,
    SocketIOProtocolError,
    decode,
    namespace_prefix,
)
from pytest_roo.load.workload import Workload
from pytest_roo.load.ws_client import CLOSING
from pytest_roo.load.ws_echo import ANSWER, TIMED, EchoRun

__all__ = ["AckCheck", "AckRun", "RoomFanout"]

from pytest_roo.load.socketio_rooms import RoomFanout

#: ``expect=`` of a round trip: "echo" (the ack's arguments equal the emitted ones), None (any
#: ack), or ``check(sent_args, ack_args) -> bool``
AckCheck = str | Callable[[list[Any], list[Any]], Any] | None

_ANSWERED = 1
_EXPIRED = Watchdog.EXPIRED

# what a frame that is not an ack of this run is
_PING = 0
_OTHER = 1
_GONE = 2


class AckRun(EchoRun):
    """One emit-with-ack run; :meth:`closed` and :meth:`open` are the two workload models."""

    metric = "ack"
    in_flight = "acks outstanding"
    answer = "ack"
    first_id = 1
    client_name = "socket.io client"

    def __init__(self, client: SioClient, rec: Recorder, url: str, wl: Workload,
                 timeout: float, correct: bool, *, event: str, namespace: str, auth: Any,
                 expect: AckCheck) -> None:
        super().__init__(client, rec, url, wl, timeout, correct)
        self.sio = client
        self.event_json = json.dumps(event)
        self.namespace = namespace
        self.auth = auth
        self.nsp = namespace_prefix(namespace)
        self.ack_head = "43" + self.nsp
        self.disconnect = "41" + self.nsp
        self.expect = expect
        self.fast = expect == "echo"  # the expected ack frame can be compared as text

    def frame(self, k: int, message: str) -> str:
        """The EVENT frame of message ``k``: this run's event with ``message``, asking for ack
        ``k``."""
        return f'42{self.nsp}{k}[{self.event_json},"{message}"]'

    def echo_ack(self, k: int, message: str) -> str:
        """The ACK frame that echoes ``message`` back for message ``k`` (with ``expect="echo"`` an
        ack is first compared with it as text)."""
        return f'{self.ack_head}{k}["{message}"]'

    def ack_id(self, data: str) -> int | None:
        """The id of an ACK of this run's namespace, or None when ``data`` is none."""
        head = self.ack_head
        if not data.startswith(head):
            return None
        start = len(head)
        end = start
        while end < len(data) and data[end].isdigit():
            end += 1
        if end == start or (self.nsp == "" and data[start:start + 1] == "/"):
            return None
        return int(data[start:end])

    def judge(self, k: int, message: str, data: str) -> bool:
        """Is ``data``, the ACK of message ``k``, the right answer? A wrong one is counted as
        a ``mismatch``."""
        if self.fast and data == self.echo_ack(k, message):
            return True
        try:
            got = decode(data).args
        except SocketIOProtocolError as exc:
            self._wrong(k, data, str(exc))
            return False
        expect = self.expect
        if expect is None:
            return True
        if expect == "echo":
            if got == [message]:
                return True
            self._wrong(k, data, "the ack's arguments differ from the emitted ones")
            return False
        assert callable(expect)
        try:
            ok = expect([message], got)
        except Exception as exc:
            self._wrong(k, data, f"expect raised {exc!r}")
            return False
        if not ok:
            self._wrong(k, data, f"expect {getattr(expect, '__name__', 'check')} failed")
        return bool(ok)

    def _wrong(self, k: int, data: str, why: str) -> None:
        self.rec.error("mismatch", detail=f"ack of message {k}: {why}: {data[:60]!r}")
        self.rec.result.info.setdefault("first_mismatch", f"message {k}: {data[:120]!r}")

    def other(self, data: str) -> int:
        """A text frame that is no ack of this run: a ping (to answer), the end of the
        connection, or something else (counted as ``unexpected``)."""
        if data == EIO_PING:
            self.rec.count("pings")
            return _PING
        if data == EIO_CLOSE or data == self.disconnect:
            return _GONE
        self.rec.count("unexpected")
        self.rec.result.info.setdefault("first_unexpected", data[:120])
        return _OTHER

    # -- closed model --

    def expected(self, k: int, message: str) -> str | None:
        """With ``expect="echo"`` the ack that echoes ``message`` is compared as text first."""
        return self.echo_ack(k, message) if self.fast else None

    def _judge_frame(self, k: int, message: str, data: str, previous: int) -> Any:
        """The closed model's reading of a frame: the ack of ``k`` is judged; a second ack of
        ``previous`` is a ``duplicate``; a ping asks for a pong; the server's disconnect ends
        the client; anything else is ``unexpected``."""
        rid = self.ack_id(data)
        if rid == k:
            return TIMED if self.judge(k, message, data) else ANSWER
        if rid is not None:
            if rid == previous:
                self.rec.error("duplicate", detail=f"ack {rid} received twice")
                self.rec.count("duplicate")
            else:
                self.rec.count("unexpected")
            return None
        what = self.other(data)
        if what == _PING:
            return EIO_PONG
        if what == _GONE:
            raise ConnectionError("the server disconnected")
        return None

    # -- open model: EchoRun's sender, grace and accounting with Socket.IO frames --

    async def _connect_all(self, http: Any, n: int) -> tuple[list[Any], list[str]]:
        return await self.sio._sio_connect_all(self.rec, http, self.url, n, self.timeout,
                                               self.namespace, self.auth)

    async def _close_all(self, conns: list[Any]) -> None:
        await self.sio._sio_close_all(self.rec, conns, self.namespace)

    async def open(self) -> None:
        """The open model: messages go out on the schedule's times over the connections in turn,
        whatever the acks do; ``ack`` runs from the intended send time."""
        async with self.sio._client_session(self.wl.clients) as http:
            await self._open_connect(http)
            await self._open_drive(self._ack_reader)

    def _take(self, i: int, rid: int) -> tuple[int, int, str] | None:
        """The message in flight that ack ``rid`` answers, out of its queue; None (and
        counted) for a late, repeated or unknown ack."""
        rec, status = self.rec, self.status
        inflight = self.inflights[i]
        if inflight and inflight[0][1] == rid:
            return inflight.popleft()
        state = status[rid] if rid < len(status) else 0
        if state == _ANSWERED:
            rec.error("duplicate", detail=f"ack {rid} received twice")
            rec.count("duplicate")
            return None
        if state == _EXPIRED:
            rec.count("late_replies")
            return None
        for entry in inflight or ():
            if entry[1] == rid:
                assert inflight is not None
                inflight.remove(entry)  # acks may come out of order
                return entry
        rec.count("unexpected")  # another connection's id, or never sent
        return None

    async def _ack_reader(self, i: int, ws: Any) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        receive = ws.receive
        append = self.buf.append
        fast, status, pc = self.fast, self.status, time.perf_counter_ns
        try:
            while True:
                try:
                    msg = await receive()
                except Exception as exc:
                    self._fail_pending(i, classify(exc), repr(exc), 1)
                    return
                if msg.type is TEXT:
                    data = msg.data
                    rid = self.ack_id(data)
                    if rid is None:
                        what = self.other(data)
                        if what == _PING:
                            try:
                                await ws.send_str(EIO_PONG)
                            except Exception as exc:
                                self._fail_pending(i, classify(exc), repr(exc), 1)
                                return
                        elif what == _GONE:
                            self._fail_pending(i, "closed", "the server disconnected", 0)
                            return
                        continue
                    entry = self._take(i, rid)
                    if entry is None:
                        continue
                    status[rid] = _ANSWERED
                    if (fast and data == self.echo_ack(rid, entry[2])) or \
                            self.judge(rid, entry[2], data):
                        append((pc() - entry[0]) // 1000)
                elif msg.type in CLOSING:
                    self._fail_pending(i, "closed", "the server closed the socket", 0)
                    return
                else:
                    self.rec.count("unexpected")
        finally:
            self.dead[i] = True
