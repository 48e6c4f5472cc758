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

import inspect
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pytest_roo.load.engine import LoadDriver, ProgressCallback, Recorder, run_load
from pytest_roo.load.executor import check_connection_limit, is_counted, mark_counted
from pytest_roo.load.redis_client import (
    NOTHING,
    Command,
    check_command,
    classify_redis,
    close,
    connect,
)
from pytest_roo.load.redis_commands import OneFactory, command_loop, commands_op, pipeline_op
from pytest_roo.load.redis_pubsub import pubsub_body, pubsub_finish
from pytest_roo.load.scenario import UserHook
from pytest_roo.load.session import Session
from pytest_roo.load.workload import Workload, make_workload
from pytest_roo.redact import mask_url
from pytest_roo.results.metrics import LoadResult

__all__ = ["Command", "RedisLoad", "classify_redis", "mask_url"]


class RedisLoad(LoadDriver):
    """Load runs against the Redis server at ``url`` (``redis://[:password@]host:port/db``,
    ``rediss://`` or ``unix://``). Each method runs one bounded run in a fresh event loop and
    returns a :class:`~pytest_roo.results.metrics.LoadResult` (seconds).

    The keywords the methods share (``clients=`` are connections, ``duration=``, ``rate=``,
    ``stages=``, ``think=``, ``model=``, ``timeout=``) mean what the fields of
    :class:`~pytest_roo.load.options.Load` say; ``abort=`` is the engine's abort check.
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
        """One connection, set up and checked with PING (timed as ``connect``)."""
        return await connect(self.url, rec, timeout, socket_timeout=socket_timeout)

    def _info(self, scenario: str, wl: Workload, **extra: Any) -> dict[str, Any]:
        return {"url": mask_url(self.url), "scenario": scenario, **wl.describe(), **extra}

    @staticmethod
    def _expected(wl: Workload) -> Callable[[Recorder, float], int] | None:
        if wl.open:
            total = wl.schedule().total
            return lambda rec, elapsed: total
        return None

    # -- commands --

    def command(self, *args: Any, expect: Any = NOTHING, **kwargs: Any) -> LoadResult:
        """Send one command over and over: ``command("GET", "key", expect=b"value")``.

        ``expect`` (optional) is the reply every call must give (bytes, str, int, a list...),
        or a function ``reply -> bool``; any other reply is an error of kind ``mismatch``.
        Metric ``command`` (primary). Other keywords as :meth:`commands`.
        """
        if not args:
            raise ValueError("command needs the command's arguments: command('GET', 'key')")
        expects = None if expect is NOTHING else {"command": expect}
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
        items = [(name, check_command(name, spec)) for name, spec in named.items()]
        unknown = set(expect or {}) - set(named)
        if unknown:
            raise ValueError(f"expect names {sorted(unknown)} that are not among the commands "
                             f"{sorted(named)}")
        checks = [(expect or {}).get(name, NOTHING) for name, _ in items]
        per_name = len(items) > 1 or items[0][0] != "command"
        static = not any(callable(spec) for _, spec in items)
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, model=model)

        return self._run_ops("redis.commands", "command", wl,
                             commands_op(items, checks, per_name, static), timeout, abort,
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
        specs = [check_command(f"commands[{i}]", c) for i, c in enumerate(commands)]
        if expect is not None and len(expect) != len(specs):
            raise ValueError(f"expect has {len(expect)} entries for {len(specs)} commands: give "
                             "one per command (None for any reply)")
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, model=model)
        return self._run_ops("redis.pipeline", "pipeline", wl, pipeline_op(specs, expect),
                             timeout, abort, info={"pipeline": len(specs)})

    def _run_ops(self, name: str, primary: str, wl: Workload, make_one: OneFactory,
                 timeout: float | None, abort: Any, info: dict[str, Any]) -> LoadResult:
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)

        async def main(rec: Recorder) -> None:
            await command_loop(self.url, rec, wl, make_one, primary, opts.timeout)

        return run_load(name, primary, main, duration=wl.duration, options=opts,
                        expected_ops=self._expected(wl),
                        info=self._info(name.split(".")[1], wl, **info),
                        setup_budget=opts.timeout * (2 + wl.clients / 256))

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
        setup: UserHook | None = None,
        teardown: UserHook | None = None,
    ) -> LoadResult:
        """``async def scenario(session)`` per user (closed) or per arrival (open):
        ``session.conn`` is this user's ``redis.asyncio.Redis`` (one connection),
        ``session.measure("name")`` times a block. Redis errors raised out of the scenario are
        counted by kind (``auth``, ``refused``, ``redis``, ...). ``setup(session)`` runs once
        per virtual user once its connection is up, ``teardown(session)`` before it closes;
        both outside the measured window."""
        from pytest_roo.load.scenario import run_scenario

        opts = self._options(timeout, abort)

        async def connect_vu(sess: Session) -> None:
            sess.conn = await self._client(sess._rec, opts.timeout)

        async def close_vu(sess: Session) -> None:
            if sess.conn is not None:
                await close(sess.conn)

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
            setup=connect_vu, teardown=close_vu, info={"url": mask_url(self.url)},
            user_setup=setup, user_teardown=teardown,
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
            await pubsub_body(self.url, rec, chan, wl, opts.timeout, run_id, state)

        return run_load(
            "redis.pubsub", "delivery", main, duration=wl.duration, options=opts,
            expected_ops=lambda rec, elapsed: schedule.total * wl.clients,
            info=self._info("pubsub", wl, channel=chan), finish=pubsub_finish(state, run_id),
            setup_budget=opts.timeout * (2 + wl.clients / 256),
        )
