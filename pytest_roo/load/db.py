"""PostgreSQL load (asyncpg): N concurrent connections running named queries or transactions.

    from pytest_roo.load import DbLoad
    result = DbLoad("postgresql://app@127.0.0.1:5432/app").query(
        "select * from devices where id = $1", 42, clients=100, duration="10s")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pytest_roo.load.engine import LoadDriver, ProgressCallback
from pytest_roo.load.scenario import UserHook, run_scenario
from pytest_roo.load.session import Session
from pytest_roo.redact import mask_url
from pytest_roo.results.metrics import LoadResult

__all__ = ["DbLoad", "check_url"]

QueryArgs = Sequence[Any] | Callable[[int], Sequence[Any]]


def check_url(url: str) -> None:
    """A clear error for a database URL asyncpg cannot use (the password is masked)."""
    if not isinstance(url, str) or not url.startswith(("postgres://", "postgresql://")):
        shown = mask_url(url) if isinstance(url, str) else repr(url)
        raise ValueError(f"invalid database url {shown!r}: expected "
                         "postgresql://user:password@host:port/dbname")


class DbLoad(LoadDriver):
    """Database load runs against ``url``; each client owns one asyncpg connection
    (``connect`` times its establishment). Server errors count as ``sql``, statement timeouts
    as ``timeout``, lost connections as ``closed``."""

    def __init__(
        self,
        url: str,
        *,
        progress: ProgressCallback | None = None,
        abort: Any = None,
        max_generator_cpu: float = 0.90,
        timeout: float = 5.0,
        use_uvloop: bool = True,
        max_late_share: float | None = None,
    ) -> None:
        check_url(url)
        super().__init__(progress=progress, abort=abort, max_generator_cpu=max_generator_cpu,
                         timeout=timeout, use_uvloop=use_uvloop, max_late_share=max_late_share)
        self.url = url

    def query(self, sql: str, *args: Any, **kwargs: Any) -> LoadResult:
        """Run one statement over and over (``query`` metric). ``args`` are its parameters."""
        return self.queries({"query": (sql, args)}, **kwargs)

    def queries(
        self,
        named: Mapping[str, str | tuple[str, QueryArgs]],
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        transaction: bool = False,
        abort: Any = None,
    ) -> LoadResult:
        """Named statements, each operation runs the next one in turn (or, with
        ``transaction=True``, all of them in one transaction, timed as ``transaction``).
        Each name gets its own metric; ``query`` (primary) holds all of them. Parameters may
        be a tuple or a function of the iteration number returning one."""
        if not named:
            raise ValueError("queries needs at least one named statement: {'by_id': 'select ...'}")
        items: list[tuple[str, str, QueryArgs]] = []
        for name, spec in named.items():
            if isinstance(spec, str):
                items.append((name, spec, ()))
            elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
                items.append((name, spec[0], spec[1]))
            else:
                raise ValueError(f"invalid statement {name}={spec!r}: expected 'sql' or "
                                 "('sql', (args...)) or ('sql', lambda i: (args...))")
        primary = "transaction" if transaction else "query"
        per_name = len(items) > 1 or items[0][0] != "query"

        async def scenario(sess: Session) -> None:
            conn = sess.conn
            i = sess.iteration
            tmo = sess.timeout
            # open model: the first timing of an iteration includes its wait for a free
            # connection past the intended start (Session._take_queued)
            if transaction:
                t0 = time.perf_counter_ns() - sess._take_queued()
                async with conn.transaction():
                    for _name, sql, args in items:
                        a = args(i) if callable(args) else args
                        await conn.execute(sql, *a, timeout=tmo)
                sess._rec.batch("transaction").append((time.perf_counter_ns() - t0) // 1000)
                return
            name, sql, args = items[i % len(items)]
            a = args(i) if callable(args) else args
            t0 = time.perf_counter_ns() - sess._take_queued()
            await conn.fetch(sql, *a, timeout=tmo)
            us = (time.perf_counter_ns() - t0) // 1000
            sess._rec.batch("query").append(us)
            if per_name:
                sess._rec.batch(name).append(us)

        return self.run(scenario, clients=clients, duration=duration, rate=rate, stages=stages,
                        think=think, model=model, timeout=timeout, primary=primary,
                        abort=abort, name="db.queries", latency_from_intended=True)

    def transaction(self, statements: Sequence[str] | Mapping[str, str], **kwargs: Any) -> LoadResult:
        """Each operation runs ``statements`` in one transaction (``transaction`` metric)."""
        named = dict(statements) if isinstance(statements, Mapping) else {
            f"stmt{i}": s for i, s in enumerate(statements)}
        return self.queries(named, transaction=True, **kwargs)

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
        name: str = "db.run",
        latency_from_intended: bool = False,
        setup: UserHook | None = None,
        teardown: UserHook | None = None,
    ) -> LoadResult:
        """``async def scenario(session)`` with ``session.conn`` (this user's asyncpg
        connection) and ``session.measure("name")``. ``setup(session)`` runs once per virtual
        user after its connection is up (``SET`` a role, prepare a statement),
        ``teardown(session)`` before it closes; both outside the measured window."""
        url = self.url
        opts = self._options(timeout, abort)

        async def connect(sess: Session) -> None:
            import asyncpg

            with sess.measure("connect"):
                sess.conn = await asyncpg.connect(url, timeout=opts.timeout,
                                                  command_timeout=opts.timeout)

        async def disconnect(sess: Session) -> None:
            if sess.conn is not None:
                await asyncio.wait_for(sess.conn.close(timeout=1.0), 2.0)

        if latency_from_intended:
            # in the open model the query latency must include queueing for a free connection:
            # the primary then is "iteration" measured from the intended start.
            from pytest_roo.load.workload import make_workload

            wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                               model=model)
            if wl.open:
                primary = "iteration"
        return run_scenario(
            scenario, name=name, primary=primary, options=opts, clients=clients,
            duration=duration, rate=rate, stages=stages, think=think, model=model, http=False,
            setup=connect, teardown=disconnect, info={"url": mask_url(url)},
            user_setup=setup, user_teardown=teardown,
        )

