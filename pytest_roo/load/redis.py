"""Redis load (redis.asyncio): commands and pipelines at a rate or in a closed loop, and pub/sub
fan-out latency.

    from pytest_roo.load.redis import RedisLoad
    load = RedisLoad("redis://:password@127.0.0.1:6379/0")
    result = load.command("GET", "greeting", expect=b"hello", clients=50, rate="5000/s",
                          duration="10s")
    fanout = load.pubsub(subscribers=100, rate="50/s", duration="10s")

Each client owns one connection (``connect`` times its set-up: TCP, AUTH, SELECT, PING). Answers
are checked when ``expect=`` is given: a wrong answer is an error of kind ``mismatch``. Error
kinds: ``refused`` (nothing listens), ``auth`` (wrong or missing password), ``timeout``,
``closed`` / ``reset`` (the server dropped the connection), ``redis`` (an error reply such as
WRONGTYPE), ``mismatch``, and for pub/sub ``lost`` / ``duplicate``.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import secrets
import time
import zlib
from array import array
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pytest_roo.load.engine import LoadDriver, ProgressCallback, Recorder, classify, run_load
from pytest_roo.load.executor import (
    EARLY_NS,
    OperationFailed,
    begin,
    check_connection_limit,
    drive,
    is_counted,
    mark_counted,
    sleep_until,
)
from pytest_roo.load.session import Session
from pytest_roo.load.workload import Workload, make_workload
from pytest_roo.redact import mask_url
from pytest_roo.results.metrics import LoadResult

__all__ = ["Command", "RedisLoad", "classify_redis", "mask_url"]

#: One command: its arguments, or a function of the iteration number returning them.
Command = Sequence[Any] | Callable[[int], Sequence[Any]]

_NOTHING: Any = object()




def classify_redis(exc: BaseException) -> str:
    """The error kind of an exception raised by redis-py (or anything else, via the engine's)."""
    try:
        import redis.exceptions as rex
    except ImportError:  # pragma: no cover - redis is a dependency
        return classify(exc)
    text = str(exc)
    if isinstance(exc, rex.AuthenticationError) or (
        isinstance(exc, rex.ResponseError)
        and text.startswith(("NOAUTH", "WRONGPASS", "invalid username-password"))
    ):
        return "auth"
    if isinstance(exc, rex.AuthenticationWrongNumberOfArgsError) or (
        isinstance(exc, rex.ResponseError) and "AUTH" in text and "without any password" in text
    ):
        return "auth"
    if isinstance(exc, rex.TimeoutError):
        return "timeout"
    if isinstance(exc, rex.ConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text or (
            "Error 111 " in text
        ):
            return "refused"
        if isinstance(cause, ConnectionResetError) or "reset by peer" in text:
            return "reset"
        return "closed"
    if isinstance(exc, rex.ResponseError):
        return "redis"
    return classify(exc)


def _error_text(exc: BaseException) -> str:
    """One line for ``info["first_error"]``: the kind and redis-py's message (never the URL's
    password: redis-py's messages name host and port only)."""
    return f"{classify_redis(exc)}: {type(exc).__name__}: {str(exc)[:200]}"


def _matches(reply: Any, expected: Any) -> bool:
    """Does a raw reply (bytes, int, list, None) equal ``expected``? A str is compared as its
    UTF-8 bytes, an int also matches its decimal digits (GET of a counter)."""
    if callable(expected):
        return bool(expected(reply))
    if isinstance(expected, str) and isinstance(reply, bytes):
        return reply == expected.encode()
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(reply, bytes):
        return reply == str(expected).encode()
    return bool(reply == expected)


def _resolve(spec: Command, i: int) -> Sequence[Any]:
    return spec(i) if callable(spec) else spec


def _check_command(name: str, spec: Any) -> Command:
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], (str, bytes)):
        return tuple(spec)
    raise ValueError(
        f"invalid command {name}={spec!r}: expected a tuple of arguments such as "
        "('SET', 'key', 'value'), or a function of the iteration number returning one "
        "(lambda i: ('GET', f'key:{i % 1000}'))"
    )


class RedisLoad(LoadDriver):
    """Load runs against the Redis server at ``url`` (``redis://[:password@]host:port/db``,
    ``rediss://`` or ``unix://``). Each method runs one bounded run in a fresh event loop and
    returns a :class:`~pytest_roo.results.metrics.LoadResult` (seconds).

    Keywords every method shares: ``clients=`` (connections), ``duration=``, ``rate=`` ("5000/s":
    the open model, latency from each operation's intended start), ``stages=``, ``think=``,
    ``model=``, ``timeout=`` (seconds per await, default 5), ``abort=``.
    """

    def __init__(
        self,
        url: str,
        *,
        progress: ProgressCallback | None = None,
        abort: Any = None,
        max_generator_cpu: float = 0.90,
        timeout: float = 5.0,
        use_uvloop: bool = True,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"invalid redis url {mask_url(str(url))!r}: expected "
                             "redis://[:password@]host:port/db, rediss://... or unix:///path")
        super().__init__(progress=progress, abort=abort, max_generator_cpu=max_generator_cpu,
                         timeout=timeout, use_uvloop=use_uvloop)
        self.url = url

    # -- connections --

    async def _client(self, rec: Recorder, timeout: float, *,
                      socket_timeout: float | None = None) -> Any:
        """One connection, set up and checked with PING (timed as ``connect``).
        ``socket_timeout`` (default: ``timeout``) bounds every read and write; the command
        loops pass 0 and watch their waits themselves (a timer per read costs more CPU than
        the rest of the command)."""
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(
            self.url, single_connection_client=True,
            socket_timeout=timeout if socket_timeout is None else (socket_timeout or None),
            socket_connect_timeout=timeout, retry_on_timeout=False, retry=None,
        )
        t0 = time.perf_counter_ns()
        try:
            await asyncio.wait_for(client.ping(), timeout)
        except Exception as exc:
            rec.error(classify_redis(exc))
            rec.result.info.setdefault("first_error", _error_text(exc))
            await _close(client)
            raise mark_counted(exc) from None
        rec.batch("connect").append((time.perf_counter_ns() - t0) // 1000)
        return client

    def _info(self, scenario: str, wl: Workload, **extra: Any) -> dict[str, Any]:
        return {"url": mask_url(self.url), "scenario": scenario, **wl.describe(), **extra}

    @staticmethod
    def _expected(wl: Workload) -> Callable[[Recorder, float], int] | None:
        if wl.open:
            total = wl.schedule().total
            return lambda rec, elapsed: total
        return None

    # -- commands --

    def command(self, *args: Any, expect: Any = _NOTHING, **kwargs: Any) -> LoadResult:
        """Send one command over and over: ``command("GET", "key", expect=b"value")``.

        ``expect`` (optional) is the reply every call must give (bytes, str, int, a list...),
        or a function ``reply -> bool``; any other reply is an error of kind ``mismatch``.
        Metric ``command`` (primary). Other keywords as :meth:`commands`.
        """
        if not args:
            raise ValueError("command needs the command's arguments: command('GET', 'key')")
        expects = None if expect is _NOTHING else {"command": expect}
        return self.commands({"command": tuple(args)}, expect=expects, **kwargs)

    def commands(
        self,
        named: Mapping[str, Command],
        *,
        expect: Mapping[str, Any] | None = None,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """Named commands, run in turn (operation ``k`` runs the ``k mod n``-th):
        ``commands({"set": ("SET", "k", "v"), "get": lambda i: ("GET", f"k{i % 100}")})``.

        Each name gets its own metric; ``command`` (primary) holds all of them. ``expect`` maps
        a name to the reply it must give (see :meth:`command`): replies are compared as the
        server sent them (``b"OK"``, ``2``, ``b"2"``, ``None``, lists), without redis-py's
        conversions. Closed model (no ``rate``): ``clients`` connections loop, ``command`` is
        recorded with HdrHistogram's expected-interval correction and ``command_raw`` keeps
        the plain samples; open model: each latency runs from the command's intended start.
        """
        if not named:
            raise ValueError("commands needs at least one named command: "
                             "{'get': ('GET', 'key')}")
        items = [(name, _check_command(name, spec)) for name, spec in named.items()]
        unknown = set(expect or {}) - set(named)
        if unknown:
            raise ValueError(f"expect names {sorted(unknown)} that are not among the commands "
                             f"{sorted(named)}")
        checks = [(expect or {}).get(name, _NOTHING) for name, _ in items]
        per_name = len(items) > 1 or items[0][0] != "command"
        static = not any(callable(spec) for _, spec in items)
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, model=model)

        def make_one(rec: Recorder) -> Callable[[_Vu, int], Awaitable[None]]:
            import redis.exceptions as rex

            buf = rec.batch("command")
            named_bufs = [rec.batch(name) if per_name else buf for name, _ in items]
            pc = time.perf_counter_ns
            counter = [0]
            n = len(items)
            response_error = rex.ResponseError

            async def one(vu: _Vu, intended: int) -> None:
                k = counter[0]
                counter[0] = k + 1
                index = k % n
                conn = vu.conn
                if static:
                    if vu.packed is None:
                        vu.packed = [conn.pack_command(*_resolve(spec, 0)) for _, spec in items]
                    packed = vu.packed[index]
                else:
                    packed = conn.pack_command(*_resolve(items[index][1], k))
                await conn.send_packed_command(packed, check_health=False)
                try:
                    reply = await conn.read_response()
                except response_error as exc:
                    rec.error("redis")
                    rec.result.info.setdefault("first_error", _error_text(exc))
                    raise mark_counted(exc) from None
                us = (pc() - intended) // 1000
                check = checks[index]
                if check is not _NOTHING and not _matches(reply, check):
                    rec.error("mismatch")
                    rec.result.info.setdefault(
                        "first_mismatch", f"{items[index][0]}: got {reply!r:.120}")
                    raise mark_counted(OperationFailed("mismatch"))
                buf.append(us)
                if per_name:
                    named_bufs[index].append(us)

            return one

        return self._run_ops("redis.commands", "command", wl, make_one, timeout, abort,
                             info={"commands": [name for name, _ in items]})

    def pipeline(
        self,
        commands: Sequence[Command],
        *,
        expect: Sequence[Any] | None = None,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """Each operation sends ``commands`` as one pipeline (no MULTI; one write) and reads
        every reply: ``pipeline([("SET", "k", "v")] * 16)``. Metric ``pipeline`` (one sample
        per pipeline); ``counters["commands"]`` counts the commands answered. An error reply
        inside the pipeline fails the operation as ``redis``; ``expect`` (one entry per
        command, ``None`` for "any"; raw replies as for :meth:`commands`) checks the replies
        (``mismatch``)."""
        if isinstance(commands, (str, bytes)) or not commands:
            raise ValueError("pipeline needs a list of commands: [('SET', 'k', 'v'), "
                             "('GET', 'k')]")
        specs = [_check_command(f"commands[{i}]", c) for i, c in enumerate(commands)]
        if expect is not None and len(expect) != len(specs):
            raise ValueError(f"expect has {len(expect)} entries for {len(specs)} commands: give "
                             "one per command (None for any reply)")
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, model=model)
        size = len(specs)
        static = not any(callable(spec) for spec in specs)

        def make_one(rec: Recorder) -> Callable[[_Vu, int], Awaitable[None]]:
            import redis.exceptions as rex

            buf = rec.batch("pipeline")
            pc = time.perf_counter_ns
            counter = [0]
            counters = rec.result.counters
            response_error = rex.ResponseError

            async def one(vu: _Vu, intended: int) -> None:
                k = counter[0]
                counter[0] = k + 1
                conn = vu.conn
                if static:
                    if vu.packed is None:
                        vu.packed = conn.pack_commands(specs)
                    packed = vu.packed
                else:
                    packed = conn.pack_commands([_resolve(spec, k) for spec in specs])
                await conn.send_packed_command(packed, check_health=False)
                failed: BaseException | None = None
                wrong = -1
                read = conn.read_response
                # every reply is read, also after an error one: the connection stays in step
                for i in range(size):
                    try:
                        reply = await read()
                    except response_error as exc:
                        failed = failed or exc
                        continue
                    if expect is not None and wrong < 0 and expect[i] is not None and \
                            not _matches(reply, expect[i]):
                        wrong = i
                        rec.result.info.setdefault(
                            "first_mismatch", f"commands[{i}]: got {reply!r:.120}")
                us = (pc() - intended) // 1000
                counters["commands"] += size
                if failed is not None:
                    rec.error("redis")
                    rec.result.info.setdefault("first_error", _error_text(failed))
                    raise mark_counted(OperationFailed("redis"))
                if wrong >= 0:
                    rec.error("mismatch")
                    raise mark_counted(OperationFailed("mismatch"))
                buf.append(us)

            return one

        return self._run_ops("redis.pipeline", "pipeline", wl, make_one, timeout, abort,
                             info={"pipeline": size})

    def _run_ops(
        self,
        name: str,
        primary: str,
        wl: Workload,
        make_one: Callable[[Recorder], Callable[[_Vu, int], Awaitable[None]]],
        timeout: float | None,
        abort: Any,
        info: dict[str, Any],
    ) -> LoadResult:
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)
        timeout_ns = int(opts.timeout * 1e9)

        async def main(rec: Recorder) -> None:
            inner = make_one(rec)
            vus: list[_Vu] = []
            pc = time.perf_counter_ns
            current_task = asyncio.current_task

            async def one(vu: _Vu, intended: int) -> None:
                vu.task = current_task()
                vu.since = pc()
                try:
                    await inner(vu, intended)
                except asyncio.CancelledError:
                    if not vu.timed_out:
                        raise  # the run is ending
                    # the watchdog gave up on this reply (and counted the timeout): the
                    # connection is out of step, so drop it; the next command reconnects
                    vu.timed_out = False
                    uncancel = getattr(vu.task, "uncancel", None)
                    if uncancel is not None:
                        uncancel()
                    vu.packed = None
                    await vu.conn.disconnect(nowait=True)
                    raise mark_counted(TimeoutError("no reply within the timeout")) from None
                except Exception as exc:
                    if not is_counted(exc):
                        rec.error(classify_redis(exc))
                        rec.result.info.setdefault("first_error", _error_text(exc))
                        mark_counted(exc)
                    raise
                finally:
                    vu.since = 0

            async def setup(i: int) -> _Vu:
                client = await self._client(rec, opts.timeout, socket_timeout=0)
                vu = _Vu(client)
                vus.append(vu)
                return vu

            async def teardown(vu: _Vu) -> None:
                await _close(vu.client)

            async def watchdog() -> None:
                # one scan every 100 ms instead of a timer per reply (see Watchdog in executor)
                while True:
                    await asyncio.sleep(0.1)
                    limit = pc() - timeout_ns
                    for vu in vus:
                        if vu.since and vu.since < limit and vu.task is not None:
                            vu.since = 0
                            vu.timed_out = True
                            rec.error("timeout")
                            vu.task.cancel()

            watch = asyncio.ensure_future(watchdog())
            refine = None
            if not wl.open:
                refine = asyncio.ensure_future(self._correct_when_started(rec, primary, wl))
            try:
                if not wl.open:
                    rec.result.info["corrected"] = primary
                await drive(rec, wl, one, setup_vu=setup, teardown_vu=teardown,
                            timeout=opts.timeout, grace=opts.timeout)
            finally:
                for task in (watch, refine):
                    if task is not None and not task.done():
                        task.cancel()
                        await asyncio.wait({task}, timeout=1.0)

        return run_load(name, primary, main, duration=wl.duration, options=opts,
                        expected_ops=self._expected(wl),
                        info=self._info(name.split(".")[1], wl, **info),
                        setup_budget=opts.timeout * (2 + wl.clients / 256))

    @staticmethod
    async def _correct_when_started(rec: Recorder, metric: str, wl: Workload) -> None:
        """Closed model: once the measured window begins (connections up), record ``metric``
        with HdrHistogram's expected-interval correction and keep ``<metric>_raw``; the
        interval (think time + the median latency of the first half second) is refined as in
        the WebSocket echo (``info["expected_interval_us"]``)."""
        from pytest_roo.load.ws_echo import _refine_interval

        while "setup_seconds" not in rec.result.info:
            await asyncio.sleep(0.02)
        rec.correct(metric, max(1, int(wl.think * 1e6)) + 1000, metric + "_raw")
        await _refine_interval(rec, metric, wl.think, True)

    # -- user scenarios --

    def run(
        self,
        scenario: Callable[[Session], Awaitable[None]],
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        primary: str = "iteration",
        abort: Any = None,
    ) -> LoadResult:
        """``async def scenario(session)`` per user (closed) or per arrival (open):
        ``session.conn`` is this user's ``redis.asyncio.Redis`` (one connection),
        ``session.measure("name")`` times a block. Redis errors raised out of the scenario are
        counted by kind (``auth``, ``refused``, ``redis``, ...)."""
        from pytest_roo.load.scenario import run_scenario

        opts = self._options(timeout, abort)

        async def setup(sess: Session) -> None:
            sess.conn = await self._client(sess._rec, opts.timeout)

        async def teardown(sess: Session) -> None:
            if sess.conn is not None:
                await _close(sess.conn)

        async def wrapped(sess: Session) -> None:
            try:
                await scenario(sess)
            except Exception as exc:
                if not is_counted(exc):
                    sess.error(classify_redis(exc))
                    mark_counted(exc)
                raise

        if not inspect.iscoroutinefunction(scenario):
            raise ValueError(f"invalid scenario {scenario!r}: expected an `async def "
                             "scenario(session)` function")
        return run_scenario(
            wrapped, name="redis.run", primary=primary, options=opts, clients=clients,
            duration=duration, rate=rate, stages=stages, think=think, model=model, http=False,
            setup=setup, teardown=teardown, info={"url": mask_url(self.url)},
        )

    # -- pub/sub fan-out --

    def pubsub(
        self,
        channel: str | None = None,
        *,
        subscribers: int = 10,
        rate: float | str | None = None,
        duration: float | str | None = None,
        message_size: int | None = None,
        stages: Sequence[Any] | None = None,
        timeout: float | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """``subscribers`` connections SUBSCRIBE to ``channel`` (default: one of this run's
        own); once every subscription is confirmed (each client's ``subscribe`` reply and the
        server's ``PUBSUB NUMSUB``) one more connection PUBLISHes at ``rate`` (default 10/s).

        Each message is the JSON payload of docs/load.md (``roo`` token with run id and
        sequence number, ``t``, padding to ``message_size`` bytes). Per subscriber:
        ``delivery`` from the intended publish time to arrival; a message whose body differs
        from what was published is an error ``mismatch``; one that did not arrive within
        ``timeout`` after the end is ``lost``; a second copy is ``duplicate``. ``publish``
        times the PUBLISH round trip; ``counters["receivers"]`` sums the receiver counts
        PUBLISH answered. Operations = deliveries expected (messages x subscribers).
        """
        if isinstance(subscribers, bool) or not isinstance(subscribers, int) or subscribers < 1:
            raise ValueError(f"invalid subscribers={subscribers!r}: expected a positive whole "
                             "number")
        if channel is not None and (not isinstance(channel, str) or not channel):
            raise ValueError(f"invalid channel={channel!r}: expected a non-empty string")
        wl = make_workload(clients=subscribers, duration=duration, rate=rate or 10.0,
                           message_size=message_size or 64, stages=stages)
        check_connection_limit(wl.clients + 1)
        opts = self._options(timeout, abort)
        run_id = secrets.token_hex(3)
        chan = channel or f"roo:pubsub:{run_id}"
        schedule = wl.schedule()
        state: dict[str, Any] = {}

        async def main(rec: Recorder) -> None:
            await self._pubsub_body(rec, chan, wl, opts.timeout, run_id, state)

        def finish(rec: Recorder) -> None:
            subs: list[dict[str, Any]] = state.get("subscribers", [])
            published: int = state.get("published", 0)
            ok: bytearray = state.get("published_ok", bytearray())
            lost = 0
            for sub in subs:
                seen: bytearray = sub["seen"]
                for seq in range(min(published, sub["last"])):
                    if ok[seq] and (seq >= len(seen) or not seen[seq]):
                        lost += 1
            if lost:
                rec.error("lost", lost)
                rec.count("lost", lost)
            rec.result.counters["published"] = published
            rec.result.counters["subscribers"] = len(subs)
            rec.result.info["run_id"] = run_id

        return run_load(
            "redis.pubsub", "delivery", main, duration=wl.duration, options=opts,
            expected_ops=lambda rec, elapsed: schedule.total * wl.clients,
            info=self._info("pubsub", wl, channel=chan), finish=finish,
            setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

    async def _pubsub_body(self, rec: Recorder, channel: str, wl: Workload, timeout: float,
                           run_id: str, state: dict[str, Any]) -> None:
        from pytest_roo.load.ws_client import TOKEN_RE, make_payload

        schedule = wl.schedule()
        intended: list[int] = []  # perf_counter_ns of each message's intended publish time
        crcs = array("L")  # crc32 of each published body: the subscribers check what arrives
        published_ok = bytearray()
        subscribers: list[dict[str, Any]] = []
        state.update(subscribers=subscribers, published=0, published_ok=published_ok)
        pc = time.perf_counter_ns
        finder = TOKEN_RE.search
        crc32 = zlib.crc32
        buf = rec.batch("delivery")
        channel_bytes = channel.encode()
        sem = asyncio.Semaphore(256)

        async def subscribe(i: int) -> tuple[Any, Any] | None:
            async with sem:
                if rec.stopping:
                    return None
                try:
                    # no socket timeout: a quiet channel is no error, the run ends the readers
                    client = await self._client(rec, timeout, socket_timeout=0)
                except Exception:
                    rec.ops += 1
                    return None
                pubsub = client.pubsub()
                try:
                    await asyncio.wait_for(pubsub.subscribe(channel), timeout)
                    # redis-py sends SUBSCRIBE without reading the reply: read it here, so no
                    # message is published before this subscriber is really listening.
                    confirmed = await asyncio.wait_for(_confirm(pubsub), timeout)
                    if not confirmed:
                        raise ConnectionError("no subscribe confirmation")
                except Exception as exc:
                    if not is_counted(exc):
                        rec.error(classify_redis(exc))
                        rec.result.info.setdefault("first_error", _error_text(exc))
                    rec.ops += 1
                    await _close_pubsub(pubsub, client)
                    return None
                return client, pubsub

        pairs = await asyncio.gather(*(subscribe(i) for i in range(wl.clients)))
        live = [p for p in pairs if p is not None]
        publisher = None
        if not rec.stopping:
            try:
                publisher = await self._client(rec, timeout)
            except Exception:
                rec.stop("the publisher could not connect")
        if publisher is not None and live:
            # the server's own count: every confirmed subscriber is registered
            try:
                numsub = await asyncio.wait_for(
                    publisher.execute_command("PUBSUB", "NUMSUB", channel), timeout)
                rec.result.counters["numsub_at_start"] = int(numsub[1])
            except Exception as exc:
                rec.error(classify_redis(exc))
                rec.stop("PUBSUB NUMSUB failed")

        async def reader(pubsub: Any, sub: dict[str, Any]) -> None:
            seen: bytearray = sub["seen"]
            get = pubsub.get_message
            # no timer per message: the run cancels the readers when it is over
            while not rec.stopping:
                try:
                    msg = await get(timeout=None)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    rec.error(classify_redis(exc))
                    sub["last"] = state["published"]
                    return
                if msg is None or msg.get("type") != "message":
                    continue
                now = pc()
                data = msg["data"]
                if msg.get("channel") != channel_bytes:
                    continue
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                match = finder(text)
                if match is None or match.group(1) != run_id:
                    continue  # another run's or another publisher's message
                seq = int(match.group(2))
                if seq >= len(intended):
                    rec.error("protocol")
                    continue
                raw = data if isinstance(data, bytes) else text.encode()
                if crc32(raw) != crcs[seq]:
                    # a wrong body under a right token: an error of its own, and not a
                    # delivery (the right copy, if it comes, still counts)
                    rec.error("mismatch")
                    rec.count("mismatch")
                    rec.result.info.setdefault("first_mismatch", f"seq {seq}: {text[:120]!r}")
                    continue
                if seq >= len(seen):
                    seen.extend(bytes(seq + 1024 - len(seen)))
                if seen[seq]:
                    rec.error("duplicate")
                    rec.count("duplicate")
                    continue
                seen[seq] = 1
                buf.append((now - intended[seq]) // 1000)

        readers: list[asyncio.Future[Any]] = []
        for _, pubsub in live:
            sub: dict[str, Any] = {"seen": bytearray(), "last": 1 << 62}
            subscribers.append(sub)
            readers.append(asyncio.ensure_future(reader(pubsub, sub)))
        begin(rec, wl.duration)
        start_ns = int(rec.window_start * 1e9)
        deadline_ns = int(rec.deadline * 1e9)
        epoch_offset = time.time_ns() - pc()
        n_live = len(subscribers)
        publish_buf = rec.batch("publish")
        counters = rec.result.counters
        try:
            seq = 0
            while publisher is not None and n_live and not rec.stopping:
                t = schedule.time_of(seq)
                if math.isinf(t):
                    break
                due = start_ns + int(t * 1e9)
                if due >= deadline_ns:
                    break
                if due > pc() + EARLY_NS and not await sleep_until(rec, due):
                    break
                now = pc()
                start = due if due <= now else now  # an early publish: from its start
                payload = make_payload(run_id, seq, wl.message_size, due + epoch_offset).encode()
                intended.append(start)
                crcs.append(crc32(payload))
                published_ok.append(1)
                state["published"] = seq + 1
                rec.ops += n_live
                try:
                    receivers = await asyncio.wait_for(
                        publisher.execute_command("PUBLISH", channel, payload), timeout)
                except Exception as exc:
                    published_ok[seq] = 0
                    rec.error(classify_redis(exc))
                    rec.count("publish_failed")
                else:
                    publish_buf.append((pc() - now) // 1000)
                    counters["receivers"] += int(receivers)
                seq += 1
            # grace: until every subscriber has every message, or the delivery timeout
            end = pc() + int(timeout * 1e9)
            want = sum(published_ok)
            while not rec.stopping and pc() < end and subscribers:
                if all(sum(sub["seen"]) >= want for sub in subscribers):
                    break
                await asyncio.sleep(0.05)
        finally:
            for task in readers:
                task.cancel()
            if readers:
                await asyncio.wait(readers, timeout=1.0)
            await asyncio.gather(*(_close_pubsub(p, c) for c, p in live),
                                 return_exceptions=True)
            if publisher is not None:
                await _close(publisher)


class _Vu:
    """One connection of a command loop: its client and connection, the wait in flight (for
    the watchdog) and the commands packed once when they do not change."""

    __slots__ = ("client", "conn", "packed", "since", "task", "timed_out")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.conn = client.connection
        self.packed: Any = None
        self.since = 0
        self.task: asyncio.Task[Any] | None = None
        self.timed_out = False


async def _confirm(pubsub: Any) -> bool:
    while True:
        msg = await pubsub.get_message(timeout=None)
        if msg is not None and msg.get("type") == "subscribe":
            return True


async def _close(client: Any) -> None:
    try:
        await asyncio.wait_for(client.aclose(), 2.0)
    except Exception:
        pass


async def _close_pubsub(pubsub: Any, client: Any) -> None:
    try:
        await asyncio.wait_for(pubsub.aclose(), 2.0)
    except Exception:
        pass
    await _close(client)
