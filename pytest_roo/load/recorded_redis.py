"""``RedisLoadFixture``: what the ``redis_load`` fixture hands to a test (typed, recorded).

The shared keywords are those of :class:`~pytest_roo.load.options.Load`; every method records
its LoadResult into the test's report and returns it, and has an awaitable twin
(``await redis_load.command_async(...)``) for ``async def`` tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_roo.load.recorded import ENGINE_KEYWORDS, AbortFactory, RecordedLoad, awaitable
from pytest_roo.load.redis_client import NOTHING

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pytest_roo.load.options import LoadKeywords
    from pytest_roo.load.redis import RedisLoad
    from pytest_roo.load.redis_client import Command
    from pytest_roo.load.scenario import Scenario, UserHook
    from pytest_roo.results.metrics import LoadResult

__all__ = ["RedisLoadFixture"]

#: commands have no message size; pub/sub has ``subscribers=`` instead of clients
_COMMANDS = tuple(name for name in ENGINE_KEYWORDS if name != "message_size")
_PUBSUB = ("duration", "rate", "stages", "timeout", "message_size")


class RedisLoadFixture(RecordedLoad["RedisLoad"]):
    """Redis load (:class:`pytest_roo.load.redis.RedisLoad`), every result recorded.

    Without a URL the test's ``redis_db`` (a throwaway, flushed logical database) is used;
    ``redis_load.on(url)`` (or ``redis_load(url)``) is the same API against another server.
    Error kinds: ``refused``, ``auth``, ``timeout``, ``closed``, ``redis`` (error replies),
    ``mismatch``, ``lost``, ``duplicate``.
    """

    def __init__(self, url: Callable[[], str], make_engine: Callable[[str], RedisLoad],
                 record: Callable[[LoadResult], object],
                 marker_criteria: Sequence[Any] | None, label: str = "redis_load", *,
                 abort_factory: AbortFactory | None = None) -> None:
        self._url = url
        self._make_redis_engine = make_engine
        self._bound_url: str | None = None
        super().__init__(lambda: make_engine(url()), record, marker_criteria, label,
                         abort_factory=abort_factory)

    def on(self, url: str) -> RedisLoadFixture:
        """The same API against the Redis server at ``url`` (``redis://:password@host:port/db``);
        its results go to this fixture's ``results`` and to the test's report."""
        from pytest_roo.load.redis import RedisLoad

        RedisLoad(url)  # a bad URL is an error here, with the password masked
        bound = RedisLoadFixture(lambda: url, self._make_redis_engine, self._record,
                                 self._marker_criteria, self._label,
                              abort_factory=self._abort_factory)
        bound._bound_url = url
        bound.hosts = self.hosts
        bound.results = self.results
        bound.warmups = self.warmups
        return bound

    def __call__(self, url: str) -> RedisLoadFixture:
        """``redis_load(url)``: the same as :meth:`on`."""
        return self.on(url)

    @property
    def url(self) -> str:
        """The server this fixture drives (with its password: do not print it)."""
        return self._url()

    def command(self, *args: Any, expect: Any = NOTHING,
                **load: Unpack[LoadKeywords]) -> LoadResult:
        """One command over and over: ``command("GET", "k", expect=b"v", rate="5000/s")``.

        ``expect``: the reply every call must give (bytes, str, int, list; raw replies, so
        ``b"OK"``), or ``reply -> bool``; any other reply is a ``mismatch`` error. Metric
        ``command``; closed model (no ``rate``) also ``command_raw`` (uncorrected)."""
        checks = {} if expect is NOTHING else {"expect": expect}
        return self._run("command", lambda e, kw: e.command(*args, **checks, **kw), load,
                         _COMMANDS)

    def commands(self, named: Mapping[str, Command], *,
                 expect: Mapping[str, Any] | None = None,
                 **load: Unpack[LoadKeywords]) -> LoadResult:
        """Named commands in turn: ``commands({"set": ("SET", "k", "v"), "get": lambda i:
        ("GET", f"k{i % 100}")}, expect={"get": ...})``. One metric per name plus ``command``
        (all of them, primary)."""
        return self._run("commands", lambda e, kw: e.commands(named, expect=expect, **kw),
                         load, _COMMANDS)

    def pipeline(self, commands: Sequence[Command], *, expect: Sequence[Any] | None = None,
                 **load: Unpack[LoadKeywords]) -> LoadResult:
        """Each operation sends ``commands`` as one pipeline; metric ``pipeline``,
        ``counters["commands"]``; an error reply fails the operation as ``redis``."""
        return self._run("pipeline", lambda e, kw: e.pipeline(commands, expect=expect, **kw),
                         load, _COMMANDS)

    def pubsub(self, channel: str | None = None, *, subscribers: int = 10,
               **load: Unpack[LoadKeywords]) -> LoadResult:
        """Fan-out: ``subscribers`` connections SUBSCRIBE (confirmed before the first
        PUBLISH), one publisher publishes at ``rate`` (default 10/s). ``delivery`` per
        subscriber from the intended publish time; ``lost``, ``duplicate`` and ``mismatch``
        (wrong body) errors; ``publish`` times PUBLISH. Takes ``subscribers=``, not
        ``clients=``."""
        return self._run("pubsub",
                         lambda e, kw: e.pubsub(channel, subscribers=subscribers, **kw),
                         load, _PUBSUB)

    def run(self, scenario: Scenario, *, setup: UserHook | None = None,
            teardown: UserHook | None = None, primary: str = "iteration",
            **load: Unpack[LoadKeywords]) -> LoadResult:
        """``async def scenario(session)`` with ``session.conn`` (this user's
        ``redis.asyncio.Redis``) and ``session.measure("name")``; ``setup(session)`` and
        ``teardown(session)`` run once per virtual user outside the measured window."""
        return self._run("run", lambda e, kw: e.run(scenario, setup=setup, teardown=teardown,
                                                    primary=primary, **kw),
                         load, _COMMANDS)

    command_async = awaitable(command)
    commands_async = awaitable(commands)
    pipeline_async = awaitable(pipeline)
    pubsub_async = awaitable(pubsub)
    run_async = awaitable(run)

    def __repr__(self) -> str:
        from pytest_roo.redact import mask_url

        where = mask_url(self._bound_url) if self._bound_url else "redis_db"
        return f"<redis_load {where} results={len(self.results)}>"
