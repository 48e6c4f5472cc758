"""HTTP/1.1 load on a raw asyncio Protocol with httptools' parser (the default HTTP driver).

aiohttp's ClientSession costs 40-50 us of CPU per request (request object, headers, URL,
timer, connector); this client costs a few: the request is serialised once per run, each
virtual user keeps one keep-alive connection, the answer is parsed by httptools (llhttp, C)
and only the status is kept unless ``expect=`` needs headers and body. No timer per request:
one watchdog per run scans the requests in flight every 100 ms.

Answers and failures are counted as the aiohttp driver counts them (``refused``, ``timeout``
with the same words, ``closed``, ``reset``, ``protocol`` quoting the first bytes of an answer
that is not HTTP, ``http_4xx``/``http_5xx``/``mismatch`` from ``expect=``). What this client
does not speak (TLS, HEAD, credentials in the URL, ``Expect: 100-continue``) goes to the
aiohttp driver: :func:`unsupported` says why, and the result's ``info["driver_fallback"]``
carries it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pytest_roo.load.executor import OperationFailed, mark_counted
from pytest_roo.load.expect import Expectation
from pytest_roo.load.recorder import Recorder
from pytest_roo.redact import mask_secrets

__all__ = ["RawHttp", "available", "build_request", "unsupported"]

#: How much of an answer that is not HTTP is quoted (escaped).
_SHOWN_BYTES = 32


def available() -> bool:
    """True when httptools imports (the raw driver can run)."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


def unsupported(method: str, url: str, headers: Mapping[str, str] | None) -> str | None:
    """Why the raw client cannot send this request (the aiohttp driver then does), or None."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return f"{parts.scheme}:// (TLS) is sent by aiohttp"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are sent by aiohttp"
    if method.upper() in ("HEAD", "CONNECT"):
        return f"{method.upper()} answers are read by aiohttp"
    for name, value in (headers or {}).items():
        low = name.lower()
        if low == "expect" and "100-continue" in value.lower():
            return "Expect: 100-continue is sent by aiohttp"
        if low == "transfer-encoding":
            return "a Transfer-Encoding header is sent by aiohttp"
    return None


def build_request(method: str, url: str, headers: Mapping[str, str] | None,
                  body: bytes | None) -> tuple[str, int, bytes]:
    """``(host, port, request bytes)``: the request serialised once, as aiohttp would send it
    (Host, Accept, Accept-Encoding, Content-Length; the caller's headers win)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    shown_host = f"[{host}]" if ":" in host else host
    fields: dict[str, tuple[str, str]] = {}
    defaults = {"Host": shown_host if port == 80 else f"{shown_host}:{port}",
                "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
    for name, value in defaults.items():
        fields[name.lower()] = (name, value)
    for name, value in (headers or {}).items():
        if "\r" in name or "\n" in name or "\r" in str(value) or "\n" in str(value):
            raise ValueError(f"invalid header {name!r}: a name or value holds a line break")
        fields[name.lower()] = (name, str(value))
    if body is not None or method.upper() in ("POST", "PUT", "PATCH"):
        fields["content-length"] = ("Content-Length", str(len(body or b"")))
    head = f"{method.upper()} {target} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields.values()) + "\r\n"
    return host, port, head.encode("latin-1") + (body or b"")


class _Conn(asyncio.Protocol):
    """One keep-alive connection, one request in flight at a time. The parser calls back
    ``on_headers_complete`` / ``on_message_complete``; headers and body are kept only by
    :class:`_FullConn`."""

    def __init__(self) -> None:
        import httptools

        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Any] | None = None
        #: perf_counter_ns when the request in flight began (0: none); the watchdog's slot
        self.started = 0
        self.closed = False
        self.got_bytes = False
        self.headers_done = False
        self.keep_alive = True
        self.first: bytes = b""

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.got_bytes:
            self.got_bytes = True
            self.first = data[:_SHOWN_BYTES]
        try:
            self.parser.feed_data(data)
        except Exception as exc:
            self._parse_failed(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self.headers_done and not self.keep_alive:
            # an answer whose body runs to the end of the connection (no Content-Length, not
            # chunked): the end is the end of the body
            self.on_message_complete()
            return
        if isinstance(exc, ConnectionResetError) or (
                isinstance(exc, OSError) and exc.errno in (104, 32)):
            waiter.set_exception(_failure("reset", "the server reset the connection"))
        elif exc is not None:
            waiter.set_exception(exc)
        else:
            what = "in the middle of the answer" if self.got_bytes else "before answering"
            waiter.set_exception(_failure("closed", f"the server closed the connection {what}"))

    # -- httptools callbacks (each one defined costs a call per answer: only what is needed) --

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        waiter = self.waiter
        self.headers_done = False
        if not self.keep_alive and self.transport is not None:
            self.transport.close()
            self.closed = True
        if waiter is not None and not waiter.done():
            waiter.set_result(self.parser.get_status_code())
        elif not self.closed and self.transport is not None:
            # an answer nobody asked for: the connection is out of step
            self.transport.close()
            self.closed = True

    # -- failures --

    def _parse_failed(self, exc: Exception) -> None:
        import httptools

        if isinstance(exc, httptools.HttpParserUpgrade):
            error = _failure("protocol", "the server switched protocols (an Upgrade answer) "
                                         "instead of answering")
        elif self.first and not self.first.startswith(b"HTTP/"):
            error = _failure("protocol", "the answer is not HTTP; it began with "
                                         f"{shown_bytes(self.first)}")
        else:
            error = _failure("protocol", f"the answer is not valid HTTP: "
                                         f"{mask_secrets(str(exc))[:80]}")
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def abandon(self) -> None:
        """Drop the connection (a timeout or a cancellation left it out of step)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _FullConn(_Conn):
    """A connection that keeps the answer's headers (case-insensitive, as aiohttp hands them
    over) and body: ``expect=`` needs them."""

    def __init__(self) -> None:
        from multidict import CIMultiDict

        self._headers_type = CIMultiDict
        self.headers: Any = CIMultiDict()
        self.body: list[bytes] = []
        super().__init__()

    def on_message_begin(self) -> None:
        self.headers_done = False
        self.headers = self._headers_type()
        self.body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)


class _Failure(Exception):
    """A failure whose kind and words are known where it happened."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.roo_kind = kind
        self.detail = detail


def _failure(kind: str, detail: str) -> _Failure:
    return _Failure(kind, detail)


def shown_bytes(data: bytes) -> str:
    """The first bytes of an answer, escaped, secrets masked."""
    return mask_secrets(repr(data[:_SHOWN_BYTES]))


class RawHttp:
    """The run's connections (one per virtual user) and the request every operation sends."""

    def __init__(self, rec: Recorder, shown: str, request: bytes,
                 host: str, port: int, clients: int, timeout: float,
                 expectation: Expectation) -> None:
        self.rec = rec
        self.shown = shown
        self.request = request
        self.host = host
        self.port = port
        self.timeout = timeout
        self.timeout_ns = int(timeout * 1e9)
        self.expectation = expectation
        self.conns: list[_Conn | None] = [None] * clients
        self.factory = _FullConn if expectation.needs_body else _Conn
        self.loop = asyncio.get_running_loop()
        self.latency = rec.batch("latency")

    async def _connect(self, i: int) -> _Conn:
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(self.factory, self.host, self.port), self.timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise _failure("timeout", f"connect timeout: no TCP connection within "
                                      f"{self.timeout:g} s") from None
        except ConnectionRefusedError:
            raise _failure("refused", "connection refused (nothing listens there)") from None
        except OSError as exc:
            if exc.errno == 111:
                raise _failure("refused", "connection refused (nothing listens there)") from None
            raise _failure("other", f"connect failed: {mask_secrets(str(exc))[:120]}") from None
        self.conns[i] = conn
        return conn

    async def one(self, i: int, intended: int) -> None:
        """Send the request on virtual user ``i``'s connection and judge the answer; the
        latency runs from ``intended``."""
        conn = self.conns[i]
        rec = self.rec
        t0 = time.perf_counter_ns()  # the timeout covers connect and answer, as aiohttp's total
        try:
            if conn is None or conn.closed:
                conn = await self._connect(i)
            waiter = self.loop.create_future()
            conn.waiter = waiter
            conn.got_bytes = False
            conn.started = t0
            try:
                conn.transport.write(self.request)  # type: ignore[union-attr]
                status = await waiter
            finally:
                conn.started = 0
                conn.waiter = None
        except _Failure as exc:
            rec.error(exc.roo_kind, detail=f"{self.shown}: {exc.detail}")
            raise mark_counted(OperationFailed(exc.roo_kind)) from None
        except asyncio.CancelledError:
            if conn is not None:
                conn.abandon()
            raise
        expectation = self.expectation
        if expectation.needs_body:
            full: _FullConn = conn  # type: ignore[assignment]
            wrong = expectation.failure(status, full.headers, b"".join(full.body))
        elif status < 400 and expectation.statuses is None:
            wrong = None  # the common case, without a call
        else:
            wrong = expectation.status_failure(status)
        if wrong is not None:
            kind, detail = wrong
            rec.error(kind, detail=f"{self.shown}: {detail}")
            raise mark_counted(OperationFailed(status))
        self.latency.append((time.perf_counter_ns() - intended) // 1000)

    def check(self) -> None:
        """Fail every request in flight for longer than the timeout (the watchdog's scan)."""
        limit = time.perf_counter_ns() - self.timeout_ns
        for conn in self.conns:
            if conn is not None and conn.started and conn.started < limit:
                waiter = conn.waiter
                conn.started = 0
                if waiter is not None and not waiter.done():
                    if conn.got_bytes:
                        words = (f"the answer was incomplete after {self.timeout:g} s")
                    else:
                        words = (f"the connection was accepted but no response came within "
                                 f"{self.timeout:g} s")
                    waiter.set_exception(_failure("timeout", words))
                conn.abandon()

    async def watch(self) -> None:
        """The watchdog: one scan every 100 ms for the whole run."""
        while True:
            await asyncio.sleep(0.1)
            self.check()

    def close(self) -> None:
        """Close every connection (the end of the run)."""
        for conn in self.conns:
            if conn is not None and conn.transport is not None and not conn.closed:
                conn.transport.close()
