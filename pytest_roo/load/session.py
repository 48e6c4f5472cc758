"""The object a user's ``async def scenario(session)`` receives."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from pytest_roo.load.engine import Recorder, classify
from pytest_roo.load.executor import mark_counted

__all__ = ["Measure", "Session"]


class Measure:
    """``with session.measure("login"):`` (or ``async with``) records the block's latency under
    that name; an exception inside counts as an error of its kind and propagates."""

    __slots__ = ("_name", "_rec", "_t0")

    def __init__(self, rec: Recorder, name: str) -> None:
        self._rec = rec
        self._name = name
        self._t0 = 0

    def __enter__(self) -> Measure:
        self._t0 = time.perf_counter_ns()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._rec.batch(self._name).append((time.perf_counter_ns() - self._t0) // 1000)
        elif not isinstance(exc, asyncio.CancelledError):
            self._rec.error(classify(exc))
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

    ``measure(name)``, ``record(name, seconds)``, ``error(kind)``, ``count(name)``; the driver
    adds its handles: ``ws(url)`` and ``http`` (WebSocket and HTTP), ``conn`` (database).
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

    def measure(self, name: str) -> Measure:
        return Measure(self._rec, name)

    def record(self, name: str, seconds: float) -> None:
        self._rec.batch(name).append(int(seconds * 1_000_000))

    def error(self, kind: str, count: int = 1) -> None:
        self._rec.error(kind, count)

    def count(self, name: str, n: int = 1) -> None:
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
        with self.measure("connect"):
            ws = await asyncio.wait_for(
                self.http.ws_connect(url, autoping=True, compress=0,
                                     **kwargs),
                self.timeout,
            )
        self._ws[url] = ws
        return ws

    async def get(self, url: str, *, name: str = "request", **kwargs: Any) -> bytes:
        """GET ``url`` timed as ``name``; 4xx/5xx answers count as errors and raise."""
        return await self.request("GET", url, name=name, **kwargs)

    async def request(self, method: str, url: str, *, name: str = "request",
                      **kwargs: Any) -> bytes:
        import aiohttp

        with self.measure(name):
            async with self.http.request(method, url, **kwargs) as resp:
                body: bytes = await resp.read()
                if resp.status >= 400:
                    raise aiohttp.ClientResponseError(
                        resp.request_info, resp.history, status=resp.status,
                        message=resp.reason or "",
                    )
        return body

    async def close(self) -> None:
        for ws in self._ws.values():
            try:
                await asyncio.wait_for(ws.close(), 1.0)
            except Exception:
                pass
        self._ws.clear()
