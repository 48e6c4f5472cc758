"""WebSocket echo: every reply is matched to the message it answers, by id and payload.

Message ``k`` is ``roo:<run id>:<k>:`` padded to the message size. A reply that names a message
in flight on its connection and equals it is timed; one that names it but differs (truncated,
altered) is a ``mismatch``; a frame that names no message of this run (a greeting, a Socket.IO
open frame, an application ping) is not a reply: it is counted in ``counters["unexpected"]``
and never timed as an echo. A reply to a message that already timed out is skipped
(``counters["late_replies"]``), a second reply to one message is a ``duplicate``. So a reply
the server dropped leaves its message to time out instead of lending its latency to the next.

A client that could not connect, or was dropped, counts as its share of the planned
operations failed (open model: the arrivals that were its to send; closed model: as many as
the clients that stayed measured per second), so 80 refused clients out of 200 read as about
40 % errors, not as 80 failures beside a million messages.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from pytest_roo.load.correction import refine_interval
from pytest_roo.load.errors import classify
from pytest_roo.load.executor import Watchdog, begin, sleep_until
from pytest_roo.load.recorder import EARLY_NS, LATE_NS, Recorder
from pytest_roo.load.workload import Workload
from pytest_roo.load.ws_client import CLOSING, WsClient, echo_message, reply_id

__all__ = ["ANSWER", "MAX_IN_FLIGHT", "TIMED", "EchoRun"]

#: Messages allowed in flight on one connection (open model) before further sends are dropped.
MAX_IN_FLIGHT = 10_000

#: ``status[k]`` of a message: sent or not yet, answered, given up on (the watchdog's value)
_ANSWERED = 1
_EXPIRED = Watchdog.EXPIRED

#: What :meth:`EchoRun._judge_frame` makes of a frame: the answer, timed / the answer, wrong
TIMED = object()
ANSWER = object()


class EchoRun:
    """One echo run's state; :meth:`closed` and :meth:`open` are the two workload models."""

    def __init__(self, client: WsClient, rec: Recorder, url: str, wl: Workload,
                 timeout: float, correct: bool) -> None:
        self.client = client
        self.rec = rec
        self.url = url
        self.wl = wl
        self.timeout = timeout
        self.correct = correct
        self.prefix = f"roo:{secrets.token_hex(3)}:"
        self.pad = "x" * wl.message_size

    def _mismatch(self, k: int, sent: str, got: str) -> None:
        self.rec.error("mismatch", detail=f"echo of message {k} differs: sent {len(sent)} "
                                          f"chars, got {len(got)}: {got[:48]!r}")

    # -- closed model --

    async def closed(self) -> None:
        """The closed model: every client sends its next message when the previous answer is in
        (``<metric>`` corrected for coordinated omission unless ``correct=False``); each client
        runs :meth:`_closed_client`."""
        rec, wl = self.rec, self.wl
        async with self.client._client_session(wl.clients) as http:
            conns, self.kinds = await self._connect_all(http, wl.clients)
            begin(rec, wl.duration)
            self.start_ns = time.perf_counter_ns()
            self.deadline_ns = int(rec.deadline * 1e9)
            self.buf = rec.batch(self.metric)
            if self.correct:
                # Expected interval: the think time plus a typical round trip; refined once the
                # first batch is in (see correction.refine_interval).
                rec.correct(self.metric, max(1, int(wl.think * 1e6)) + 1000, self.metric + "_raw")
            self.ids = itertools.count(self.first_id)
            # One slot per connection: when its answer wait began (0: not waiting). The watchdog
            # fails a connection whose wait is older than the timeout; no timer per message.
            self.waiting = [0] * len(conns)
            self.left_at = [0] * len(conns)  # when a client left the run early (0: it did not)
            self.done = [0] * len(conns)
            tasks: list[asyncio.Future[Any] | None] = [
                None if ws is None else rec.spawn(self._closed_client(i, ws), self.client_name)
                for i, ws in enumerate(conns)
            ]
            dog = Watchdog(rec, self.timeout)
            dog.watch_slots(self.waiting, tasks)
            refine = rec.spawn(refine_interval(rec, self.metric, wl.think, self.correct),
                               "interval estimate")
            try:
                await dog.run_until_done([t for t in tasks if t is not None], self.deadline_ns)
            finally:
                refine.cancel()
                await self._close_all(conns)
            end_ns = min(self.deadline_ns, time.perf_counter_ns())
            if not rec.stopping:
                self._closed_shares(conns, end_ns)

    async def _closed_client(self, i: int, ws: Any) -> None:
        """Client ``i`` of the closed model: send message ``k``, read until its answer, time it
        from ``t0``, again until the deadline. The expected answer (:meth:`expected`) is
        compared as text; any other frame goes to :meth:`_judge_frame`. A failure ends the
        client and counts as its kind; the watchdog's cancel counts as a timeout."""
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        rec, think, ids = self.rec, self.wl.think, self.ids
        waiting, left_at, done, kinds = self.waiting, self.left_at, self.done, self.kinds
        deadline_ns, prefix, pad = self.deadline_ns, self.prefix, self.pad
        frame, expected, judge_frame = self.frame, self.expected, self._judge_frame
        pc = time.perf_counter_ns
        send = ws.send_str
        receive = ws.receive
        append = self.buf.append
        previous = -1
        try:
            while not rec.stopping:
                t0 = pc()
                if t0 >= deadline_ns:
                    return
                k = next(ids)
                message = echo_message(prefix, k, pad)
                want = expected(k, message)
                rec.ops += 1
                done[i] += 1
                waiting[i] = t0
                try:
                    await send(frame(k, message))
                    while True:
                        msg = await receive()
                        if msg.type is TEXT:
                            data = msg.data
                            if data == want:
                                append((pc() - t0) // 1000)
                                break
                            outcome = judge_frame(k, message, data, previous)
                            if outcome is TIMED:
                                append((pc() - t0) // 1000)
                                break
                            if outcome is ANSWER:
                                break
                            if outcome is not None:
                                await send(outcome)  # a frame the protocol asks back (a pong)
                        elif msg.type in CLOSING:
                            raise ConnectionError("the server closed the socket")
                        else:
                            rec.count("unexpected")
                except Exception as exc:
                    kinds[i] = classify(exc)
                    rec.error(kinds[i], detail=repr(exc))
                    left_at[i] = pc()
                    return
                finally:
                    waiting[i] = 0
                previous = k
                if think:
                    await asyncio.sleep(think)
        except asyncio.CancelledError:
            if not rec.stopping and pc() < deadline_ns:  # the watchdog's timeout
                kinds[i] = "timeout"
                left_at[i] = pc()
            raise

    def _closed_shares(self, conns: list[Any], end_ns: int) -> None:
        """A client that failed counts, as errors of its kind, the operations the clients that
        stayed did per second, for the time it was missing."""
        rec, kinds, left_at, done = self.rec, self.kinds, self.left_at, self.done
        start_ns = self.start_ns
        stayed = [i for i, ws in enumerate(conns) if ws is not None and not left_at[i]]
        window = max(1, end_ns - start_ns)
        per_ns = sum(done[i] for i in stayed) / (len(stayed) * window) if stayed else 0.0
        for i, ws in enumerate(conns):
            if ws is None:
                share = max(1, round(per_ns * window))
            elif left_at[i] and left_at[i] < end_ns:
                share = round(per_ns * (end_ns - left_at[i]))
            else:
                continue
            if share:
                rec.ops += share
                rec.error(kinds[i] or "other", share)
                rec.count("failed_client_ops", share)

    # -- hooks: what a subclass changes (the Socket.IO round trip frames and reads its own) --

    #: the latency metric of the run (and ``<metric>_raw`` uncorrected, closed model)
    metric = "rtt"
    #: what the messages in flight are called in error details
    in_flight = "messages in flight"
    #: what the answer is called in error details
    answer = "reply"
    #: the first message id of a run
    first_id = 0
    #: what a closed-model client task is called (in a dying task's error)
    client_name = "echo client"

    def frame(self, k: int, message: str) -> str:
        """The frame that carries message ``k`` (the echo sends the message itself)."""
        return message

    def expected(self, k: int, message: str) -> str | None:
        """The answer to message ``k`` as text, compared first (None: every answer is judged
        by :meth:`_judge_frame`)."""
        return message

    def _judge_frame(self, k: int, message: str, data: str, previous: int) -> Any:
        """A text frame that is not the expected answer to message ``k``, in the closed model:
        ``ANSWER`` (it answers ``k`` wrongly: a ``mismatch``), ``TIMED`` (it answers ``k``
        rightly), a frame to send back, or None (not an answer: keep reading). A second echo
        of ``previous`` is a ``duplicate``, any other frame ``unexpected``."""
        rid = reply_id(self.prefix, data)
        if rid == k:
            self._mismatch(k, message, data)
            return ANSWER
        if rid is not None and rid == previous:
            self.rec.error("duplicate", detail=f"message {rid} echoed twice")
            self.rec.count("duplicate")
        else:
            self.rec.count("unexpected")
        return None

    async def _connect_all(self, http: Any, n: int) -> tuple[list[Any], list[str]]:
        return await self.client._connect_all(self.rec, http, self.url, n, self.timeout)

    async def _close_all(self, conns: list[Any]) -> None:
        await self.client._close_all(self.rec, conns)

    # -- open model --

    async def open(self) -> None:
        """The open model: messages go out on the schedule's times, whatever the replies do."""
        async with self.client._client_session(self.wl.clients) as http:
            await self._open_connect(http)
            await self._open_drive(self._echo_reader)

    async def _open_connect(self, http: Any) -> None:
        """Connect the clients and set up the open model's state: per connection the messages
        in flight as (intended ns, id, text), oldest first (a deque made on the first send: an
        idle connection costs no more than its socket and reader) and whether it is gone; per
        message id: answered or expired."""
        rec, n = self.rec, self.wl.clients
        self.schedule = self.wl.schedule()
        self.conns, self.kinds = await self._connect_all(http, n)
        begin(rec, self.wl.duration)
        self.start_ns = int(rec.window_start * 1e9)
        self.deadline_ns = int(rec.deadline * 1e9)
        self.buf = rec.batch(self.metric)
        self.inflights: list[deque[tuple[int, int, str]] | None] = [None] * n
        self.dead = [ws is None for ws in self.conns]
        self.status = bytearray(self.schedule.total)

    async def _open_drive(self, reader: Callable[[int, Any], Coroutine[Any, Any, None]]) -> None:
        """Send on schedule with one reader per connection, wait for the answers in flight
        (the watchdog expires the ones past the timeout), then close every connection."""
        rec, timeout, conns = self.rec, self.timeout, self.conns
        if all(self.dead):
            if not rec.stopping:  # stopped while connecting: nothing was measured, or failed
                self._all_refused(self.schedule.total, self.kinds)
            return
        pc = time.perf_counter_ns
        inflights = self.inflights
        send_task = rec.spawn(self._sender(), "sender")
        readers = [rec.spawn(reader(i, ws), "reader")
                   for i, ws in enumerate(conns) if ws is not None]
        dog = Watchdog(rec, timeout)
        dog.watch_queues(inflights, self.status)
        try:
            await dog.run_until_done([send_task], self.deadline_ns)
            # answers in flight: wait until every queue is empty (the watchdog empties the
            # ones that run past the timeout)
            await dog.run_until(lambda: not any(inflights),
                                pc() + int(timeout * 1e9) + 500_000_000)
            left = sum(len(q) for q in inflights if q)
            if left and not rec.stopping:
                rec.error("timeout", left,
                          detail=f"no {self.answer} by the end of the grace period")
        finally:
            if not send_task.done():
                send_task.cancel()
            for task in readers:
                task.cancel()
            await asyncio.wait([send_task, *readers], timeout=1.0)
            await self._close_all(conns)

    async def _sender(self) -> None:
        """One task sends for every connection, arrival k on connection k mod n: a task per
        connection would cost ~2 KB each. A send only waits when the connection's socket
        buffer is full (the server stopped reading); the sends behind it are then late,
        counted as such and measured from their intended times. Arrivals of a client that is
        not connected count as its failures."""
        rec, schedule, n = self.rec, self.schedule, self.wl.clients
        start_ns, deadline_ns = self.start_ns, self.deadline_ns
        inflights, dead, status, kinds = self.inflights, self.dead, self.status, self.kinds
        prefix, pad, frame = self.prefix, self.pad, self.frame
        sends = [None if ws is None else ws.send_str for ws in self.conns]
        pc = time.perf_counter_ns
        k = 0
        while not rec.stopping:
            t = schedule.time_of(k)
            if math.isinf(t):
                return
            due = start_ns + int(t * 1e9)
            if due >= deadline_ns:
                return
            now = pc()
            if due > now + EARLY_NS:
                if not await sleep_until(rec, due):
                    return
                now = pc()
            i = k % n
            rec.starts += 1
            rec.ops += 1
            if dead[i]:
                status[k] = _EXPIRED
                rec.error(kinds[i] or "closed")
                k += 1
                continue
            inflight = inflights[i]
            if inflight is None:
                inflight = inflights[i] = deque()
            elif len(inflight) >= MAX_IN_FLIGHT:
                status[k] = _EXPIRED
                rec.error("dropped", detail=f"{MAX_IN_FLIGHT} {self.in_flight} on one "
                                            "connection")
                rec.count("dropped")
                k += 1
                continue
            if now - due > LATE_NS:
                rec.count("late")
            message = echo_message(prefix, k, pad)
            entry = (due if due <= now else now, k, message)  # never before the send
            inflight.append(entry)
            try:
                await sends[i](frame(k, message))  # type: ignore[misc]
            except Exception as exc:
                if entry in inflight:
                    inflight.remove(entry)
                status[k] = _EXPIRED
                dead[i] = True
                kinds[i] = classify(exc)
                rec.error(kinds[i], detail=repr(exc))
            k += 1

    def _fail_pending(self, i: int, kind: str, detail: str, at_least: int) -> None:
        """Connection ``i`` is gone: its messages in flight (at least ``at_least``) fail as
        ``kind``."""
        inflight = self.inflights[i]
        pending = len(inflight) if inflight else 0
        if inflight:
            for entry in inflight:
                self.status[entry[1]] = _EXPIRED
            inflight.clear()
        if pending or at_least:
            self.rec.error(kind, max(at_least, pending), detail=detail)
        self.kinds[i] = kind

    def _odd_reply(self, i: int, data: str) -> None:
        """A reply that is not the oldest message in flight on its connection."""
        rec, status = self.rec, self.status
        rid = reply_id(self.prefix, data)
        if rid is None or rid >= len(status):
            rec.count("unexpected")
            return
        state = status[rid]
        if state == _ANSWERED:
            rec.error("duplicate", detail=f"message {rid} echoed twice")
            rec.count("duplicate")
            return
        if state == _EXPIRED:
            rec.count("late_replies")
            return
        inflight = self.inflights[i]
        for entry in inflight or ():
            if entry[1] == rid:
                break
        else:
            rec.count("unexpected")  # another connection's message, or not sent
            return
        assert inflight is not None
        inflight.remove(entry)
        status[rid] = _ANSWERED
        if data == entry[2]:  # answered after an earlier message was dropped
            self.buf.append((time.perf_counter_ns() - entry[0]) // 1000)
        else:
            self._mismatch(rid, entry[2], data)

    async def _echo_reader(self, i: int, ws: Any) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        receive = ws.receive
        append = self.buf.append
        inflights, status, pc = self.inflights, self.status, time.perf_counter_ns
        try:
            while True:
                try:
                    msg = await receive()
                except Exception as exc:
                    self._fail_pending(i, classify(exc), repr(exc), 1)
                    return
                if msg.type is TEXT:
                    data = msg.data
                    inflight = inflights[i]
                    if inflight:
                        head = inflight[0]
                        if data == head[2]:
                            inflight.popleft()
                            status[head[1]] = _ANSWERED
                            append((pc() - head[0]) // 1000)
                            continue
                    self._odd_reply(i, data)
                elif msg.type in CLOSING:
                    self._fail_pending(i, "closed", "the server closed the socket", 0)
                    return
                else:
                    self.rec.count("unexpected")
        finally:
            self.dead[i] = True

    def _all_refused(self, total: int, kinds: list[str]) -> None:
        """No client connected: every planned arrival fails by the kind of its client's
        failure (arrival k is client k mod n's), so the run reads 100 % errors over as many
        operations as planned, without waiting out the schedule."""
        n = len(kinds)
        self.rec.ops += total
        for i, kind in enumerate(kinds):
            share = total // n + (1 if i < total % n else 0)
            if share:
                self.rec.error(kind or "other", share)
        self.rec.count("failed_client_ops", total)

