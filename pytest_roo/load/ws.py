"""WebSocket load: echo, broadcast, churn, subscribe and user scenarios (aiohttp client).

Usable without pytest::

    from pytest_roo.load import WsSwarm
    result = WsSwarm().echo("ws://127.0.0.1:8080/ws/echo", clients=100, duration="10s",
                            rate="2000/s")
    print(result.percentile("rtt", 95))

The server contract (echo order, broadcast fan-out, the JSON payload with its ``roo`` token) is
in docs/load.md.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pytest_roo.load.engine import (
    LoadDriver,
    Recorder,
    RunOptions,
    classify,
    run_load,
)
from pytest_roo.load.executor import (
    EARLY_NS,
    LATE_NS,
    Watchdog,
    begin,
    check_connection_limit,
    drive,
    mark_counted,
    sleep_until,
)
from pytest_roo.load.metrics import LoadResult
from pytest_roo.load.session import Session
from pytest_roo.load.workload import Workload, make_workload

__all__ = ["TOKEN_RE", "WsSwarm", "make_payload"]

TOKEN_RE = re.compile(r"roo:([0-9a-f]{6}):([0-9]+)")
#: Messages allowed in flight on one connection (open model) before further sends are dropped.
MAX_IN_FLIGHT = 10_000

Scenario = Callable[[Session], Awaitable[None]]
Trigger = Callable[[str], Any] | str


def make_payload(run_id: str, seq: int, size: int, intended_epoch_ns: int) -> str:
    """The JSON broadcast payload of docs/load.md, padded to ``size`` bytes when possible."""
    head = f'{{"roo": "roo:{run_id}:{seq}", "seq": {seq}, "t": {intended_epoch_ns}, "pad": "'
    pad = max(0, size - len(head) - 2)
    return head + "x" * pad + '"}'


class WsSwarm(LoadDriver):
    """A swarm of WebSocket clients. Each method runs one bounded load run in a fresh event loop
    and returns a :class:`~pytest_roo.load.metrics.LoadResult` (times in seconds).

    Keywords every scenario shares: ``clients=``, ``duration=`` ("10s", "2m" or seconds),
    ``rate=`` ("2000/s"; when given the open model), ``message_size=`` (bytes), ``timeout=``
    (seconds per await), ``stages=``, ``think=``, ``model=``.
    """

    @staticmethod
    def _check_url(url: str) -> None:
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError(f"invalid WebSocket url {url!r}: expected ws://host:port/path or "
                             "wss://...")

    @staticmethod
    def _client_session(clients: int) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=False)
        return aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=None))

    @staticmethod
    def _expected(wl: Workload) -> Callable[[Recorder, float], int] | None:
        if wl.open:
            total = wl.schedule().total
            return lambda rec, elapsed: total
        return None

    async def _connect(self, rec: Recorder, http: Any, url: str, timeout: float,
                       metric: str = "connect") -> Any:
        t0 = time.perf_counter_ns()
        try:
            ws = await asyncio.wait_for(
                http.ws_connect(url, autoping=True, compress=0, max_msg_size=0),
                timeout,
            )
        except Exception as exc:
            rec.error(classify(exc))
            raise mark_counted(exc) from None
        rec.batch(metric).append((time.perf_counter_ns() - t0) // 1000)
        return ws

    # -- echo --

    def echo(
        self,
        url: str,
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        correct: bool = True,
        abort: Any = None,
    ) -> LoadResult:
        """Each client sends ``message_size``-byte text frames and times the echo (``rtt``);
        ``connect`` times the handshakes. Closed model (no ``rate``): one message in flight per
        client, ``rtt`` back-filled with the expected-interval correction (``rtt_raw`` keeps the
        plain samples; ``correct=False`` turns it off). Open model: each client sends its share
        of ``rate`` on schedule, several in flight, ``rtt`` from the intended send time."""
        self._check_url(url)
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, message_size=message_size, model=model)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)
        payload = "x" * wl.message_size
        body = self._echo_open if wl.open else self._echo_closed

        async def main(rec: Recorder) -> None:
            await body(rec, url, wl, payload, opts.timeout, correct)

        return run_load(
            "ws.echo", "rtt", main, duration=wl.duration, options=opts,
            expected_ops=self._expected(wl),
            info={"url": url, "scenario": "echo", **wl.describe()},
            setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

    async def _connect_all(self, rec: Recorder, http: Any, url: str, n: int,
                           timeout: float) -> list[Any]:
        conns: list[Any] = [None] * n
        todo = iter(range(n))

        async def worker() -> None:
            # 256 handshakes at a time by 256 workers (not a task per connection waiting on
            # a semaphore: 10,000 of those would cost ~2 KB each at the peak)
            for i in todo:
                if rec.stopping:
                    return
                try:
                    conns[i] = await self._connect(rec, http, url, timeout)
                except Exception:
                    conns[i] = None

        await asyncio.gather(*(worker() for _ in range(min(n, 256))))
        failed = sum(1 for c in conns if c is None)
        rec.count("connections", n - failed)
        if failed:
            rec.count("connect_failed", failed)
            rec.ops += failed
        return conns

    async def _close_all(self, conns: Sequence[Any], budget: float = 3.0) -> None:
        """Close handshakes, 256 at a time, for at most ``budget`` seconds in all; what is left
        then is closed without the handshake when the client session closes."""
        todo = iter([ws for ws in conns if ws is not None and not ws.closed])
        end = time.perf_counter() + budget

        async def worker() -> None:
            for ws in todo:
                left = end - time.perf_counter()
                if left <= 0:
                    return
                try:
                    await asyncio.wait_for(ws.close(), min(1.0, left))
                except Exception:
                    pass

        await asyncio.gather(*(worker() for _ in range(min(256, len(conns)))))

    async def _echo_closed(self, rec: Recorder, url: str, wl: Workload, payload: str,
                           timeout: float, correct: bool) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        async with self._client_session(wl.clients) as http:
            conns = await self._connect_all(rec, http, url, wl.clients, timeout)
            begin(rec, wl.duration)
            deadline_ns = int(rec.deadline * 1e9)
            buf = rec.batch("rtt")
            if correct:
                # Expected interval: the think time plus a typical round trip; refined once the
                # first batch is in (see _refine_interval).
                rec.correct("rtt", max(1, int(wl.think * 1e6)) + 1000, "rtt_raw")
            think = wl.think
            stages = wl.stages
            window_ns = time.perf_counter_ns()
            # One slot per connection: when its reply wait began (0: not waiting). The watchdog
            # fails a connection whose wait is older than the timeout; no timer per message.
            waiting = [0] * len(conns)

            async def loop(i: int, ws: Any) -> None:
                pc = time.perf_counter_ns
                send = ws.send_str
                receive = ws.receive
                append = buf.append
                while not rec.stopping:
                    t0 = pc()
                    if t0 >= deadline_ns:
                        return
                    if stages and i >= wl.clients_at((t0 - window_ns) / 1e9):
                        await asyncio.sleep(0.05)
                        continue
                    rec.ops += 1
                    waiting[i] = t0
                    try:
                        await send(payload)
                        msg = await receive()
                    except Exception as exc:
                        waiting[i] = 0
                        rec.error(classify(exc))
                        return
                    waiting[i] = 0
                    if msg.type is not TEXT:
                        rec.error("closed" if msg.type in _CLOSING else "protocol")
                        return
                    append((pc() - t0) // 1000)
                    if think:
                        await asyncio.sleep(think)

            tasks: list[asyncio.Future[Any] | None] = [
                None if ws is None else asyncio.ensure_future(loop(i, ws))
                for i, ws in enumerate(conns)
            ]
            dog = Watchdog(rec, timeout)
            dog.watch_slots(waiting, tasks)
            refine = asyncio.ensure_future(_refine_interval(rec, "rtt", wl.think, correct))
            try:
                await dog.run_until_done([t for t in tasks if t is not None], deadline_ns)
            finally:
                refine.cancel()
                await self._close_all(conns)

    async def _echo_open(self, rec: Recorder, url: str, wl: Workload, payload: str,
                         timeout: float, correct: bool) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        schedule = wl.schedule()
        n = wl.clients
        async with self._client_session(n) as http:
            conns = await self._connect_all(rec, http, url, n, timeout)
            begin(rec, wl.duration)
            start_ns = int(rec.window_start * 1e9)
            deadline_ns = int(rec.deadline * 1e9)
            buf = rec.batch("rtt")
            pc = time.perf_counter_ns
            live = [ws for ws in conns if ws is not None]
            # Per connection: the intended times of the messages in flight (a deque made on the
            # first send: an idle connection costs no more than its socket and reader), whether
            # it is gone, and how many replies to expired messages are still owed.
            inflights: list[deque[int] | None] = [None] * len(live)
            dead = [False] * len(live)
            stale = [0] * len(live)

            async def sender() -> None:
                """One task sends for every connection, arrival k on connection k mod n: a
                task per connection would cost ~2 KB each. A send only waits when the
                connection's socket buffer is full (the server stopped reading); the sends
                behind it are then late, counted as such and measured from their intended
                times."""
                sends = [ws.send_str for ws in live]
                n_live = len(live)
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
                    i = k % n_live
                    k += 1
                    rec.ops += 1
                    if dead[i]:
                        rec.error("closed")
                        continue
                    inflight = inflights[i]
                    if inflight is None:
                        inflight = inflights[i] = deque()
                    elif len(inflight) >= MAX_IN_FLIGHT:
                        rec.error("dropped")
                        rec.count("dropped")
                        continue
                    if now - due > LATE_NS:
                        rec.count("late")
                    inflight.append(due if due <= now else now)  # never before the send
                    try:
                        await sends[i](payload)
                    except Exception as exc:
                        inflight.pop()
                        dead[i] = True
                        rec.error(classify(exc))

            async def reader(i: int, ws: Any) -> None:
                receive = ws.receive
                append = buf.append
                try:
                    while True:
                        try:
                            msg = await receive()
                        except Exception as exc:
                            rec.error(classify(exc), max(1, _drop(inflights[i])))
                            return
                        if msg.type is not TEXT:
                            pending = _drop(inflights[i])
                            if pending or msg.type not in _CLOSING:
                                rec.error("closed" if msg.type in _CLOSING else "protocol",
                                          max(1, pending))
                            return
                        inflight = inflights[i]
                        if stale[i]:  # echo order: replies to expired messages come first
                            stale[i] -= 1
                        elif inflight:
                            append((pc() - inflight.popleft()) // 1000)
                        else:
                            rec.error("protocol")
                finally:
                    dead[i] = True

            if not live:
                return
            send_task = asyncio.ensure_future(sender())
            readers = [asyncio.ensure_future(reader(i, ws)) for i, ws in enumerate(live)]
            dog = Watchdog(rec, timeout)
            dog.watch_queues(inflights, stale)
            try:
                await dog.run_until_done([send_task], deadline_ns)
                # replies in flight: wait until every queue is empty (the watchdog empties
                # the ones that run past the timeout)
                await dog.run_until(lambda: not any(inflights),
                                    pc() + int(timeout * 1e9) + 500_000_000)
                left = sum(len(q) for q in inflights if q)
                if left and not rec.stopping:
                    rec.error("timeout", left)
            finally:
                if not send_task.done():
                    send_task.cancel()
                for task in readers:
                    task.cancel()
                await asyncio.wait([send_task, *readers], timeout=1.0)
                await self._close_all(conns)

    # -- broadcast and subscribe --

    def broadcast(
        self,
        url: str,
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        publish_url: str | None = None,
        timeout: float | None = None,
        stages: Sequence[Any] | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """``clients`` subscribers connect to ``url``; a publisher (one more WebSocket on
        ``url``, or an HTTP POST to ``publish_url``) sends a payload at ``rate`` (default
        10/s). ``delivery``: publish (intended time) to arrival, per subscriber; lost and
        duplicated deliveries are errors ``lost`` / ``duplicate``; operations = deliveries
        expected."""
        self._check_url(url)
        wl = make_workload(clients=clients, duration=duration, rate=rate or 10.0,
                           message_size=message_size or 64, stages=stages)
        check_connection_limit(wl.clients + 1)
        opts = self._options(timeout, abort)
        return self._fanout("ws.broadcast", url, wl, opts, publisher=publish_url or "ws",
                            headers=None)

    def subscribe(
        self,
        url: str,
        trigger: Trigger,
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        timeout: float | None = None,
        abort: Any = None,
        trigger_headers: Mapping[str, str] | None = None,
    ) -> LoadResult:
        """``clients`` subscribers connect to ``url``; at ``rate`` (default 10/s) the engine calls
        ``trigger(payload)`` (async or plain callable, or a URL to POST the payload to, with
        ``trigger_headers`` such as an Authorization header) which must make the server push a
        frame containing the payload's ``roo`` token. ``delivery`` runs from the trigger's
        intended start to the arrival at each subscriber; ``trigger`` times the trigger call
        itself."""
        self._check_url(url)
        if not (callable(trigger) or (isinstance(trigger, str)
                                      and trigger.startswith(("http://", "https://")))):
            raise ValueError(f"invalid trigger {trigger!r}: expected an async or plain callable "
                             "taking the payload text, or an http(s):// URL to POST it to")
        wl = make_workload(clients=clients, duration=duration, rate=rate or 10.0,
                           message_size=message_size or 64)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)
        return self._fanout("ws.subscribe", url, wl, opts, publisher=trigger,
                            headers=trigger_headers)

    def _fanout(self, name: str, url: str, wl: Workload, opts: RunOptions,
                publisher: Trigger, headers: Mapping[str, str] | None) -> LoadResult:
        run_id = secrets.token_hex(3)
        schedule = wl.schedule()
        state: dict[str, Any] = {}

        async def main(rec: Recorder) -> None:
            await self._fanout_body(rec, url, wl, opts.timeout, publisher, run_id, state,
                                    {"Content-Type": "application/json", **(headers or {})})

        def finish(rec: Recorder) -> None:
            subs = state.get("subscribers", [])
            published = state.get("published", 0)
            published_ok = state.get("published_ok", bytearray())
            lost = 0
            for sub in subs:
                seen: bytearray = sub["seen"]
                first = sub["first"]
                for seq in range(first, min(published, sub["last"])):
                    if published_ok[seq] and (seq >= len(seen) or not seen[seq]):
                        lost += 1
            if lost:
                rec.error("lost", lost)
                rec.count("lost", lost)
            rec.result.info["run_id"] = run_id
            rec.result.counters["published"] = published
            rec.result.counters["subscribers"] = len(subs)

        return run_load(
            name, "delivery", main, duration=wl.duration, options=opts,
            expected_ops=lambda rec, elapsed: schedule.total * wl.clients,
            info={"url": url, "scenario": name.split(".")[1], **wl.describe()},
            finish=finish, setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

    async def _fanout_body(self, rec: Recorder, url: str, wl: Workload, timeout: float,
                           publisher: Trigger, run_id: str, state: dict[str, Any],
                           post_headers: dict[str, str]) -> None:
        import aiohttp

        TEXT = aiohttp.WSMsgType.TEXT
        schedule = wl.schedule()
        intended: list[int] = []  # perf_counter_ns of each seq's intended publish time
        published_ok = bytearray()
        state["published_ok"] = published_ok
        subscribers: list[dict[str, Any]] = []
        state["subscribers"] = subscribers
        state["published"] = 0
        n_subs = wl.clients
        finder = TOKEN_RE.search
        pc = time.perf_counter_ns
        timeout_ns = int(timeout * 1e9)

        async with self._client_session(n_subs + 1) as http:
            conns = await self._connect_all(rec, http, url, n_subs, timeout)
            pub_ws = None
            if publisher == "ws":
                try:
                    pub_ws = await self._connect(rec, http, url, timeout, metric="connect")
                except Exception:
                    rec.stop("publisher could not connect")
            buf = rec.batch("delivery")

            async def reader(ws: Any, sub: dict[str, Any]) -> None:
                seen: bytearray = sub["seen"]
                receive = ws.receive
                # no timer per frame: the run cancels the readers when it is over
                while not rec.stopping:
                    try:
                        msg = await receive()
                    except Exception as exc:
                        rec.error(classify(exc))
                        sub["last"] = state["published"]
                        return
                    if msg.type is not TEXT:
                        if msg.type in _CLOSING:
                            rec.error("closed")
                            sub["last"] = state["published"]
                            return
                        continue
                    now = pc()
                    match = finder(msg.data)
                    if match is None or match.group(1) != run_id:
                        continue
                    seq = int(match.group(2))
                    if seq >= len(intended):
                        rec.error("protocol")
                        continue
                    if seq >= len(seen):
                        seen.extend(bytes(seq + 1024 - len(seen)))
                    if seen[seq]:
                        rec.error("duplicate")
                        rec.count("duplicate")
                        continue
                    seen[seq] = 1
                    buf.append((now - intended[seq]) // 1000)

            async def drain(ws: Any) -> None:  # the publisher's own copies
                while not rec.stopping:
                    try:
                        msg = await ws.receive()
                    except Exception:
                        return
                    if msg.type in _CLOSING:
                        return

            readers = []
            for ws in conns:
                if ws is None:
                    continue
                sub = {"seen": bytearray(), "first": 0, "last": 1 << 62}
                subscribers.append(sub)
                readers.append(asyncio.ensure_future(reader(ws, sub)))
            if pub_ws is not None:
                readers.append(asyncio.ensure_future(drain(pub_ws)))
            begin(rec, wl.duration)
            start_ns = int(rec.window_start * 1e9)
            deadline_ns = int(rec.deadline * 1e9)
            epoch_offset = time.time_ns() - pc()
            live_subs = len(subscribers)
            trig_tasks: set[asyncio.Future[Any]] = set()

            async def publish_one(seq: int, payload: str) -> None:
                t0 = pc()
                try:
                    if pub_ws is not None:
                        await asyncio.wait_for(pub_ws.send_str(payload), timeout)
                    elif isinstance(publisher, str):
                        async with http.post(publisher, data=payload, headers=post_headers,
                                             timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                            await r.read()
                            if r.status >= 400:
                                raise aiohttp.ClientResponseError(
                                    r.request_info, r.history, status=r.status)
                    else:
                        assert callable(publisher)
                        if inspect.iscoroutinefunction(publisher):
                            await asyncio.wait_for(publisher(payload), timeout)
                        else:
                            out = await asyncio.wait_for(
                                asyncio.get_running_loop().run_in_executor(
                                    None, publisher, payload), timeout)
                            if inspect.isawaitable(out):
                                await asyncio.wait_for(out, timeout)
                except Exception as exc:
                    published_ok[seq] = 0
                    rec.error(classify(exc))
                    rec.count("publish_failed")
                    return
                rec.batch("publish").append((pc() - t0) // 1000)

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
                intended.append(due if due <= now else now)  # an early publish: from its start
                published_ok.append(1)
                state["published"] = seq + 1
                rec.ops += live_subs
                payload = make_payload(run_id, seq, wl.message_size, due + epoch_offset)
                if pub_ws is not None:
                    await publish_one(seq, payload)
                elif len(trig_tasks) >= 256:
                    published_ok[seq] = 0
                    rec.error("dropped")
                    rec.count("dropped")
                else:
                    task = asyncio.ensure_future(publish_one(seq, payload))
                    trig_tasks.add(task)
                    task.add_done_callback(trig_tasks.discard)
                seq += 1
            if trig_tasks:
                await asyncio.wait(trig_tasks, timeout=timeout)
            # Grace: wait until every subscriber has every message, or the delivery timeout.
            end = pc() + timeout_ns
            while not rec.stopping and pc() < end:
                want = sum(1 for ok in published_ok if ok)
                if all(sum(sub["seen"]) >= want for sub in subscribers):
                    break
                await asyncio.sleep(0.05)
            for task in readers:
                task.cancel()
            if readers:
                await asyncio.wait(readers, timeout=1.0)
            await self._close_all([*conns, pub_ws])

    # -- churn --

    def churn(
        self,
        url: str,
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        timeout: float | None = None,
        model: str | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """Rapid connect -> one echo -> disconnect. With ``rate`` (open model) sessions arrive on
        schedule over a pool of ``clients`` concurrent sessions (default 100); without it
        ``clients`` users loop. ``session`` (primary) runs from the intended start to the close;
        ``connect`` times the handshake; failures are counted by kind."""
        self._check_url(url)
        wl = make_workload(clients=clients, duration=duration, rate=rate,
                           message_size=message_size, model=model, default_clients=100)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)
        payload = "x" * wl.message_size

        async def main(rec: Recorder) -> None:
            import aiohttp

            TEXT = aiohttp.WSMsgType.TEXT
            timeout = opts.timeout
            async with self._client_session(wl.clients) as http:
                pc = time.perf_counter_ns
                session_buf = rec.batch("session")

                async def one(_: Any, intended: int) -> None:
                    ws = await self._connect(rec, http, url, timeout)
                    try:
                        t0 = pc()
                        await asyncio.wait_for(ws.send_str(payload), timeout)
                        msg = await ws.receive(timeout)
                        if msg.type is not TEXT:
                            kind = "closed" if msg.type in _CLOSING else "protocol"
                            rec.error(kind)
                            raise mark_counted(ConnectionError(kind))
                        rec.batch("rtt").append((pc() - t0) // 1000)
                    finally:
                        await asyncio.wait_for(ws.close(), timeout)
                    session_buf.append((pc() - intended) // 1000)

                await drive(rec, wl, one, timeout=timeout, grace=timeout)

        return run_load(
            "ws.churn", "session", main, duration=wl.duration, options=opts,
            expected_ops=self._expected(wl),
            info={"url": url, "scenario": "churn", **wl.describe()},
        )

    # -- user scenarios --

    def run(
        self,
        scenario: Scenario,
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        primary: str = "iteration",
        name: str = "ws.run",
        abort: Any = None,
    ) -> LoadResult:
        """Run ``async def scenario(session)`` per user (closed) or per arrival (open).

        ``session.ws(url)`` opens (and keeps, per user) a WebSocket, ``session.http`` is an
        aiohttp ClientSession, ``session.measure("name")`` times a block. ``iteration`` times
        each whole scenario call (from the intended start in the open model)."""
        return run_scenario(
            scenario, name=name, primary=primary, options=self._options(timeout, abort),
            clients=clients, duration=duration, rate=rate, message_size=message_size,
            stages=stages, think=think, model=model, http=True,
        )


def run_scenario(
    scenario: Scenario,
    *,
    name: str,
    primary: str,
    options: RunOptions,
    clients: int | None,
    duration: float | str | None,
    rate: float | str | None,
    message_size: int | None = None,
    stages: Sequence[Any] | None = None,
    think: float | str | None = None,
    model: str | None = None,
    http: bool = True,
    setup: Callable[[Session], Awaitable[None]] | None = None,
    teardown: Callable[[Session], Awaitable[None]] | None = None,
    info: dict[str, Any] | None = None,
) -> LoadResult:
    """The shared ``run(scenario)`` of every driver (see :meth:`WsSwarm.run`)."""
    if not inspect.iscoroutinefunction(scenario):
        raise ValueError(f"invalid scenario {scenario!r}: expected an `async def "
                         "scenario(session)` function")
    wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages, think=think,
                       message_size=message_size, model=model)
    check_connection_limit(wl.clients)
    timeout = options.timeout

    async def main(rec: Recorder) -> None:
        import aiohttp

        http_session = None
        if http:
            # no connection cap: a user may hold a WebSocket and send HTTP requests at once
            connector = aiohttp.TCPConnector(limit=0)
            http_session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))
        try:
            it_buf = rec.batch("iteration")

            async def setup_vu(i: int) -> Session:
                sess = Session(rec, i, timeout)
                sess.http = http_session
                if setup is not None:
                    await asyncio.wait_for(setup(sess), timeout)
                return sess

            async def teardown_vu(sess: Session) -> None:
                await sess.close()
                if teardown is not None:
                    await teardown(sess)

            async def one(sess: Session, intended: int) -> None:
                sess.iteration += 1
                await scenario(sess)
                it_buf.append((time.perf_counter_ns() - intended) // 1000)

            await drive(rec, wl, one, setup_vu=setup_vu, teardown_vu=teardown_vu,
                        timeout=timeout, grace=timeout)
        finally:
            if http_session is not None:
                await asyncio.wait_for(http_session.close(), 2.0)

    expected = None
    if wl.open:
        total = wl.schedule().total
        expected = lambda rec, elapsed: total  # noqa: E731
    result = run_load(
        name, primary, main, duration=wl.duration, options=options, expected_ops=expected,
        info={"scenario": "run", **wl.describe(), **(info or {})},
        setup_budget=timeout * (2 + wl.clients / 256),
    )
    return result


async def _refine_interval(rec: Recorder, metric: str, think: float, enabled: bool) -> None:
    """Closed-model correction: the expected interval between a user's sends is the think time
    plus the median round trip, taken from the first full second (before a stall can skew it)."""
    if not enabled:
        return
    import numpy as np

    await asyncio.sleep(0.5)
    buf = rec.batches.get(metric)
    if buf is not None and len(buf) > 10:
        median = int(np.median(np.frombuffer(buf, dtype=np.int64)))
        rec.correct(metric, max(1, int(think * 1e6) + median), rec.raw_twins.get(metric))
        rec.result.info["expected_interval_us"] = rec.corrections[metric]


def _drop(queue: deque[int] | None) -> int:
    """Empty a connection's in-flight queue; how many messages it held."""
    if not queue:
        return 0
    n = len(queue)
    queue.clear()
    return n


def _closing_types() -> frozenset[Any]:
    import aiohttp

    t = aiohttp.WSMsgType
    return frozenset({t.CLOSE, t.CLOSING, t.CLOSED, t.ERROR})


class _Closing:
    """Lazy set of aiohttp's closing message types (aiohttp is imported on first use)."""

    _types: frozenset[Any] | None = None

    def __contains__(self, item: object) -> bool:
        if self._types is None:
            self._types = _closing_types()
        return item in self._types


_CLOSING = _Closing()
_ = json  # the payload is built by hand for speed; json documents its shape in tests
