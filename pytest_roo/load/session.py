"""The object a user's ``async def scenario(session)`` receives."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from pytest_roo.load.errors import Mismatch, classify, describe
from pytest_roo.load.executor import mark_counted
from pytest_roo.load.recorder import Recorder

__all__ = ["Measure", "Session"]


class Measure:
    """``with session.measure("login"):`` (or ``async with``) records the block's latency under
    that name; an exception inside counts as an error of its kind and propagates.

    In the open model the first measurement of an iteration runs from the iteration's intended
    start, so the time the arrival waited for a free virtual user is part of it (no
    coordinated omission); later measurements of the same iteration time themselves.
    """

    __slots__ = ("_name", "_queued", "_session", "_t0")

    def __init__(self, session: Session, name: str, queued: bool = True) -> None:
        self._session = session
        self._name = name
        self._queued = queued
        self._t0 = 0

    def __enter__(self) -> Measure:
        self._t0 = time.perf_counter_ns()
        if self._queued:
            self._t0 -= self._session._take_queued()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        rec = self._session._rec
        if exc is None:
            rec.batch(self._name).append((time.perf_counter_ns() - self._t0) // 1000)
        elif isinstance(exc, Exception):
            rec.error(classify(exc), detail=f"{self._name}: {describe(exc)}")
            mark_counted(exc)

    async def __aenter__(self) -> Measure:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class Session:
    """One virtual user: ``vu`` (0-based), ``iteration``, ``timeout`` (seconds per await).

    ``measure(name)``, ``record(name, seconds)``, ``check(name, condition)``, ``error(kind)``,
    ``count(name)``; the driver adds its handles: ``ws(url)`` and ``http`` (WebSocket and
    HTTP), ``conn`` (database).
    """

    def __init__(self, rec: Recorder, vu: int, timeout: float) -> None:
        self._rec = rec
        self.vu = vu
        self.iteration = 0
        self.timeout = timeout
        self.http: Any = None
        self.conn: Any = None
        self.data: dict[str, Any] = {}
        self._ws: dict[str, Any] = {}
        #: open model: how long the current iteration waited past its intended start (ns),
        #: until the first measure()/record() of the iteration takes it
        self._queued_ns = 0
        #: a check of the current iteration failed (its error is counted once)
        self._failed = False

    def _begin_iteration(self, queued_ns: int) -> None:
        self.iteration += 1
        self._queued_ns = queued_ns
        self._failed = False

    def _take_queued(self) -> int:
        queued, self._queued_ns = self._queued_ns, 0
        return queued

    def measure(self, name: str) -> Measure:
        """A context manager that records the time its block takes as metric ``name``."""
        return Measure(self, name)

    def record(self, name: str, seconds: float) -> None:
        """Record a latency the scenario timed itself; in the open model the first one of an
        iteration also gets the time the iteration waited past its intended start."""
        self._rec.batch(name).append(int(seconds * 1_000_000) + self._take_queued() // 1000)

    def check(self, name: str, condition: Any) -> bool:
        """k6's ``check()``: when ``condition`` is false, count the failure under
        ``counters["check_failed:<name>"]`` and the iteration as one error of kind
        ``mismatch`` (once, however many checks fail); the scenario goes on. Returns the
        condition as a bool."""
        if condition:
            return True
        self._rec.count(f"check_failed:{name}")
        if not self._failed:
            self._failed = True
            self._rec.error("mismatch", detail=f"check {name!r} failed")
        return False

    def error(self, kind: str, count: int = 1) -> None:
        """Count ``count`` errors of kind ``kind`` for this run."""
        self._rec.error(kind, count)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` of this run."""
        self._rec.count(name, n)

    @property
    def stopping(self) -> bool:
        """True once the run is ending: long scenarios may check it to leave early."""
        return self._rec.stopping

    async def ws(self, url: str, **kwargs: Any) -> Any:
        """A WebSocket to ``url`` kept for this user across iterations (``connect`` is timed)."""
        ws = self._ws.get(url)
        if ws is not None and not ws.closed:
            return ws
        if self.http is None:
            raise RuntimeError("this session has no HTTP client to open WebSockets with")
        # the handshake is timed by itself: the iteration's wait for a user belongs to the
        # scenario's own first measurement, not to a connection made on the way
        with Measure(self, "connect", queued=False):
            ws = await asyncio.wait_for(
                self.http.ws_connect(url, autoping=True, compress=0,
                                     **kwargs),
                self.timeout,
            )
        self._ws[url] = ws
        return ws

    async def get(self, url: str, *, name: str = "request", expect: Any = None,
                  **kwargs: Any) -> bytes:
        """GET ``url`` timed as ``name``; see :meth:`request`."""
        return await self.request("GET", url, name=name, expect=expect, **kwargs)

    async def request(self, method: str, url: str, *, name: str = "request",
                      expect: Any = None, **kwargs: Any) -> bytes:
        """Send a request timed as ``name`` and return the body. Without ``expect=``, 4xx/5xx
        answers count as errors and raise; ``expect=`` (a status, a set of them, JSON fields,
        a predicate, or a list: see :mod:`pytest_roo.load.expect`) says what the answer must
        be, and one that is not counts as ``mismatch`` (or ``http_4xx``/``http_5xx``)."""
        from pytest_roo.load.expect import make_expectation

        expectation = make_expectation(expect)
        with self.measure(name):
            async with self.http.request(method, url, **kwargs) as resp:
                body: bytes = await resp.read()
                wrong = expectation.failure(resp.status, resp.headers, body)
                if wrong is not None:
                    kind, detail = wrong
                    if kind == "mismatch":
                        raise Mismatch(f"{method} {url}: {detail}")
                    import aiohttp

                    raise aiohttp.ClientResponseError(
                        resp.request_info, resp.history, status=resp.status,
                        message=resp.reason or "",
                    )
        return body

    async def close(self) -> None:
        """Close the virtual user's WebSockets, each within a second."""
        for ws in self._ws.values():
            try:
                await asyncio.wait_for(ws.close(), 1.0)
            except Exception:
                pass
        self._ws.clear()
