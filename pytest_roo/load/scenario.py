"""The shared ``run(scenario)`` of every driver: an ``async def scenario(session)`` per virtual
user (closed model) or per arrival (open model), with per-user setup and teardown."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pytest_roo.load.engine import RunOptions, run_load
from pytest_roo.load.executor import check_connection_limit, drive
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.session import Session
from pytest_roo.load.workload import make_workload
from pytest_roo.results.metrics import LoadResult

__all__ = ["Scenario", "UserHook", "call_hook", "check_hook", "run_scenario"]

Scenario = Callable[[Session], Awaitable[None]]
#: A per-virtual-user ``setup``/``teardown``: ``async def`` or plain, taking the Session.
UserHook = Callable[[Session], "Awaitable[None] | None"]


def check_hook(name: str, hook: Any) -> None:
    """A clear error for a ``setup=``/``teardown=`` (or a trigger's) that is not callable."""
    if hook is not None and not callable(hook):
        raise ValueError(f"invalid {name}={hook!r}: expected a function, `async def` or "
                         "plain (per-user hooks take the session)")


async def call_hook(hook: Callable[..., Any], *args: Any) -> Any:
    """Call an ``async def`` or plain hook on the run's loop and return what it returns."""
    out = hook(*args)
    if inspect.isawaitable(out):
        out = await out
    return out


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
    user_setup: UserHook | None = None,
    user_teardown: UserHook | None = None,
) -> LoadResult:
    """Run ``scenario`` under the workload. ``iteration`` times each whole call from its
    intended start (open model); a failed ``session.check`` makes the iteration one
    ``mismatch`` error instead of a sample.

    ``setup``/``teardown`` are the driver's own (a connection per user); ``user_setup`` runs
    after it, before the measured window (a failure there counts as that user's setup
    failure, by kind), and ``user_teardown`` runs before the driver's teardown, after the
    window (bounded to 2 s, errors ignored, as the driver's)."""
    if not inspect.iscoroutinefunction(scenario):
        raise ValueError(f"invalid scenario {scenario!r}: expected an `async def "
                         "scenario(session)` function")
    check_hook("setup", user_setup)
    check_hook("teardown", user_teardown)
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
            pc = time.perf_counter_ns

            async def setup_vu(i: int) -> Session:
                sess = Session(rec, i, timeout)
                sess.http = http_session
                if setup is not None:
                    await asyncio.wait_for(setup(sess), timeout)
                if user_setup is not None:
                    try:
                        await asyncio.wait_for(call_hook(user_setup, sess), timeout)
                    except BaseException:
                        await teardown_vu(sess, user=False)
                        raise
                return sess

            async def teardown_vu(sess: Session, user: bool = True) -> None:
                try:
                    if user and user_teardown is not None:
                        await call_hook(user_teardown, sess)
                finally:
                    await sess.close()
                    if teardown is not None:
                        await teardown(sess)

            async def one(sess: Session, intended: int) -> None:
                sess._begin_iteration(max(0, pc() - intended))
                await scenario(sess)
                if not sess._failed:
                    it_buf.append((pc() - intended) // 1000)

            await drive(rec, wl, one, setup_vu=setup_vu, teardown_vu=teardown_vu,
                        timeout=timeout, grace=timeout)
        finally:
            if http_session is not None:
                await asyncio.wait_for(http_session.close(), 2.0)

    expected = None
    if wl.open:
        total = wl.schedule().total
        expected = lambda rec, elapsed: total  # noqa: E731
    return run_load(
        name, primary, main, duration=wl.duration, options=options, expected_ops=expected,
        info={"scenario": "run", **wl.describe(), **(info or {})},
        setup_budget=timeout * (2 + wl.clients / 256),
    )
