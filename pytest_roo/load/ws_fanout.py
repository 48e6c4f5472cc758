"""Fan-out runs (broadcast and subscribe): subscribers connect, a publisher or a trigger sends
payloads on schedule, every subscriber's deliveries are timed and checked.

Per subscriber connection: the delivery latency from the payload's intended publish time;
``lost`` for a message that did not arrive by the delivery timeout; ``duplicate`` for a token
seen twice; in broadcast runs (the server relays the payload) ``mismatch`` for a frame whose
payload is not intact (its ``seq`` or its ``pad`` differs from what was sent). A subscriber that
could not connect, or was dropped, counts every message published while it was missing as an
error of its kind: operations are ``published x clients`` whatever happened to the clients.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import time
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.executor import begin, sleep_until
from pytest_roo.load.recorder import EARLY_NS, LATE_NS, Recorder
from pytest_roo.load.workload import Workload
from pytest_roo.load.ws_client import CLOSING, TOKEN_RE, WsClient, make_payload

__all__ = ["SCREEN_GONE", "SCREEN_PING", "Fanout", "Trigger"]

#: what a subscriber's ``_screen`` says of a frame: check it as a delivery (0), answer it with
#: ``_pong`` (a ping), or end the subscriber (the server closed the session)
SCREEN_PING = 1
SCREEN_GONE = 2

#: A URL to POST the payload to, or a callable taking the payload (and, with
#: ``trigger_setup=``, the state it returned as a second argument).
Trigger = Callable[[str], Any] | Callable[[str, Any], Any] | str

_SEQ_RE = re.compile(r'"seq"\s*:\s*([0-9]+)')
_PAD_RE = re.compile(r'"pad"\s*:\s*"(x*)')


class _Subscriber:
    """What one subscriber connection has seen, and since / until when it was there."""

    __slots__ = ("first", "kind", "last", "seen")

    def __init__(self, first: int = 0) -> None:
        self.seen = bytearray()
        self.first = first
        self.last = 1 << 62  # the run's ``published`` when it was dropped
        self.kind = ""


class Fanout:
    """One broadcast or subscribe run (``publisher`` "ws": a WebSocket on the same URL; a
    URL: POSTed to; a callable: the user's trigger)."""

    def __init__(self, client: WsClient, rec: Recorder, url: str, wl: Workload, timeout: float,
                 publisher: Trigger, run_id: str, headers: Mapping[str, str],
                 check_payload: bool,
                 hooks: tuple[Callable[[], Any] | None, Callable[[Any], Any] | None]
                 = (None, None)) -> None:
        self.client = client
        self.rec = rec
        self.url = url
        self.wl = wl
        self.timeout = timeout
        self.publisher = publisher
        self.run_id = run_id
        self.headers = dict(headers)
        self.check_payload = check_payload
        self.intended: list[int] = []  # perf_counter_ns of each seq's intended publish time
        self.published_ok = bytearray()
        self.pad_lens = array("l")  # per seq: how many pad characters it was sent with
        self.published = 0
        self.subscribers: list[_Subscriber] = []
        self.missing: list[str] = []  # kinds of the subscribers that never connected
        self.pub_ws: Any = None
        self.http: Any = None
        self.trigger_setup, self.trigger_teardown = hooks
        self.trigger_state: Any = None

    # -- receiving --

    def _intact(self, data: str, seq: int) -> bool:
        """The relayed payload still has its sequence number and its full padding (a server
        may wrap or re-serialise it, so the fields are searched for, not parsed)."""
        seq_match = _SEQ_RE.search(data)
        pad_match = _PAD_RE.search(data)
        return (seq_match is not None and int(seq_match.group(1)) == seq
                and pad_match is not None and len(pad_match.group(1)) == self.pad_lens[seq])

    #: a subclass's look at every text frame before the delivery check (Socket.IO: pings to
    #: answer, the end of the session); None: none (the WebSocket runs)
    _screen: Callable[[str], int] | None = None
    #: the answer to a frame the screen calls a ping
    _pong = ""
    #: count frames without this run's token as ``unexpected`` (Socket.IO: a greeting, another
    #: event); the WebSocket runs skip them (the server's presence frames, heartbeats)
    _count_foreign = False

    async def _read(self, ws: Any, sub: _Subscriber) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        rec, run_id, intended = self.rec, self.run_id, self.intended
        seen = sub.seen
        receive = ws.receive
        finder = TOKEN_RE.search
        pc = time.perf_counter_ns
        buf = rec.batch("delivery")
        screen, count_foreign = self._screen, self._count_foreign
        # no timer per frame: the run cancels the readers when it is over
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
                if count_foreign:
                    rec.count("unexpected")
                continue
            now = pc()
            data = msg.data
            if screen is not None:
                what = screen(data)
                if what == SCREEN_PING:
                    try:
                        await ws.send_str(self._pong)
                    except Exception as exc:
                        sub.kind = classify(exc)
                        sub.last = self.published
                        return
                    continue
                if what == SCREEN_GONE:
                    sub.kind = "closed"  # the server ended the session or left the namespace
                    sub.last = self.published
                    return
            match = finder(data)
            if match is None or match.group(1) != run_id:
                if count_foreign:
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
            if self.check_payload and not self._intact(data, seq):
                rec.error("mismatch", detail=f"message {seq} arrived altered: {data[:60]!r}")
                continue
            buf.append((now - intended[seq]) // 1000)

    async def _drain(self, ws: Any) -> None:
        """The publisher's own copies."""
        while not self.rec.stopping:
            try:
                msg = await ws.receive()
            except Exception:
                return
            if msg.type in CLOSING:
                return

    # -- publishing --

    async def _publish_one(self, seq: int, payload: str) -> None:
        import aiohttp

        rec, timeout, publisher = self.rec, self.timeout, self.publisher
        t0 = time.perf_counter_ns()
        try:
            if self.pub_ws is not None:
                await asyncio.wait_for(self.pub_ws.send_str(payload), timeout)
            elif isinstance(publisher, str):
                async with self.http.post(publisher, data=payload, headers=self.headers,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                    await r.read()
                    if r.status >= 400:
                        raise aiohttp.ClientResponseError(
                            r.request_info, r.history, status=r.status)
            else:
                args = (payload,) if self.trigger_setup is None else (payload,
                                                                      self.trigger_state)
                if inspect.iscoroutinefunction(publisher):
                    await asyncio.wait_for(publisher(*args), timeout)
                else:
                    out = await asyncio.wait_for(
                        asyncio.get_running_loop().run_in_executor(None, publisher, *args),
                        timeout)
                    if inspect.isawaitable(out):
                        await asyncio.wait_for(out, timeout)
        except Exception as exc:
            self.published_ok[seq] = 0
            rec.error(classify(exc), detail=f"publishing message {seq}: {exc!r}")
            rec.count("publish_failed")
            return
        rec.batch("publish").append((time.perf_counter_ns() - t0) // 1000)

    async def _publish(self) -> None:
        rec, wl = self.rec, self.wl
        schedule = wl.schedule()
        pc = time.perf_counter_ns
        start_ns = int(rec.window_start * 1e9)
        deadline_ns = int(rec.deadline * 1e9)
        planned_subs = wl.clients
        trig_tasks: set[asyncio.Future[Any]] = set()
        seq = 0
        while not rec.stopping:
            t = schedule.time_of(seq)
            if math.isinf(t):
                break
            due = start_ns + int(t * 1e9)
            if due >= deadline_ns:
                break
            if due > pc() + EARLY_NS and not await sleep_until(rec, due):
                break
            now = pc()
            rec.starts += 1
            if now - due > LATE_NS:
                rec.count("late")
            self.intended.append(due if due <= now else now)  # an early publish: from its start
            self.published_ok.append(1)
            self.published = seq + 1
            rec.ops += planned_subs  # every planned subscriber, connected or not
            payload = make_payload(self.run_id, seq, wl.message_size, due + self.epoch_offset)
            self.pad_lens.append(len(payload) - payload.index('"pad": "') - 10)
            if self.pub_ws is not None:
                await self._publish_one(seq, payload)
            elif len(trig_tasks) >= 256:
                self.published_ok[seq] = 0
                rec.error("dropped", detail="256 triggers still running")
                rec.count("dropped")
            else:
                task = rec.spawn(self._publish_one(seq, payload), "trigger")
                trig_tasks.add(task)
                task.add_done_callback(trig_tasks.discard)
            seq += 1
        if trig_tasks:
            await asyncio.wait(trig_tasks, timeout=self.timeout)

    # -- the run --

    async def run(self) -> None:
        """The whole run: ``trigger_setup`` first, then the subscribers connect, messages are
        published at the rate and awaited up to the timeout; ``trigger_teardown`` at the end, also
        when the run failed (each hook bounded by the timeout)."""
        from pytest_roo.load.scenario import call_hook

        if self.trigger_setup is not None:
            # before any subscriber connects: nothing to close if it fails, and its time
            # is no part of the measured window
            self.trigger_state = await asyncio.wait_for(call_hook(self.trigger_setup),
                                                        self.timeout)
        try:
            await self._run()
        finally:
            if self.trigger_teardown is not None:
                await asyncio.wait_for(call_hook(self.trigger_teardown, self.trigger_state),
                                       self.timeout)

    # -- hooks: how a subclass connects and closes (Socket.IO: its handshake, a room to join) --

    async def _connect_subscribers(self, http: Any) -> tuple[list[Any], list[str]]:
        return await self.client._connect_all(self.rec, http, self.url, self.wl.clients,
                                              self.timeout)

    async def _connect_publisher(self, http: Any) -> Any:
        if self.publisher != "ws":
            return None
        return await self.client._connect(self.rec, http, self.url, self.timeout)

    async def _close_all(self, conns: list[Any]) -> None:
        await self.client._close_all(self.rec, conns)

    async def _run(self) -> None:
        rec, wl, timeout = self.rec, self.wl, self.timeout
        pc = time.perf_counter_ns
        async with self.client._client_session(wl.clients + 1) as http:
            self.http = http
            conns, kinds = await self._connect_subscribers(http)
            self.missing = [kind for kind in kinds if kind]
            try:
                self.pub_ws = await self._connect_publisher(http)
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
            await self._publish()
            # Grace: wait until every subscriber has every message, or the delivery timeout.
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
            await self._close_all([*conns, self.pub_ws])

    epoch_offset = 0

    def finish(self, rec: Recorder) -> None:
        """Count what never arrived: ``lost`` for a connected subscriber, the subscriber's
        own failure kind for what was published while it was missing."""
        published, ok = self.published, self.published_ok
        lost = 0
        for sub in self.subscribers:
            seen = sub.seen
            for seq in range(sub.first, min(published, sub.last)):
                if ok[seq] and (seq >= len(seen) or not seen[seq]):
                    lost += 1
            if sub.last < published:
                gone = sum(1 for seq in range(sub.last, published) if ok[seq])
                if gone:
                    rec.error(sub.kind or "closed", gone,
                              detail="the subscriber's connection was dropped")
                    rec.count("failed_client_ops", gone)
        if lost:
            rec.error("lost", lost, detail="not delivered within the delivery timeout")
            rec.count("lost", lost)
        delivered_to = sum(1 for ok_seq in ok if ok_seq)
        for kind in self.missing:
            if delivered_to:
                rec.error(kind, delivered_to)
                rec.count("failed_client_ops", delivered_to)
        rec.result.info["run_id"] = self.run_id
        rec.result.counters["published"] = published
        rec.result.counters["subscribers"] = len(self.subscribers)
