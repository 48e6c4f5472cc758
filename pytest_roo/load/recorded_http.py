"""``HttpLoadFixture`` and ``DbLoadFixture``: what the ``http_load`` and ``db_load`` fixtures hand
to a test (typed, recorded).

The shared keywords are those of :class:`~pytest_roo.load.options.Load`; every method records
its LoadResult into the test's report and returns it, and has an awaitable twin
(``await http_load.get_async(...)``) for ``async def`` tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_roo.load.recorded import ENGINE_KEYWORDS, AbortFactory, RecordedLoad, awaitable

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pytest_roo.load.db import DbLoad, QueryArgs
    from pytest_roo.load.http import HttpLoad  # noqa: F401 - the base class names it
    from pytest_roo.load.options import LoadKeywords
    from pytest_roo.load.scenario import Scenario, UserHook
    from pytest_roo.load.session import Session
    from pytest_roo.results.metrics import LoadResult

__all__ = ["DbLoadFixture", "HttpLoadFixture"]

#: the database drivers have no message size
_DB = tuple(name for name in ENGINE_KEYWORDS if name != "message_size")


class HttpLoadFixture(RecordedLoad["HttpLoad"]):
    """HTTP load (:class:`pytest_roo.load.http.HttpLoad`), every result recorded: ``latency``
    (primary) per request; >= 500 counts as ``http_5xx``, >= 400 as ``http_4xx``."""

    def request(self, method: str, url: str, *, body: bytes | str | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None,
                expect: Any = None, expect_status: Sequence[int] | None = None,
                driver: str | None = None, **load: Unpack[LoadKeywords]) -> LoadResult:
        """Send ``method url`` from ``clients`` keep-alive connections (closed model) or at
        ``rate`` (open model, latency from the intended start). ``expect=``: a status (200),
        a set of them, JSON fields that must equal given values ({"ok": True}), a predicate
        on the :class:`~pytest_roo.load.expect.Answer`, or a list of these: a wrong answer is
        a ``mismatch`` error. ``message_size`` pads a body for POST/PUT when no
        ``body``/``json`` is given. ``driver=``: ``"httptools"`` (the default where it
        imports) or ``"aiohttp"``."""
        return self._run(
            "request",
            lambda e, kw: e.request(method, url, body=body, json=json, headers=headers,
                                    expect=expect, expect_status=expect_status,
                                    driver=driver, **kw),
            load, ENGINE_KEYWORDS)

    def get(self, url: str, *, headers: Mapping[str, str] | None = None, expect: Any = None,
            expect_status: Sequence[int] | None = None, driver: str | None = None,
            **load: Unpack[LoadKeywords]) -> LoadResult:
        """``request("GET", url, ...)``."""
        return self._run(
            "get", lambda e, kw: e.request("GET", url, headers=headers, expect=expect,
                                           expect_status=expect_status, driver=driver, **kw),
            load, ENGINE_KEYWORDS)

    def run(self, scenario: Scenario, *, setup: UserHook | None = None,
            teardown: UserHook | None = None, primary: str = "iteration",
            **load: Unpack[LoadKeywords]) -> LoadResult:
        """``async def scenario(session)``: ``await session.get(url, name=...)``,
        ``session.request(...)``, ``session.http`` (aiohttp), ``session.measure("name")``,
        ``session.check(name, ok)``. ``setup(session)``/``teardown(session)`` run once per
        virtual user outside the measured window (a log-in whose token goes to
        ``session.data``)."""
        return self._run("run", lambda e, kw: e.run(scenario, setup=setup, teardown=teardown,
                                                    primary=primary, **kw),
                         load, ENGINE_KEYWORDS)

    request_async = awaitable(request)
    get_async = awaitable(get)
    run_async = awaitable(run)


class DbLoadFixture(RecordedLoad["DbLoad"]):
    """PostgreSQL load (:class:`pytest_roo.load.db.DbLoad`), every result recorded: each
    client owns one asyncpg connection (``connect`` times it); server errors count as ``sql``,
    statement timeouts as ``timeout``, lost connections as ``closed``.

    The methods run against the test's ``postgres_db`` unless the fixture was bound to another
    database with :meth:`on` (``db_load.on(url).query(...)``; ``db_load(url)`` is the same).
    """

    def __init__(self, url: Callable[[], str], make_engine: Callable[[str], DbLoad],
                 record: Callable[[LoadResult], object],
                 marker_criteria: Sequence[Any] | None, label: str = "db_load", *,
                 abort_factory: AbortFactory | None = None) -> None:
        self._url = url
        self._make_db_engine = make_engine
        super().__init__(lambda: make_engine(url()), record, marker_criteria, label,
                         abort_factory=abort_factory)

    def on(self, url: str) -> DbLoadFixture:
        """The same API against the database at ``url`` (``postgresql://user:pw@host/db``);
        its results go to this fixture's ``results`` and to the test's report."""
        from pytest_roo.load.db import check_url

        check_url(url)
        bound = DbLoadFixture(lambda: url, self._make_db_engine, self._record,
                              self._marker_criteria, self._label,
                              abort_factory=self._abort_factory)
        bound.hosts = self.hosts
        bound.results = self.results
        bound.warmups = self.warmups
        return bound

    def __call__(self, url: str) -> DbLoadFixture:
        """``db_load(url)``: the same as :meth:`on`."""
        return self.on(url)

    @property
    def url(self) -> str:
        """The database this fixture drives (with its password: do not print it)."""
        return self._url()

    def query(self, sql: str, *args: Any, **load: Unpack[LoadKeywords]) -> LoadResult:
        """Run one statement over and over (``query`` metric); ``args`` are its parameters."""
        return self._run("query", lambda e, kw: e.query(sql, *args, **kw), load, _DB)

    def queries(self, named: Mapping[str, str | tuple[str, QueryArgs]], *,
                transaction: bool = False, **load: Unpack[LoadKeywords]) -> LoadResult:
        """Named statements, one per operation in turn (or all in one transaction with
        ``transaction=True``, timed as ``transaction``); one metric per name, ``query``
        (primary) holds all. Parameters: a tuple, or a function of the iteration number
        returning one: ``{"by_id": ("select ... where id = $1", lambda i: (i % 1000,))}``."""
        return self._run("queries",
                         lambda e, kw: e.queries(named, transaction=transaction, **kw),
                         load, _DB)

    def transaction(self, statements: Sequence[str] | Mapping[str, str],
                    **load: Unpack[LoadKeywords]) -> LoadResult:
        """Each operation runs ``statements`` in one transaction (``transaction`` metric)."""
        return self._run("transaction", lambda e, kw: e.transaction(statements, **kw), load,
                         _DB)

    def run(self, scenario: Callable[[Session], Awaitable[None]], *,
            setup: UserHook | None = None, teardown: UserHook | None = None,
            primary: str = "iteration", **load: Unpack[LoadKeywords]) -> LoadResult:
        """``async def scenario(session)`` with ``session.conn`` (this user's asyncpg
        connection) and ``session.measure("name")``. ``setup(session)`` runs once per virtual
        user after its connection is up (``SET`` a role, prepare a statement),
        ``teardown(session)`` before it closes; both outside the measured window."""
        return self._run("run", lambda e, kw: e.run(scenario, setup=setup, teardown=teardown,
                                                    primary=primary, **kw),
                         load, _DB)

    query_async = awaitable(query)
    queries_async = awaitable(queries)
    transaction_async = awaitable(transaction)
    run_async = awaitable(run)
