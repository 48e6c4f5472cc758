"""WebSocket load: echo, broadcast, churn, subscribe and user scenarios (aiohttp client).

Usable without pytest::

    from pytest_roo.load import WsSwarm
    result = WsSwarm().echo("ws://127.0.0.1:8080/ws/echo", clients=100, duration="10s",
                            rate="2000/s")
    print(result.percentile("rtt", 95))

The server contract (echo order, broadcast fan-out, the JSON payload with its ``roo`` token) is
in docs/load.md. The echo run lives in ``ws_echo``, the fan-out runs in ``ws_fanout``, what
they share in ``ws_client``, the user scenarios in ``scenario``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_roo.load.engine import RunOptions, run_load
from pytest_roo.load.executor import check_connection_limit, drive, mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.scenario import Scenario, UserHook, check_hook, run_scenario
from pytest_roo.load.workload import Workload, make_workload
from pytest_roo.load.ws_client import (
    CLOSING,
    TOKEN_RE,
    WsClient,
    echo_message,
    make_payload,
    reply_id,
)
from pytest_roo.load.ws_echo import EchoRun
from pytest_roo.load.ws_fanout import Fanout, Trigger
from pytest_roo.redact import mask_url
from pytest_roo.results.metrics import LoadResult

__all__ = ["TOKEN_RE", "WsSwarm", "make_payload", "run_scenario"]

#: churn: frames read while waiting for the one echo before the session counts as broken
_MAX_FRAMES = 100


class WsSwarm(WsClient):
    """A swarm of WebSocket clients. Each method runs one bounded load run in a fresh event loop
    and returns a :class:`~pytest_roo.results.metrics.LoadResult` (times in seconds).

    The keywords the methods share (``clients=``, ``duration=``, ``rate=``, ``stages=``,
    ``think=``, ``model=``, ``timeout=``, ``message_size=``) mean what the fields of
    :class:`~pytest_roo.load.options.Load` say.
    """

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
        ``connect`` times the handshakes. Every reply is matched to its message by id and
        payload: an altered echo is a ``mismatch``, frames that are no echo are counted in
        ``counters["unexpected"]`` (see :mod:`pytest_roo.load.ws_echo`). Closed model (no
        ``rate``): one message in flight per client, ``rtt`` back-filled with the
        expected-interval correction (``rtt_raw`` keeps the plain samples; ``correct=False``
        turns it off). Open model: each client sends its share of ``rate`` on schedule,
        several in flight, ``rtt`` from the intended send time. A client that could not
        connect or was dropped counts as its share of the operations failed;
        ``counters["clients_connected"]`` says how many connected."""
        self._check_url(url)
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, message_size=message_size, model=model)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)

        async def main(rec: Recorder) -> None:
            run = EchoRun(self, rec, url, wl, opts.timeout, correct)
            await (run.open() if wl.open else run.closed())

        return run_load(
            "ws.echo", "rtt", main, duration=wl.duration, options=opts,
            expected_ops=self._expected(wl),
            info={"url": mask_url(url), "scenario": "echo", **wl.describe()},
            setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

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
        10/s). ``delivery``: publish (intended time) to arrival, per subscriber; lost,
        duplicated and altered deliveries are errors ``lost`` / ``duplicate`` / ``mismatch``;
        operations = messages published x clients (a subscriber that could not connect or
        was dropped counts its share as errors of its kind)."""
        self._check_url(url)
        wl = make_workload(clients=clients, duration=duration,
                           rate=None if stages is not None else (rate or 10.0),
                           message_size=message_size or 64, stages=stages)
        check_connection_limit(wl.clients + 1)
        opts = self._options(timeout, abort)
        return self._fanout("ws.broadcast", url, wl, opts, publisher=publish_url or "ws",
                            headers=None, check_payload=True)

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
        trigger_setup: Callable[[], Any] | None = None,
        trigger_teardown: Callable[[Any], Any] | None = None,
    ) -> LoadResult:
        """``clients`` subscribers connect to ``url``; at ``rate`` (default 10/s) the engine calls
        ``trigger(payload)`` (async or plain callable, or a URL to POST the payload to, with
        ``trigger_headers`` such as an Authorization header) which must make the server push a
        frame containing the payload's ``roo`` token. ``delivery`` runs from the trigger's
        intended start to the arrival at each subscriber; ``publish`` times the trigger call
        itself.

        ``trigger_setup()`` (``async def`` or plain) runs once on the run's event loop before
        the subscribers connect (a log-in, a client bound to that loop: an aiohttp session,
        an asyncpg or Redis connection); what it returns is handed to a callable trigger as
        its second argument, ``trigger(payload, state)``, and to ``trigger_teardown(state)``
        once the run is over (also when it failed)."""
        self._check_url(url)
        if not (callable(trigger) or (isinstance(trigger, str)
                                      and trigger.startswith(("http://", "https://")))):
            raise ValueError(f"invalid trigger {trigger!r}: expected an async or plain callable "
                             "taking the payload text, or an http(s):// URL to POST it to")
        if trigger_setup is not None and not callable(trigger):
            raise ValueError("trigger_setup= hands its state to a callable trigger, but the "
                             f"trigger is the URL {trigger!r}: give trigger_headers= for a "
                             "POST, or make the trigger a function")
        check_hook("trigger_setup", trigger_setup)
        check_hook("trigger_teardown", trigger_teardown)
        wl = make_workload(clients=clients, duration=duration, rate=rate or 10.0,
                           message_size=message_size or 64)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)
        return self._fanout("ws.subscribe", url, wl, opts, publisher=trigger,
                            headers=trigger_headers, check_payload=False,
                            hooks=(trigger_setup, trigger_teardown))

    def _fanout(self, name: str, url: str, wl: Workload, opts: RunOptions,
                publisher: Trigger, headers: Mapping[str, str] | None,
                check_payload: bool,
                hooks: tuple[Callable[[], Any] | None, Callable[[Any], Any] | None]
                = (None, None)) -> LoadResult:
        run_id = secrets.token_hex(3)
        schedule = wl.schedule()
        runs: list[Fanout] = []

        async def main(rec: Recorder) -> None:
            run = Fanout(self, rec, url, wl, opts.timeout, publisher, run_id,
                         {"Content-Type": "application/json", **(headers or {})},
                         check_payload, hooks)
            runs.append(run)
            await run.run()

        def finish(rec: Recorder) -> None:
            if runs:
                runs[0].finish(rec)

        return run_load(
            name, "delivery", main, duration=wl.duration, options=opts,
            expected_ops=lambda rec, elapsed: schedule.total * wl.clients,
            info={"url": mask_url(url), "scenario": name.split(".")[1], **wl.describe()},
            finish=finish, setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

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
        prefix = f"roo:{secrets.token_hex(3)}:"
        payload = echo_message(prefix, 0, "x" * wl.message_size)

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
                        for _frame in range(_MAX_FRAMES):
                            msg = await ws.receive(timeout)
                            if msg.type in CLOSING:
                                rec.error("closed", detail="the server closed the socket")
                                raise mark_counted(ConnectionError("closed"))
                            if msg.type is TEXT and msg.data == payload:
                                break
                            if msg.type is TEXT and reply_id(prefix, msg.data) is not None:
                                rec.error("mismatch",
                                          detail=f"echo differs: {msg.data[:48]!r}")
                                raise mark_counted(ConnectionError("mismatch"))
                            rec.count("unexpected")  # a greeting, a ping: not the echo
                        else:
                            rec.error("protocol", detail=f"{_MAX_FRAMES} frames, none the echo")
                            raise mark_counted(ConnectionError("protocol"))
                        rec.batch("rtt").append((pc() - t0) // 1000)
                    finally:
                        await asyncio.wait_for(ws.close(), timeout)
                    session_buf.append((pc() - intended) // 1000)

                await drive(rec, wl, one, timeout=timeout, grace=timeout)

        return run_load(
            "ws.churn", "session", main, duration=wl.duration, options=opts,
            expected_ops=self._expected(wl),
            info={"url": mask_url(url), "scenario": "churn", **wl.describe()},
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
        setup: UserHook | None = None,
        teardown: UserHook | None = None,
    ) -> LoadResult:
        """Run ``async def scenario(session)`` per user (closed) or per arrival (open).

        ``session.ws(url)`` opens (and keeps, per user) a WebSocket, ``session.http`` is an
        aiohttp ClientSession, ``session.measure("name")`` times a block. ``iteration`` times
        each whole scenario call (from the intended start in the open model). ``setup(session)``
        and ``teardown(session)`` (``async def`` or plain) run once per virtual user, before and
        after the measured window (a log-in, a subscription; ``session.data`` keeps what they
        make)."""
        return run_scenario(
            scenario, name=name, primary=primary, options=self._options(timeout, abort),
            clients=clients, duration=duration, rate=rate, message_size=message_size,
            stages=stages, think=think, model=model, http=True,
            user_setup=setup, user_teardown=teardown,
        )
