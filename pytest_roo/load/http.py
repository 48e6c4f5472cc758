"""HTTP load: one endpoint hammered, or a user scenario.

    from pytest_roo.load import HttpLoad
    result = HttpLoad().get("http://127.0.0.1:8080/health", clients=50, rate="1000/s",
                            duration="10s")

``get``/``request`` send with the raw httptools client of :mod:`pytest_roo.load.http_raw`
where httptools imports (``driver="httptools"``, the default), else, or with
``driver="aiohttp"`` (or ``ROO_HTTP_DRIVER=aiohttp`` in the environment), with aiohttp's
ClientSession; scenarios (``run``) use aiohttp (``session.http`` is its ClientSession).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pytest_roo.load.engine import LoadDriver, run_load
from pytest_roo.load.errors import timeout_words
from pytest_roo.load.executor import OperationFailed, check_connection_limit, drive, mark_counted
from pytest_roo.load.expect import make_expectation
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.scenario import UserHook, run_scenario
from pytest_roo.load.session import Session
from pytest_roo.load.workload import make_workload
from pytest_roo.redact import mask_url
from pytest_roo.results.metrics import LoadResult

__all__ = ["DRIVERS", "HttpLoad", "choose_driver"]

#: the HTTP drivers ``driver=`` names
DRIVERS = ("httptools", "aiohttp")


def choose_driver(driver: str | None, method: str, url: str,
                  headers: Mapping[str, str] | None) -> tuple[str, str | None]:
    """``(driver, why it is not the one asked for)``: ``driver`` or ``$ROO_HTTP_DRIVER`` or
    httptools; the raw client hands what it does not speak (TLS, HEAD...) to aiohttp."""
    asked = driver or os.environ.get("ROO_HTTP_DRIVER") or "httptools"
    if asked not in DRIVERS:
        source = "driver=" if driver else "ROO_HTTP_DRIVER="
        raise ValueError(f"invalid {source}{asked!r}: expected one of {', '.join(DRIVERS)}")
    if asked == "aiohttp":
        return "aiohttp", None
    from pytest_roo.load import http_raw

    if not http_raw.available():
        return "aiohttp", "httptools is not installed (pip install 'httptools>=0.6')"
    why = http_raw.unsupported(method, url, headers)
    return ("aiohttp", why) if why else ("httptools", None)



class HttpLoad(LoadDriver):
    """HTTP load runs; each returns a LoadResult with ``latency`` (primary) per request.

    Answers >= 500 count as ``http_5xx``, >= 400 as ``http_4xx``; ``expect=`` says what an
    answer must be (statuses, JSON fields, a predicate: :mod:`pytest_roo.load.expect`) and
    one that is not counts as ``mismatch``; refused connections, resets and timeouts count
    by their kinds.

    ``driver=`` (here, or per call): ``"httptools"`` (the default where it imports) or
    ``"aiohttp"``; the other keywords are :class:`~pytest_roo.load.engine.LoadDriver`'s.
    """

    def __init__(self, *, driver: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        if driver is not None and driver not in DRIVERS:
            raise ValueError(f"invalid driver={driver!r}: expected one of {', '.join(DRIVERS)}")
        self.driver = driver

    def get(self, url: str, **kwargs: Any) -> LoadResult:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        body: bytes | str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        expect: Any = None,
        expect_status: Sequence[int] | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        abort: Any = None,
        driver: str | None = None,
    ) -> LoadResult:
        """Send ``method url`` from ``clients`` keep-alive connections (closed model) or at
        ``rate`` (open model, latency from the intended start). ``message_size`` pads a body of
        that many bytes when no ``body``/``json`` is given (for POST/PUT). ``expect=``: a
        status (200), a set of them ({200, 201}), JSON fields that must equal given values
        ({"ok": True}), a predicate on the :class:`~pytest_roo.load.expect.Answer`, or a list
        of these (``expect_status=`` is the older spelling of a set of statuses). A failed
        answer has no latency sample. ``driver=``: ``"httptools"`` (the default where it
        imports) or ``"aiohttp"``; ``info["driver"]`` says which sent the requests and
        ``info["driver_fallback"]`` why, when it is not the one asked for."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"invalid url {url!r}: expected http://host:port/path or https://...")
        chosen, fallback = choose_driver(driver or self.driver, method, url, headers)
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, message_size=message_size, model=model)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)
        data: bytes | None
        if json is not None:
            import json as _json

            data = _json.dumps(json).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        elif body is not None:
            data = body.encode() if isinstance(body, str) else body
        elif message_size is not None and method.upper() not in ("GET", "HEAD", "DELETE"):
            data = b"x" * wl.message_size
        else:
            data = None
        expectation = make_expectation(expect, expect_status)
        needs_body = expectation.needs_body
        status_failure = expectation.status_failure
        shown = f"{method.upper()} {mask_url(url)}"

        async def raw_main(rec: Recorder) -> None:
            from pytest_roo.load.http_raw import RawHttp, build_request

            host, port, request = build_request(method, url, headers, data)
            client = RawHttp(rec, shown, request, host, port, wl.clients, opts.timeout,
                             expectation)
            watchdog = rec.spawn(client.watch(), "http watchdog")
            try:
                await drive(rec, wl, client.one, timeout=opts.timeout, grace=opts.timeout)
            finally:
                watchdog.cancel()
                client.close()

        async def main(rec: Recorder) -> None:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=wl.clients, limit_per_host=wl.clients,
                                             ttl_dns_cache=300)
            async with aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=opts.timeout),
                auto_decompress=False, skip_auto_headers=("User-Agent",),
            ) as http:
                buf = rec.batch("latency")
                pc = time.perf_counter_ns
                req = http.request
                hdrs = dict(headers or {})

                async def one(_: Any, intended: int) -> None:
                    try:
                        async with req(method, url, data=data, headers=hdrs) as resp:
                            payload = await resp.read()
                            status = resp.status
                            if needs_body:
                                wrong = expectation.failure(status, resp.headers, payload)
                            else:
                                wrong = status_failure(status)
                    except TimeoutError as exc:
                        rec.error("timeout", detail=f"{shown}: {timeout_words(exc, opts.timeout)}")
                        raise mark_counted(exc) from None
                    if wrong is not None:
                        kind, detail = wrong
                        rec.error(kind, detail=f"{method.upper()} {url}: {detail}")
                        raise mark_counted(OperationFailed(status))
                    buf.append((pc() - intended) // 1000)

                await drive(rec, wl, one, timeout=opts.timeout, grace=opts.timeout)

        expected: Callable[[Recorder, float], int] | None = None
        if wl.open:
            total = wl.schedule().total
            expected = lambda rec, elapsed: total  # noqa: E731
        info: dict[str, Any] = {"url": mask_url(url), "method": method.upper(),
                                "scenario": "request", "driver": chosen, **wl.describe()}
        if fallback:
            info["driver_fallback"] = fallback
        return run_load("http." + method.lower(), "latency",
                        raw_main if chosen == "httptools" else main, duration=wl.duration,
                        options=opts, expected_ops=expected, info=info)

    def run(
        self,
        scenario: Callable[[Session], Awaitable[None]],
        *,
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        primary: str = "iteration",
        abort: Any = None,
        setup: UserHook | None = None,
        teardown: UserHook | None = None,
    ) -> LoadResult:
        """``async def scenario(session)``: ``await session.get(url, name=...)``,
        ``session.request(...)``, ``session.http`` (aiohttp), ``session.measure("name")``.
        ``setup(session)``/``teardown(session)`` run once per virtual user, outside the
        measured window (a log-in whose token goes to ``session.data``)."""
        return run_scenario(
            scenario, name="http.run", primary=primary, options=self._options(timeout, abort),
            clients=clients, duration=duration, rate=rate, message_size=message_size,
            stages=stages, think=think, model=model, http=True,
            user_setup=setup, user_teardown=teardown,
        )
