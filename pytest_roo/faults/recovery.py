"""Time to recovery after a fault, as the latency metric ``recovery`` of a LoadResult.

A probe is any callable that succeeds when the system works again: it returns normally (a
return value of ``False`` counts as a failure) or raises. From the moment the fault ended, the
probe is called every ``interval`` seconds until it succeeds; the time from the fault's end to
the end of the first successful probe is one sample of ``recovery``. So a criterion such as
``recovery.max < 5s`` is judged with the usual verdicts, and repeated faults add samples to the
same result.

A system that does not recover within ``timeout`` gets the time waited as its sample (a lower
bound of the truth, so ``recovery.max < 5s`` fails whenever ``timeout`` is at least 5 s) and an
error of kind ``timeout``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_roo.faults.windows import FaultWindow
    from pytest_roo.results.metrics import LoadResult

__all__ = ["METRIC", "RecoveryWatch", "measure_recovery", "measure_recovery_async",
           "watch_recovery"]

METRIC = "recovery"


def _start(since: float | FaultWindow | None) -> float:
    if since is None:
        return time.monotonic()
    if isinstance(since, (int, float)):
        return float(since)
    ended = getattr(since, "ended", None)
    if ended is None:
        raise ValueError(
            "measure_recovery(since=window): the fault is still on; measure after its block "
            "ends, or pass since=time.monotonic() of its end"
        )
    return float(ended)


def _check(timeout: float, interval: float) -> None:
    if isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"recovery timeout={timeout!r} is not valid; expected seconds > 0")
    if isinstance(interval, bool) or not interval > 0:
        raise ValueError(f"recovery interval={interval!r} is not valid; expected seconds > 0")


def _result(result: LoadResult | None, name: str) -> LoadResult:
    if result is not None:
        return result
    from pytest_roo.results.metrics import LoadResult

    return LoadResult(name=name)


def _record(result: LoadResult, start: float, recovered_at: float | None, deadline: float,
            attempts: int, last_error: str | None) -> LoadResult:
    result.operations += 1
    if recovered_at is None:
        result.metric(METRIC).record(deadline - start)
        result.add_error("timeout")
        result.info.setdefault("unrecovered", []).append(
            {"waited": deadline - start, "attempts": attempts, "last_error": last_error}
        )
    else:
        result.metric(METRIC).record(max(0.0, recovered_at - start))
    result.counters["recovery_probes"] += attempts
    result.duration = max(result.duration, time.monotonic() - start)
    return result


class _Attempts:
    """The retry loop's state and rules, shared by the sync and the async form: they differ
    only in how they call the probe and how they wait."""

    def __init__(self, since: float | FaultWindow | None, timeout: float, interval: float,
                 result: LoadResult | None, name: str) -> None:
        _check(timeout, interval)
        self.start = _start(since)
        self.deadline = self.start + timeout
        self.interval = interval
        self.result = _result(result, name)
        self.count = 0
        self.last_error: str | None = None

    def remaining(self) -> float:
        """What is left of ``timeout``: the bound of one async probe."""
        return max(0.001, self.deadline - time.monotonic())

    def failed(self, exc: BaseException) -> bool:
        """A probe that raised: "not yet" (any failure of the probe means that)."""
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        return False

    def settle(self, ok: bool) -> LoadResult | None:
        """After a probe: the recorded result when done, or None to wait ``interval`` and retry."""
        self.count += 1
        now = time.monotonic()
        if ok:
            return _record(self.result, self.start, now, self.deadline, self.count,
                           self.last_error)
        if now + self.interval > self.deadline:
            return _record(self.result, self.start, None, max(now, self.deadline), self.count,
                           self.last_error)
        return None


def measure_recovery(
    probe: Callable[[], Any],
    *,
    since: float | FaultWindow | None = None,
    timeout: float = 30.0,
    interval: float = 0.05,
    result: LoadResult | None = None,
    name: str = "recovery",
) -> LoadResult:
    """Call ``probe`` until it succeeds; record the time since ``since`` as ``recovery``.

    Args:
        probe: a callable; success is returning anything but ``False`` without raising.
        since: when the fault ended (``time.monotonic()``), or the FaultWindow of
            ``proxy.fault(...)``; default now.
        timeout: give up this many seconds after ``since``.
        interval: pause between failed probes.
        result: add the sample to this LoadResult instead of a new one.

    Example::

        with proxy.fault("down", duration=2) as window:
            time.sleep(3)
        result = measure_recovery(lambda: urlopen(url, timeout=1), since=window)
        slo.check(result, "recovery.max < 5s")
    """
    attempts = _Attempts(since, timeout, interval, result, name)
    while True:
        try:
            ok = probe() is not False
        except Exception as exc:
            ok = attempts.failed(exc)
        done = attempts.settle(ok)
        if done is not None:
            return done
        time.sleep(interval)


async def measure_recovery_async(
    probe: Callable[[], Awaitable[Any]],
    *,
    since: float | FaultWindow | None = None,
    timeout: float = 30.0,
    interval: float = 0.05,
    result: LoadResult | None = None,
    name: str = "recovery",
) -> LoadResult:
    """:func:`measure_recovery` for a coroutine probe, in the caller's event loop.

    Each probe is bounded by what remains of ``timeout``.
    """
    attempts = _Attempts(since, timeout, interval, result, name)
    while True:
        try:
            answer: Any = probe()
            if inspect.isawaitable(answer):
                answer = await asyncio.wait_for(answer, attempts.remaining())
            ok = answer is not False
        except Exception as exc:
            ok = attempts.failed(exc)
        done = attempts.settle(ok)
        if done is not None:
            return done
        await asyncio.sleep(interval)


class RecoveryWatch:
    """:func:`measure_recovery` in a thread that starts probing the moment a fault ends, for
    a fault that ends while the test's thread is still blocked (in a load run)::

        with scheduled(pg.restart, after=2) as fault:
            watch = watch_recovery(probe, fault)
            result = http_load.get(url, duration="8s")
        recovery = watch.result()
    """

    def __init__(self, probe: Callable[[], Any], fault: Any, *, timeout: float = 30.0,
                 interval: float = 0.05, wait: float = 120.0, name: str = "recovery") -> None:
        _check(timeout, interval)
        self.probe = probe
        self.fault = fault
        self.timeout = timeout
        self.interval = interval
        self.wait = wait
        self.name = name
        self._result: LoadResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="roo-recovery", daemon=True)
        self._thread.start()

    def _window(self) -> FaultWindow | None:
        window = getattr(self.fault, "window", self.fault)
        return window if getattr(window, "ended", None) is not None else None

    def _run(self) -> None:
        try:
            deadline = time.monotonic() + self.wait
            window = self._window()
            while window is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the fault did not end within {self.wait:g} s: no "
                                       "recovery to measure")
                time.sleep(0.005)
                window = self._window()
            self._result = measure_recovery(self.probe, since=window, timeout=self.timeout,
                                            interval=self.interval, name=self.name)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> LoadResult:
        """Wait for the measurement (the fault's end plus at most ``timeout``) and return
        it; raises what the measurement raised."""
        self._thread.join(self.wait + self.timeout + 5.0)
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise TimeoutError("the recovery measurement did not finish")
        return self._result


def watch_recovery(probe: Callable[[], Any], fault: Any, *, timeout: float = 30.0,
                   interval: float = 0.05, name: str = "recovery") -> RecoveryWatch:
    """Start measuring recovery in a thread as soon as ``fault`` ends: a FaultWindow, or what
    has one as ``.window`` (:func:`~pytest_roo.faults.scheduled`'s handle). ``result()``
    returns the LoadResult of :func:`measure_recovery`."""
    return RecoveryWatch(probe, fault, timeout=timeout, interval=interval, name=name)
