"""What every typed load fixture shares: one call = (an unrecorded warm-up, then) one measured
run, its result recorded; abort-on-fail; and the awaitable twin of each method for ``async def``
tests.

The blocking methods run the load in a fresh event loop of their own. Called from a coroutine
on the test's running loop they would stall that loop (and any server it serves) for the whole
run, so they raise :class:`~pytest_roo.load.engine.BlockingCallError` naming the awaitable
method instead. The awaitable methods (``echo_async``, ``get_async``, ...) run the same load in
a worker thread while the caller's loop keeps serving; cancelling the awaiting task ends the
run within a second, and what was measured is still recorded.

No pytest import: the fixtures hand in the recording function and the marker's criteria.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from pytest_roo.load.options import Load, resolve

if TYPE_CHECKING:
    from pytest_roo.load.engine import AbortCheck, LoadDriver
    from pytest_roo.results.metrics import LoadResult

__all__ = ["ENGINE_KEYWORDS", "AbortFactory", "RecordedLoad", "awaitable"]

#: The fields of :class:`Load` that go to the engine's methods as they are.
ENGINE_KEYWORDS = ("clients", "duration", "rate", "stages", "think", "model", "timeout",
                   "message_size")

E = TypeVar("E", bound="LoadDriver")
F = TypeVar("F", bound="RecordedLoad[Any]")
P = ParamSpec("P")

#: ``call(engine, engine_keywords) -> LoadResult``: one run of one driver method
Call = Callable[[E, dict[str, Any]], "LoadResult"]


#: ``abort_factory(criteria) -> AbortCheck``: what the fixtures hand in to turn criteria into the
#: engine's abort check (:func:`pytest_roo.slo.abort_check`; the load engine does not judge)
AbortFactory = Callable[[list[Any]], "AbortCheck"]


class _Plan:
    """One call's resolved keywords: what goes to the engine, the warm-up, the abort check."""

    __slots__ = ("abort", "engine_kwargs", "processes", "warmup")

    def __init__(self, engine_kwargs: dict[str, Any], warmup: float | None,
                 abort: AbortCheck | None, processes: int | str | None = None) -> None:
        self.engine_kwargs = engine_kwargs
        self.warmup = warmup
        self.abort = abort
        self.processes = processes


class RecordedLoad(Generic[E]):
    """Base of the typed load fixtures (``ws_swarm``, ``http_load``, ``db_load``,
    ``redis_load``): ``results`` lists the measured results of this test's calls, in order;
    ``warmups`` the warm-up runs (never recorded, never judged)."""

    #: execnet specs of the hosts every call runs its workers on (``--roo-load-hosts``; the
    #: fixtures set it): empty, the calls run here (in ``processes=`` local workers if given)
    hosts: tuple[str, ...] = ()

    def __init__(self, make_engine: Callable[[], E], record: Callable[[LoadResult], object],
                 marker_criteria: Sequence[Any] | None, label: str, *,
                 abort_factory: AbortFactory | None = None) -> None:
        self._make_engine = make_engine
        self._abort_factory = abort_factory
        self._record = record
        self._marker_criteria = list(marker_criteria) if marker_criteria else None
        self._label = label
        self.results: list[LoadResult] = []
        self.warmups: list[LoadResult] = []

    def __repr__(self) -> str:
        return f"<{self._label} results={len(self.results)}>"

    # -- one call --

    def _plan(self, method: str, keywords: Mapping[str, Any], accepts: Sequence[str],
              defaults: Mapping[str, Any] | None = None) -> _Plan:
        load = resolve(keywords)
        given = load.given()
        refused = sorted(set(given) & set(ENGINE_KEYWORDS) - set(accepts))
        if refused:
            raise TypeError(
                f"{self._label}.{method}() does not take {', '.join(n + '=' for n in refused)}"
                f" (from the keywords or load=); it takes {', '.join(n + '=' for n in accepts)}"
                ", warmup=, abort_on_fail= and processes=")
        engine_kwargs = {name: given[name] for name in ENGINE_KEYWORDS if name in given}
        for name, value in (defaults or {}).items():
            engine_kwargs.setdefault(name, value)
        warmup = None
        if load.warmup is not None:
            from pytest_roo.units import parse_duration

            warmup = parse_duration(load.warmup)
        return _Plan(engine_kwargs, warmup, self._abort(load), load.processes)

    def _abort(self, load: Load) -> AbortCheck | None:
        flag = load.abort_on_fail
        criteria: list[Any] | None
        if flag is None or flag is True:
            criteria = self._marker_criteria
            if flag is True and not criteria:
                raise ValueError("abort_on_fail=True needs criteria: give them in "
                                 "@pytest.mark.slo(...) or as abort_on_fail=['p95 < 50ms']")
        elif flag is False:
            criteria = None
        elif isinstance(flag, str):
            criteria = [flag]
        else:
            criteria = list(flag)
        if not criteria:
            return None
        if self._abort_factory is None:
            raise ValueError(f"{self._label}: abort_on_fail needs an abort_factory (the load "
                             "fixtures give pytest_roo.slo.abort_check)")
        return self._abort_factory(criteria)

    def _measure(self, engine: E, call: Call[E], plan: _Plan) -> LoadResult:
        """The warm-up (not recorded), then the measured run; over worker processes (one
        pool for both) with ``processes=`` or ``--roo-load-hosts``."""
        if plan.processes not in (None, 1) or self.hosts:
            from pytest_roo.load.workers import spread_calls

            with spread_calls(call, plan.processes or 1, self.hosts) as spread:
                return self._measure_with(engine, spread, plan)
        return self._measure_with(engine, call, plan)

    def _measure_with(self, engine: E, call: Call[E], plan: _Plan) -> LoadResult:
        from pytest_roo.load.engine import RunInterrupted

        if plan.warmup is not None:
            try:
                warm = call(engine, {**plan.engine_kwargs, "duration": plan.warmup})
            except RunInterrupted as interrupted:
                # an interrupted warm-up measured nothing worth keeping: no result goes on
                raise KeyboardInterrupt(str(interrupted)) from None
            warm.info["warmup"] = True
            self.warmups.append(warm)
        kwargs = dict(plan.engine_kwargs)
        if plan.abort is not None:
            kwargs["abort"] = plan.abort
        return call(engine, kwargs)

    def _keep(self, result: LoadResult) -> None:
        self.results.append(result)
        self._record(result)

    def _run(self, method: str, call: Call[E], keywords: Mapping[str, Any],
             accepts: Sequence[str], defaults: Mapping[str, Any] | None = None) -> LoadResult:
        """Run ``call`` now, in a loop of its own, and record its result."""
        from pytest_roo.load.engine import RunInterrupted, check_not_in_coroutine

        check_not_in_coroutine(f"{self._label}.{method}()",
                               f"`await {self._label}.{method}_async(...)` in an `async def` "
                               "test (the run goes to a worker thread, the test's loop keeps "
                               "serving)")
        plan = self._plan(method, keywords, accepts, defaults)
        try:
            result = self._measure(self._make_engine(), call, plan)
        except RunInterrupted as interrupted:
            # recorded, then the interrupt goes on; the core keeps it in the session report
            self._keep(interrupted.result)
            raise
        self._keep(result)
        return result

    async def _run_async(self, method: str, call: Call[E], keywords: Mapping[str, Any],
                         accepts: Sequence[str],
                         defaults: Mapping[str, Any] | None = None) -> LoadResult:
        """Run ``call`` in a worker thread while the caller's loop keeps running; the result
        is recorded here, in the caller's thread."""
        from pytest_roo.load.engine import RunInterrupted

        plan = self._plan(method, keywords, accepts, defaults)
        engine = self._make_engine()
        engine.stop_event = threading.Event()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[LoadResult] = loop.create_future()

        def settle(outcome: LoadResult | BaseException) -> None:
            if done.done():
                return
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)

        def work() -> None:
            outcome: LoadResult | BaseException
            try:
                outcome = self._measure(engine, call, plan)
            except BaseException as exc:  # handed to the awaiting task
                outcome = exc
            try:
                loop.call_soon_threadsafe(settle, outcome)
            except RuntimeError:  # the caller's loop is closed: nobody waits any more
                pass

        threading.Thread(target=work, name=f"roo-{self._label}-{method}", daemon=True).start()
        try:
            result = await asyncio.shield(done)
        except asyncio.CancelledError:
            # the awaiting task was cancelled (a timeout, Ctrl-C): end the run within a second
            # and record what it measured before the cancellation goes on
            engine.stop_event.set()
            await asyncio.wait({done}, timeout=30.0)
            if done.done() and not done.cancelled() and done.exception() is None:
                self._keep(done.result())
            raise
        except RunInterrupted as interrupted:
            self._keep(interrupted.result)
            raise
        self._keep(result)
        return result


def awaitable(
    method: Callable[Concatenate[F, P], LoadResult],
) -> Callable[Concatenate[F, P], Coroutine[Any, Any, LoadResult]]:
    """The ``*_async`` twin of a fixture method, with the same parameters: the method's body
    runs with its ``_run`` replaced by ``_run_async``, so both spellings share one body."""

    @functools.wraps(method)
    async def twin(self: F, /, *args: P.args, **kwargs: P.kwargs) -> LoadResult:
        async_self = _AsyncView(self)
        coro: Awaitable[LoadResult] = method(async_self, *args, **kwargs)  # type: ignore[arg-type, assignment]
        return await coro

    twin.__name__ = method.__name__ + "_async"
    twin.__qualname__ = method.__qualname__ + "_async"
    twin.__doc__ = (f"``await``-able :meth:`{method.__name__}` for ``async def`` tests: the same "
                    "parameters; the run goes to a worker thread while the test's event loop "
                    "keeps serving, its result is recorded the same way.")
    return twin


class _AsyncView:
    """``self`` for a method body run by its ``*_async`` twin: every attribute is the
    fixture's own, except ``_run``, which returns the awaitable of ``_run_async``."""

    def __init__(self, fixture: RecordedLoad[Any]) -> None:
        self._fixture = fixture

    def __getattr__(self, name: str) -> Any:
        if name == "_run":
            return self._fixture._run_async
        return getattr(self._fixture, name)
